# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugins: when a module's code runs inside the controller, and what its result looks like there."""

from __future__ import annotations

import importlib
import re
import sys
import types

import pytest
import responses

from ansible.playbook.task import Task
from ansible.template import Templar

RID = '7a3e9f10-2b4c-4d5e-8f60-718293a4b5c6'
SERVER = 'http://cm.example.test'
# each action plugin, with the options of a call that reads the server first
CALLS = {
    'cm_request_status': {'request_id': RID, 'status': 'completed'},
    'cm_request': {'profile_template': 'Web Server'},
    'cm_request_certificates': {'request_id': RID},
    'cm_request_info': {'request_id': RID},
}


def action(name, args, transport='local', async_val=0, environment=None, check_mode=False):
    plugin_class = importlib.import_module('ansible_collections.mim.certificate_management.plugins.action.' + name).ActionModule
    task = Task()
    task.args = args
    task.async_val = async_val
    task.environment = environment
    task.check_mode = check_mode
    task.diff = False
    connection = types.SimpleNamespace(transport=transport, has_native_async=False, _shell=types.SimpleNamespace(tmpdir=None))
    plugin = plugin_class(task, connection, types.SimpleNamespace(), None, Templar(loader=None), None)
    plugin._execute_module = lambda **kwargs: {'ran': kwargs['module_name'], 'changed': False}
    plugin._remove_tmp_path = lambda path: None
    return plugin


@pytest.mark.parametrize('transport, async_val, environment, interpreter, inside', [
    ('local', 0, None, None, True),
    ('local', 0, [{}], None, True),
    ('local', 0, None, sys.executable, True),
    ('local', 0, None, 'auto_silent', True),
    ('local', 0, None, '/nonexistent/python', False),
    ('ssh', 0, None, None, False),
    ('local', 60, None, None, False),
    ('local', 0, [{'MIM_CM_URL': 'http://x'}], None, False),
], ids=['local', 'empty-environment', 'same-python', 'auto', 'other-python', 'remote', 'async', 'task-environment'])
def test_inside_the_controller_only_when_the_module_would_run_there_plainly(transport, async_val, environment, interpreter, inside):
    task_vars = {'ansible_python_interpreter': interpreter} if interpreter else {}
    assert action('cm_request_info', {}, transport, async_val, environment)._runs_in_controller(task_vars) is inside


@pytest.mark.parametrize('name', sorted(CALLS))
@responses.activate
def test_a_run_inside_the_controller_returns_what_the_module_returns_with_secrets_masked(name):
    responses.get(re.compile(re.escape(SERVER) + '/.*'), status=500, json={'Message': 'echo Bearer In-Process-S3cret'})
    result = action(name, dict(CALLS[name], url=SERVER, auth='bearer', token='In-Process-S3cret')).run(task_vars={})
    assert result['failed'] is True and result['http_status'] == 500 and len(responses.calls) >= 1
    assert 'In-Process-S3cret' not in repr(result)
    assert result['invocation']['module_args']['token'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert 'plain http://' in result['warnings'][0]


@pytest.mark.parametrize('name', sorted(CALLS))
def test_bad_options_fail_as_the_module_would(name):
    result = action(name, dict(CALLS[name], url=SERVER, bogus=1)).run(task_vars={})
    assert result['failed'] is True
    assert 'Unsupported parameters for (mim.certificate_management.%s) module: bogus' % name in result['msg']


def test_constraints_are_checked_as_the_module_checks_them():
    result = action('cm_request', {'url': SERVER, 'profile_template': 'Web Server', 'smartcard': RID, 'profile': RID}).run(task_vars={})
    assert result['failed'] is True and 'mutually exclusive: smartcard|profile' in result['msg']


@pytest.mark.parametrize('name', sorted(CALLS))
def test_elsewhere_the_module_runs(name):
    assert action(name, CALLS[name], transport='ssh').run(task_vars={})['ran'] == 'mim.certificate_management.' + name
