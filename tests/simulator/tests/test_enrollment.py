"""Certificate enrollment against the real server process: the generation options of a request, the submission of CSRs
(certificatedata), the simulator's two-level CA, the PKCS #7 answers (a CMC full response or certs-only), server-generated
keys as PKCS #12, the refusals, the lost-answer fault, and the certificate metadata of the profile a Completed PUT makes.

Why: the collection's enrollment module is written against these answers, so each shape, refusal and fault is pinned here
as a client sees it on the wire, and every certificate is checked with cryptography (and openssl where it is installed)
the way a client would check it: by its public key and its chain to the CA files the simulator exports.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
import warnings

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from conftest import ALICE, LAUNCHER, ROOT, UNKNOWN
from mim_cm_sim import ca

BOB = "c3d9e8f2-7a64-4b1e-8c02-9d5b3f0a6e21"
ZERO = "00000000-0000-0000-0000-000000000000"
WEB = "6d3f9a21-5c7e-4b80-9f14-2a8e7c3d5b61"  # one client-generated option with the defaults
MIXED = "b7e24c90-1f3d-4a6b-8c25-9d0e6f7a3b48"  # a server-generated option first, then a client ECDSA one; certs-only PKCS #7
NONE = "e2c85f13-7a9b-4d06-b3e1-5f8a2c4d6e97"  # no generation options
LOSE = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"  # _simulator: lose_certificatedata_answers 1
PINNED = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"  # _simulator: pkcs7_style cmc
APPROVED = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"
EXECUTING = "4b8d2e61-0f3a-4c7b-9e15-6a2c8d4f0b93"
PENDING = "7a1b3f59-0e4c-4a8b-9d26-3e9f5c7b0a48"
COMPLETED = "5e9b1d37-8c2a-4e6f-9b04-1c7d3a5f8e26"
MIXED_REQUEST = "6f0a2e48-9d3b-4f7a-8c15-2d8e4b6a9f37"
NONE_REQUEST = "93e6b0f4-8a2d-4c5e-b7f1-1d4a6c8e0b35"
STRAY = "d2a7c4e9-5b16-4f83-a0d2-7c9e1b3f5a68"  # Approved, its template is not seeded
LOSE_REQUEST = "f5c1a8d3-2e94-4b6f-8d07-3a5e9c1b7f24"
PINNED_REQUEST = "0c96d73f-967b-420e-854a-43ad2a1504bc"
SEEDED_ISSUED = "7e1f3b52-94c8-4f0e-b6a3-2d8c5e9a1f47"  # Executing, with _simulator.issued

SEEDED_CERTIFICATE = {"TemplateCommonName": "WebServer", "SerialNumber": "1B0000B01052AFA0", "Thumbprint": "C52B0C5FB8AAD31A5B239FF2712ED14122D67D30",
                      "NotBefore": "2024-01-01T00:00:00Z", "NotAfter": "2025-01-01T00:00:00Z", "Issuer": "CN=Contoso CA"}
SEED = {
    "requests": [
        {"Uuid": APPROVED, "Status": "Approved", "ProfileTemplateUuid": WEB, "TargetUserUuid": ALICE},
        {"Uuid": EXECUTING, "Status": "Executing", "ProfileTemplateUuid": WEB, "TargetUserUuid": ALICE},
        {"Uuid": PENDING, "Status": "Pending", "ProfileTemplateUuid": WEB},
        {"Uuid": COMPLETED, "Status": "Completed", "ProfileTemplateUuid": WEB},
        {"Uuid": MIXED_REQUEST, "Status": "Approved", "ProfileTemplateUuid": MIXED, "TargetUserUuid": BOB},
        {"Uuid": NONE_REQUEST, "Status": "Approved", "ProfileTemplateUuid": NONE},
        {"Uuid": STRAY, "Status": "Approved", "ProfileTemplateUuid": str(uuid.UUID(int=7))},
        {"Uuid": LOSE_REQUEST, "Status": "Approved", "ProfileTemplateUuid": LOSE},
        {"Uuid": PINNED_REQUEST, "Status": "Approved", "ProfileTemplateUuid": PINNED},
        {"Uuid": SEEDED_ISSUED, "Status": "Executing", "ProfileTemplateUuid": WEB, "_simulator": {"issued": [SEEDED_CERTIFICATE]}},
    ],
    "profile_templates": [
        {"Name": "Web Server", "Uuid": WEB, "policies": {"Enroll": {}}, "generation_options": [{}]},
        {"Name": "Encryption and signing", "Uuid": MIXED, "policies": {"Enroll": {}},
         "generation_options": [
             {"KeyUsages": 1, "FriendlyName": "Archived key", "server_generated": True, "template_common_name": "ContosoEncryption"},
             {"subject": "CN=fixed.example.test, O=Contoso", "keyalgorithmname": "ecdsa_p256", "HashAlgorithmName": "sha1", "KeyUsages": 2,
              "FriendlyName": "Signing", "KeyStorageProviderNames": ["Microsoft Smart Card Key Storage Provider"], "Exportable": 1,
              "KeyProtectionLevel": 2, "template_common_name": "ContosoSigning"}],
         "_simulator": {"pkcs7_style": "certs-only"}},
        {"Name": "No certificates", "Uuid": NONE, "policies": {"Enroll": {}}},
        {"Name": "Lost answer", "Uuid": LOSE, "policies": {"Enroll": {}}, "generation_options": [{}],
         "_simulator": {"lose_certificatedata_answers": 1}},
        {"Name": "CMC pinned", "Uuid": PINNED, "policies": {"Enroll": {}}, "generation_options": [{}], "_simulator": {"pkcs7_style": "cmc"}},
    ],
}
USERS = {"users": {"alice": {"password": "alice-pw", "uuid": ALICE}, "reader": {"password": "reader-pw", "uuid": BOB, "rights": ["read"]},
                   "writer": {"password": "writer-pw", "uuid": BOB, "rights": ["write"]}}}
PYTHON = os.environ.get("MIM_CM_SIMULATOR_PYTHON") or sys.executable  # as in test_simulator.py: e.g. a 3.9 server
PFX_PASSWORD = "pfx-Secret-6"
OPTION_KEYS = ["Subject", "KeyAlgorithmName", "KeySize", "FriendlyName", "HashAlgorithmName", "KeyStorageProviderNames", "Exportable",
               "KeyProtectionLevel", "KeyUsages"]
ANSWER_KEYS = ["CertificateId", "Error", "Flags", "IsExternal", "isKeyHistory", "isPfx", "isPkcs7", "isServerGenerated", "Pfx", "Pkcs7",
               "TemplateCommonName", "UseLocalMachineStore"]
METADATA_KEYS = ["IsKeyHistory", "ArchivedOnCa", "CertificateType", "TemplateCommonName", "SerialNumber", "Thumbprint", "NotBefore", "NotAfter",
                 "Issuer"]
DEFAULT_OPTION = {"Subject": "", "KeyAlgorithmName": "RSA", "KeySize": 2048, "FriendlyName": "", "HashAlgorithmName": "SHA256",
                  "KeyStorageProviderNames": ["Microsoft Software Key Storage Provider"], "Exportable": 0, "KeyProtectionLevel": 0, "KeyUsages": 3}
# The encapsulated content of a CMC response: id-cct-PKIResponse, then [0] { OCTET STRING { the empty PKIResponse } }.
CMC_CONTENT = bytes.fromhex("06082b06010505070c03 a00a0408 3006300030003000")
ID_DATA = bytes.fromhex("06092a864886f70d010701")  # the content type of a certs-only PKCS #7
ISSUER = "CN=MIMLAB Issuing CA, DC=mimlab, DC=test"
CORRELATION = re.compile(r"Correlation ID: ([0-9a-f-]{36})")
CRLF_BASE64 = re.compile(r"(?:[A-Za-z0-9+/=]{64}\r\n)*[A-Za-z0-9+/=]{1,64}\r\n")
KEYS = {}


def key(kind):
    """A client key, made once per test run: rsa, rsa2 (RSA 2048), rsa1024, ec (P-256)."""
    if kind not in KEYS:
        KEYS[kind] = (ec.generate_private_key(ec.SECP256R1()) if kind == "ec"
                      else rsa.generate_private_key(public_exponent=65537, key_size=1024 if kind == "rsa1024" else 2048))
    return KEYS[kind]


def make_csr(kind="rsa", common_name="web01.example.test", dns_names=()):
    """A PKCS #10 request signed with the key, its subject CN=common_name, optionally asking for DNS names."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]), critical=False)
    return builder.sign(key(kind), hashes.SHA256())


