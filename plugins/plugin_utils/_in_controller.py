# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's code inside the controller, when the task would run its module there anyway.

A module run costs a new Python process that loads the module and its libraries, for every host of a play: a role
over a fleet pays that per host and per API task. When the task runs on the controller (a local connection, such as
delegate_to: localhost) with the Python that runs Ansible, the same code runs here instead, in the worker that Ansible
already forked for the host. The libraries are imported when an action plugin is loaded, which Ansible does once in
its main process before it forks the workers. Anywhere else (another host, another interpreter, async, a task
environment), the module runs as usual.

An action plugin names its module's definition (_module.ModuleDefinition) and nothing else.
"""

from __future__ import annotations

import os
import sys

from typing import Any, NoReturn, Optional

from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.mim.certificate_management.plugins.module_utils._module import ModuleDefinition, run_module


class _Done(Exception):
    """The end of a run inside the controller, carrying its result (what exit_json or fail_json print in a module)."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__('done')
        self.result = result


class _ControllerModule:
    """The part of AnsibleModule that run_module and the modules' work use, for a run inside the controller."""

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool, no_log_values: set[str]) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set(no_log_values)
        self._warnings: list[str] = []

    def warn(self, warning: str) -> None:
        self._warnings.append(warning)

    def exit_json(self, **result: Any) -> NoReturn:
        raise _Done(self._finish(result))

    def fail_json(self, msg: str, exception: Optional[str] = None, **result: Any) -> NoReturn:
        raise _Done(self._finish(dict(result, msg=msg, failed=True)))

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        """Masked as AnsibleModule masks a result: every no_log value, in the result and its invocation."""
        result.setdefault('changed', False)
        if self._warnings:
            result['warnings'] = self._warnings
        result['invocation'] = {'module_args': self.params}
        preserved = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
        return dict(remove_values(result, self.no_log_values), **preserved)


class InControllerAction(ActionBase):
    """Runs a module's code inside the controller when its module would run there, and the module otherwise."""

    DEFINITION: ModuleDefinition  # set by each action plugin

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: Any = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        definition = self.DEFINITION
        if not self._runs_in_controller(task_vars):  # what ansible.builtin.normal does
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(module_name=definition.name, task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        validation = ModuleArgumentSpecValidator(definition.argument_spec(), **definition.constraints).validate(dict(self._task.args))
        module = _ControllerModule(validation.validated_parameters, bool(self._task.check_mode), bool(self._task.diff),
                                   validation._no_log_values)
        try:
            errors = validation.errors.errors
            if errors:  # the first error, worded as AnsibleModule words it
                module.fail_json(msg=('Unsupported parameters for (%s) module: %s' % (definition.name, validation.errors.msg))
                                 if isinstance(errors[0], UnsupportedError) else validation.errors.msg)
            run_module(module, lambda secrets, context: definition.work(module, secrets, context))
        except _Done as done:
            result.update(done.result)
        return result

    def _runs_in_controller(self, task_vars: dict[str, Any]) -> bool:
        """Whether the module would run on the controller, with the Python that runs Ansible, in a plain way."""
        environment = [entry for entry in (self._task.environment or []) if entry]  # Ansible keeps [{}] when none is set
        if self._task.async_val or environment or getattr(self._connection, 'transport', None) != 'local':
            return False
        interpreter = self._templar.template(task_vars.get('ansible_python_interpreter', ''))
        return not interpreter or str(interpreter).startswith('auto') or _same_file(str(interpreter), sys.executable)


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
