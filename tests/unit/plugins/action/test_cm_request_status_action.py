# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin: when cm_request_status runs inside the controller, and what its result looks like there."""

from __future__ import annotations

import sys
import types

import pytest
import responses

from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.mim.certificate_management.plugins.action.cm_request_status import ActionModule

RID = '7a3e9f10-2b4c-4d5e-8f60-718293a4b5c6'
URL = 'http://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID


def action(args, transport='local', async_val=0, environment=None, check_mode=False):
    task = Task()
    task.args = args
    task.async_val = async_val
    task.environment = environment
    task.check_mode = check_mode
    task.diff = False
    connection = types.SimpleNamespace(transport=transport, has_native_async=False, _shell=types.SimpleNamespace(tmpdir=None))
    plugin = ActionModule(task, connection, types.SimpleNamespace(), None, Templar(loader=None), None)
    plugin._execute_module = lambda **kwargs: {'ran': 'module', 'changed': False}
    plugin._remove_tmp_path = lambda path: None
    return plugin


@pytest.mark.parametrize('transport, async_val, environment, interpreter, inside', [
    ('local', 0, None, None, True),
    ('local', 0, [{}], None, True),
    ('local', 0, None, sys.executable, True),
    ('local', 0, None, '/nonexistent/python', False),
    ('ssh', 0, None, None, False),
    ('local', 60, None, None, False),
    ('local', 0, [{'MIM_CM_URL': 'http://x'}], None, False),
], ids=['local', 'empty-environment', 'same-python', 'other-python', 'remote', 'async', 'task-environment'])
def test_inside_the_controller_only_when_the_module_would_run_there_plainly(transport, async_val, environment, interpreter, inside):
    task_vars = {'ansible_python_interpreter': interpreter} if interpreter else {}
    assert action({}, transport, async_val, environment)._runs_in_controller(task_vars) is inside


@responses.activate
def test_a_run_inside_the_controller_returns_what_the_module_returns_with_secrets_masked():
    responses.get(URL, status=500, json={'Message': 'echo Bearer In-Process-S3cret'})
    result = action({'url': 'http://cm.example.test', 'auth': 'bearer', 'token': 'In-Process-S3cret', 'request_id': RID,
                     'status': 'completed'}).run(task_vars={})
    assert result['failed'] is True and result['http_status'] == 500 and result['request_id'] == RID
    assert 'In-Process-S3cret' not in repr(result)
    assert result['invocation']['module_args']['token'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert 'plain http://' in result['warnings'][0]


def test_bad_options_fail_as_the_module_would():
    result = action({'url': 'http://cm.example.test', 'request_id': RID, 'status': 'completed', 'bogus': 1}).run(task_vars={})
    assert result['failed'] is True and 'Unsupported parameters for (mim.certificate_management.cm_request_status) module: bogus' in result['msg']


def test_elsewhere_the_module_runs():
    assert action({'status': 'completed'}, transport='ssh').run(task_vars={})['ran'] == 'module'