def der_of(csr):
    return csr.public_bytes(serialization.Encoding.DER)


def microsoft_text(csr):
    """Base64 DER with CR LF every 64 characters, as Microsoft's example sends a CSR."""
    text = base64.b64encode(der_of(csr)).decode("ascii")
    return "".join(text[start:start + 64] + "\r\n" for start in range(0, len(text), 64))


def sha1_csr(kind, tamper=False):
    """A CSR signed with SHA-1, as Windows makes one for HashAlgorithmName SHA1 (cryptography's builder refuses SHA-1):
    the tbs of a SHA-256 one, signed again and put together with the simulator's DER helpers."""
    tbs = make_csr(kind, common_name="sha1.example.test").tbs_certrequest_bytes
    if kind == "ec":
        signature, algorithm = key(kind).sign(tbs, ec.ECDSA(hashes.SHA1())), ca.der_sequence(ca.der_oid("1.2.840.10045.4.1"))
    else:
        signature = key(kind).sign(tbs, padding.PKCS1v15(), hashes.SHA1())
        algorithm = ca.der_sequence(ca.der_oid("1.2.840.113549.1.1.5"), ca.DER_NULL)
    return x509.load_der_x509_csr(ca.der_sequence(tbs, algorithm, ca.der(0x03, b"\x00" + (bad_signature(signature) if tamper else signature))))


def bad_signature(der):
    """The CSR with the last octet of its signature changed: it still parses, its signature no longer verifies."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


def public_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def sha1_signing_works():
    """Whether this cryptography signs certificates with SHA-1 (recent versions refuse): what the simulator then falls back from."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key("rsa").public_key()).serial_number(1)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    try:
        builder.sign(key("rsa"), hashes.SHA1())
    except UnsupportedAlgorithm:
        return False
    return True


@pytest.fixture
def start(simulator):
    """Factory: start(*switches, seed=SEED) -> a running simulator with this module's users."""

    def _start(*args, seed=None, **options):
        return simulator(*args, seed=SEED if seed is None else seed, users=USERS, python=PYTHON, **options)

    return _start


@pytest.fixture
def sim(start):
    return start()


def get(sim, path, **kwargs):
    return requests.get(sim.url + path, timeout=10, **kwargs)


def options_of(sim, request_id, **kwargs):
    return get(sim, "/requests/%s/certificaterequestgenerationoptions" % request_id, **kwargs)


def submit(sim, request_id, csrs, password="", comments="", **kwargs):
    """POST certificatedata with CSRs (objects are sent as Microsoft does; strings as given)."""
    body = {"pfxpassword": password, "certificaterequests": [c if isinstance(c, str) else microsoft_text(c) for c in csrs], "comments": comments}
    return requests.post(sim.url + "/requests/%s/certificatedata" % request_id, json=body, timeout=30, **kwargs)


def status_of(sim, request_id, **kwargs):
    return get(sim, "/requests/" + request_id, **kwargs).json()["Status"]


def submission_lines(sim):
    return [line for line in sim.audit_lines() if line.get("route") == "certificatedata"]


