"""HTTPS, client certificates and channel binding (RFC 5929 tls-server-end-point) of the simulator.

The certificates come from tools/testenv/pki.py; channel bindings are computed
here from the server certificate file, independently of the simulator's code.
"""

from __future__ import annotations

import hashlib
import socket
import ssl

import pytest
import requests

from conftest import ALICE_PW, APPROVED, REALM, handshake

try:
    import spnego
except ImportError:  # the Basic, bearer and TLS tests still run
    spnego = None
needs_spnego = pytest.mark.skipif(spnego is None, reason="pyspnego is not installed: pip install 'pyspnego[kerberos]'")


def one(sim):
    return "%s/requests/%s" % (sim.url, APPROVED)


def https_sim(simulator, certs, *extra, env=None):
    return simulator("--tls-cert", certs["server.pem"], "--tls-key", certs["server.key"], *extra, env=env, https=True)


def bindings(certs, digest=None):
    """tls-server-end-point of server.pem: it is signed with SHA-256, so the hash is SHA-256 of the DER certificate."""
    if digest is None:
        with open(certs["server.pem"], encoding="ascii") as handle:
            digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).digest()
    return spnego.channel_bindings.GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


def test_https_with_the_test_ca(simulator, certs):
    sim = https_sim(simulator, certs)
    assert sim.text("stdout.txt").strip() == "MIM CM simulator listening on https://127.0.0.1:%d" % sim.port
    response = requests.get(one(sim), verify=certs["ca.pem"], timeout=10)
    assert response.status_code == 200 and response.json()["Uuid"] == APPROVED
    ip_url = one(sim).replace("localhost", "127.0.0.1")
    assert requests.get(ip_url, verify=certs["ca.pem"], timeout=10).status_code == 200, "SAN IP:127.0.0.1"


@pytest.mark.parametrize("verify", ["other-ca.pem", None])
def test_https_client_refuses_the_server_without_its_ca(simulator, certs, verify):
    sim = https_sim(simulator, certs)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(one(sim), verify=certs[verify] if verify else True, timeout=10)
    assert requests.get(one(sim), verify=certs["ca.pem"], timeout=10).status_code == 200, "the server still serves"


def test_client_certificate_required(simulator, certs):
    sim = https_sim(simulator, certs, "--client-ca", certs["ca.pem"])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(one(sim), verify=certs["ca.pem"], timeout=10)
    response = requests.get(one(sim), verify=certs["ca.pem"], cert=(certs["client.pem"], certs["client.key"]), timeout=10)
    assert response.status_code == 200
    assert [line["http_status"] for line in sim.access_lines()] == [200], "the refused connection never reached HTTP"


def test_client_certificate_from_another_ca_is_refused(simulator, certs):
    sim = https_sim(simulator, certs, "--client-ca", certs["other-ca.pem"])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(one(sim), verify=certs["ca.pem"], cert=(certs["client.pem"], certs["client.key"]), timeout=10)


def test_a_stalled_tls_client_does_not_block_others(simulator, certs):
    sim = https_sim(simulator, certs)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as stalled, \
            socket.create_connection(("127.0.0.1", sim.port), timeout=10) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP on the TLS port: that handshake fails
        assert requests.get(one(sim), verify=certs["ca.pem"], timeout=10).status_code == 200
        assert stalled.fileno() >= 0


# ---------------------------------------------------------------- channel binding

def tls_session(certs):
    """A session that trusts the test CA (trust_env off: REQUESTS_CA_BUNDLE would override session.verify)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = certs["ca.pem"]
    return session


def ntlm(certs=None, digest=None):
    return spnego.client("MIMLAB\\alice", ALICE_PW, protocol="ntlm", channel_bindings=bindings(certs, digest) if certs else None)


@needs_spnego
def test_channel_binding_ntlm(simulator, certs):
    sim = https_sim(simulator, certs, "--auth", "ntlm,negotiate", "--require-channel-binding")
    for header in ("NTLM", "Negotiate"):
        with tls_session(certs) as session:
            assert handshake(session, "GET", one(sim), ntlm(), header=header).status_code == 401, "no bindings"
            assert handshake(session, "GET", one(sim), ntlm(certs, b"\x01" * 32), header=header).status_code == 401, "wrong bindings"
            assert handshake(session, "GET", one(sim), ntlm(certs), header=header).status_code == 200
    assert sum(line["handshake"] for line in sim.access_lines()) == 2


@needs_spnego
def test_without_the_switch_bindings_are_not_checked(simulator, certs):
    sim = https_sim(simulator, certs, "--auth", "ntlm")
    with tls_session(certs) as session:
        assert handshake(session, "GET", one(sim), ntlm(), header="NTLM").status_code == 200


def kerberos(certs=None, digest=None):
    return spnego.client("alice@" + REALM, ALICE_PW, hostname="localhost", service="HTTP", protocol="negotiate",
                         channel_bindings=bindings(certs, digest) if certs else None)


@needs_spnego
def test_channel_binding_kerberos(simulator, certs, realm):
    sim = https_sim(simulator, certs, "--auth", "negotiate", "--keytab", realm.keytab, "--require-channel-binding",
                    env={"KRB5_CONFIG": realm.path("krb5.conf")})
    with tls_session(certs) as session:
        response = handshake(session, "GET", one(sim), kerberos())
        assert response.status_code == 401, "MIT krb5 alone would accept a ticket without bindings; the simulator must not"
        assert handshake(session, "GET", one(sim), kerberos(certs, b"\x01" * 32)).status_code == 401, "wrong bindings"
        context = kerberos(certs)
        assert handshake(session, "GET", one(sim), context).status_code == 200
        assert context.complete
    lines = sim.access_lines()
    assert [(line["http_status"], line["auth_mechanism"]) for line in lines] == [(401, "kerberos"), (401, None), (200, "kerberos")]
    assert "channel bindings" in lines[0]["auth_error"]
