# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's own layer: options, environment fallbacks, result and failure shape (HTTP mocked with responses)."""

from __future__ import annotations

import base64
import json

from urllib.parse import quote

import pytest
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils import _cm_request_status
from ansible_collections.mim.certificate_management.plugins.modules import cm_request_status
from ansible_collections.mim.certificate_management.tests.unit.plugins.modules.module_runner import run_module

RID = '7a3e9f10-2b4c-4d5e-8f60-718293a4b5c6'
URL = 'http://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID


def run(capsys, **args):
    return run_module(cm_request_status.main, capsys, **args)


@responses.activate
def test_completes_and_reports_diff(capsys):
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    responses.put(URL, json={'Uuid': RID, 'Status': 8})
    code, result = run(capsys, request_id='{%s}' % RID.upper(), status='completed', _ansible_diff=True)
    assert code == 0
    assert result['changed'] is True
    assert (result['request_id'], result['previous_status'], result['status']) == (RID, 'Approved', 'Completed')
    assert result['diff']['before'] == {'status': 'Approved'} and result['diff']['after'] == {'status': 'Completed'}
    assert result['request'] == {'Uuid': RID, 'Status': 8}


@responses.activate
def test_check_mode_never_writes(capsys):
    responses.get(URL, json={'Uuid': RID, 'Status': 16})
    code, result = run(capsys, request_id=RID, status='canceled', _ansible_check_mode=True)
    assert (code, result['changed'], result['status']) == (0, True, 'Canceled')
    assert [call.request.method for call in responses.calls] == ['GET']


@responses.activate
def test_failure_carries_http_status_url_and_server_message(capsys):
    responses.get(URL, status=500, json={'Message': 'An error has occurred. Correlation ID: abc-123'})
    code, result = run(capsys, request_id=RID, status='completed')
    assert code == 1 and result['failed'] is True
    assert 'Correlation ID: abc-123' in result['msg']
    assert (result['http_status'], result['url'], result['request_id']) == (500, URL, RID)


@responses.activate
def test_bad_guid_fails_before_any_call(capsys):
    code, result = run(capsys, request_id='1234', status='completed')
    assert code == 1 and 'is not a GUID' in result['msg']
    assert 'http_status' not in result
    assert len(responses.calls) == 0


@responses.activate
def test_connection_comes_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv('MIM_CM_URL', 'https://env.example.test')
    monkeypatch.setenv('MIM_CM_AUTH', 'bearer')
    monkeypatch.setenv('MIM_CM_TOKEN', 'env-token-value')
    monkeypatch.setenv('MIM_CM_VALIDATE_CERTS', 'false')
    env_url = 'https://env.example.test/CertificateManagement/api/v1.0/requests/%s' % RID
    responses.get(env_url, json={'Uuid': RID, 'Status': 8})
    result = run(capsys, request_id=RID, status='completed', url=None)[1]
    assert result['changed'] is False
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer env-token-value'
    assert 'env-token-value' not in json.dumps(result)


@responses.activate
def test_password_over_plain_http_warns_and_never_shows(capsys):
    responses.get(URL, json={'Uuid': RID, 'Status': 8})
    code, result = run(capsys, request_id=RID, status='completed', auth='basic', username='alice', password='Pa55-word!')
    assert code == 0
    assert 'plain http://' in json.dumps(result.get('warnings')), result
    assert 'Pa55-word!' not in json.dumps(result)


def batch_id(index):
    return '7a3e9f10-2b4c-4d5e-8f60-00000000000%d' % index


def batch_url(index):
    return 'http://cm.example.test/CertificateManagement/api/v1.0/requests/' + batch_id(index)


@responses.activate
def test_batch_tries_every_id_and_fails_naming_each_failed_one(capsys):
    ids = ['7a3e9f10-2b4c-4d5e-8f60-00000000000%d' % index for index in range(1, 5)]
    responses.get(batch_url(1), json={'Uuid': batch_id(1), 'Status': 3})
    responses.put(batch_url(1), json={'Uuid': batch_id(1), 'Status': 8})
    responses.get(batch_url(2), json={'Uuid': batch_id(2), 'Status': 8})
    responses.get(batch_url(3), status=403, json={'Message': 'Authorization has been denied for this request.'})
    responses.get(batch_url(4), json={'Uuid': batch_id(4), 'Status': 17})
    code, result = run(capsys, request_ids=ids + [ids[0].upper()], status='completed', concurrency=3, _ansible_diff=True)
    assert code == 1
    assert result['changed'] is True
    assert [entry['request_id'] for entry in result['results']] == ids
    assert [entry.get('failed', False) for entry in result['results']] == [False, False, True, True]
    assert result['msg'].startswith('2 of 4 requests could not be finalized: ')
    assert ids[2] + ': ' in result['msg'] and 'HTTP status 403' in result['msg']
    assert ids[3] + ': request' in result['msg'] and 'already Canceled' in result['msg']
    assert result['results'][2]['http_status'] == 403
    assert [entry['request_id'] for entry in result['results'] if entry['changed']] == [ids[0]]
    assert result['diff'] == [result['results'][0]['diff']]
    assert len([call for call in responses.calls if call.request.method == 'PUT']) == 1


@responses.activate
def test_batch_check_mode_writes_nothing(capsys):
    ids = ['7a3e9f10-2b4c-4d5e-8f60-00000000000%d' % index for index in range(1, 4)]
    for index in range(1, 4):
        responses.get(batch_url(index), json={'Uuid': batch_id(index), 'Status': 3})
    code, result = run(capsys, request_ids=ids, status='abandoned', _ansible_check_mode=True)
    assert (code, result['changed']) == (0, True)
    assert {entry['status'] for entry in result['results']} == {'Failed'}
    assert {call.request.method for call in responses.calls} == {'GET'}