def ca_files(sim):
    """(root, issuing) from the files the simulator exported, checked against simulator's settings."""
    assert sim.sim.ca_root == os.path.join(sim.directory, "ca-root.pem") and sim.sim.ca_chain == os.path.join(sim.directory, "ca-chain.pem")
    with open(sim.sim.ca_root, "rb") as handle:
        [root] = x509.load_pem_x509_certificates(handle.read())
    with open(sim.sim.ca_chain, "rb") as handle:
        issuing, chain_root = x509.load_pem_x509_certificates(handle.read())
    assert chain_root == root
    return root, issuing


def pkcs7_certificates(answer):
    """The certificates of a Certificate object's Pkcs7, parsed as a client would (any warning is an error: strict DER)."""
    assert CRLF_BASE64.fullmatch(answer["Pkcs7"]), "base64 in lines of 64 characters ended by CR LF, as Microsoft's example"
    blob = base64.b64decode(answer["Pkcs7"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return blob, pkcs7.load_der_pkcs7_certificates(blob)


def issued_for(certificates, csr):
    """The certificate whose public key is the CSR's: how a client finds its own among the chain."""
    [issued] = [c for c in certificates if public_der(c.public_key()) == public_der(csr.public_key())]
    return issued


def metadata_of(certificate, template_name, archived=False):
    """What a profile records for an issued certificate."""
    number = "%X" % certificate.serial_number
    return {"IsKeyHistory": False, "ArchivedOnCa": archived, "CertificateType": 1, "TemplateCommonName": template_name,
            "SerialNumber": number.zfill(len(number) + len(number) % 2), "Thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),
            "NotBefore": certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "NotAfter": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "Issuer": ISSUER}


def complete(sim, request_id):
    """PUT Completed; the certificates of the profile it makes."""
    answer = requests.put(sim.url + "/requests/" + request_id, json={"status": "Completed"}, timeout=10).json()
    assert answer["Status"] == 8 and answer["NewProfileUuid"] != ZERO
    return get(sim, "/profiles/%s/certificates" % answer["NewProfileUuid"]).json()


def run_launcher(*args, env=None):
    return subprocess.run([PYTHON, LAUNCHER] + list(args), capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, **env) if env else None)


# ---------------------------------------------------------------- GET .../certificaterequestgenerationoptions

def test_generation_options_are_the_client_generated_entries(sim):
    response = options_of(sim, APPROVED)
    assert response.status_code == 200
    assert [list(option) for option in response.json()] == [OPTION_KEYS]
    assert response.json() == [DEFAULT_OPTION]
    assert options_of(sim, "{%s}" % EXECUTING.upper()).json() == [DEFAULT_OPTION], "Executing too, any id spelling"
    assert get(sim, "/Requests/%s/CertificateRequestGenerationOptions" % APPROVED).json() == [DEFAULT_OPTION]
    [signing] = options_of(sim, MIXED_REQUEST).json()  # the server-generated entry is not the client's to answer
    assert signing == {"Subject": "CN=fixed.example.test, O=Contoso", "KeyAlgorithmName": "ECDSA_P256", "KeySize": 256, "FriendlyName": "Signing",
                       "HashAlgorithmName": "SHA1", "KeyStorageProviderNames": ["Microsoft Smart Card Key Storage Provider"], "Exportable": 1,
                       "KeyProtectionLevel": 2, "KeyUsages": 2}
    assert sim.audit_lines() == [], "reads are never audited"


@pytest.mark.parametrize("request_id", [NONE_REQUEST, STRAY, UNKNOWN])
def test_generation_options_none_or_unknown_request_is_204(sim, request_id):
    response = options_of(sim, request_id)
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("request_id, status", [(PENDING, "Pending"), (COMPLETED, "Completed")])
def test_generation_options_of_a_request_in_another_status_is_500(sim, request_id, status):
    response = options_of(sim, request_id)
    assert response.status_code == 500
    message = response.json()["Message"]
    assert message.startswith("An error has occurred. Request %s is in status %s; " % (request_id, status)) and CORRELATION.search(message)
    assert "Approved or Executing requests only" in message


def test_generation_options_id_must_be_a_guid_and_other_verbs_are_405(sim):
    assert options_of(sim, "not-a-guid").status_code == 400
    assert requests.post(sim.url + "/requests/%s/certificaterequestgenerationoptions" % APPROVED, json={}, timeout=10).status_code == 405
    response = get(sim, "/requests/%s/certificatedata" % APPROVED)
    assert response.status_code == 405 and response.json()["Message"] == "The requested resource does not support http method 'GET'."
    assert requests.put(sim.url + "/requests/%s/certificatedata" % APPROVED, json={}, timeout=10).status_code == 405


def test_enrollment_rights(start):
    sim = start("--auth", "basic")
    assert options_of(sim, APPROVED).status_code == 401
    assert options_of(sim, APPROVED, auth=("reader", "reader-pw")).status_code == 200
    assert options_of(sim, APPROVED, auth=("writer", "writer-pw")).status_code == 403
    refused = submit(sim, APPROVED, [make_csr()], auth=("reader", "reader-pw"))
    assert refused.status_code == 403 and refused.json()["Message"] == "Authorization has been denied for this request."
    assert status_of(sim, APPROVED, auth=("alice", "alice-pw")) == 3
    assert submit(sim, APPROVED, [make_csr()], auth=("writer", "writer-pw")).status_code == 200
    lines = submission_lines(sim)
    assert [(line["event"], line["http_status"], line["user"], line["csr_count"], line["from"]) for line in lines] == [
        ("refused", 403, "reader", 1, "Approved"), ("applied", 200, "writer", 1, "Approved")]
    assert "lacks the write right" in lines[0]["reason"]


# ---------------------------------------------------------------- POST .../certificatedata: issuing

def test_submission_issues_a_certificate_that_chains_to_the_ca(sim):
    csr = make_csr(dns_names=["web01.example.test", "www.example.test"])
    response = submit(sim, APPROVED, [csr], comments="first install")
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert list(answer) == ANSWER_KEYS
    assert str(uuid.UUID(answer.pop("CertificateId"))) and answer.pop("Pkcs7")
    assert answer == {"Error": None, "Flags": 0, "IsExternal": False, "isKeyHistory": False, "isPfx": False, "isPkcs7": True,
                      "isServerGenerated": False, "Pfx": None, "TemplateCommonName": "WebServer", "UseLocalMachineStore": False}
    blob, certificates = pkcs7_certificates(response.json()[0])
    assert CMC_CONTENT in blob, "a CMC full response: the SignedData holds an id-cct-PKIResponse"
    root, issuing = ca_files(sim)
    issued = issued_for(certificates, csr)
    assert sorted(c.fingerprint(hashes.SHA256()) for c in certificates) == sorted(c.fingerprint(hashes.SHA256()) for c in (root, issuing, issued))
    issued.verify_directly_issued_by(issuing)
    issuing.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert issued.subject == csr.subject and issued.issuer == issuing.subject
    assert issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
        "web01.example.test", "www.example.test"]
    purposes = list(issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert purposes == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_agreement) == (True, True, False), "KeyUsages 3"
    assert issued.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    template_name = issued.extensions.get_extension_for_oid(ObjectIdentifier("1.3.6.1.4.1.311.20.2")).value.value
    assert template_name == b"\x1e\x12" + "WebServer".encode("utf-16-be")
    assert issued.signature_hash_algorithm.name == "sha256"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert issued.not_valid_after_utc - issued.not_valid_before_utc == datetime.timedelta(days=365)
    assert now - datetime.timedelta(minutes=11) <= issued.not_valid_before_utc <= now
    assert status_of(sim, APPROVED) == 18
    [line] = sim.audit_lines()
    assert {key: line[key] for key in ("event", "method", "route", "request_id", "from", "to", "http_status", "csr_count", "serials", "thumbprints",
                                       "reissued", "comments", "reason", "correlation_id")} == {
        "event": "applied", "method": "POST", "route": "certificatedata", "request_id": APPROVED, "from": "Approved", "to": "Executing",
        "http_status": 200, "csr_count": 1, "serials": [metadata_of(issued, "WebServer")["SerialNumber"]],
        "thumbprints": [issued.fingerprint(hashes.SHA1()).hex().upper()], "reissued": False, "comments": "first install", "reason": None,
        "correlation_id": None}


