# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client on its own: URLs, ids, the calls it makes and how it reads errors (HTTP mocked with responses)."""

from __future__ import annotations

import base64
import json

import pytest
import requests
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._request import canonical_request_id
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError,
    ConnectionFailure,
    HTTPStatusError,
    RequestNotFound,
    UnexpectedResponse,
)

RID = '5f0b5b8e-3c4a-4d7b-9e2f-6a1c0d3b2e11'
BASE = 'https://cm.example.test/CertificateManagement/api/v1.0'
URL = '%s/requests/%s' % (BASE, RID)


def client(auth='none', **options):
    credentials = {key: options.pop(key) for key in ('username', 'password', 'token') if key in options}
    options.setdefault('sleep', lambda seconds: None)
    return CMClient(options.pop('url', 'https://cm.example.test'), auth_from_options(auth, **credentials), **options)


@pytest.mark.parametrize('given', [RID, RID.upper(), '{%s}' % RID, '{%s}' % RID.upper(), '  %s ' % RID])
def test_request_ids_go_out_canonical(given):
    assert canonical_request_id(given) == RID


@pytest.mark.parametrize('given', ['', 'not-a-guid', RID[:-1], RID + '0', '{%s' % RID, '%s}' % RID, RID.replace('-', ''),
                                   RID.replace('5', 'g'), None, 42, '{{%s}}' % RID, '{%s\n}' % RID])
def test_malformed_request_ids_are_refused(given):
    with pytest.raises(ConfigurationError, match='is not a GUID'):
        canonical_request_id(given)


@pytest.mark.parametrize('url, api_path, expected', [
    ('https://cm.example.test', '/CertificateManagement/api/v1.0', BASE),
    ('https://cm.example.test/', 'CertificateManagement/api/v1.0/', BASE),
    ('HTTPS://cm.example.test:8443/', '/certificatemanagement/api/v1.0', 'https://cm.example.test:8443/certificatemanagement/api/v1.0'),
    ('http://127.0.0.1:8080/prefix', '/CertificateManagement/api/v1.0', 'http://127.0.0.1:8080/prefix/CertificateManagement/api/v1.0'),
])
def test_base_url_joins_url_and_api_path(url, api_path, expected):
    assert client(url=url, api_path=api_path).base_url == expected


