# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_certificates: generation options, CSRs, PKCS#7 answers (Microsoft's CMC example and certs-only bags), and
the module end to end with HTTP mocked by responses."""

from __future__ import annotations

import base64
import datetime
import json
import os
import stat

import pytest
import requests
import responses

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from ansible_collections.mim.certificate_management.plugins.module_utils import _certificates
from ansible_collections.mim.certificate_management.plugins.module_utils._certificates import (
    certificate_facts, chain_of, check_csr, decode_blob, issued_for, pkcs7_certificates, read_csr, read_option,
    serial_hex, wire_csr)
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.modules import cm_request_certificates
from ansible_collections.mim.certificate_management.tests.unit.plugins.modules.module_runner import run_module

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
RID = 'c6bad97c-f97f-4920-8947-be980c98c6b5'
PROFILE = 'b99ff38c-6653-471f-ae3c-325bb351a6bc'
ZERO = '00000000-0000-0000-0000-000000000000'
BASE = 'http://cm.example.test/CertificateManagement/api/v1.0'
REQUEST_URL = '%s/requests/%s' % (BASE, RID)
OPTIONS_URL = REQUEST_URL + '/certificaterequestgenerationoptions'
SUBMIT_URL = REQUEST_URL + '/certificatedata'
PROFILE_CERTS_URL = '%s/profiles/%s/certificates' % (BASE, PROFILE)
SOFTWARE_KSP = ['Microsoft Software Key Storage Provider']
PFX_PASSWORD = 'Pfx-s3cret-Pa55'


@pytest.fixture(autouse=True)
def fresh_warnings():
    """A module's warnings are process-wide (a module runs once per process): none before a test, none left after it."""
    from ansible.module_utils.common import warnings as ansible_warnings

    def clear():
        for name in ('_global_warnings', '_global_deprecations'):
            store = getattr(ansible_warnings, name, None)
            if store is not None:
                store.clear()

    clear()
    yield
    clear()


def microsoft_example():
    """Microsoft's example on the get-certificate-responses page: its CSR and the Pkcs7 answered (base64, CR LF)."""
    with open(os.path.join(FIXTURES, 'microsoft_certificate_data.json')) as stream:
        return json.load(stream)


# certificates made here

def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_csr(key, common_name='web01.example.test', digest=None):
    return x509.CertificateSigningRequestBuilder().subject_name(name(common_name)).sign(key, digest or hashes.SHA256())


def csr_pem(csr):
    return csr.public_bytes(serialization.Encoding.PEM).decode('ascii')