def test_cmc_response_verifies_with_openssl(sim):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command")
    csr = make_csr()
    blob = base64.b64decode(submit(sim, APPROVED, [csr]).json()[0]["Pkcs7"])
    path = os.path.join(sim.directory, "answer.p7")
    with open(path, "wb") as handle:
        handle.write(blob)
    content = os.path.join(sim.directory, "content.der")
    verified = subprocess.run([openssl, "cms", "-verify", "-inform", "DER", "-in", path, "-CAfile", sim.sim.ca_root, "-purpose", "any",
                               "-out", content], capture_output=True, text=True, timeout=30, check=False)
    assert verified.returncode == 0, verified.stderr  # the issuing CA's signature over the PKIResponse, its chain to the root
    with open(content, "rb") as handle:
        assert handle.read() == bytes.fromhex("3006300030003000")
    printed = subprocess.run([openssl, "cms", "-inform", "DER", "-in", path, "-cmsout", "-print"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    assert "eContentType: id-cct-PKIResponse" in printed and "version: 3" in printed
    listed = subprocess.run([openssl, "pkcs7", "-inform", "DER", "-in", path, "-print_certs", "-noout"], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    assert listed.count("subject=") == 3 and "CN = web01.example.test" in listed


@pytest.mark.parametrize("encode", [
    microsoft_text,
    lambda csr: base64.b64encode(der_of(csr)).decode("ascii"),
    lambda csr: csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    lambda csr: csr.public_bytes(serialization.Encoding.PEM).decode("ascii").replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
], ids=["microsoft-crlf", "one-line", "pem", "pem-new"])
def test_csr_encodings(sim, encode):
    csr = make_csr(common_name="encoded.example.test")
    body = {"PfxPassword": "", "CertificateRequests": [encode(csr)], "Comments": "names in any case"}
    response = requests.post(sim.url + "/requests/%s/certificatedata" % APPROVED, json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert issued_for(pkcs7_certificates(response.json()[0])[1], csr).subject == csr.subject


@pytest.mark.parametrize("kind, request_id", [("rsa", APPROVED), ("ec", MIXED_REQUEST)])
def test_sha1_signed_csr_is_accepted(sim, kind, request_id):
    csr = sha1_csr(kind)
    assert csr.signature_hash_algorithm.name == "sha1"  # which cryptography 50's is_signature_valid calls invalid
    response = submit(sim, request_id, [csr], password=PFX_PASSWORD)
    assert response.status_code == 200, response.text
    issued_for(pkcs7_certificates(response.json()[-1])[1], csr)
    tampered = submit(sim, request_id, [sha1_csr(kind, tamper=True)], password=PFX_PASSWORD)
    assert tampered.status_code == 500 and "The signature of certificate request 1 does not verify." in tampered.json()["Message"]


def test_csr_without_subject_gets_the_target_user(sim):
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key("rsa"), hashes.SHA256())  # as Microsoft's example CSR
    issued = issued_for(pkcs7_certificates(submit(sim, APPROVED, [csr]).json()[0])[1], csr)
    assert issued.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ALICE)])


