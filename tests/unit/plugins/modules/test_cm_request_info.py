# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_info's own layer: options and result shape (HTTP mocked with responses)."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.mim.certificate_management.plugins.modules import cm_request_info
from ansible_collections.mim.certificate_management.tests.unit.plugins.modules.module_runner import run_module

BASE = 'http://cm.example.test/CertificateManagement/api/v1.0/requests'


def run(capsys, **args):
    return run_module(cm_request_info.main, capsys, **args)


@responses.activate
def test_search_is_never_a_change(capsys):
    responses.get(BASE, json=[{'Uuid': 'x', 'Status': 6, 'Submitted': '2020-01-01'}])
    code, result = run(capsys, status=['canceled'], older_than_days=1, _ansible_check_mode=True)
    assert code == 0 and result['changed'] is False
    assert result['requests'] == [{'Uuid': 'x', 'Status': 6, 'Submitted': '2020-01-01', 'status_name': 'Canceled'}]
    assert responses.calls[0].request.params == {'status': 'Canceled'}


@responses.activate
@pytest.mark.parametrize('args, message', [
    ({'request_id': 'not-a-guid'}, 'is not a GUID'),
    ({'older_than_days': -3}, 'older_than_days must be zero or more'),
    ({'submitted_before': 'next tuesday'}, 'submitted_before'),
    ({'request_id': '7a3e9f10-2b4c-4d5e-8f60-718293a4b5c6', 'status': ['pending']}, 'mutually exclusive'),
])
def test_bad_options_fail_before_any_call(capsys, args, message):
    code, result = run(capsys, **args)
    assert code == 1 and message in result['msg']
    assert len(responses.calls) == 0
