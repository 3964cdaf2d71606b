# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The finalize logic: read first, write only when needed, verify the outcome (HTTP mocked with responses)."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    FinalStatusConflict,
    RequestNotFound,
    UnexpectedResponse,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import finalize_request

RID = '0d6c2c4e-8d5f-4b1a-a1f3-3c9e7b2d5a10'
URL = 'https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID


def writes():
    return [call for call in responses.calls if call.request.method != 'GET']


@responses.activate
@pytest.mark.parametrize('wanted', ['Completed', 'Canceled', 'Abandoned'])
def test_approved_request_is_written_and_verified(client, wanted):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, json={'Uuid': RID, 'Status': wanted})
    result = finalize_request(client, RID, wanted)
    assert result == {'changed': True, 'request_id': RID, 'previous_status': 'Approved', 'status': wanted,
                      'request': {'Uuid': RID, 'Status': wanted}}
    assert json.loads(writes()[0].request.body) == {'status': wanted}


@responses.activate
def test_check_mode_reads_and_never_writes(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 4})
    result = finalize_request(client, RID, 'Abandoned', check_mode=True)
    assert (result['changed'], result['previous_status'], result['status']) == (True, 'Executing', 'Abandoned')
    assert result['request'] == {'Uuid': RID, 'Status': 4}
    assert writes() == []


@responses.activate
@pytest.mark.parametrize('sent', [8, 'Completed', 'completed'])
def test_already_in_the_wanted_status_is_no_change(client, sent):
    responses.get(URL, json={'Uuid': RID, 'Status': sent})
    result = finalize_request(client, RID, 'Completed')
    assert (result['changed'], result['previous_status'], result['status']) == (False, 'Completed', 'Completed')
    assert writes() == []


@responses.activate
@pytest.mark.parametrize('current', ['Canceled', 'Abandoned', 'Denied', 'Failed', 'Completed'])
def test_another_final_status_is_a_conflict_naming_both(client, current):
    wanted = 'Abandoned' if current == 'Completed' else 'Completed'
    responses.get(URL, json={'Uuid': RID, 'Status': current})
    with pytest.raises(FinalStatusConflict) as caught:
        finalize_request(client, RID, wanted, check_mode=True)
    assert current in caught.value.msg and wanted in caught.value.msg
    assert writes() == []


@responses.activate
def test_put_204_is_followed_by_a_read(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, status=204)
    responses.get(URL, json={'Uuid': RID, 'Status': 8, 'Completed': '2026-11-24T10:00:00'})
    result = finalize_request(client, RID, 'Completed')
    assert result['changed'] is True
    assert result['request']['Completed'] == '2026-11-24T10:00:00'
    assert [call.request.method for call in responses.calls] == ['GET', 'PUT', 'GET']


@responses.activate
def test_a_write_that_did_not_take_is_an_error(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, json={'Uuid': RID, 'Status': 3})
    with pytest.raises(UnexpectedResponse, match='now reads Approved'):
        finalize_request(client, RID, 'Completed')


@responses.activate
def test_unknown_status_number_is_not_guessed(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 12})
    with pytest.raises(UnexpectedResponse, match='12'):
        finalize_request(client, RID, 'Completed')
    assert writes() == []


@responses.activate
def test_missing_status_field_is_unexpected(client):
    responses.get(URL, json={'Uuid': RID})
    with pytest.raises(UnexpectedResponse, match='without a Status'):
        finalize_request(client, RID, 'Completed')


@responses.activate
def test_not_found(client):
    responses.get(URL, status=204)
    with pytest.raises(RequestNotFound):
        finalize_request(client, RID, 'Completed')
