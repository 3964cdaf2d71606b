# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication methods: option checks, the 401 handshake (against a real pyspnego NTLM acceptor), ADFS tokens, channel bindings."""

from __future__ import annotations

import base64
import datetime
import hashlib
import types
import urllib.parse

import pytest
import requests
import responses
import spnego

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ansible_collections.mim.certificate_management.plugins.module_utils import _auth
from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import AuthenticationError, ConfigurationError, HTTPStatusError, MissingLibrary
from ansible_collections.mim.certificate_management.plugins.module_utils._spnego_http import channel_bindings

RID = '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f'
URL = 'http://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID
TOKEN_URL = 'https://adfs.example.test/adfs/oauth2/token'
PASSWORD = 'Corr3ct-Horse!'


def make_client(auth, **options):
    return CMClient('http://cm.example.test', auth_from_options(auth, **options), sleep=lambda seconds: None)


class NtlmServer:
    """A responses callback that answers like IIS: 401 challenges, a real NTLM acceptor, 200 once authenticated."""

    def __init__(self, offer=('Negotiate', 'NTLM')):
        self.offer = offer
        self.context = None
        self.schemes = []

    def __call__(self, request):
        header = request.headers.get('Authorization')
        if not header:
            return 401, [('WWW-Authenticate', scheme) for scheme in self.offer], '<html><title>401 - Unauthorized</title></html>'
        scheme, token = header.split(' ', 1)
        self.schemes.append(scheme)
        if self.context is None:
            self.context = spnego.server(protocol='negotiate' if scheme == 'Negotiate' else 'ntlm')
        try:
            answer = self.context.step(base64.b64decode(token))
        except spnego.exceptions.SpnegoError:
            return 401, [('WWW-Authenticate', scheme) for scheme in self.offer], '<html><title>401 - Unauthorized</title></html>'
        if not self.context.complete:
            return 401, [('WWW-Authenticate', '%s %s' % (scheme, base64.b64encode(answer).decode()))], ''
        return 200, [('Content-Type', 'application/json')], '{"Uuid": "%s", "Status": 3}' % RID


@pytest.fixture(autouse=True)
def ntlm_users(tmp_path, monkeypatch):
    users = tmp_path / 'ntlm_users'
    users.write_text('MIMLAB:alice:%s\n:alice@MIMLAB:%s\n' % (PASSWORD, PASSWORD))
    monkeypatch.setenv('NTLM_USER_FILE', str(users))


@responses.activate
@pytest.mark.parametrize('auth, username, scheme', [('ntlm', 'MIMLAB\\alice', 'NTLM'), ('negotiate', 'alice@MIMLAB', 'Negotiate')])
def test_handshake_answers_the_challenge_on_the_same_session(auth, username, scheme):
    server = NtlmServer()
    responses.add_callback(responses.GET, URL, callback=server)
    assert make_client(auth, username=username, password=PASSWORD).get_request(RID)['Status'] == 3
    assert server.context.complete
    assert server.schemes == [scheme, scheme]
    assert len(responses.calls) == 3


@responses.activate
def test_wrong_password_names_method_and_user_never_the_secret():
    responses.add_callback(responses.GET, URL, callback=NtlmServer())
    with pytest.raises(HTTPStatusError) as caught:
        make_client('ntlm', username='MIMLAB\\alice', password='wrong-password-123').get_request(RID)
    message = caught.value.msg
    assert caught.value.http_status == 401
    assert 'auth ntlm as MIMLAB\\alice was refused' in message
    assert 'wrong-password-123' not in message and PASSWORD not in message


@responses.activate
def test_a_server_that_offers_no_scheme_we_speak_is_named():
    responses.add_callback(responses.GET, URL, callback=NtlmServer(offer=('Basic realm="cm"',)))
    with pytest.raises(HTTPStatusError, match='the server offers: Basic'):
        make_client('ntlm', username='MIMLAB\\alice', password=PASSWORD).get_request(RID)
    assert len(responses.calls) == 1


