# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finalize logic: read first, write only when needed, verify the outcome (HTTP mocked with responses)."""

from __future__ import annotations

import json
import os

import pytest
import requests
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConnectionFailure,
    FinalStatusConflict,
    RequestNotFound,
    UnexpectedResponse,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import finalize_request
from ansible_collections.mim.certificate_management.plugins.module_utils._request import final_action

RID = '0d6c2c4e-8d5f-4b1a-a1f3-3c9e7b2d5a10'
URL = 'https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID
FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
COMPLETED, CANCELED, ABANDONED = (final_action(choice) for choice in ('completed', 'canceled', 'abandoned'))
APPROVED, DENIED, DONE, FAILED, PENDING, CANCELED_CODE, EXECUTING = 3, 4, 8, 9, 16, 17, 18


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return json.load(handle)


def writes():
    return [call for call in responses.calls if call.request.method != 'GET']


@responses.activate
def test_microsofts_documented_get_and_put_examples(client):
    before, after = fixture('microsoft_get_request.json'), fixture('microsoft_put_completed.json')
    rid = before['Uuid']
    url = 'https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % rid
    responses.get(url, json=before)
    responses.put(url, json=after)
    result = finalize_request(client, rid, COMPLETED)
    assert result == {'changed': True, 'request_id': rid, 'previous_status': 'Approved', 'status': 'Completed', 'request': after}
    assert json.loads(writes()[0].request.body) == {'status': 'Completed'}


@responses.activate
@pytest.mark.parametrize('before, action, answer, previous', [
    (APPROVED, COMPLETED, DONE, 'Approved'), (EXECUTING, COMPLETED, DONE, 'Executing'),
    (PENDING, CANCELED, CANCELED_CODE, 'Pending'), (APPROVED, CANCELED, CANCELED_CODE, 'Approved'),
    (APPROVED, ABANDONED, FAILED, 'Approved'), (EXECUTING, ABANDONED, FAILED, 'Executing'),
    (APPROVED, ABANDONED, 'Failed', 'Approved'), (EXECUTING, ABANDONED, 'Abandoned', 'Executing'),
], ids=['complete-approved', 'complete-executing', 'cancel-pending', 'cancel-approved', 'abandon-approved',
        'abandon-executing', 'abandon-answered-by-name', 'abandon-answered-abandoned'])
def test_each_action_on_its_allowed_sources_is_one_write(client, before, action, answer, previous):
    responses.get(URL, json={'Uuid': RID, 'Status': before})
    responses.put(URL, json={'Uuid': RID, 'Status': answer})
    result = finalize_request(client, RID, action)
    assert (result['changed'], result['previous_status'], result['status']) == (True, previous, action.reaches)
    assert result['request'] == {'Uuid': RID, 'Status': answer}
    assert [json.loads(call.request.body) for call in writes()] == [{'status': action.put_value}]


@responses.activate
@pytest.mark.parametrize('before, action, predicted', [(EXECUTING, ABANDONED, 'Failed'), (PENDING, CANCELED, 'Canceled'),
                                                       (APPROVED, COMPLETED, 'Completed')])
def test_check_mode_predicts_the_status_and_never_writes(client, before, action, predicted):
    responses.get(URL, json={'Uuid': RID, 'Status': before})
    result = finalize_request(client, RID, action, check_mode=True, diff=True)
    assert (result['changed'], result['status']) == (True, predicted)
    assert result['diff']['after'] == {'status': predicted}
    assert result['request'] == {'Uuid': RID, 'Status': before}
    assert writes() == []


@responses.activate
@pytest.mark.parametrize('sent, action', [(DONE, COMPLETED), ('Completed', COMPLETED), ('completed', COMPLETED),
                                          (CANCELED_CODE, CANCELED), (FAILED, ABANDONED), ('Failed', ABANDONED),
                                          ('Abandoned', ABANDONED)])
def test_already_done_is_no_change_and_no_write(client, sent, action):
    responses.get(URL, json={'Uuid': RID, 'Status': sent})
    result = finalize_request(client, RID, action)
    assert (result['changed'], result['previous_status'], result['status']) == (False, action.reaches, action.reaches)
    assert writes() == []


@responses.activate
@pytest.mark.parametrize('current, name, action', [
    (DENIED, 'Denied', COMPLETED), (DENIED, 'Denied', CANCELED), (DENIED, 'Denied', ABANDONED),
    (FAILED, 'Failed', COMPLETED), (FAILED, 'Failed', CANCELED),
    (CANCELED_CODE, 'Canceled', COMPLETED), (CANCELED_CODE, 'Canceled', ABANDONED),
    (DONE, 'Completed', CANCELED), (DONE, 'Completed', ABANDONED),
])
def test_another_final_status_is_a_conflict_without_a_write(client, current, name, action):
    responses.get(URL, json={'Uuid': RID, 'Status': current})
    with pytest.raises(FinalStatusConflict) as caught:
        finalize_request(client, RID, action)
    assert name in caught.value.msg and action.verb in caught.value.msg
    assert writes() == []


@responses.activate
def test_put_204_is_followed_by_a_read(client):
    responses.get(URL, json={'Uuid': RID, 'Status': APPROVED})
    responses.put(URL, status=204)
    responses.get(URL, json={'Uuid': RID, 'Status': DONE, 'Completed': '2026-11-24T10:00:00'})
    result = finalize_request(client, RID, COMPLETED)
    assert result['changed'] is True
    assert result['request']['Completed'] == '2026-11-24T10:00:00'
    assert [call.request.method for call in responses.calls] == ['GET', 'PUT', 'GET']


@responses.activate
def test_a_write_that_did_not_take_is_an_error(client):
    responses.get(URL, json={'Uuid': RID, 'Status': APPROVED})
    responses.put(URL, json={'Uuid': RID, 'Status': APPROVED})
    with pytest.raises(UnexpectedResponse, match='now reads Approved'):
        finalize_request(client, RID, COMPLETED)


@responses.activate
def test_unknown_status_number_is_not_guessed(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 12})
    with pytest.raises(UnexpectedResponse, match='12') as caught:
        finalize_request(client, RID, COMPLETED)
    assert 'may have been applied' not in caught.value.msg
    assert writes() == []


@responses.activate
def test_an_unknown_status_after_the_write_says_the_write_may_have_been_applied(client):
    responses.get(URL, json={'Uuid': RID, 'Status': PENDING})
    responses.put(URL, json={'Uuid': RID, 'Status': 99})
    with pytest.raises(UnexpectedResponse) as caught:
        finalize_request(client, RID, CANCELED)
    assert '99' in caught.value.msg
    assert 'the write may have been applied: re-read request %s' % RID in caught.value.msg
    assert caught.value.url == URL


@responses.activate
def test_a_failed_read_after_a_write_says_the_write_may_have_been_applied(client):
    responses.get(URL, json={'Uuid': RID, 'Status': APPROVED})
    responses.put(URL, status=204)
    responses.get(URL, body=requests.exceptions.ConnectionError('connection reset'))
    with pytest.raises(ConnectionFailure, match='the write may have been applied: re-read request %s' % RID):
        finalize_request(client, RID, ABANDONED)


@responses.activate
def test_missing_status_field_is_unexpected(client):
    responses.get(URL, json={'Uuid': RID})
    with pytest.raises(UnexpectedResponse, match='without a Status'):
        finalize_request(client, RID, COMPLETED)


@responses.activate
def test_not_found(client):
    responses.get(URL, status=204)
    with pytest.raises(RequestNotFound):
        finalize_request(client, RID, COMPLETED)