def test_server_generated_key_as_pfx_and_certs_only_pkcs7(sim):
    csr = make_csr("ec", common_name="ignored.example.test")
    response = submit(sim, MIXED_REQUEST, [csr], password=PFX_PASSWORD)
    assert response.status_code == 200, response.text
    pfx_answer, pkcs7_answer = response.json()  # the options' order: the server-generated one first
    assert [list(answer) for answer in response.json()] == [ANSWER_KEYS, ANSWER_KEYS]
    assert (pfx_answer["isPfx"], pfx_answer["isPkcs7"], pfx_answer["isServerGenerated"], pfx_answer["Pkcs7"], pfx_answer["TemplateCommonName"]) == (
        True, False, True, None, "ContosoEncryption")
    assert (pkcs7_answer["isPfx"], pkcs7_answer["isPkcs7"], pkcs7_answer["isServerGenerated"], pkcs7_answer["Pfx"],
            pkcs7_answer["TemplateCommonName"]) == (False, True, False, None, "ContosoSigning")
    root, issuing = ca_files(sim)
    assert CRLF_BASE64.fullmatch(pfx_answer["Pfx"])
    blob = base64.b64decode(pfx_answer["Pfx"])
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(blob, b"wrong password")
    bundle = pkcs12.load_pkcs12(blob, PFX_PASSWORD.encode())
    archived = bundle.cert.certificate
    assert public_der(bundle.key.public_key()) == public_der(archived.public_key()) and isinstance(bundle.key, rsa.RSAPrivateKey)
    assert bundle.key.key_size == 2048 and bundle.cert.friendly_name == b"Archived key"
    assert [item.certificate for item in bundle.additional_certs] == [issuing, root]
    archived.verify_directly_issued_by(issuing)
    assert archived.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BOB)]), "no Subject, no CSR: the target user's uuid"
    usage = archived.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment) == (False, True), "KeyUsages 1"
    blob, certificates = pkcs7_certificates(pkcs7_answer)
    assert CMC_CONTENT not in blob and ID_DATA in blob, "the template's pkcs7_style: certs-only"
    signing = issued_for(certificates, csr)
    signing.verify_directly_issued_by(issuing)
    assert isinstance(signing.public_key(), ec.EllipticCurvePublicKey)
    assert signing.subject == x509.Name.from_rfc4514_string("CN=fixed.example.test,O=Contoso"), "the option's Subject wins over the CSR's"
    usage = signing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert (usage.digital_signature, usage.key_encipherment, usage.key_agreement) == (True, False, False), "KeyUsages 2"
    assert signing.signature_hash_algorithm.name == ("sha1" if sha1_signing_works() else "sha256"), "SHA1 asked for"
    for name in ("audit.jsonl", "access.jsonl", "stdout.txt", "stderr.txt"):
        assert PFX_PASSWORD not in sim.text(name), name


@pytest.mark.parametrize("switches, request_id, cmc", [
    ((), APPROVED, True),
    (("--pkcs7-style", "certs-only"), APPROVED, False),
    (("--pkcs7-style", "certs-only"), PINNED_REQUEST, True),
], ids=["default", "switch", "template-wins"])
def test_pkcs7_style(start, switches, request_id, cmc):
    sim = start(*switches)
    csr = make_csr()
    blob, certificates = pkcs7_certificates(submit(sim, request_id, [csr]).json()[0])
    assert (CMC_CONTENT in blob, ID_DATA in blob) == (cmc, not cmc)
    assert len(certificates) == 3 and issued_for(certificates, csr)


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("request_id, csrs, password, message", [
    ("99999999-8888-4777-8666-555555555555", lambda: [make_csr()], "", "Request 99999999-8888-4777-8666-555555555555 was not found."),
    (PENDING, lambda: [make_csr()], "", "Request %s is in status Pending; certificates can be requested for Approved or Executing requests only."
     % PENDING),
    (COMPLETED, lambda: [make_csr()], "", "Request %s is in status Completed;" % COMPLETED),
    (NONE_REQUEST, lambda: [], "", "Profile template %s of request %s issues no certificates." % (NONE, NONE_REQUEST)),
    (STRAY, lambda: [make_csr()], "", "issues no certificates."),
    (APPROVED, lambda: [], "", "The request needs 1 certificate request(s), one per client-generated option; 0 were sent."),
    (APPROVED, lambda: [make_csr(), make_csr("rsa2")], "", "The request needs 1 certificate request(s), one per client-generated option; 2 were sent."),
    (APPROVED, lambda: [base64.b64encode(bad_signature(der_of(make_csr()))).decode("ascii")], "",
     "The signature of certificate request 1 does not verify."),
    (APPROVED, lambda: [make_csr("rsa1024")], "", "The key of certificate request 1 is RSA 1024; its generation option asks for RSA 2048."),
    (APPROVED, lambda: [make_csr("ec")], "", "The key of certificate request 1 is ECDSA_P256 256; its generation option asks for RSA 2048."),
    (APPROVED, lambda: ["not base64 at all!"], "", "Certificate request 1 could not be decoded"),
    (APPROVED, lambda: [base64.b64encode(b"0\x03\x02\x01\x00").decode("ascii")], "", "Certificate request 1 could not be decoded"),
    (MIXED_REQUEST, lambda: [make_csr("rsa")], PFX_PASSWORD, "The key of certificate request 1 is RSA 2048; its generation option asks for ECDSA_P256"),
    (MIXED_REQUEST, lambda: [make_csr("ec")], "", "A pfxpassword is required: the profile template issues server-generated keys as PFX."),
], ids=["unknown", "pending", "completed", "no-options", "stray-template", "no-csr", "two-csrs", "bad-signature", "rsa-1024", "ec-for-rsa",
        "not-base64", "not-a-csr", "rsa-for-ec", "no-pfx-password"])
