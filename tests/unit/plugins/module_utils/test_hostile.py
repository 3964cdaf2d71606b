# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answers a broken or hostile server may send: each ends in a clear error or the truth, within the deadline and the
size limits (real sockets for time and size; HTTP mocked with responses for the rest)."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._transport import MAX_OBJECT_BYTES
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConnectionFailure, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import batch_outcome, finalize_many, finalize_request
from ansible_collections.mim.certificate_management.plugins.module_utils._request import final_action

RID = '3b6f0a2e-9d41-4c57-8e26-1f0d9c7b5a48'
OTHER = '3b6f0a2e-9d41-4c57-8e26-000000000000'
BASE = 'https://cm.example.test/CertificateManagement/api/v1.0/requests/'
URL = BASE + RID
COMPLETED = final_action('completed')


class _Hostile(http.server.BaseHTTPRequestHandler):
    """GET answers as the server's mode says: drip the headers or the body, or send an endless body."""

    protocol_version = 'HTTP/1.1'

    def do_GET(self):  # pylint: disable=invalid-name
        mode = self.server.mode
        try:
            if mode == 'drip-headers':
                self.wfile.write(b'HTTP/1.1 200 OK\r\n')
                for _line in range(600):
                    self.wfile.write(b'X-Slow: y\r\n')
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            if mode == 'drip-body':
                body = json.dumps({'Uuid': RID, 'Status': 3, 'Comment': ' ' * 600}).encode()
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                for index in range(len(body)):
                    self.wfile.write(body[index:index + 1])
                    self.wfile.flush()
                    time.sleep(0.1)
            elif mode == 'endless':
                self.send_header('Transfer-Encoding', 'chunked')
                self.end_headers()
                chunk = b'[' * 65536
                while not self.server.stopping:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
                    self.server.sent += len(chunk)
        except OSError:
            pass  # the client cut the connection, as it should

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def hostile():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Hostile)
    server.daemon_threads = True
    server.stopping, server.sent = False, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.stopping = True
    server.shutdown()
    server.server_close()


def real_client(server, **options):
    return CMClient('http://127.0.0.1:%d' % server.server_port, auth_from_options('none'), retries=0, **options)


@pytest.mark.parametrize('mode', ['drip-headers', 'drip-body'])
def test_timeout_bounds_the_whole_answer_not_each_read(hostile, mode):
    """Each byte comes within the timeout, the whole answer would take a minute: the call ends at the deadline."""
    hostile.mode = mode
    started = time.monotonic()
    with pytest.raises(ConnectionFailure, match='no complete answer from .* within the timeout of 1.0 seconds'):
        real_client(hostile, timeout=1.0).get_request(RID)
    assert time.monotonic() - started < 15  # the drip would take 60 s; the margin is for a loaded machine


def test_an_endless_body_is_cut_at_the_size_limit(hostile):
    hostile.mode = 'endless'
    with pytest.raises(UnexpectedResponse, match='with more than %d bytes' % MAX_OBJECT_BYTES) as caught:
        real_client(hostile, timeout=30).get_request(RID)
    assert caught.value.url.endswith(RID)
    assert hostile.sent < 64 * MAX_OBJECT_BYTES  # the client stopped reading long before the server would have


@responses.activate
def test_a_declared_oversized_body_is_not_read(client):
    responses.get(URL, body=b'{"Uuid": "x"}' + b' ' * MAX_OBJECT_BYTES)
    with pytest.raises(UnexpectedResponse, match='more than %d bytes' % MAX_OBJECT_BYTES):
        client.get_request(RID)


@responses.activate
def test_deeply_nested_json_is_an_unreadable_body(client):
    responses.get(URL, body='[' * 100000 + ']' * 100000, content_type='application/json')
    with pytest.raises(UnexpectedResponse, match='not JSON .*nested too deeply'):
        client.get_request(RID)


@responses.activate
def test_an_error_page_is_read_only_as_far_as_its_message(client):
    responses.get(URL, status=500, json={'Message': 'boom ' * 100000})
    with pytest.raises(Exception) as caught:
        client.get_request(RID)
    assert len(caught.value.msg) < 2000 and 'boom' in caught.value.msg


