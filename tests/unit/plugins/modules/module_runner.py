# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() as Ansible would, for the module tests."""

from __future__ import annotations

import contextlib
import json
from unittest import mock

import pytest

from ansible.module_utils.common.parameters import PASS_VARS

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19: AnsibleModule reads its arguments from basic._ANSIBLE_ARGS
    from ansible.module_utils import basic

    def patch_module_args(args):
        """Expose args to the AnsibleModule created within this context."""
        return mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode())


def _as_a_module():
    """Since ansible-core 2.19 warn() goes to the controller's display once controller code is imported (as the action
    plugin tests do in the same process); a module collects its warnings into its result."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # before 2.19: warnings are always collected
        return contextlib.nullcontext()
    return mock.patch.object(_internal, 'is_controller', False) if hasattr(_internal, 'is_controller') else contextlib.nullcontext()


def run_module(main, capsys, **args):
    """Run main with args (url defaults to a test address; url=None leaves it out); return (exit code, parsed result)."""
    args.setdefault('url', 'http://cm.example.test')
    if args['url'] is None:
        del args['url']
    if 'inject_invocation' in PASS_VARS:  # ansible-core 2.21+ returns the invocation only when INJECT_INVOCATION asks for it
        args.setdefault('_ansible_inject_invocation', True)
    with patch_module_args(args), _as_a_module(), pytest.raises(SystemExit) as caught:
        main()
    return caught.value.code, json.loads(capsys.readouterr().out)