def test_submission_refused_is_500(sim, request_id, csrs, password, message):
    before = status_of(sim, request_id) if request_id != "99999999-8888-4777-8666-555555555555" else None
    sent = csrs()
    response = submit(sim, request_id, sent, password=password)
    assert response.status_code == 500
    text = response.json()["Message"]
    assert text.startswith("An error has occurred. ") and message in text
    [line] = sim.audit_lines()
    assert (line["event"], line["method"], line["route"], line["request_id"], line["http_status"], line["csr_count"], line["serials"]) == (
        "refused", "POST", "certificatedata", request_id, 500, len(sent), None)
    assert line["correlation_id"] == CORRELATION.search(text).group(1) and message in line["reason"]
    assert (line["from"], line["to"]) == ((None, None) if before is None else ({3: "Approved", 16: "Pending", 8: "Completed"}[before], "Executing"))
    if before is not None:
        assert status_of(sim, request_id) == before, "nothing changed"


@pytest.mark.parametrize("body, message", [
    (b"{not json", "The request body is not valid JSON."),
    (b"[]", "The request body must be a JSON object."),
    (b'{"certificaterequests": "MIIB"}', "certificaterequests must be a list"),
    (b'{"certificaterequests": [1]}', "certificaterequests must be a list"),
    (b'{"pfxpassword": 5, "certificaterequests": []}', "pfxpassword must be a string."),
    (b'{"comments": ["x"], "certificaterequests": []}', "comments must be a string."),
])
def test_submission_bad_body_is_400(sim, body, message):
    response = requests.post(sim.url + "/requests/%s/certificatedata" % APPROVED, data=body, headers={"Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 400 and message in response.json()["Message"]
    [line] = sim.audit_lines()
    assert (line["event"], line["route"], line["http_status"], line["from"], line["to"], line["reason"]) == (
        "refused", "certificatedata", 400, "Approved", None, response.json()["Message"])
    assert status_of(sim, APPROVED) == 3


# ---------------------------------------------------------------- the profile of a Completed PUT, resubmission, lost answers

def test_completed_put_records_the_issued_certificates_in_the_profile(sim):
    created = requests.post(sim.url + "/requests", json={"type": "Enroll", "profiletemplateuuid": WEB, "datacollection": [], "comment": ""},
                            timeout=10)
    request_id = created.json().rsplit("/", 1)[1]
    assert options_of(sim, request_id).json() == [DEFAULT_OPTION]
    csr = make_csr()
    issued = issued_for(pkcs7_certificates(submit(sim, request_id, [csr]).json()[0])[1], csr)
    [certificate] = complete(sim, request_id)
    assert list(certificate) == METADATA_KEYS
    assert certificate == metadata_of(issued, "WebServer")


def test_completed_put_records_server_generated_as_archived(sim):
    response = submit(sim, MIXED_REQUEST, [make_csr("ec")], password=PFX_PASSWORD)
    archived = pkcs12.load_pkcs12(base64.b64decode(response.json()[0]["Pfx"]), PFX_PASSWORD.encode()).cert.certificate
    signing = issued_for(pkcs7_certificates(response.json()[1])[1], make_csr("ec"))
    assert complete(sim, MIXED_REQUEST) == [metadata_of(archived, "ContosoEncryption", archived=True), metadata_of(signing, "ContosoSigning")]


def test_seeded_issued_certificates_go_to_the_profile(sim):
    [certificate] = complete(sim, SEEDED_ISSUED)
    assert certificate == dict(SEEDED_CERTIFICATE, IsKeyHistory=False, ArchivedOnCa=False, CertificateType=1)
    assert list(certificate) == METADATA_KEYS


def test_a_second_submission_issues_new_certificates(sim):
    csr = make_csr()
    first = issued_for(pkcs7_certificates(submit(sim, APPROVED, [csr]).json()[0])[1], csr)
    second = issued_for(pkcs7_certificates(submit(sim, APPROVED, [csr]).json()[0])[1], csr)
    assert first.serial_number != second.serial_number and first.fingerprint(hashes.SHA1()) != second.fingerprint(hashes.SHA1())
    lines = submission_lines(sim)
    assert [(line["event"], line["from"], line["to"], line["reissued"]) for line in lines] == [
        ("applied", "Approved", "Executing", False), ("applied", "Executing", "Executing", True)]
    assert [line["serials"] for line in lines] == [[metadata_of(first, "WebServer")["SerialNumber"]], [metadata_of(second, "WebServer")["SerialNumber"]]]
    assert complete(sim, APPROVED) == [metadata_of(second, "WebServer")], "the profile holds the last certificates issued"


@pytest.mark.parametrize("switches, request_id", [(("--lose-certificatedata-answers", "1"), APPROVED), ((), LOSE_REQUEST)])
def test_lose_certificatedata_answers_resets_after_issuing(start, switches, request_id):
    sim = start(*switches)
    assert submit(sim, request_id, []).status_code == 500, "a refused submission does not use up a lost answer"
    with pytest.raises(requests.exceptions.ConnectionError):
        submit(sim, request_id, [make_csr()])
    lines = [line for line in sim.audit_lines() if line["event"] == "fault" or line.get("route") == "certificatedata"]
    assert [(line["event"], line.get("kind")) for line in lines] == [("refused", None), ("fault", "reset_after"), ("applied", None)]
    assert lines[1]["request_id"] == request_id and lines[1]["method"] == "POST" and len(lines[2]["serials"]) == 1
    assert status_of(sim, request_id) == 18, "the certificates were issued although the answer was lost"
    assert [line["fault"] for line in sim.access_lines() if line["method"] == "POST"] == [None, "reset_after"]
    csr = make_csr()
    again = submit(sim, request_id, [csr])
    assert again.status_code == 200
    [certificate] = complete(sim, request_id)
    assert certificate["SerialNumber"] != lines[2]["serials"][0] and certificate == metadata_of(
        issued_for(pkcs7_certificates(again.json()[0])[1], csr), "WebServer")
    assert sim.stop() == 0
    assert "faults injected: total=1 reset_after=1" in sim.text("stderr.txt")


def test_random_faults_hit_the_enrollment_routes(start):
    sim = start("--fault-rate", "1", "--fault-kinds", "503")
    assert options_of(sim, APPROVED).status_code == 503
    assert submit(sim, APPROVED, [make_csr()]).status_code == 503
    assert [line["kind"] for line in sim.audit_lines()] == ["503", "503"] and not submission_lines(sim)


# ---------------------------------------------------------------- the CA, its files, --ca-dir, cryptography

def test_ca_files_in_simulator_json(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    directory = tmp_path / "bg"
    started = run_launcher("--background", str(directory), "--seed", str(seed))
    assert started.returncode == 0, started.stderr
    try:
        settings = json.loads(started.stdout)
        assert (settings["ca_root"], settings["ca_chain"]) == (str(directory / "ca-root.pem"), str(directory / "ca-chain.pem"))
        with open(settings["ca_chain"], "rb") as handle:
            issuing, root = x509.load_pem_x509_certificates(handle.read())
        with open(settings["ca_root"], "rb") as handle:
            assert x509.load_pem_x509_certificate(handle.read()) == root
        issuing.verify_directly_issued_by(root)
        root.verify_directly_issued_by(root)
        for certificate, path_length in ((root, None), (issuing, 0)):
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
            assert (constraints.ca, constraints.path_length) == (True, path_length)
            assert isinstance(certificate.public_key(), rsa.RSAPublicKey) and certificate.public_key().key_size == 2048
        assert ca.windows_name(issuing.subject) == ISSUER and root.subject != issuing.subject
    finally:
        run_launcher("--stop", str(directory))
    seed.write_text(json.dumps({"requests": []}), encoding="utf-8")
    started = run_launcher("--background", str(directory), "--seed", str(seed))
    assert started.returncode == 0, started.stderr
    run_launcher("--stop", str(directory))
    settings = json.loads(started.stdout)
    assert (settings["ca_root"], settings["ca_chain"]) == (None, None), "no generation options: no CA"
    assert not os.path.exists(directory / "ca-root.pem") and not os.path.exists(directory / "ca-chain.pem"), "an earlier start's files go"


def test_ca_dir_is_written_once_then_loaded(start, tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    first = start("--ca-dir", str(ca_dir))
    assert sorted(os.listdir(ca_dir)) == ["issuing.key", "issuing.pem", "root.pem"]
    assert stat.S_IMODE(os.stat(ca_dir / "issuing.key").st_mode) == 0o600
    first_root, first_issuing = ca_files(first)
    assert (ca_dir / "root.pem").read_bytes() == first_root.public_bytes(serialization.Encoding.PEM)
    first.stop()
    second = start("--ca-dir", str(ca_dir))
    root, issuing = ca_files(second)
    assert (root, issuing) == (first_root, first_issuing), "the same CA on the next start"
    csr = make_csr()
    issued_for(pkcs7_certificates(submit(second, APPROVED, [csr]).json()[0])[1], csr).verify_directly_issued_by(issuing)
    other = start()
    assert ca_files(other)[0] != root, "without --ca-dir each start makes a new CA"


def test_ca_dir_with_a_seed_without_generation_options(start, tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    sim = start("--ca-dir", str(ca_dir), seed={"requests": []})
    assert ca_files(sim)[0].public_bytes(serialization.Encoding.PEM) == (ca_dir / "root.pem").read_bytes()


def mixed_ca_dir(directory, case):
    """A --ca-dir that is wrong in one way."""
    directory.mkdir()
    one, two = ca.Authority.generate(), ca.Authority.generate()
    one.save(str(directory))
    if case == "partial":
        os.unlink(directory / "issuing.key")
    elif case == "foreign-root":
        (directory / "root.pem").write_bytes(two.root.public_bytes(serialization.Encoding.PEM))
    elif case == "foreign-key":
        foreign = two.issuing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        (directory / "issuing.key").write_bytes(foreign)
    elif case == "garbage":
        (directory / "issuing.pem").write_text("not a certificate", encoding="utf-8")


@pytest.mark.parametrize("case, message", [
    ("missing", "no such directory"),
    ("partial", "holds root.pem, issuing.pem but not issuing.key"),
    ("foreign-root", "issuing.pem is not signed by root.pem"),
    ("foreign-key", "issuing.key is not the key of issuing.pem"),
    ("garbage", "each file one unencrypted PEM object"),
])
def test_bad_ca_dir_stops_the_start(tmp_path, case, message):
    ca_dir = tmp_path / "ca"
    if case != "missing":
        mixed_ca_dir(ca_dir, case)
    result = run_launcher("--port", "0", "--ca-dir", str(ca_dir))
    assert result.returncode == 2 and "mim_cm_simulator: error: --ca-dir %s" % ca_dir in result.stderr
    assert message in result.stderr, result.stderr


def test_cryptography_is_imported_only_for_enrollment(start, tmp_path):
    fake = tmp_path / "no-cryptography"
    (fake / "cryptography").mkdir(parents=True)
    (fake / "cryptography" / "__init__.py").write_text("raise ImportError('cryptography is hidden by the test')\n", encoding="utf-8")
    env = {"PYTHONPATH": str(fake)}
    plain = start(seed={"requests": [{"Uuid": APPROVED}]}, env=env)
    assert get(plain, "/requests/" + APPROVED).status_code == 200 and plain.sim.ca_root is None
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    result = run_launcher("--port", "0", "--seed", str(seed), env=env)
    assert result.returncode == 2
    assert "certificate enrollment (generation_options in the seed, or --ca-dir) needs cryptography" in result.stderr, result.stderr


# ---------------------------------------------------------------- seed, state, the sample seed

@pytest.mark.parametrize("option, message", [
    ({"KeyAlgorithmName": "DSA"}, "generation_options[0].KeyAlgorithmName is 'DSA', not one of RSA, ECDSA_P256, ECDSA_P384, ECDSA_P521"),
    ({"KeyAlgorithmName": "ECDSA_P384", "KeySize": 2048}, "generation_options[0].KeySize is 2048: ECDSA_P384 keys are 384 bits"),
    ({"KeySize": 512}, "generation_options[0].KeySize is 512, not from 1024 to 16384"),
    ({"HashAlgorithmName": "MD5"}, "HashAlgorithmName is 'MD5', not one of SHA1, SHA256, SHA384, SHA512"),
    ({"Exportable": True}, "generation_options[0].Exportable is True, not an integer"),
    ({"KeyProtectionLevel": 4}, "KeyProtectionLevel is 4, not from 0 to 3"),
    ({"KeyUsages": 0}, "KeyUsages is 0, not from 1 to 7"),
    ({"KeyUsages": 8}, "KeyUsages is 8, not from 1 to 7"),
    ({"KeyStorageProviderNames": "Microsoft Software Key Storage Provider"}, "KeyStorageProviderNames is 'Microsoft Software"),
    ({"KeyStorageProviderNames": [""]}, "KeyStorageProviderNames must be non-empty strings"),
    ({"server_generated": "yes"}, "generation_options[0].server_generated is 'yes', not true or false"),
    ({"template_common_name": " "}, "template_common_name must not be empty"),
    ({"Subject": "web01"}, "generation_options[0].Subject: 'web01' is not a distinguished name"),
    ("RSA", "generation_options[0] is 'RSA', not an object"),
])
def test_bad_generation_option_stops_the_start(tmp_path, option, message):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"requests": [], "profile_templates": [{"Uuid": WEB, "generation_options": [option]}]}), encoding="utf-8")
    result = run_launcher("--port", "0", "--seed", str(seed))
    assert result.returncode == 2 and "mim_cm_simulator: error:" in result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("seed, message", [
    ({"profile_templates": [{"Uuid": WEB, "generation_options": {}}]}, "generation_options is {}, not a list"),
    ({"profile_templates": [{"Uuid": WEB, "_simulator": {"pkcs7_style": "pem"}}]}, "_simulator.pkcs7_style='pem' is not one of ('cmc', 'certs-only')"),
    ({"profile_templates": [{"Uuid": WEB, "_simulator": {"lose_certificatedata_answers": -1}}]}, "lose_certificatedata_answers=-1 is not a count"),
    ({"requests": [{"Uuid": APPROVED, "_simulator": {"issued": "AB"}}]}, "_simulator.issued='AB' is not a list of certificate metadata"),
    ({"requests": [{"Uuid": APPROVED, "_simulator": {"issued": [{"SerialNumber": 1}]}}]}, "_simulator.issued[0].SerialNumber is 1, not a string"),
])
def test_bad_enrollment_seed_stops_the_start(tmp_path, seed, message):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(dict({"requests": []}, **seed)), encoding="utf-8")
    result = run_launcher("--port", "0", "--seed", str(path))
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_bad_enrollment_switches_stop_the_start():
    result = run_launcher("--port", "0", "--lose-certificatedata-answers", "-1")
    assert result.returncode == 2 and "--lose-certificatedata-answers -1: use 0 or more" in result.stderr
    result = run_launcher("--port", "0", "--pkcs7-style", "pem")
    assert result.returncode == 2 and "invalid choice: 'pem'" in result.stderr


def test_state_keeps_options_issued_certificates_and_counters(start, tmp_path):
    state = os.path.join(str(tmp_path), "state.json")
    first = start("--state", state)
    csr = make_csr()
    issued = issued_for(pkcs7_certificates(submit(first, APPROVED, [csr]).json()[0])[1], csr)
    with pytest.raises(requests.exceptions.ConnectionError):
        submit(first, LOSE_REQUEST, [make_csr()])
    first.stop()
    with open(state, encoding="utf-8") as handle:
        saved = json.load(handle)
    [web] = [template for template in saved["profile_templates"] if template["Uuid"] == WEB]
    assert web["generation_options"] == [dict(DEFAULT_OPTION, server_generated=False, template_common_name="WebServer")]
    second = start("--state", state, seed={"requests": []})
    assert options_of(second, APPROVED).json() == [DEFAULT_OPTION] and status_of(second, APPROVED) == 18
    assert submit(second, LOSE_REQUEST, [make_csr()]).status_code == 200, "its one lost answer was used up before the restart"
    assert complete(second, APPROVED) == [metadata_of(issued, "WebServer")]


def test_the_sample_seed_enrolls_a_web_server(simulator):
    with open(os.path.join(ROOT, "tools", "demo", "sample_seed.json"), encoding="utf-8") as handle:
        sim = simulator(seed=json.load(handle), python=PYTHON)
    names = {view["Name"]: view["Uuid"] for view in get(sim, "/profiletemplates").json()}
    body = {"type": "Enroll", "profiletemplateuuid": names["Web Server (auto-approved)"], "datacollection": [{"Host Name": "web02"}], "comment": ""}
    request_id = requests.post(sim.url + "/requests", json=body, timeout=10).json().rsplit("/", 1)[1]
    assert options_of(sim, request_id).json() == [DEFAULT_OPTION]
    csr = make_csr(common_name="web02.contoso.com")
    [answer] = submit(sim, request_id, [csr]).json()
    assert answer["TemplateCommonName"] == "ContosoWebServer"
    issued_for(pkcs7_certificates(answer)[1], csr).verify_directly_issued_by(ca_files(sim)[1])
    pending = requests.post(sim.url + "/requests", json={"type": "Enroll", "profiletemplateuuid": names["Code Signing (needs approval)"],
                                                         "datacollection": [], "comment": "release"}, timeout=10).json().rsplit("/", 1)[1]
    assert options_of(sim, pending).status_code == 500