def issue(subject, public_key, issuer_cert, issuer_key, ca=False, serial=None):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).public_key(public_key)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .serial_number(serial or x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    signer_public = issuer_cert.public_key() if issuer_cert is not None else public_key
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """A root CA, an issuing CA under it, and an unrelated CA whose certificate rides along in some bags."""

    def __init__(self):
        self.root_key, self.issuing_key, self.other_key = rsa_key(), rsa_key(), rsa_key()
        self.root = issue(name('Test Root CA'), self.root_key.public_key(), None, self.root_key, ca=True)
        self.issuing = issue(name('Test Issuing CA'), self.issuing_key.public_key(), self.root, self.root_key, ca=True)
        self.other = issue(name('Unrelated CA'), self.other_key.public_key(), None, self.other_key, ca=True)

    def sign(self, csr):
        return issue(csr.subject, csr.public_key(), self.issuing, self.issuing_key)

    def bag(self, *certificates):
        """A certs-only PKCS#7 (DER) in base64 with CR LF, as the server sends Pkcs7."""
        return wire_csr(pkcs7.serialize_certificates(list(certificates), serialization.Encoding.DER))


@pytest.fixture(scope='module')
def pki():
    return Pki()


@pytest.fixture(scope='module')
def keys():
    return {'rsa': rsa_key(), 'ec': ec.generate_private_key(ec.SECP256R1()), 'rsa3072': rsa_key(3072)}


def option(algorithm='RSA', size=2048, digest='SHA256', providers=None, level=0, usages=3, **extra):
    entry = {'Subject': '', 'KeyAlgorithmName': algorithm, 'KeySize': size, 'FriendlyName': '', 'HashAlgorithmName': digest,
             'KeyStorageProviderNames': SOFTWARE_KSP if providers is None else providers, 'Exportable': 0,
             'KeyProtectionLevel': level, 'KeyUsages': usages}
    entry.update(extra)
    return entry


def request(status=3, profile=ZERO):
    return {'Uuid': RID, 'RequestType': 1, 'Status': status, 'NewProfileUuid': profile, 'OldProfileUuid': ZERO}


def certificate_object(pkcs7_blob=None, pfx=None, error=None, template='WebServer', external=False):
    """A Certificate object as Microsoft's example spells it (the lower-case is... keys)."""
    return {'TemplateCommonName': template, 'CertificateId': 0, 'Flags': 65536, 'UseLocalMachineStore': False,
            'Error': error, 'Pkcs7': pkcs7_blob, 'Pfx': pfx, 'IsExternal': external, 'isServerGenerated': pfx is not None,
            'isPfx': pfx is not None, 'isPkcs7': pkcs7_blob is not None, 'isKeyHistory': False}


def run(capsys, **args):
    args.setdefault('request_id', RID)
    return run_module(cm_request_certificates.main, capsys, **args)


def serve(status=3, options=None, profile=ZERO):
    responses.get(REQUEST_URL, json=request(status, profile))
    responses.get(OPTIONS_URL, json=[option()] if options is None else options)


def warnings(result):
    """The warnings of a result as text (strings, or WarningSummary objects since ansible-core 2.19)."""
    return json.dumps(result.get('warnings', []))


def posts():
    return [call for call in responses.calls if call.request.method == 'POST']


# Microsoft's example

def test_microsoft_csr_is_read_and_sent_as_microsoft_sends_it():
    text = microsoft_example()['certificaterequest']
    csr = read_csr(text, 0)
    assert csr.describe() == 'an RSA key of 2048 bits'
    assert csr.hash_algorithm == 'SHA1'  # verified with its key, which is_signature_valid refuses since cryptography 41
    assert wire_csr(csr.der) == text


def test_microsoft_cmc_answer_gives_the_certificate_of_the_csr_key_and_its_chain_issuer_first():
    example = microsoft_example()
    certificates = pkcs7_certificates(decode_blob(example['pkcs7'], 'Pkcs7'), 'Pkcs7')
    assert [item.subject.rfc4514_string() for item in certificates] == [
        'CN=Microsoft Corporate Root CA,O=Microsoft Corporation',
        'CN=Jimaco Brannian (Aquent LLC),OU=UserAccounts,DC=redmond,DC=corp,DC=microsoft,DC=com',
        'CN=MSIT User CA 2,OU=Microsoft IT']
    issued = issued_for(certificates, read_csr(example['certificaterequest'], 0).public_key_der)
    assert issued is certificates[1]  # the middle of the bag: found by its key, not by its place
    chain = chain_of(issued, certificates)
    assert [item.subject.rfc4514_string() for item in chain] == ['CN=MSIT User CA 2,OU=Microsoft IT',
                                                                 'CN=Microsoft Corporate Root CA,O=Microsoft Corporation']
    facts = certificate_facts(issued, chain)
    # the thumbprint is the issued-certificate hash that the CMC response itself carries (1.3.6.1.4.1.311.21.17)
    assert facts['thumbprint'] == 'A5FE3C53F9F9E63B22A558861A8D1ACA37E9891F'
    assert facts['serial'] == '1B0000B1F4E11A8BBA988F2CB300010000B1F4'
    assert (facts['not_before'], facts['not_after']) == ('2015-07-07T23:27:33Z', '2016-07-06T23:27:33Z')
    assert facts['issuer'] == 'CN=MSIT User CA 2,OU=Microsoft IT'
    assert facts['fullchain'] == facts['certificate'] + facts['chain']
    assert facts['chain'].count('BEGIN CERTIFICATE') == 2


def test_a_pkcs7_that_cryptography_refuses_is_an_unexpected_response(monkeypatch):
    der = decode_blob(microsoft_example()['pkcs7'], 'Pkcs7')

    def refuse(data):
        raise ValueError('not DER')

    monkeypatch.setattr(_certificates.pkcs7, 'load_der_pkcs7_certificates', refuse)
    with pytest.raises(UnexpectedResponse, match='Pkcs7 is not a PKCS#7 SignedData holding certificates that cryptography can read: not DER'):
        pkcs7_certificates(der, 'Pkcs7')


def test_a_certs_only_bag_is_read(pki, keys):
    issued = pki.sign(make_csr(keys['rsa']))
    der = decode_blob(pki.bag(pki.root, issued, pki.other, pki.issuing), 'Pkcs7')
    assert len(pkcs7_certificates(der, 'Pkcs7')) == 4
    chain = chain_of(issued, pkcs7_certificates(der, 'Pkcs7'))
    assert chain == [pki.issuing, pki.root]  # the unrelated CA is dropped


@pytest.mark.parametrize('blob', ['not base64 !', base64.b64encode(b'\x30\x03\x02\x01\x01').decode(), ''])
def test_a_bad_pkcs7_is_an_unexpected_response(blob):
    with pytest.raises(Exception, match='Pkcs7'):
        pkcs7_certificates(decode_blob(blob, 'Pkcs7'), 'Pkcs7')


# generation options

@pytest.mark.parametrize('entry, algorithm, size, curve', [
    (option('RSA', 2048), 'RSA', 2048, None),
    (option('rsa', 4096), 'RSA', 4096, None),
    (option('ECDSA_P256', 0), 'ECDSA_P256', 256, 'secp256r1'),
    (option('ECDSA384', 384), 'ECDSA_P384', 384, 'secp384r1'),
    (option('ECDSA', 521), 'ECDSA_P521', 521, 'secp521r1'),
])
def test_supported_options_are_normalized(entry, algorithm, size, curve):
    view = read_option(entry).view()
    assert (view['key_algorithm'], view['key_size'], view['curve'], view['supported']) == (algorithm, size, curve, True)
    assert view['key_usages'] == ['decryption', 'signing'] and view['exportable'] is False
    assert view['unsupported_reason'] is None


@pytest.mark.parametrize('entry, reason', [
    (option('DSA', 1024), "key algorithm 'DSA' is not one"),
    (option('ECDH_P256', 256), "key algorithm 'ECDH_P256' is not one"),
    (option('ECDSA', 0), "key algorithm 'ECDSA' is not one"),
    (option(level=2), 'KeyProtectionLevel is 2'),
    (option(providers=['Contoso Smart Card Key Storage Provider']), 'smart card key storage provider'),
])
def test_options_a_host_cannot_meet_say_why_and_what_to_do(entry, reason):
    view = read_option(entry).view()
    assert view['supported'] is False and reason in view['unsupported_reason']


def test_a_smart_card_provider_among_software_ones_is_fine():
    view = read_option(option(providers=['Contoso Smart Card Key Storage Provider'] + SOFTWARE_KSP, usages=7,
                              Exportable=1)).view()
    assert view['supported'] is True and view['key_usages'] == ['decryption', 'signing', 'key_agreement'] and view['exportable']


# CSRs

def test_csr_forms(keys):
    csr = make_csr(keys['ec'])
    der = csr.public_bytes(serialization.Encoding.DER)
    one_line = base64.b64encode(der).decode()
    wrapped = '\n'.join(one_line[start:start + 76] for start in range(0, len(one_line), 76))
    for text in (csr_pem(csr), one_line, wire_csr(der), wire_csr(der).replace('\r\n', '\\r\\n'), wrapped):
        assert read_csr(text, 0).der == der


@pytest.mark.parametrize('text, message', [
    ('', 'csrs[1] is empty'), ('hello world!', 'csrs[1] is not a certificate request'),
    ('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', 'csrs[1] is not a certificate request'),
])
def test_bad_csrs_name_their_entry(text, message):
    with pytest.raises(ConfigurationError, match=message.replace('[', r'\[').replace(']', r'\]')):
        read_csr(text, 1)


def test_a_csr_whose_signature_fails_is_refused(keys):
    der = bytearray(make_csr(keys['rsa']).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xff  # inside the signature
    with pytest.raises(ConfigurationError, match=r'csrs\[0\] has a signature that its own key does not verify'):
        read_csr(base64.b64encode(bytes(der)).decode(), 0)


@pytest.mark.parametrize('key, entry, message', [
    ('ec', option('RSA', 2048), 'asks for an RSA key of 2048 bits, the CSR has an EC key on secp256r1'),
    ('rsa3072', option('RSA', 2048), 'asks for an RSA key of 2048 bits, the CSR has an RSA key of 3072 bits'),
    ('rsa', option('ECDSA_P256', 256), 'asks for an EC key on secp256r1 (ECDSA_P256), the CSR has an RSA key of 2048 bits'),
    ('ec', option('ECDSA_P384', 384), 'asks for an EC key on secp384r1 (ECDSA_P384), the CSR has an EC key on secp256r1'),
])
def test_a_csr_that_does_not_fit_its_option_is_refused(keys, key, entry, message):
    with pytest.raises(ConfigurationError, match=r'csrs\[2\] does not fit generation option 2') as caught:
        check_csr(read_csr(csr_pem(make_csr(keys[key])), 2), read_option(entry), 2)
    assert message in caught.value.msg


# the module

@responses.activate
def test_read_only_returns_the_options_and_submits_nothing(capsys):
    serve(options=[option(), option('ECDSA_P256', 256, providers=['Contoso Smart Card Key Storage Provider'])])
    code, result = run(capsys)
    assert code == 0 and result['changed'] is False and result['submitted'] is False
    assert [entry['supported'] for entry in result['options']] == [True, False]
    assert result['options'][0]['KeySize'] == 2048 and result['options'][0]['key_size'] == 2048
    assert result['options'][1]['curve'] == 'secp256r1'
    assert 'nothing was submitted' in result['msg'] and '1 of them this module cannot meet' in result['msg']
    assert result['certificates'] == [] and result['status'] == 'Approved' and not posts()


@responses.activate
@pytest.mark.parametrize('entry, reason', [
    (option(providers=['Contoso Smart Card Key Storage Provider']), 'smart card key storage provider'),
    (option(level=1), 'KeyProtectionLevel is 1'),
    (option('DSA', 1024), "key algorithm 'DSA'"),
])
def test_unsupported_options_fail_before_anything_is_sent(capsys, keys, entry, reason):
    serve(options=[entry])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and reason in result['msg'] and 'nothing was submitted' in result['msg']
    assert result['options'][0]['supported'] is False and not posts()


@responses.activate
def test_a_csr_option_mismatch_fails_before_anything_is_sent(capsys, keys):
    serve(options=[option(), option('ECDSA_P384', 384)])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa'])), csr_pem(make_csr(keys['ec']))])
    assert code == 1 and 'csrs[1] does not fit generation option 1' in result['msg'] and not posts()


@responses.activate
def test_the_number_of_csrs_must_be_the_number_of_options(capsys, keys):
    serve(options=[option(), option()])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and 'asks for 2 certificate requests and csrs has 1' in result['msg'] and not posts()


@responses.activate
def test_microsoft_cmc_answer_end_to_end(capsys):
    example = microsoft_example()
    serve(options=[option(digest='SHA1')])
    responses.post(SUBMIT_URL, json=[certificate_object(example['pkcs7'], template='ContosoVirtualSmartCardLimitedRelease-KSP')])
    code, result = run(capsys, csrs=[example['certificaterequest']], comment='by ansible', pfx_password=PFX_PASSWORD)
    assert code == 0 and result['changed'] is True and result['submitted'] is True
    body = json.loads(posts()[0].request.body)
    assert body == {'pfxpassword': PFX_PASSWORD, 'certificaterequests': [example['certificaterequest']], 'comments': 'by ansible'}
    entry, = result['certificates']
    assert entry['csr_index'] == 0 and entry['error'] is None and entry['is_pfx'] is False
    assert entry['thumbprint'] == 'A5FE3C53F9F9E63B22A558861A8D1ACA37E9891F'
    assert entry['template'] == 'ContosoVirtualSmartCardLimitedRelease-KSP'
    assert entry['subject'].startswith('CN=Jimaco Brannian') and entry['chain'].count('BEGIN CERTIFICATE') == 2
    assert 'names the hash algorithm SHA1' in warnings(result)
    assert 'submitted 1 certificate request for request %s: 1 certificate came back' % RID == result['msg']


@responses.activate
def test_certs_only_answers_are_matched_by_key_not_by_order(capsys, pki, keys):
    rsa_csr, ec_csr = make_csr(keys['rsa'], 'rsa.example.test'), make_csr(keys['ec'], 'ec.example.test')
    rsa_cert, ec_cert = pki.sign(rsa_csr), pki.sign(ec_csr)
    serve(options=[option(), option('ECDSA_P256', 256)])
    # the answer lists the EC certificate first: each bag is searched for any CSR's key not answered yet
    responses.post(SUBMIT_URL, json=[certificate_object(pki.bag(pki.root, ec_cert, pki.issuing)),
                                     certificate_object(pki.bag(pki.other, pki.issuing, rsa_cert, pki.root))])
    code, result = run(capsys, csrs=[csr_pem(rsa_csr), csr_pem(ec_csr)])
    assert code == 0, result['msg']
    first, second = result['certificates']
    assert (first['csr_index'], first['subject']) == (1, 'CN=ec.example.test')
    assert (second['csr_index'], second['subject']) == (0, 'CN=rsa.example.test')
    root, issuing = (item.public_bytes(serialization.Encoding.PEM).decode() for item in (pki.root, pki.issuing))
    assert second['chain'] == issuing + root and second['fullchain'] == second['certificate'] + issuing + root
    assert second['serial'] == serial_hex(rsa_cert.serial_number)


@pytest.mark.parametrize('number, text', [(0, '00'), (0x7f, '7F'), (0x80, '0080'), (0x1b0000b1f4, '1B0000B1F4'), (0xff00, '00FF00')])
def test_serials_read_as_windows_shows_them(number, text):
    assert serial_hex(number) == text


@responses.activate
def test_an_entry_error_is_listed_and_fails_the_task_keeping_the_other_certificates(capsys, pki, keys):
    rsa_csr, ec_csr = make_csr(keys['rsa']), make_csr(keys['ec'])
    serve(options=[option(), option('ECDSA_P256', 256)])
    responses.post(SUBMIT_URL, json=[certificate_object(error='The CA denied the request (0x80094012)'),
                                     certificate_object(pki.bag(pki.sign(ec_csr), pki.issuing, pki.root))])
    code, result = run(capsys, csrs=[csr_pem(rsa_csr), csr_pem(ec_csr)])
    assert code == 1 and result['changed'] is True
    assert 'answer entry 0 for csrs[0] (template WebServer) failed: The CA denied the request (0x80094012)' in result['msg']
    assert 'no certificate came back' not in result['msg']
    assert result['certificates'][0]['error'].startswith('The CA denied') and result['certificates'][0]['certificate'] is None
    assert result['certificates'][1]['certificate'].startswith('-----BEGIN CERTIFICATE-----')


@responses.activate
def test_a_bag_without_the_csr_key_is_an_entry_error(capsys, pki, keys):
    """Never a certificate of another key taken for the CSR's."""
    serve()
    other = pki.sign(make_csr(keys['ec']))
    responses.post(SUBMIT_URL, json=[certificate_object(pki.bag(other, pki.issuing))])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and 'holds no certificate for the key of csrs[0]' in result['msg']
    assert result['certificates'][0]['pkcs7'] and result['certificates'][0]['certificate'] is None


@responses.activate
def test_an_unreadable_entry_keeps_its_pkcs7_and_the_other_certificates(capsys, pki, keys, monkeypatch):
    rsa_csr, ec_csr = make_csr(keys['rsa']), make_csr(keys['ec'])
    serve(options=[option(), option('ECDSA_P256', 256)])
    broken = pki.bag(pki.sign(rsa_csr), pki.issuing)
    responses.post(SUBMIT_URL, json=[certificate_object(broken), certificate_object(pki.bag(pki.sign(ec_csr), pki.issuing))])
    real = _certificates.certificate_facts
    calls = []

    def fails_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise TypeError('odd certificate')
        return real(*args)

    monkeypatch.setattr('ansible_collections.mim.certificate_management.plugins.module_utils._cm_request_certificates.certificate_facts',
                        fails_once)
    code, result = run(capsys, csrs=[csr_pem(rsa_csr), csr_pem(ec_csr)])
    assert code == 1 and 'unexpected error while reading the entry: TypeError: odd certificate' in result['msg']
    assert result['certificates'][0]['pkcs7'] == broken and result['certificates'][1]['certificate']
    assert result['certificates'][0]['csr_index'] == 0 and 'no certificate came back' not in result['msg']


@responses.activate
@pytest.mark.parametrize('after, profile_certificates', [(18, []), (3, [{'SerialNumber': '1B00', 'Thumbprint': 'AB'}])])
def test_a_lost_answer_while_the_request_moved_on_says_it_may_have_been_applied(capsys, keys, after, profile_certificates):
    responses.get(REQUEST_URL, json=request(3))
    responses.get(OPTIONS_URL, json=[option()])
    responses.post(SUBMIT_URL, body=requests.exceptions.ConnectionError('connection reset by peer'))
    responses.get(REQUEST_URL, json=request(after, PROFILE if profile_certificates else ZERO))
    if profile_certificates:
        responses.get(PROFILE_CERTS_URL, json=profile_certificates)
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))], retries=3)
    assert code == 1 and len(posts()) == 1
    assert 'may have been applied' in result['msg'] and 'cannot be downloaded again' in result['msg'] and RID in result['msg']
    assert result['certificates_on_profile'] == profile_certificates


