# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retries, ambiguous writes and races (HTTP mocked with responses; the waits are recorded, not slept)."""

from __future__ import annotations

import pytest
import requests
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConnectionFailure,
    FinalStatusConflict,
    HTTPStatusError,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import finalize_request
from ansible_collections.mim.certificate_management.plugins.module_utils._request import final_action

COMPLETED = final_action('completed')
RID = '5d2c9a10-7e3b-4f1a-9c8d-2b6e0f4a1c37'
URL = 'https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID


@pytest.fixture
def waits():
    """Records the waits the client asks for (make_client passes its append as the client's sleep)."""
    return []


def make_client(waits, **options):
    return CMClient('https://cm.example.test', auth_from_options('none'), sleep=waits.append, **options)


def methods():
    return [call.request.method for call in responses.calls]


@responses.activate
@pytest.mark.parametrize('status', [408, 429, 502, 503, 504])
def test_transient_statuses_are_retried(waits, status):
    responses.get(URL, status=status, body='<html><title>busy</title></html>')
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    assert make_client(waits).get_request(RID) == {'Uuid': RID, 'Status': 3}
    assert methods() == ['GET', 'GET'] and len(waits) == 1


@responses.activate
@pytest.mark.parametrize('header', ['9' * 5000, '99999999999', 'Fri, 31 Dec 9999 23:59:59 GMT'])
def test_an_absurd_retry_after_waits_the_bound(waits, header):
    responses.get(URL, status=503, headers={'Retry-After': header})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    make_client(waits, backoff_factor=0.1).get_request(RID)
    assert waits == [30]


@responses.activate
def test_retry_after_is_honoured_within_a_bound(waits):
    responses.get(URL, status=503, headers={'Retry-After': '7'})
    responses.get(URL, status=429, headers={'Retry-After': '3600'})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    make_client(waits, backoff_factor=0.1).get_request(RID)
    assert waits[0] == 7 and waits[1] == 30


@responses.activate
def test_backoff_grows_with_jitter(waits):
    for error in ('reset', 'refused', 'reset again'):
        responses.get(URL, body=requests.exceptions.ConnectionError(error))
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    make_client(waits, backoff_factor=1).get_request(RID)
    assert [0.5 <= waits[0] <= 1, 1 <= waits[1] <= 2, 2 <= waits[2] <= 4] == [True] * 3


@responses.activate
def test_retries_end_with_the_last_error_and_the_count(waits):
    responses.get(URL, body=requests.exceptions.ReadTimeout('read timed out'))
    with pytest.raises(ConnectionFailure, match=r'no answer .* within 2 seconds .*\(3 attempts\)'):
        make_client(waits, retries=2, timeout=2).get_request(RID)
    assert len(responses.calls) == 3


@responses.activate
def test_500_is_not_retried(waits):
    responses.get(URL, status=500, json={'Message': 'An error has occurred. Correlation ID: 42'})
    with pytest.raises(HTTPStatusError, match='Correlation ID: 42'):
        make_client(waits).get_request(RID)
    assert len(responses.calls) == 1 and waits == []


@responses.activate
def test_a_malformed_body_is_read_again(waits):
    responses.get(URL, body='{"Status": 3, "Uu', content_type='application/json')
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    assert make_client(waits).get_request(RID) == {'Uuid': RID, 'Status': 3}


@responses.activate
@pytest.mark.parametrize('lost', [requests.exceptions.ReadTimeout('read timed out'), requests.exceptions.ConnectionError('reset'),
                                  '{"Uuid": "trunc'])
def test_a_write_whose_answer_was_lost_is_read_back_and_counts_as_changed(waits, lost):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    if isinstance(lost, str):
        responses.put(URL, body=lost, content_type='application/json')
    else:
        responses.put(URL, body=lost)
    responses.get(URL, json={'Uuid': RID, 'Status': 8})
    result = finalize_request(make_client(waits), RID, COMPLETED)
    assert result['changed'] is True and result['request'] == {'Uuid': RID, 'Status': 8}
    assert methods() == ['GET', 'PUT', 'GET']


@responses.activate
def test_a_write_that_did_not_happen_is_sent_again(waits):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, status=503, headers={'Retry-After': '1'})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, json={'Uuid': RID, 'Status': 8})
    result = finalize_request(make_client(waits), RID, COMPLETED)
    assert result['changed'] is True
    assert methods() == ['GET', 'PUT', 'GET', 'PUT']
    assert [call.request.body for call in responses.calls if call.request.method == 'PUT'] == [b'{"status": "Completed"}'] * 2


@responses.activate
def test_a_race_lost_to_another_run_is_no_change(waits):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, status=500, json={'Message': 'Request cannot move from status Completed to status Completed.'})
    responses.get(URL, json={'Uuid': RID, 'Status': 8})
    result = finalize_request(make_client(waits), RID, COMPLETED)
    assert (result['changed'], result['status']) == (False, 'Completed')
    assert methods() == ['GET', 'PUT', 'GET'] and waits == []


@responses.activate
@pytest.mark.parametrize('before, put, after, wanted, error, message', [
    (16, {'status': 500, 'json': {'Message': 'Request cannot move from status Pending to status Abandoned.'}}, 16, 'abandoned',
     HTTPStatusError, 'cannot move from status Pending'),
    (3, {'status': 502}, 17, 'completed', FinalStatusConflict, 'became Canceled while this run was retrying, so it cannot be marked Completed'),
], ids=['refusal_reported_when_the_request_is_not_there', 'finalized_otherwise_meanwhile_is_a_conflict'])
def test_a_failed_write_is_judged_by_reading_the_request_back(waits, before, put, after, wanted, error, message):
    responses.get(URL, json={'Uuid': RID, 'Status': before})
    responses.put(URL, **put)
    responses.get(URL, json={'Uuid': RID, 'Status': after})
    with pytest.raises(error, match=message):
        finalize_request(make_client(waits), RID, final_action(wanted))
    assert methods() == ['GET', 'PUT', 'GET']


@responses.activate
def test_a_redirected_write_is_an_error_naming_the_target(waits):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, status=302, headers={'Location': 'https://other.example.test/CertificateManagement/x'})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    with pytest.raises(HTTPStatusError, match='redirecting to https://other.example.test/CertificateManagement/x'):
        finalize_request(make_client(waits), RID, COMPLETED)
    assert methods().count('PUT') == 1


@responses.activate
def test_writes_give_up_after_the_retries(waits):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, status=503)
    with pytest.raises(HTTPStatusError, match='HTTP status 503'):
        finalize_request(make_client(waits, retries=2), RID, COMPLETED)
    assert methods().count('PUT') == 3