@responses.activate
@pytest.mark.parametrize('args, message', [
    ({'request_ids': ['not-a-guid', RID, 'also bad']}, "2 value(s) that are not GUIDs: 'not-a-guid', 'also bad'"),
    ({'request_ids': []}, 'request_ids is empty'),
    ({'request_ids': [RID], 'concurrency': 0}, 'concurrency must be between 1 and 64'),
    ({'request_ids': [RID], 'request_id': RID}, 'mutually exclusive'),
    ({}, 'one of the following is required: request_id, request_ids'),
    ({'request_id': RID, 'ca_path': '/nonexistent/mim-cm-test/absent.pem'}, 'ca_path'),
    ({'request_id': RID, 'auth': 'bearer', 'token': 'task-token-value', 'username': 'alice'}, 'auth is bearer, which does not use username'),
])
def test_bad_options_fail_before_any_call(capsys, args, message):
    code, result = run(capsys, status='completed', **args)
    assert code == 1 and message in result['msg']
    assert len(responses.calls) == 0


@responses.activate
def test_credentials_injected_for_another_method_are_ignored(capsys, monkeypatch):
    monkeypatch.setenv('MIM_CM_USERNAME', 'MIMLAB\\alice')
    monkeypatch.setenv('MIM_CM_PASSWORD', 'injected-for-ntlm')
    responses.get(URL, json={'Uuid': RID, 'Status': 8})
    code, result = run(capsys, request_id=RID, status='completed', auth='bearer', token='task-token-value')
    assert code == 0, result
    assert responses.calls[0].request.headers['Authorization'] == 'Bearer task-token-value'


def every_form(secret):
    """The forms the secrets scan looks for: raw, URL-encoded, base64 and JSON-escaped."""
    return {secret, quote(secret, safe=''), base64.b64encode(secret.encode()).decode(), json.dumps(secret)[1:-1]}


def echo_authorization(request):
    """A server error that echoes the Authorization header it got, raw, URL-encoded and JSON-escaped."""
    header = request.headers.get('Authorization', '')
    return 500, {}, json.dumps({'Message': 'bad header %s | %s | %s' % (header, quote(header, safe=''), json.dumps(header))})


@responses.activate
@pytest.mark.parametrize('auth, options, secrets', [
    ('basic', {'username': 'alice', 'password': 'Pä55-wörd-✓-密码'}, ['Pä55-wörd-✓-密码', 'alice:Pä55-wörd-✓-密码']),
    ('bearer', {'token': 'eyJ0eXAi.S3cret-T0ken.sig'}, ['eyJ0eXAi.S3cret-T0ken.sig']),
], ids=['basic-utf8', 'bearer'])
def test_a_server_echoing_the_authorization_header_shows_no_secret(capsys, auth, options, secrets):
    responses.add_callback(responses.GET, URL, callback=echo_authorization)
    code, result = run(capsys, request_id=RID, status='completed', auth=auth, **options)
    assert code == 1 and result['http_status'] == 500 and 'bad header' in result['msg']
    text = json.dumps(result, ensure_ascii=False) + json.dumps(result)
    assert [form for secret in secrets for form in every_form(secret) if form in text] == []


def test_a_url_with_user_information_is_refused_and_never_echoed(capsys):
    code, result = run(capsys, request_id=RID, status='completed', url='ftp://svc:Url-S3cret@cm.example.test/?a=1')
    assert code == 1 and 'must not carry user information' in result['msg']
    assert 'Url-S3cret' not in json.dumps(result)
    assert '@cm.example.test/?a=1' in result['invocation']['module_args']['url']  # masked as user:password or password


@responses.activate
def test_an_unexpected_failure_is_a_clean_message_without_secrets(capsys, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError('internal trouble with token Tok-S3cret-99')
    monkeypatch.setattr(_cm_request_status, 'finalize_request', explode)
    code, result = run(capsys, request_id=RID, status='completed', auth='bearer', token='Tok-S3cret-99')
    assert code == 1 and result['msg'].startswith('unexpected error: RuntimeError: internal trouble with token ')
    assert 'Tok-S3cret-99' not in json.dumps(result) and result['request_id'] == RID


def test_an_option_of_another_method_given_to_the_task_is_an_error_even_if_the_environment_has_it(capsys, monkeypatch):
    monkeypatch.setenv('MIM_CM_USERNAME', 'alice')
    code, result = run(capsys, request_id=RID, status='completed', auth='bearer', token='task-token-value', username='alice')
    assert code == 1 and 'auth is bearer, which does not use username' in result['msg']


def test_a_missing_library_is_reported_the_ansible_way(capsys, monkeypatch):
    from ansible_collections.mim.certificate_management.plugins.module_utils import _auth
    monkeypatch.setattr(_auth, 'HAS_SPNEGO', False)
    code, result = run(capsys, request_id=RID, status='completed', auth='ntlm', username='MIMLAB\\alice', password='pw')
    assert code == 1 and 'Failed to import the required Python library (pyspnego)' in result['msg']
    assert 'auth ntlm' in result['msg']


@responses.activate
@pytest.mark.parametrize('offset', [470, 480, 490, 495, 499])
def test_a_secret_cut_by_the_message_length_is_scrubbed_before_the_cut(capsys, offset):
    secret = 'Cut-Me-S3cret-Password-1234'
    responses.get(URL, status=500, json={'Message': 'x' * offset + 'alice:' + secret + ' and more'})
    code, result = run(capsys, request_id=RID, status='completed', auth='basic', username='alice', password=secret)
    assert code == 1 and 'xxxx' in result['msg']
    assert [secret[index:index + 8] for index in range(len(secret) - 7) if secret[index:index + 8] in json.dumps(result)] == []
