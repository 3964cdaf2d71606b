# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates for cm_request_certificates, with the cryptography library only: the generation options a host can meet,
reading CSRs and checking them against their option, the CSR as Microsoft's example sends it, the certificates of a
PKCS#7 answer (a CMC full response or a plain certs-only bag), the issued one found by its key, and its chain."""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import warnings

from typing import Any, Mapping, NamedTuple, Optional

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, MissingLibrary, UnexpectedResponse

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
    from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID
except ImportError as exc:  # the modules report it through MissingLibrary, only when a CSR or an answer is read
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR: Optional[str] = '%s: %s' % (type(exc).__name__, exc)
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None


def require_cryptography(reason: str) -> None:
    """Raise MissingLibrary when cryptography is not installed where the module runs."""
    if not HAS_CRYPTOGRAPHY:
        raise MissingLibrary('cryptography', import_error=CRYPTOGRAPHY_IMPORT_ERROR, reason=reason)


# The KeyUsages flags of a generation option (Windows.Security.Cryptography.Certificates.EnrollKeyUsages).
KEY_USAGES = ((1, 'decryption'), (2, 'signing'), (4, 'key_agreement'))

# Key algorithm names a generation option may carry for an elliptic curve key (the CNG names ECDSA_P256..., the WinRT
# KeyAlgorithmNames ECDSA256...), by the curve's size; community.crypto names the curves as below.
CURVES = {256: 'secp256r1', 384: 'secp384r1', 521: 'secp521r1'}
_EC_NAME = re.compile(r'ECDSA_?P?(256|384|521)')

SMART_CARD_MARK = 'smart card'


class Option(NamedTuple):
    """What one generation option asks of the key, normalized; algorithm is RSA, ECDSA_P256, ECDSA_P384, ECDSA_P521,
    or the server's name when it is none of these."""

    algorithm: str
    key_size: Optional[int]
    curve: Optional[str]
    hash_algorithm: Optional[str]
    exportable: bool
    key_protection_level: int
    key_usages: list[str]
    subject: str
    friendly_name: str
    key_storage_providers: list[str]
    unsupported: list[str]

    def describe(self) -> str:
        if self.algorithm == 'RSA':
            return 'an RSA key%s' % (' of %d bits' % self.key_size if self.key_size else '')
        if self.curve:
            return 'an EC key on %s (%s)' % (self.curve, self.algorithm)
        return 'a %s key' % self.algorithm

    def view(self) -> dict[str, Any]:
        """The normalized keys cm_request_certificates returns next to the server's own."""
        return dict(key_algorithm=self.algorithm, key_size=self.key_size, curve=self.curve, hash_algorithm=self.hash_algorithm,
                    exportable=self.exportable, key_protection_level=self.key_protection_level, key_usages=self.key_usages,
                    subject=self.subject, friendly_name=self.friendly_name, key_storage_providers=self.key_storage_providers,
                    supported=not self.unsupported, unsupported_reason='; '.join(self.unsupported) or None)


def _get(entry: Mapping[str, Any], name: str) -> Any:
    """A field by name in any case (the server sends PascalCase; servers and proxies may not)."""
    if name in entry:
        return entry[name]
    lowered = name.lower()
    return next((value for key, value in entry.items() if str(key).lower() == lowered), None)