@pytest.mark.parametrize('url, message', [
    ('', 'url is required'), (None, 'url is required'), ('cm.example.test', 'not an http'), ('ftp://cm.example.test', 'not an http'),
    ('https://', 'not an http'), ('https://cm.example.test/?x=1', 'not an http'),
    ('https://user:secret@cm.example.test', 'must not carry user information'),
    ('ftp://user:secret@cm.example.test', 'must not carry user information'),
    ('https://user:secret@cm.example.test/?a=1', 'must not carry user information'),
    ('https://cm.example.test:99999', 'bad host or port'), ('https://cm example.test', 'not an http'),
])
def test_bad_urls_are_refused(url, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        client(url=url)
    assert 'secret' not in str(caught.value)


@pytest.mark.parametrize('option, value', [('timeout', 0), ('timeout', -5), ('timeout', None), ('timeout', float('inf')),
                                           ('timeout', float('nan')), ('timeout', 1e300), ('backoff_factor', float('nan')),
                                           ('backoff_factor', float('inf')), ('backoff_factor', -0.5), ('retries', -1), ('retries', 11)])
def test_numeric_options_are_finite_and_in_range(option, value):
    with pytest.raises(ConfigurationError, match='^%s must be a number of ' % option):
        client(**{option: value})


@pytest.mark.parametrize('api_path', ['/CertificateManagement/api/v1.0?x=1', '/api#frag', '/api/../other', '/api/%2e%2e/x',
                                      '/api%2Fv1', '/CertificateManagement/api/v1.0/requests/0d6c2c4e-8d5f-4b1a-a1f3-3c9e7b2d5a10',
                                      '\\api', '/api v1'])
def test_api_path_is_a_plain_path(api_path):
    with pytest.raises(ConfigurationError, match='api_path .* is not a plain path'):
        client(api_path=api_path)


@responses.activate
def test_get_request_returns_the_object_as_sent():
    body = {'Uuid': RID, 'Status': 3, 'Comment': 'x'}
    responses.get(URL, json=body)
    assert client().get_request(RID) == body
    assert responses.calls[0].request.headers['Accept'] == 'application/json'


@responses.activate
def test_get_204_is_not_found():
    responses.get(URL, status=204)
    with pytest.raises(RequestNotFound, match='was not found') as caught:
        client().get_request(RID)
    assert caught.value.http_status == 204


@responses.activate
def test_get_404_hints_that_the_api_may_be_disabled():
    responses.get(URL, status=404, body='<html><head><title>404 - File or directory not found.</title></head></html>')
    with pytest.raises(RequestNotFound, match='Clm.WebApi.Enabled') as caught:
        client().get_request(RID)
    assert caught.value.to_result() == {'msg': caught.value.msg, 'http_status': 404, 'url': URL}


@responses.activate
def test_put_sends_the_status_as_json_and_returns_the_object():
    responses.put(URL, json={'Uuid': RID, 'Status': 8})
    assert client().set_request_status(RID, 'Completed') == {'Uuid': RID, 'Status': 8}
    sent = responses.calls[0].request
    assert json.loads(sent.body) == {'status': 'Completed'}
    assert sent.headers['Content-Type'] == 'application/json'


@responses.activate
def test_put_204_returns_none():
    responses.put(URL, status=204)
    assert client().set_request_status(RID, 'Canceled') is None


@responses.activate
def test_server_message_and_status_reach_the_error_verbatim():
    message = 'An error has occurred. Correlation ID: 0b7e6d38-2a55-4d9c-8a55-7c3f0e9b1a22'
    responses.put(URL, status=500, json={'Message': message})
    with pytest.raises(HTTPStatusError) as caught:
        client().set_request_status(RID, 'Completed')
    assert message in caught.value.msg
    assert 'HTTP status 500' in caught.value.msg
    assert (caught.value.http_status, caught.value.url) == (500, URL)


@responses.activate
def test_403_names_the_missing_permission():
    responses.get(URL, status=403, json={'Message': 'Authorization has been denied for this request.'})
    with pytest.raises(HTTPStatusError, match='Authorization has been denied.*lacks the MIM CM permission'):
        client().get_request(RID)


@responses.activate
def test_html_error_pages_are_read_as_text():
    responses.get(URL, status=401, content_type='text/html',
                  body='<html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head>'
                       '<body><h1>Server Error</h1></body></html>')
    with pytest.raises(HTTPStatusError) as caught:
        client(auth='basic', username='alice', password='s3cret-pw').get_request(RID)
    assert '401 - Unauthorized: Access is denied due to invalid credentials.' in caught.value.msg
    assert 'auth basic as alice' in caught.value.msg
    assert 's3cret-pw' not in caught.value.msg


@responses.activate
def test_redirects_are_never_followed():
    responses.put(URL, status=302, headers={'Location': 'https://other.example.test/login'})
    with pytest.raises(HTTPStatusError, match='redirecting to https://other.example.test/login'):
        client().set_request_status(RID, 'Completed')
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize('body', ['not json', '["a list"]', '"a string"'])
def test_non_object_bodies_are_unexpected(body):
    responses.get(URL, body=body, content_type='application/json')
    with pytest.raises(UnexpectedResponse):
        client().get_request(RID)


@responses.activate
def test_connection_errors_name_the_url():
    responses.get(URL, body=requests.exceptions.ConnectionError('Connection refused'))
    with pytest.raises(ConnectionFailure, match='could not connect to %s: Connection refused' % URL):
        client().get_request(RID)


@responses.activate
def test_tls_errors_point_at_ca_path():
    responses.get(URL, body=requests.exceptions.SSLError('certificate verify failed'))
    with pytest.raises(ConnectionFailure, match='Set ca_path'):
        client().get_request(RID)


@responses.activate
def test_timeouts_say_how_long_was_waited():
    responses.get(URL, body=requests.exceptions.ReadTimeout('read timed out'))
    with pytest.raises(ConnectionFailure, match='within 2.5 seconds'):
        client(timeout=2.5).get_request(RID)


@responses.activate
def test_basic_and_bearer_credentials_are_sent():
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    client(auth='basic', username='alice', password='pässwörd-✓').get_request(RID)
    client(auth='bearer', token='tok-123').get_request(RID)
    assert responses.calls[0].request.headers['Authorization'] == 'Basic ' + base64.b64encode('alice:pässwörd-✓'.encode()).decode()
    assert responses.calls[1].request.headers['Authorization'] == 'Bearer tok-123'


@pytest.mark.parametrize('auth, options, option', [('bearer', {'token': 'Tok-S3cret\r'}, 'token'), ('bearer', {'token': 'Tok S3cret'}, 'token'),
                                                   ('basic', {'username': 'alice', 'password': 'Pw-S3cret\n'}, 'password'),
                                                   ('basic', {'username': 'al\tice', 'password': 'Pw-S3cret'}, 'username')])
def test_credentials_a_header_cannot_carry_are_refused_by_name_not_value(auth, options, option):
    with pytest.raises(ConfigurationError) as caught:
        client(auth=auth, **options)
    assert caught.value.msg.startswith(option + ' ')
    assert options[option].strip() not in caught.value.msg


def test_certificate_validation_settings():
    assert client().http.session.verify is True
    assert client(ca_path=__file__).http.session.verify == __file__
    assert client(validate_certs=False).http.session.verify is False


@pytest.mark.parametrize('auth, options, message', [
    ('basic', {'username': 'alice'}, 'auth basic needs username and password'),
    ('basic', {'password': 'pw'}, 'auth basic needs username and password'),
    ('bearer', {}, 'auth bearer needs token'),
    ('none', {'username': 'alice', 'password': 'pw'}, 'auth is none, which does not use password and username'),
    ('bearer', {'token': 't', 'password': 'pw'}, 'auth is bearer, which does not use password'),
    ('digest', {}, "auth 'digest' is not supported"),
])
def test_auth_options_are_checked_before_any_call(auth, options, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        auth_from_options(auth, **options)
    assert 'pw' not in str(caught.value).replace('password', '')


@responses.activate
def test_cookies_persist_across_the_calls_of_one_run():
    responses.get(URL, json={'Uuid': RID, 'Status': 3}, headers={'Set-Cookie': 'CMSession=abc123; Path=/'})
    responses.put(URL, json={'Uuid': RID, 'Status': 8})
    session_client = client()
    session_client.get_request(RID)
    session_client.set_request_status(RID, 'Completed')
    assert responses.calls[1].request.headers['Cookie'] == 'CMSession=abc123'


@responses.activate
@pytest.mark.parametrize('error', ['[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required',
                                   'EOF occurred in violation of protocol (_ssl.c:2427)'])
def test_refused_client_certificates_point_at_client_cert(error):
    responses.get(URL, body=requests.exceptions.SSLError(error))
    with pytest.raises(ConnectionFailure, match='set client_cert and client_key'):
        client().get_request(RID)
