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
    responses.get(BASE, json=[{'Uuid': 'x', 'Status': 17, 'Submitted': '2020-01-01'}])
    code, result = run(capsys, status=['canceled'], older_than_days=1, _ansible_check_mode=True)
    assert code == 0 and result['changed'] is False
    assert result['requests'] == [{'Uuid': 'x', 'Status': 17, 'Submitted': '2020-01-01', 'status_name': 'Canceled'}]
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


@responses.activate
def test_all_eight_statuses_are_named_and_an_unknown_one_is_listed_with_a_warning(capsys):
    codes = {0: 'None', 3: 'Approved', 4: 'Denied', 8: 'Completed', 9: 'Failed', 16: 'Pending', 17: 'Canceled', 18: 'Executing'}
    listed = [{'Uuid': 'r%d' % code, 'Status': code} for code in list(codes) + [7]]
    responses.get(BASE, json=listed)
    code, result = run(capsys)
    assert code == 0
    assert [request['status_name'] for request in result['requests']] == list(codes.values()) + [None]
    assert len(result['warnings']) == 1
    warning = str(result['warnings'][0])  # a string, or a WarningSummary object since ansible-core 2.19
    assert 'request r7 has the status 7' in warning and 'please report it' in warning


def test_abandoned_is_not_a_status_to_search_for(capsys):
    code, result = run(capsys, status=['approved', 'abandoned'])
    assert code == 1 and 'Got no match for: abandoned' in result['msg']
    assert len(responses.calls) == 0
