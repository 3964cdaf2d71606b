"""Test certificates for the MIM CM simulator's HTTPS tests, made with `cryptography`.

Why it exists: the simulator serves TLS like the IIS site of MIM CM, and the
tests must prove that a client checks the server certificate against the right
CA, presents a client certificate when asked, and binds NTLM/Kerberos to the
TLS channel.  create_pki(OUTDIR) writes a fresh set every time:

    ca.pem, ca.key           a test CA
    server.pem, server.key   signed by the CA; SAN DNS:localhost, IP:127.0.0.1; RSA 2048, SHA-256
    client.pem, client.key   signed by the CA; CN alice, extended key usage clientAuth
    other-ca.pem             an unrelated CA, for "wrong CA" tests

Command line: python tools/testenv/pki.py OUTDIR
Keys are unencrypted PKCS#8 PEM files with mode 0600.  Test use only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from typing import Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key", "other-ca.pem")


def new_key() -> rsa.RSAPrivateKey:
    """RSA 2048, the size IIS certificates commonly have."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(common_name: str) -> x509.Name:
    """Subject or issuer name."""
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MIM CM simulator tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: Tuple[x509.Name, rsa.RSAPrivateKey],
          extensions: List[Tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
    """One certificate, valid from a day ago for 365 days, signed with SHA-256."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer[0]).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer[1] is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer[1], hashes.SHA256())


def ca_certificate(common_name: str, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed CA that may sign end-entity certificates only."""
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False)
    subject = name(common_name)
    return build(subject, key, (subject, key), [(x509.BasicConstraints(ca=True, path_length=0), True), (usage, True)])


def leaf_certificate(common_name: str, key: rsa.RSAPrivateKey, issuer: Tuple[x509.Certificate, rsa.RSAPrivateKey],
                     purpose: x509.ObjectIdentifier, san: Optional[x509.SubjectAlternativeName] = None) -> x509.Certificate:
    """An end-entity certificate for one purpose (serverAuth or clientAuth)."""
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    extensions = [(x509.BasicConstraints(ca=False, path_length=None), True), (usage, True), (x509.ExtendedKeyUsage([purpose]), False)]
    if san is not None:
        extensions.append((san, False))
    return build(name(common_name), key, (issuer[0].subject, issuer[1]), extensions)


def write(path: str, data: bytes, private: bool = False) -> None:
    """Replace a file; private keys are readable by the owner only."""
    if os.path.exists(path):
        os.unlink(path)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)


def pem_key(key: rsa.RSAPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def pem_cert(cert: x509.Certificate) -> bytes:
    """PEM certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def create_pki(outdir: str) -> Dict[str, str]:
    """Write a fresh CA, server and client certificate and an unrelated CA into outdir; returns name -> path."""
    os.makedirs(outdir, exist_ok=True)
    ca_key, server_key, client_key, other_key = new_key(), new_key(), new_key(), new_key()
    ca = ca_certificate("MIM CM simulator test CA", ca_key)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server = leaf_certificate("localhost", server_key, (ca, ca_key), ExtendedKeyUsageOID.SERVER_AUTH, san)
    client = leaf_certificate("alice", client_key, (ca, ca_key), ExtendedKeyUsageOID.CLIENT_AUTH)
    other = ca_certificate("Unrelated test CA", other_key)
    paths = {item: os.path.join(outdir, item) for item in FILES}
    write(paths["ca.pem"], pem_cert(ca))
    write(paths["ca.key"], pem_key(ca_key), private=True)
    write(paths["server.pem"], pem_cert(server))
    write(paths["server.key"], pem_key(server_key), private=True)
    write(paths["client.pem"], pem_cert(client))
    write(paths["client.key"], pem_key(client_key), private=True)
    write(paths["other-ca.pem"], pem_cert(other))
    return paths


def main(argv: Optional[List[str]] = None) -> int:
    """python tools/testenv/pki.py OUTDIR: print each written file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python tools/testenv/pki.py OUTDIR", file=sys.stderr)
        return 2
    try:
        paths = create_pki(args[0])
    except OSError as exc:
        print(f"pki: error: {exc}", file=sys.stderr)
        return 2
    for item in FILES:
        print(paths[item])
    return 0


if __name__ == "__main__":
    sys.exit(main())
