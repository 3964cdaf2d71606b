"""The simulator's certificate authority, for the enrollment routes (README "Enrolling certificates"): a two-level PKI
like AD CS (a root CA and an issuing CA signed by it, RSA), generated at start or kept in --ca-dir; the checks of a
submitted PKCS #10 request against its generation option; issuance; server-generated keys as PKCS #12; and the Pkcs7
answer: a CMC full response (a CMS SignedData whose content is an id-cct-PKIResponse, built with the small DER helpers
below, as cryptography builds SignedData around id-data only) or a degenerate certs-only PKCS #7.

Needs cryptography, and is the only module that imports it: server.build imports this module only when a template has
generation_options or --ca-dir is given, so the simulator stays standard-library only otherwise (as auth.py does with
pyspnego).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import os
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier, SignatureAlgorithmOID

CA_FILES = ("root.pem", "issuing.pem", "issuing.key")  # --ca-dir
EXPORT_ROOT, EXPORT_CHAIN = "ca-root.pem", "ca-chain.pem"  # --ca-export: what clients verify against
ROOT_SUBJECT = "CN=MIMLAB Root CA, O=MIM CM simulator"
ISSUING_SUBJECT = "CN=MIMLAB Issuing CA, DC=mimlab, DC=test"
CA_KEY_SIZE = 2048
ROOT_DAYS, ISSUING_DAYS, ISSUED_DAYS = 3650, 1825, 365
CLOCK_SKEW = datetime.timedelta(minutes=10)  # AD CS backdates NotBefore by its ClockSkewMinutes, 10 by default
CURVES = {"ECDSA_P256": ec.SECP256R1, "ECDSA_P384": ec.SECP384R1, "ECDSA_P521": ec.SECP521R1}
CURVE_NAMES = {curve.name: name for name, curve in CURVES.items()}
HASHES = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
NAME_OVERRIDES = {"E": NameOID.EMAIL_ADDRESS, "S": NameOID.STATE_OR_PROVINCE_NAME}  # Windows' short names besides RFC 4514's
PKCS7_STYLES = ("cmc", "certs-only")

# The OIDs of the CMC full response (RFC 5652 SignedData, RFC 5272 PKIResponse) and of the certificate template name.
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_PKI_RESPONSE = "1.3.6.1.5.5.7.12.3"  # id-cct-PKIResponse
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_TEMPLATE_NAME = "1.3.6.1.4.1.311.20.2"  # szOID_ENROLL_CERTTYPE_EXTENSION: the template's name as a BMPString
# A minimal PKIResponse: empty controlSequence, cmsSequence and otherMsgSequence (AD CS's holds a statusInfo control).
EMPTY_PKI_RESPONSE = bytes.fromhex("3006300030003000")

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


# ---------------------------------------------------------------- DER, just enough for a SignedData

def der(tag: int, content: bytes) -> bytes:
    """One TLV with a definite length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def der_sequence(*items: bytes) -> bytes:
    return der(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    """A SET OF, its members sorted by their encodings as DER requires."""
    return der(0x31, b"".join(sorted(items)))


def der_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form."""
    numbers = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for value in [40 * numbers[0] + numbers[1]] + numbers[2:]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        body.extend(reversed(chunk))
    return der(0x06, bytes(body))


def der_integer(value: int) -> bytes:
    """A non-negative INTEGER (a leading zero octet when the high bit is set)."""
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_octets(data: bytes) -> bytes:
    return der(0x04, data)


def der_explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT, or [number] IMPLICIT of a constructed type given its content."""
    return der(0xA0 | number, content)


def der_bmp(text: str) -> bytes:
    """A BMPString (UTF-16 big endian), as Windows writes a template name."""
    return der(0x1E, text.encode("utf-16-be"))


DER_NULL = b"\x05\x00"


# ---------------------------------------------------------------- names, keys, requests

def utc(moment: datetime.datetime) -> datetime.datetime:
    """A naive UTC datetime (cryptography before 42) made aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def valid_from(certificate: x509.Certificate) -> datetime.datetime:
    return getattr(certificate, "not_valid_before_utc", None) or utc(certificate.not_valid_before)


def valid_to(certificate: x509.Certificate) -> datetime.datetime:
    return getattr(certificate, "not_valid_after_utc", None) or utc(certificate.not_valid_after)


def stamp(moment: datetime.datetime) -> str:
    """NotBefore and NotAfter in the certificate metadata: 2025-04-22T09:04:05Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_subject(text: str) -> x509.Name:
    """A subject as Windows writes it, most specific first ("CN=web01.contoso.com, O=Contoso"); ValueError when it is none."""
    try:
        return x509.Name.from_rfc4514_string(re.sub(r"(?<!\\)([,+])\s+", r"\1", text.strip()), NAME_OVERRIDES)
    except ValueError:
        raise ValueError("%r is not a distinguished name such as 'CN=web01.contoso.com, O=Contoso'" % text)


def windows_name(name: x509.Name) -> str:
    """A name as Windows shows it, most specific first: "CN=MIMLAB Issuing CA, DC=mimlab, DC=test"."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(name.rdns))


def serial_text(number: int) -> str:
    """A serial number as CM shows it: upper-case hex, an even number of digits."""
    text = "%X" % number
    return "0" + text if len(text) % 2 else text


def key_kind(public_key: Any) -> str:
    """A public key as a generation option names it: "RSA 2048", "ECDSA_P256 256", or its type."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA %d" % public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "%s %d" % (CURVE_NAMES.get(public_key.curve.name, public_key.curve.name), public_key.curve.key_size)
    return type(public_key).__name__


def new_key(option: Dict[str, Any]) -> PrivateKey:
    """A server-generated key of the option's algorithm and size."""
    curve = CURVES.get(option["KeyAlgorithmName"])
    if curve is not None:
        return ec.generate_private_key(curve())
    return rsa.generate_private_key(public_exponent=65537, key_size=option["KeySize"])


def key_usage(flags: int, public_key: Any) -> x509.KeyUsage:
    """KeyUsages (1 decryption, 2 signing, 4 key agreement) as the X.509 extension; decryption is key agreement for EC keys."""
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(digital_signature=bool(flags & 2), content_commitment=False, key_encipherment=bool(flags & 1) and rsa_key,
                         data_encipherment=False, key_agreement=bool(flags & 4) or (bool(flags & 1) and not rsa_key), key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


def read_request(text: str, number: int, option: Dict[str, Any]) -> x509.CertificateSigningRequest:
    """A submitted CSR (base64 DER, line breaks allowed as Microsoft's example has them, or PEM), checked against its option.

    ValueError says why it is refused: not decodable, a signature that does not verify, another key algorithm or size.
    """
    try:
        if "-----BEGIN" in text:
            request = x509.load_pem_x509_csr(text.strip().encode("ascii"))
        else:
            request = x509.load_der_x509_csr(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise ValueError("Certificate request %d could not be decoded: send a base64 DER (or PEM) PKCS #10 request." % number)
    if not signature_verifies(request):
        raise ValueError("The signature of certificate request %d does not verify." % number)
    wanted = "%s %d" % (option["KeyAlgorithmName"], option["KeySize"])
    if key_kind(request.public_key()) != wanted:
        raise ValueError("The key of certificate request %d is %s; its generation option asks for %s." % (number, key_kind(request.public_key()), wanted))
    return request


def signature_verifies(request: x509.CertificateSigningRequest) -> bool:
    """Whether the CSR's self-signature verifies; a SHA-1 one too (what Windows makes for HashAlgorithmName SHA1), which
    recent cryptography no longer verifies itself (is_signature_valid is False), so its key checks it here."""
    try:
        if request.is_signature_valid:
            return True
        key, oid = request.public_key(), request.signature_algorithm_oid
        if isinstance(key, rsa.RSAPublicKey) and oid == SignatureAlgorithmOID.RSA_WITH_SHA1:
            key.verify(request.signature, request.tbs_certrequest_bytes, padding.PKCS1v15(), hashes.SHA1())
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and oid == SignatureAlgorithmOID.ECDSA_WITH_SHA1:
            key.verify(request.signature, request.tbs_certrequest_bytes, ec.ECDSA(hashes.SHA1()))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        pass
    return False


def requested_names(request: x509.CertificateSigningRequest) -> Optional[x509.SubjectAlternativeName]:
    """The subject alternative names a CSR asks for, copied into the certificate (AD CS does so for such templates)."""
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None


# ---------------------------------------------------------------- the authority

class Issued(NamedTuple):
    """One certificate of a submission: its option, the Pkcs7 or Pfx blob, and the metadata a profile records."""

    option: Dict[str, Any]
    certificate: x509.Certificate
    pkcs7: Optional[bytes]
    pfx: Optional[bytes]
    metadata: Dict[str, Any]


class Authority:
    """A root CA and an issuing CA signed by it; the issuing CA signs every certificate and the CMC responses."""

    read_request = staticmethod(read_request)  # for api.py, which gets the Authority and imports nothing of cryptography

    def __init__(self, root: x509.Certificate, issuing: x509.Certificate, issuing_key: rsa.RSAPrivateKey) -> None:
        self.root = root
        self.issuing = issuing
        self.issuing_key = issuing_key
        self.issuer_text = windows_name(issuing.subject)

    @classmethod
    def generate(cls) -> Authority:
        """A new root CA (10 years) and issuing CA (5 years), RSA 2048, SHA-256; both valid from a day ago."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(days=1)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
        issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
        root_name, issuing_name = parse_subject(ROOT_SUBJECT), parse_subject(ISSUING_SUBJECT)
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                              key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False)

        def ca_builder(name: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Name, signer: rsa.RSAPrivateKey, days: int,
                       path_length: Optional[int]) -> x509.Certificate:
            return (x509.CertificateBuilder().subject_name(name).issuer_name(issuer).public_key(key.public_key())
                    .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                    .add_extension(usage, critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
                    .sign(signer, hashes.SHA256()))

        root = ca_builder(root_name, root_key, root_name, root_key, ROOT_DAYS, None)
        issuing = ca_builder(issuing_name, issuing_key, root_name, root_key, ISSUING_DAYS, 0)
        return cls(root, issuing, issuing_key)

    @classmethod
    def load(cls, directory: str) -> Authority:
        """root.pem, issuing.pem and issuing.key (unencrypted PEM) from --ca-dir, checked: ValueError says what is wrong."""
        paths = [os.path.join(directory, name) for name in CA_FILES]
        try:
            with open(paths[0], "rb") as handle:
                root = x509.load_pem_x509_certificate(handle.read())
            with open(paths[1], "rb") as handle:
                issuing = x509.load_pem_x509_certificate(handle.read())
            with open(paths[2], "rb") as handle:
                key = serialization.load_pem_private_key(handle.read(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError("--ca-dir %s: %s (each file one unencrypted PEM object)" % (directory, exc))
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("--ca-dir %s: issuing.key must be an RSA key" % directory)
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != issuing.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError("--ca-dir %s: issuing.key is not the key of issuing.pem" % directory)
        try:
            issuing.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise ValueError("--ca-dir %s: issuing.pem is not signed by root.pem" % directory)
        try:
            is_ca = issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ValueError("--ca-dir %s: issuing.pem is not a CA certificate (basic constraints)" % directory)
        return cls(root, issuing, key)

    def save(self, directory: str) -> None:
        """Write the --ca-dir files (the key readable by its owner only), so that the next start with --ca-dir loads them."""
        write_file(os.path.join(directory, CA_FILES[0]), self.root.public_bytes(serialization.Encoding.PEM))
        write_file(os.path.join(directory, CA_FILES[1]), self.issuing.public_bytes(serialization.Encoding.PEM))
        write_file(os.path.join(directory, CA_FILES[2]), self.issuing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), private=True)

    def export(self, directory: str) -> None:
        """--ca-export: ca-root.pem (the root) and ca-chain.pem (issuing CA, then root) for clients to verify against."""
        root = self.root.public_bytes(serialization.Encoding.PEM)
        write_file(os.path.join(directory, EXPORT_ROOT), root)
        write_file(os.path.join(directory, EXPORT_CHAIN), self.issuing.public_bytes(serialization.Encoding.PEM) + root)

    def issue(self, public_key: Any, subject: x509.Name, option: Dict[str, Any], names: Optional[x509.SubjectAlternativeName]) -> x509.Certificate:
        """An end-entity certificate: one year from 10 minutes ago, a random serial, key usage from KeyUsages, EKU
        serverAuth and clientAuth, the template's name, the requested subject alternative names."""
        start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - CLOCK_SKEW
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.issuing.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=ISSUED_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(key_usage(option["KeyUsages"], public_key), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing_key.public_key()), critical=False)
                   .add_extension(x509.UnrecognizedExtension(ObjectIdentifier(OID_TEMPLATE_NAME), der_bmp(option["template_common_name"])),
                                  critical=False))
        if names is not None:
            builder = builder.add_extension(names, critical=False)
        if option["HashAlgorithmName"] == "SHA1":
            try:
                return builder.sign(self.issuing_key, hashes.SHA1())
            except UnsupportedAlgorithm:  # recent cryptography refuses SHA-1 signatures: SHA-256 then (README)
                return builder.sign(self.issuing_key, hashes.SHA256())
        return builder.sign(self.issuing_key, HASHES[option["HashAlgorithmName"]]())

    def metadata(self, certificate: x509.Certificate, option: Dict[str, Any]) -> Dict[str, Any]:
        """The certificate as a profile's X509ClmCertificate metadata (store.CERTIFICATE_FIELDS, then the optional ones)."""
        return {"IsKeyHistory": False, "ArchivedOnCa": option["server_generated"], "CertificateType": 1,
                "TemplateCommonName": option["template_common_name"], "SerialNumber": serial_text(certificate.serial_number),
                "Thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(), "NotBefore": stamp(valid_from(certificate)),
                "NotAfter": stamp(valid_to(certificate)), "Issuer": self.issuer_text}

    def pkcs7(self, certificate: x509.Certificate, style: str) -> bytes:
        """The Pkcs7 answer holding the root, the issued certificate and the issuing CA (a client finds its own by the key)."""
        chain = [self.root, certificate, self.issuing]
        if style == "certs-only":
            return pkcs7.serialize_certificates(chain, serialization.Encoding.DER)
        return self.cmc_response(chain)

    def cmc_response(self, chain: Iterable[x509.Certificate]) -> bytes:
        """A CMC full response as AD CS sends one: SignedData (version 3) whose encapsulated content is an id-cct-PKIResponse,
        here the minimal one, with the certificates, and one SignerInfo of the issuing CA (SHA-256, RSA) over the signed
        attributes contentType and messageDigest."""
        digest = der_sequence(der_oid(OID_SHA256))  # parameters absent (RFC 5754)
        attributes = der_set(der_sequence(der_oid(OID_CONTENT_TYPE), der_set(der_oid(OID_PKI_RESPONSE))),
                             der_sequence(der_oid(OID_MESSAGE_DIGEST), der_set(der_octets(hashlib.sha256(EMPTY_PKI_RESPONSE).digest()))))
        signature = self.issuing_key.sign(attributes, padding.PKCS1v15(), hashes.SHA256())  # over the attributes as a SET (RFC 5652 5.4)
        signer = der_sequence(der_integer(1), der_sequence(self.issuing.issuer.public_bytes(), der_integer(self.issuing.serial_number)), digest,
                              b"\xa0" + attributes[1:], der_sequence(der_oid(OID_RSA_ENCRYPTION), DER_NULL), der_octets(signature))
        # sorted by their encodings, as DER wants a SET OF (cryptography warns about any other order and may refuse it one day)
        certificates = b"".join(sorted(certificate.public_bytes(serialization.Encoding.DER) for certificate in chain))
        signed_data = der_sequence(der_integer(3), der_set(digest),
                                   der_sequence(der_oid(OID_PKI_RESPONSE), der_explicit(0, der_octets(EMPTY_PKI_RESPONSE))),
                                   der_explicit(0, certificates), der_set(signer))
        return der_sequence(der_oid(OID_SIGNED_DATA), der_explicit(0, signed_data))

    def enroll(self, options: List[Dict[str, Any]], requests: List[x509.CertificateSigningRequest], password: str, fallback_subject: str,
               style: str) -> List[Issued]:
        """Issue one certificate per option, in the options' order: client-generated ones for the CSRs (matched by position),
        server-generated ones with a new key, packed with the chain as PKCS #12 under password.

        The subject is the option's Subject when it has one, else the CSR's, else CN=fallback_subject.
        """
        pending = iter(requests)
        issued = []
        for option in options:
            request = None if option["server_generated"] else next(pending)
            if option["Subject"].strip():
                subject = parse_subject(option["Subject"])
            elif request is not None and len(request.subject):
                subject = request.subject
            else:
                subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fallback_subject)])
            if request is None:
                key = new_key(option)
                certificate = self.issue(key.public_key(), subject, option, None)
                friendly = option["FriendlyName"].encode("utf-8") or None
                blob = pkcs12.serialize_key_and_certificates(friendly, key, certificate, [self.issuing, self.root],
                                                             serialization.BestAvailableEncryption(password.encode("utf-8")))
                issued.append(Issued(option, certificate, None, blob, self.metadata(certificate, option)))
            else:
                certificate = self.issue(request.public_key(), subject, option, requested_names(request))
                issued.append(Issued(option, certificate, self.pkcs7(certificate, style), None, self.metadata(certificate, option)))
        return issued