@responses.activate
def test_a_lost_answer_while_the_request_did_not_move_says_the_task_can_run_again(capsys, keys):
    serve()
    responses.post(SUBMIT_URL, body=requests.exceptions.ConnectionError('connection reset by peer'))
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and len(posts()) == 1
    assert 'is still Approved and its profile holds no certificates, so nothing was issued; the task can run again' in result['msg']


@responses.activate
def test_a_refused_submission_is_reported_as_the_server_said(capsys, keys):
    serve()
    responses.post(SUBMIT_URL, status=403, json={'Message': 'Access denied'})
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and result['http_status'] == 403 and 'Access denied' in result['msg'] and len(responses.calls) == 3


@responses.activate
def test_a_completed_request_is_left_alone(capsys, keys):
    responses.get(REQUEST_URL, json=request(8, PROFILE))
    responses.get(PROFILE_CERTS_URL, json=[{'SerialNumber': '1B00'}])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 0 and result['changed'] is False and 'is Completed' in result['msg']
    assert result['certificates_on_profile'] == [{'SerialNumber': '1B00'}] and not posts()
    assert not any(call.request.url.startswith(OPTIONS_URL) for call in responses.calls)


@responses.activate
def test_certificates_on_the_profile_mean_an_earlier_submission_and_nothing_is_sent(capsys, keys):
    responses.get(REQUEST_URL, json=request(18, PROFILE))
    responses.get(PROFILE_CERTS_URL, json=[{'SerialNumber': '1B00', 'Thumbprint': 'A5FE'}])
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 0 and result['changed'] is False and result['submitted'] is False
    assert 'already has 1 certificate on its profile %s' % PROFILE in result['msg'] and not posts()
    assert result['certificates_on_profile'][0]['Thumbprint'] == 'A5FE'