@responses.activate
def test_a_get_answered_with_another_request_is_never_believed(client):
    responses.get(URL, json={'Uuid': OTHER, 'Status': 8})
    with pytest.raises(UnexpectedResponse, match='asked for request %s, the server answered with request %s' % (RID, OTHER)):
        finalize_request(client, RID, COMPLETED)
    assert [call.request.method for call in responses.calls] == ['GET']


@responses.activate
@pytest.mark.parametrize('answer', [{'body': 'null'}, {'body': 'true'}, {'body': '"Request updated"'}, {'body': '[]'},
                                    {'body': '{}'}, {'body': 'Request updated'}, {'json': {'Uuid': OTHER, 'Status': 8}},
                                    {'json': {'Uuid': RID}}],
                         ids=['null', 'true', 'string', 'list', 'empty-object', 'not-json', 'other-request', 'no-status'])
def test_a_write_answered_with_anything_but_its_request_is_read_back(client, answer):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, content_type='application/json', **answer)
    responses.get(URL, json={'Uuid': RID, 'Status': 8})
    result = finalize_request(client, RID, COMPLETED)
    assert (result['changed'], result['status'], result['request']) == (True, 'Completed', {'Uuid': RID, 'Status': 8})
    assert [call.request.method for call in responses.calls] == ['GET', 'PUT', 'GET']


@responses.activate
def test_a_write_answered_with_another_request_that_did_not_take_is_no_success(client):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, json={'Uuid': OTHER, 'Status': 8})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    with pytest.raises(UnexpectedResponse, match='now reads Approved'):
        finalize_request(client, RID, COMPLETED)


@responses.activate
def test_one_hostile_answer_in_a_batch_fails_only_its_id(client, monkeypatch):
    ids = ['3b6f0a2e-9d41-4c57-8e26-00000000000%d' % index for index in range(1, 5)]
    for request_id in ids:
        if request_id == ids[1]:  # every time: the reads are retried
            responses.get(BASE + request_id, body='[' * 100000, content_type='application/json')
            continue
        responses.get(BASE + request_id, json={'Uuid': request_id, 'Status': 3})
        if request_id == ids[2]:
            responses.put(BASE + request_id, status=503, headers={'Retry-After': '9' * 5000})
        responses.put(BASE + request_id, json={'Uuid': request_id, 'Status': 8})
    real = client.get_request

    def get_request(request_id):
        if request_id == ids[3]:
            raise KeyError('odd')  # what no layer expects
        return real(request_id)

    monkeypatch.setattr(client, 'get_request', get_request)
    results = finalize_many(client, ids, COMPLETED, concurrency=1)  # in order: one id's retries never starve the next
    assert [entry['changed'] for entry in results] == [True, False, True, False]
    assert [entry.get('failed', False) for entry in results] == [False, True, False, True]
    assert 'not JSON' in results[1]['msg']
    assert results[3]['msg'].startswith('unexpected error while finalizing request %s' % ids[3]) and 'KeyError' in results[3]['msg']
    assert batch_outcome(results)['msg'].startswith('2 of 4 requests could not be finalized')


@responses.activate
def test_a_batch_waits_for_an_outage_once_not_once_per_id():
    waits = []
    batch = CMClient('https://cm.example.test', auth_from_options('none'), retries=2, sleep=waits.append)
    ids = ['3b6f0a2e-9d41-4c57-8e26-%012d' % index for index in range(40)]
    for request_id in ids:
        responses.get(BASE + request_id, status=503, headers={'Retry-After': '30'})
    results = finalize_many(batch, ids, COMPLETED, concurrency=1)
    assert all(entry['failed'] for entry in results)
    assert sum(waits) <= 2 * 30  # the run's two backoff rounds, however many ids
    assert len(responses.calls) == 4  # the first id's three tries, one of the next; the rest are not sent
    assert 'the 2 retries of this run are spent; nothing was sent' in results[-1]['msg']


@responses.activate
def test_a_success_ends_the_outage_and_refills_the_budget():
    waits = []
    batch = CMClient('https://cm.example.test', auth_from_options('none'), retries=1, sleep=waits.append)
    responses.get(URL, status=503)
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    assert batch.get_request(RID)['Status'] == 3
    responses.replace(responses.GET, URL, status=503)
    with pytest.raises(Exception, match='HTTP status 503'):
        batch.get_request(RID)
    assert len(waits) == 2  # one round for each outage