def write_file(path: str, data: bytes, private: bool = False) -> None:
    """Replace a file (a private one with mode 0600 from the start)."""
    if os.path.exists(path):
        os.unlink(path)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644), "wb") as handle:
        handle.write(data)


def open_authority(directory: Optional[str]) -> Authority:
    """The CA of this start: a new one, or --ca-dir's; an empty --ca-dir gets the new one's files, for the next start."""
    if directory is None:
        return Authority.generate()
    if not os.path.isdir(directory):
        raise ValueError("--ca-dir %s: no such directory" % directory)
    present = [name for name in CA_FILES if os.path.exists(os.path.join(directory, name))]
    if not present:
        authority = Authority.generate()
        authority.save(directory)
        return authority
    if len(present) < len(CA_FILES):
        missing = [name for name in CA_FILES if name not in present]
        raise ValueError("--ca-dir %s holds %s but not %s: give all of %s, or none (a new CA is then written there)"
                         % (directory, ", ".join(present), ", ".join(missing), ", ".join(CA_FILES)))
    return Authority.load(directory)


def check_subjects(templates: Iterable[Any]) -> None:
    """Every non-empty Subject of every generation option must be a distinguished name, or the start stops."""
    for template in templates:
        for index, option in enumerate(template.options):
            if option["Subject"].strip():
                try:
                    parse_subject(option["Subject"])
                except ValueError as exc:
                    raise ValueError("profile template %s: generation_options[%d].Subject: %s" % (template.view["Uuid"], index, exc))