def _integer(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes')
    return bool(value)


def read_option(entry: Mapping[str, Any]) -> Option:
    """Normalize one CertificateRequestGenerationOptions object and tell what a host generating its own key and CSR
    cannot meet (each reason says what to do)."""
    name = _get(entry, 'KeyAlgorithmName')
    name = name.strip() if isinstance(name, str) else ''
    size = _integer(_get(entry, 'KeySize'))
    size = size if size and size > 0 else None
    unsupported = []
    curve = None
    upper = name.upper().replace('-', '_')
    match = _EC_NAME.fullmatch(upper)
    if upper == 'RSA':
        algorithm = 'RSA'
    elif match or (upper == 'ECDSA' and size in CURVES):
        bits = int(match.group(1)) if match else int(size or 0)
        algorithm, curve, size = 'ECDSA_P%d' % bits, CURVES[bits], bits
    else:
        algorithm = name or '(none)'
        unsupported.append('the key algorithm %r is not one this module can check (RSA, ECDSA_P256, ECDSA_P384, ECDSA_P521); '
                           'enroll this profile template on Windows, or change its certificate template to one of these'
                           % (name or None))
    digest = _get(entry, 'HashAlgorithmName')
    level = _integer(_get(entry, 'KeyProtectionLevel')) or 0
    if level > 0:
        unsupported.append('KeyProtectionLevel is %d: the key must be protected by a Windows key storage provider that asks '
                           'the user (consent, password or fingerprint), which a key generated on the host for a CSR cannot '
                           'be; set key protection to none in the certificate template, or enroll on Windows' % level)
    providers = _get(entry, 'KeyStorageProviderNames')
    providers = [str(item) for item in providers] if isinstance(providers, list) else []
    if providers and all(SMART_CARD_MARK in item.lower() for item in providers):
        unsupported.append('the key must be created in a smart card key storage provider (%s); use a profile template whose '
                           'certificate templates allow a software key storage provider (such as the Microsoft Software Key '
                           'Storage Provider), or enroll with a smart card' % ', '.join(providers))
    usages = _integer(_get(entry, 'KeyUsages')) or 0
    subject, friendly = _get(entry, 'Subject'), _get(entry, 'FriendlyName')
    return Option(algorithm, size, curve, digest.strip().upper() if isinstance(digest, str) and digest.strip() else None,
                  _flag(_get(entry, 'Exportable')), level, [label for bit, label in KEY_USAGES if usages & bit],
                  subject if isinstance(subject, str) else '', friendly if isinstance(friendly, str) else '', providers, unsupported)


# CSRs

class Csr(NamedTuple):
    """A CSR given to the module: its DER, the parsed request, and its key's SubjectPublicKeyInfo."""

    der: bytes
    request: Any
    public_key_der: bytes
    hash_algorithm: Optional[str]

    def describe(self) -> str:
        return describe_key(self.request.public_key())


_PEM = re.compile(r'-----BEGIN (NEW )?CERTIFICATE REQUEST-----(.*?)-----END (NEW )?CERTIFICATE REQUEST-----', re.DOTALL)
_BASE64 = re.compile(r'[A-Za-z0-9+/=\s]+')


def _b64(text: str) -> bytes:
    """Base64 with or without line breaks (CR LF, LF, or the two characters \\r\\n a template may leave in)."""
    text = text.replace('\\r', '').replace('\\n', '')
    if not _BASE64.fullmatch(text):
        raise ValueError('not base64')
    return base64.b64decode(''.join(text.split()), validate=True)


def read_csr(text: Any, index: int) -> Csr:
    """Parse csrs[index] (PEM, or base64 DER with or without line breaks) and verify its signature with its own key."""
    require_cryptography('reading CSRs')
    where = 'csrs[%d]' % index
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError('%s is empty; give a PEM certificate request (as community.crypto.openssl_csr_pipe returns it) '
                                 'or its DER in base64' % where)
    pem = _PEM.search(text)
    try:
        der = _b64(pem.group(2) if pem else text.strip())
        request = x509.load_der_x509_csr(der)
        key_der = request.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = request.signature_hash_algorithm
    except Exception as exc:  # pylint: disable=broad-exception-caught  # any parse failure is the same user error
        raise ConfigurationError('%s is not a certificate request (PKCS#10) in PEM or base64 DER: %s; give the CSR as '
                                 'community.crypto.openssl_csr_pipe returns it' % (where, _short(exc)))
    csr = Csr(der, request, key_der, digest.name.upper() if digest is not None else None)
    if not _signature_valid(request):
        raise ConfigurationError('%s has a signature that its own key does not verify: it was altered or is not the CSR '
                                 'of that key; generate it again' % where)
    return csr


def _short(exc: BaseException) -> str:
    return ' '.join(str(exc).split())[:200] or type(exc).__name__


def _signature_valid(request: Any) -> bool:
    """Verify a CSR's self-signature with its public key.

    CertificateSigningRequest.is_signature_valid answers False for every SHA1 signature since cryptography 41, and
    Microsoft's example CSR, as a profile template asking for SHA1 makes, is signed with SHA1: so verify directly.
    """
    key = request.public_key()
    digest = request.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if request.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS:
                params = getattr(request, 'signature_algorithm_parameters', None)
                if not isinstance(params, padding.PSS):
                    return bool(request.is_signature_valid)
                key.verify(request.signature, request.tbs_certrequest_bytes, params, digest)
            else:
                key.verify(request.signature, request.tbs_certrequest_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(request.signature, request.tbs_certrequest_bytes, ec.ECDSA(digest))
        else:
            return bool(request.is_signature_valid)
    except InvalidSignature:
        return False
    return True


def describe_key(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return 'an RSA key of %d bits' % key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return 'an EC key on %s' % key.curve.name
    return 'a %s' % type(key).__name__.lstrip('_')


def check_csr(csr: Csr, option: Option, index: int) -> list[str]:
    """Raise ConfigurationError when csrs[index]'s key is not what its generation option asks for; return warnings."""
    key = csr.request.public_key()
    fits = (isinstance(key, rsa.RSAPublicKey) and (option.key_size is None or key.key_size == option.key_size)
            if option.algorithm == 'RSA' else
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == option.curve)
    if not fits:
        raise ConfigurationError('csrs[%d] does not fit generation option %d: the option asks for %s, the CSR has %s; generate '
                                 'its key as the option says (cm_request_certificates without csrs returns the options)'
                                 % (index, index, option.describe(), csr.describe()))
    found = []
    if option.hash_algorithm and csr.hash_algorithm and option.hash_algorithm.replace('-', '') != csr.hash_algorithm.replace('-', ''):
        found.append('csrs[%d] is signed with %s while generation option %d names %s; the CSR is sent as the host signed it '
                     'and the CA decides' % (index, csr.hash_algorithm, index, option.hash_algorithm))
    return found


def weak_hash_warning(option: Option, index: int) -> Optional[str]:
    """The warning for an option that names SHA1 (honoured: the host signs the CSR, the CA signs the certificate)."""
    if option.hash_algorithm and option.hash_algorithm.replace('-', '') == 'SHA1':
        return ('generation option %d names the hash algorithm SHA1, which is weak; the CSR is submitted as the host signed it, '
                'and the CA signs the certificate as its template says: consider SHA256 in the certificate template' % index)
    return None


def wire_csr(der: bytes) -> str:
    """A CSR as Microsoft's example sends it: base64 DER, CR LF after every 64 characters and after the last line."""
    text = base64.b64encode(der).decode('ascii')
    return ''.join(text[start:start + 64] + '\r\n' for start in range(0, len(text), 64))


# PKCS#7 answers

def decode_blob(value: Any, what: str) -> bytes:
    """The bytes of a base64 blob of an answer (line breaks allowed; PEM armour removed)."""
    if not isinstance(value, str) or not value.strip():
        raise UnexpectedResponse('%s is empty' % what)
    text = re.sub(r'-----(BEGIN|END) [A-Z0-9 #]+-----', '', value)
    try:
        return _b64(text)
    except (ValueError, binascii.Error):
        raise UnexpectedResponse('%s is not base64' % what)


def pkcs7_certificates(der: bytes, what: str) -> list[Any]:
    """The certificates of a PKCS#7 SignedData: a CMC full response (eContentType id-cct-PKIResponse, as AD CS sends)
    or a certs-only bag, read by cryptography's load_der_pkcs7_certificates (versions 37 to 50 read both).

    cryptography 50 warns that it read Microsoft's example as BER, not DER, and that it may refuse such input one day;
    the warning is silenced, and a refusal is reported as the server's answer being unreadable.
    """
    require_cryptography('reading the certificates the server issued')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            certificates = list(pkcs7.load_der_pkcs7_certificates(der))
    except ValueError as exc:
        raise UnexpectedResponse('%s is not a PKCS#7 SignedData holding certificates that cryptography can read: %s'
                                 % (what, _short(exc)))
    if not certificates:
        raise UnexpectedResponse('%s holds no certificate' % what)
    return certificates


# The issued certificate and its chain

def public_key_der(certificate: Any) -> bytes:
    return certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def issued_for(certificates: list[Any], key_der: bytes) -> Optional[Any]:
    """The certificate whose public key is key_der (the latest issued when several are), or None."""
    found = [item for item in certificates if public_key_der(item) == key_der]
    return max(found, key=_not_before) if found else None


def _key_identifier(certificate: Any, oid: Any) -> Optional[bytes]:
    try:
        value = certificate.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    return getattr(value, 'key_identifier', None) or getattr(value, 'digest', None)


def _issues(issuer: Any, certificate: Any) -> bool:
    """Whether issuer is the issuer of certificate: the names match and, when both certificates say, the key ids too."""
    if issuer.subject != certificate.issuer:
        return False
    wanted = _key_identifier(certificate, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    offered = _key_identifier(issuer, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return wanted is None or offered is None or wanted == offered


def chain_of(certificate: Any, certificates: list[Any]) -> list[Any]:
    """The issuers of certificate among certificates, issuer first, as a chain file holds them; the others are dropped."""
    chain: list[Any] = []
    current = certificate
    pool = [item for item in certificates if item is not certificate]
    while current.issuer != current.subject:
        issuer = next((item for item in pool if _issues(item, current)), None)
        if issuer is None:
            break
        chain.append(issuer)
        pool = [item for item in pool if item is not issuer]
        current = issuer
    return chain


def pem(certificate: Any) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode('ascii')


def _not_before(certificate: Any) -> datetime.datetime:
    value = getattr(certificate, 'not_valid_before_utc', None)  # cryptography 42 and later
    return value if value is not None else certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def _not_after(certificate: Any) -> datetime.datetime:
    value = getattr(certificate, 'not_valid_after_utc', None)
    return value if value is not None else certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def serial_hex(number: int) -> str:
    """A serial number as Windows shows it: the bytes of its DER INTEGER in upper-case hex (a leading 00 included)."""
    return number.to_bytes(max(1, (number.bit_length() + 8) // 8), 'big').hex().upper()


def certificate_facts(certificate: Any, chain: list[Any]) -> dict[str, Any]:
    """The result keys of one issued certificate: PEM forms, serial, SHA1 thumbprint, validity, names."""
    text, chain_text = pem(certificate), ''.join(pem(item) for item in chain)
    return dict(certificate=text, chain=chain_text, fullchain=text + chain_text, serial=serial_hex(certificate.serial_number),
                thumbprint=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # nosec: the thumbprint Windows shows
                not_before=_iso(_not_before(certificate)), not_after=_iso(_not_after(certificate)),
                subject=certificate.subject.rfc4514_string(), issuer=certificate.issuer.rfc4514_string())


def leaf_of(certificates: list[Any]) -> Any:
    """The certificate of a bag that issued none of the others (the end entity), for an answer no CSR matches."""
    for item in certificates:
        if not any(other is not item and _issues(item, other) for other in certificates):
            return item
    return certificates[0]


def pfx_certificates(data: bytes, password: Optional[str]) -> tuple[Optional[Any], list[Any]]:
    """The certificate and the other certificates of a PFX, opened with password; the key is dropped at once."""
    require_cryptography('reading a PFX')
    _key, certificate, others = pkcs12.load_key_and_certificates(data, password.encode('utf-8') if password else None)
    del _key
    return certificate, list(others or [])