@responses.activate
@pytest.mark.parametrize('status, message', [(16, 'waits for approval'), (4, 'is Denied'), (9, 'that status is final')])
def test_other_statuses_are_refused(capsys, status, message):
    responses.get(REQUEST_URL, json=request(status))
    code, result = run(capsys)
    assert code == 1 and message in result['msg'] and len(responses.calls) == 1


@responses.activate
def test_check_mode_validates_and_submits_nothing(capsys, keys):
    serve()
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))], _ansible_check_mode=True)
    assert code == 0 and result['changed'] is True and result['msg'] == 'would submit 1 certificate request' and not posts()


@responses.activate
def test_check_mode_still_refuses_a_mismatch(capsys, keys):
    serve()
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['ec']))], _ansible_check_mode=True)
    assert code == 1 and 'does not fit' in result['msg']


def pfx_blob(pki, keys, password):
    key = keys['rsa3072']
    cert = pki.sign(make_csr(key, 'archived.example.test'))
    data = pkcs12.serialize_key_and_certificates(b'archived', key, cert, [pki.issuing, pki.root],
                                                 serialization.BestAvailableEncryption(password.encode()))
    return wire_csr(data), data, cert


@responses.activate
def test_a_pfx_is_written_0600_and_its_password_never_shows(capsys, tmp_path, pki, keys):
    rsa_csr = make_csr(keys['rsa'])
    blob, data, archived = pfx_blob(pki, keys, PFX_PASSWORD)
    serve()
    responses.post(SUBMIT_URL, json=[certificate_object(pki.bag(pki.sign(rsa_csr), pki.issuing, pki.root)),
                                     certificate_object(pfx=blob, template='Encryption'),
                                     certificate_object(pfx=blob, template='Encryption')])
    path = str(tmp_path / 'archived.pfx')
    code, result = run(capsys, csrs=[csr_pem(rsa_csr)], pfx_password=PFX_PASSWORD, pfx_path=path)
    assert code == 0, result['msg']
    assert PFX_PASSWORD not in json.dumps(result) and base64.b64encode(PFX_PASSWORD.encode()).decode() not in json.dumps(result)
    assert blob.replace('\r\n', '') not in json.dumps(result)
    pfx, second = result['certificates'][1:]
    assert pfx['is_pfx'] is True and pfx['csr_index'] is None and pfx['pfx_written_to'] == path
    assert second['pfx_written_to'] == str(tmp_path / 'archived-2.pfx')
    assert pfx['subject'] == 'CN=archived.example.test' and pfx['serial'].lstrip('0') == '%X' % archived.serial_number
    for written in (path, second['pfx_written_to']):
        assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
        with open(written, 'rb') as stream:
            assert stream.read() == data
    assert sorted(os.listdir(str(tmp_path))) == ['archived-2.pfx', 'archived.pfx']