@responses.activate
def test_adfs_token_is_fetched_once_and_sent_as_bearer():
    responses.post(TOKEN_URL, json={'access_token': 'issued-token-1', 'token_type': 'bearer', 'expires_in': 3600})
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    client = make_client('bearer', token_url=TOKEN_URL, client_id='ansible', client_secret='s3cret', resource='urn:mimcm')
    client.get_request(RID)
    client.get_request(RID)
    token_calls = [call for call in responses.calls if call.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    assert urllib.parse.parse_qs(token_calls[0].request.body) == {
        'grant_type': ['client_credentials'], 'client_id': ['ansible'], 'client_secret': ['s3cret'], 'resource': ['urn:mimcm']}
    assert [call.request.headers['Authorization'] for call in responses.calls[1:]] == ['Bearer issued-token-1'] * 2


@responses.activate
def test_adfs_refusal_carries_the_oauth_error_not_the_secret():
    responses.post(TOKEN_URL, status=400, json={'error': 'invalid_client', 'error_description': 'MSIS9607: client credentials are invalid.'})
    with pytest.raises(HTTPStatusError) as caught:
        make_client('bearer', token_url=TOKEN_URL, client_id='ansible', client_secret='s3cret-value').get_request(RID)
    assert 'invalid_client' in caught.value.msg and 'MSIS9607' in caught.value.msg
    assert 'client_id ansible' in caught.value.msg
    assert 's3cret-value' not in caught.value.msg
    assert caught.value.http_status == 400


@pytest.mark.parametrize('auth, options, message', [
    ('ntlm', {'username': 'MIMLAB\\alice'}, 'auth ntlm needs username'),
    ('ntlm', {}, 'auth ntlm needs username'),
    ('negotiate', {'password': 'pw'}, 'password without username'),
    ('negotiate', {'token': 't'}, 'auth is negotiate, which does not use token'),
    ('basic', {'username': 'a', 'password': 'p', 'service_principal': 'HTTP/x'}, 'does not use service_principal'),
    ('negotiate', {'service_principal': 'cm.example.test'}, 'not of the form HTTP/host'),
    ('bearer', {'token': 't', 'token_url': TOKEN_URL, 'client_id': 'c', 'client_secret': 's'}, 'either token or token_url'),
    ('bearer', {'token_url': TOKEN_URL, 'client_id': 'c'}, 'needs token'),
])
def test_auth_options_are_checked_before_any_call(auth, options, message):
    with pytest.raises(ConfigurationError, match=message):
        auth_from_options(auth, **options)


def test_service_principal_overrides_the_url_host(monkeypatch):
    monkeypatch.setattr(_auth, 'HAS_GSSAPI', True)
    method = auth_from_options('kerberos', service_principal='HTTP/cm-alias.mimlab.test@MIMLAB.TEST')
    seen = {}

    def fake_client(username, password, hostname, service, channel_bindings, protocol):
        seen.update(hostname=hostname, service=service, protocol=protocol)

    monkeypatch.setattr(spnego, 'client', fake_client)
    method.context('cm.example.test', None)
    assert seen == {'hostname': 'cm-alias.mimlab.test', 'service': 'HTTP', 'protocol': 'kerberos'}


@pytest.mark.parametrize('option', ['client_cert', 'client_key', 'ca_path'])
def test_tls_files_must_exist(option, tmp_path):
    options = {option: str(tmp_path / 'missing.pem')}
    if option == 'client_key':
        options['client_cert'] = __file__
    with pytest.raises(ConfigurationError, match='%s .*missing.pem is not a readable file' % option):
        CMClient('https://cm.example.test', auth_from_options('none'), **options)


def test_client_key_needs_client_cert():
    with pytest.raises(ConfigurationError, match='client_key was given without client_cert'):
        CMClient('https://cm.example.test', auth_from_options('none'), client_key=__file__)


def _certificate(hash_algorithm):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'cm.example.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hash_algorithm))
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize('algorithm, digest', [(hashes.SHA256(), hashlib.sha256), (hashes.SHA384(), hashlib.sha384)])
def test_channel_bindings_hash_the_server_certificate(algorithm, digest):
    der = _certificate(algorithm)
    sock = types.SimpleNamespace(getpeercert=lambda binary_form: der)
    response = types.SimpleNamespace(raw=types.SimpleNamespace(connection=types.SimpleNamespace(sock=sock)))
    bindings = channel_bindings(response)
    assert bindings.application_data == b'tls-server-end-point:' + digest(der).digest()


def test_no_channel_bindings_over_plain_http():
    response = types.SimpleNamespace(raw=types.SimpleNamespace(connection=types.SimpleNamespace(sock=object())))
    assert channel_bindings(response) is None


@responses.activate
def test_concurrent_workers_share_one_adfs_token():
    from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import finalize_many
    from ansible_collections.mim.certificate_management.plugins.module_utils._request import final_action

    responses.post(TOKEN_URL, json={'access_token': 'shared-token', 'expires_in': 3600})
    ids = ['9c1d2e3f-4a5b-4c6d-8e7f-%012d' % index for index in range(6)]
    for request_id in ids:
        responses.get('http://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % request_id, json={'Uuid': request_id, 'Status': 8})
    client = make_client('bearer', token_url=TOKEN_URL, client_id='ansible', client_secret='s3cret')
    results = finalize_many(client, ids, final_action('completed'), concurrency=3)
    assert [entry['changed'] for entry in results] == [False] * 6
    assert len([call for call in responses.calls if call.request.url == TOKEN_URL]) == 1
    assert {call.request.headers.get('Authorization') for call in responses.calls if call.request.method == 'GET'} == {'Bearer shared-token'}


def test_kerberos_without_gssapi_is_a_missing_library(monkeypatch):
    monkeypatch.setattr(_auth, 'HAS_GSSAPI', False)
    with pytest.raises(MissingLibrary, match=r'the Python library gssapi is missing \(needed for auth kerberos; pip install pyspnego\[kerberos\]'):
        auth_from_options('kerberos')


@responses.activate
@pytest.mark.parametrize('auth, options, expected', [('none', {}, None), ('bearer', {'token': 'tok-9'}, 'Bearer tok-9')])
def test_netrc_credentials_never_replace_the_chosen_method(tmp_path, monkeypatch, auth, options, expected):
    netrc = tmp_path / '.netrc'
    netrc.write_text('machine cm.example.test login mallory password from-netrc\n')
    netrc.chmod(0o600)
    monkeypatch.setenv('NETRC', str(netrc))
    responses.get(URL, json={'Uuid': RID, 'Status': 3})
    make_client(auth, **options).get_request(RID)
    assert responses.calls[0].request.headers.get('Authorization') == expected


@responses.activate
def test_ca_bundle_variables_do_not_override_the_options(tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')
    responses.get('https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID, json={'Uuid': RID, 'Status': 3})
    client = CMClient('https://cm.example.test', auth_from_options('none'), validate_certs=False)
    client.get_request(RID)
    assert responses.calls[0].request.req_kwargs['verify'] is False


@responses.activate
@pytest.mark.parametrize('options, verify', [({}, True), ({'token_validate_certs': False}, False), ({'token_ca_path': __file__}, __file__)])
def test_the_token_endpoint_has_tls_settings_of_its_own(monkeypatch, options, verify):
    """The CM site's ca_path and validate_certs never apply to ADFS: the token call uses token_ca_path and token_validate_certs."""
    seen = []
    real_send = requests.Session.send

    def send(session, request, **kwargs):
        seen.append((request.url, kwargs.get('verify')))
        return real_send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, 'send', send)
    responses.post(TOKEN_URL, json={'access_token': 'adfs-token', 'expires_in': 3600})
    responses.get('https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID, json={'Uuid': RID, 'Status': 3})
    client = CMClient('https://cm.example.test', auth_from_options('bearer', token_url=TOKEN_URL, client_id='ansible',
                                                                   client_secret='s3cret', **options),
                      validate_certs=False, sleep=lambda seconds: None)
    client.get_request(RID)
    assert seen == [(TOKEN_URL, verify), ('https://cm.example.test/CertificateManagement/api/v1.0/requests/%s' % RID, False)]


@responses.activate
@pytest.mark.parametrize('challenge', [base64.b64encode(b'NTLMSSP\x00\x02\x00\x00\x00short').decode(),
                                       base64.b64encode(b'\x00' * 7).decode(), 'QUJD'])
def test_a_malformed_ntlm_challenge_is_an_authentication_error(challenge):
    """The server's second leg is garbage: a clear AuthenticationError, never an exception no layer expects."""
    responses.get(URL, status=401, headers={'WWW-Authenticate': 'NTLM'})
    responses.get(URL, status=401, headers={'WWW-Authenticate': 'NTLM %s' % challenge})
    client = make_client('ntlm', username='MIMLAB\\alice', password=PASSWORD)
    with pytest.raises(AuthenticationError, match='auth ntlm as MIMLAB.alice failed'):
        client.get_request(RID)