@responses.activate
def test_a_pfx_without_pfx_path_goes_nowhere_with_a_warning(capsys, pki, keys):
    rsa_csr = make_csr(keys['rsa'])
    blob = pfx_blob(pki, keys, PFX_PASSWORD)[0]
    serve()
    responses.post(SUBMIT_URL, json=[certificate_object(pki.bag(pki.sign(rsa_csr), pki.issuing)), certificate_object(pfx=blob)])
    code, result = run(capsys, csrs=[csr_pem(rsa_csr)])
    assert code == 0 and result['certificates'][1]['pfx_written_to'] is None
    assert 'pfx_path is not set: it was written nowhere' in warnings(result)
    assert 'pfx_password does not open' in warnings(result)


@responses.activate
def test_a_pfx_path_that_cannot_be_written_fails_before_anything_is_sent(capsys, tmp_path, keys):
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))], pfx_path=str(tmp_path / 'missing' / 'x.pfx'))
    assert code == 1 and 'pfx_path' in result['msg'] and not responses.calls


@responses.activate
def test_without_cryptography_csrs_are_refused_and_the_options_still_read(capsys, monkeypatch, keys):
    monkeypatch.setattr(_certificates, 'HAS_CRYPTOGRAPHY', False)
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))])
    assert code == 1 and 'cryptography' in result['msg'] and not responses.calls
    serve()
    code, result = run(capsys)
    assert code == 0 and result['options'][0]['key_algorithm'] == 'RSA'


@responses.activate
def test_the_pfx_password_is_masked_in_an_error(capsys, keys):
    serve()
    responses.post(SUBMIT_URL, status=500, json={'Message': 'bad pfxpassword %s (correlation 42)' % PFX_PASSWORD})
    responses.get(REQUEST_URL, json=request(3))
    code, result = run(capsys, csrs=[csr_pem(make_csr(keys['rsa']))], pfx_password=PFX_PASSWORD)
    assert code == 1 and 'correlation 42' in result['msg'] and 'nothing was issued' in result['msg']
    assert PFX_PASSWORD not in json.dumps(result)
