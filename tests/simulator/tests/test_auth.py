"""Authentication of the simulator with the real protocols on the wire.

NTLM and Negotiate (Kerberos against a real KDC, see conftest.py) are driven by
pyspnego client contexts over requests sessions; Basic, bearer tokens and the
ADFS-style token endpoint by plain requests.  The access log proves how many
handshakes each TCP connection needed.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import subprocess
import sys

import pytest
import requests

from conftest import (ALICE_PW, APPROVED, CLIENT_ID, CLIENT_SECRET, MALLORY_PW, READER_PW, REALM, LAUNCHER, STATIC_TOKEN, USERS,
                      handshake, krb5_realm)

try:
    import spnego
except ImportError:  # the Basic, bearer and TLS tests still run
    spnego = None
needs_spnego = pytest.mark.skipif(spnego is None, reason="pyspnego is not installed: pip install 'pyspnego[kerberos]'")

ALL = "negotiate,ntlm,basic,bearer"


def one(sim):
    return "%s/requests/%s" % (sim.url, APPROVED)


def kerberos_env(realm):
    return {"KRB5_CONFIG": realm.path("krb5.conf")}


def ntlm_client(user, password=ALICE_PW, **kwargs):
    return spnego.client(user, password, protocol="ntlm", **kwargs)


def kerberos_client(user="alice", password=ALICE_PW, hostname="localhost", **kwargs):
    return spnego.client("%s@%s" % (user, REALM), password, hostname=hostname, service="HTTP", protocol="negotiate", **kwargs)


def handshakes_by_port(sim):
    counts = {}
    for line in sim.access_lines():
        counts[line["client_port"]] = counts.get(line["client_port"], 0) + int(line["handshake"])
    return counts


# ---------------------------------------------------------------- challenges

@needs_spnego
def test_401_offers_every_scheme_in_order_like_iis(simulator):
    sim = simulator("--auth", ALL)
    response = requests.get(one(sim), timeout=10)
    assert response.status_code == 401
    assert response.raw.headers.getlist("WWW-Authenticate") == ["Negotiate", "NTLM", 'Basic realm="MIM CM simulator"', "Bearer"]
    assert response.headers["Content-Type"].startswith("text/html") and "401 - Unauthorized" in response.text
    assert requests.get(one(simulator("--auth", "basic,negotiate")), timeout=10).raw.headers.getlist("WWW-Authenticate") == \
        ['Basic realm="MIM CM simulator"', "Negotiate"]


@pytest.mark.parametrize("switches, message", [
    (("--auth", "kerberos"), "--auth"),
    (("--auth", "none,basic"), "--auth"),
    (("--auth", "basic,basic"), "--auth"),
    (("--auth", "basic", "--keytab", "/nonexistent"), "--keytab"),
    (("--auth", "negotiate", "--keytab", "/nonexistent"), "no such file"),
    (("--tls-cert", "/nonexistent"), "--tls-key"),
    (("--auth", "ntlm", "--require-channel-binding"), "--tls-cert"),
])
def test_bad_auth_switches_stop_the_start(tmp_path, switches, message):
    users = tmp_path / "users.json"
    users.write_text(json.dumps(USERS), encoding="utf-8")
    result = subprocess.run([sys.executable, LAUNCHER, "--port", "0", "--users", str(users)] + list(switches),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "mim_cm_simulator: error:" in result.stderr and message in result.stderr


# ---------------------------------------------------------------- NTLM

@needs_spnego
@pytest.mark.parametrize("user", ["MIMLAB\\alice", "alice@MIMLAB.TEST", "alice", "mimlab\\ALICE"])
@pytest.mark.parametrize("header", ["NTLM", "Negotiate"])
def test_ntlm_succeeds_for_every_name_form(simulator, user, header):
    sim = simulator("--auth", ALL)
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), ntlm_client(user), header=header)
    assert response.status_code == 200 and response.json()["Uuid"] == APPROVED
    legs = sim.access_lines()
    assert [(line["http_status"], line["handshake"]) for line in legs] == [(401, False), (200, True)]
    assert (legs[-1]["user"], legs[-1]["principal"].lower(), legs[-1]["auth_scheme"], legs[-1]["auth_mechanism"]) == \
        ("alice", user.lower(), header.lower(), "ntlm")
    assert len({line["client_port"] for line in legs}) == 1, "the legs must share one connection"


@needs_spnego
@pytest.mark.parametrize("user, password", [("MIMLAB\\alice", "wrong"), ("OTHERDOM\\alice", ALICE_PW), ("MIMLAB\\mallory", ALICE_PW)])
def test_ntlm_bad_credentials_are_401(simulator, user, password):
    sim = simulator("--auth", "ntlm")
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), ntlm_client(user, password), header="NTLM")
        assert response.status_code == 401
        assert response.raw.headers.getlist("WWW-Authenticate") == ["NTLM"], "a failed handshake offers the schemes again"
        assert session.get(one(sim), timeout=10).status_code == 401, "a failed handshake does not authenticate the connection"
    assert sim.access_lines()[-2]["auth_error"]


@needs_spnego
def test_ntlm_authenticates_the_connection_once(simulator):
    sim = simulator("--auth", "ntlm")
    with requests.Session() as session:
        assert handshake(session, "GET", one(sim), ntlm_client("MIMLAB\\alice"), header="NTLM").status_code == 200
        for _call in range(4):
            assert session.get(one(sim), timeout=10).status_code == 200
        assert session.put(one(sim), json={"status": "Completed"}, timeout=10).status_code == 200
    with requests.Session() as other:
        assert other.get(one(sim), timeout=10).status_code == 401, "a new connection needs its own handshake"
        assert handshake(other, "GET", one(sim), ntlm_client("alice@MIMLAB.TEST"), header="NTLM").status_code == 200
    counts = handshakes_by_port(sim)
    assert sorted(counts.values()) == [1, 1] and len(counts) == 2
    first = [line for line in sim.access_lines() if line["client_port"] == sim.access_lines()[0]["client_port"]]
    assert [(line["http_status"], line["user"], line["handshake"]) for line in first] == \
        [(401, None, False), (200, "alice", True)] + [(200, "alice", False)] * 5
    assert [(a["event"], a["user"]) for a in sim.audit_lines()] == [("applied", "alice")]


@needs_spnego
def test_concurrent_connections_keep_their_own_handshakes(simulator):
    sim = simulator("--auth", "ntlm")

    def client(_number):
        with requests.Session() as session:
            codes = [handshake(session, "GET", one(sim), ntlm_client("MIMLAB\\alice"), header="NTLM").status_code]
            return codes + [session.get(one(sim), timeout=10).status_code for _call in range(3)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(client, range(8))) == [[200] * 4] * 8
    counts = handshakes_by_port(sim)
    assert len(counts) == 8 and set(counts.values()) == {1}


@needs_spnego
def test_ntlm_domain_and_upn_suffix_switches(simulator):
    sim = simulator("--auth", "ntlm", "--ntlm-domain", "CORP", "--ntlm-upn-suffix", "corp.example")
    for user, status in (("CORP\\alice", 200), ("alice@corp.example", 200), ("MIMLAB\\alice", 401)):
        with requests.Session() as session:
            assert handshake(session, "GET", one(sim), ntlm_client(user), header="NTLM").status_code == status, user


# ---------------------------------------------------------------- Basic, bearer, token endpoint

def test_basic_with_domain_and_upn_names(simulator):
    sim = simulator("--auth", "basic")
    for user in ("alice", "MIMLAB\\alice", "alice@MIMLAB.TEST"):
        assert requests.get(one(sim), auth=(user, ALICE_PW), timeout=10).status_code == 200, user
    assert requests.get(one(sim), auth=("alice", "wrong"), timeout=10).status_code == 401
    assert {line["user"] for line in sim.access_lines()} == {"alice", None}


def test_static_bearer_token(simulator):
    sim = simulator("--auth", "bearer")
    assert requests.get(one(sim), headers={"Authorization": "Bearer " + STATIC_TOKEN}, timeout=10).status_code == 200
    response = requests.get(one(sim), headers={"Authorization": "Bearer nope"}, timeout=10)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert [(line["user"], line["auth_scheme"]) for line in sim.access_lines()] == [("alice", "bearer"), (None, "bearer")]


def token_request(sim, **form):
    data = dict({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "resource": "https://mimcm.mimlab.test/"}, **form)
    return requests.post(sim.origin + "/adfs/oauth2/token", data=data, timeout=10)


def test_token_endpoint_issues_a_token_that_works(simulator):
    sim = simulator("--auth", "basic,bearer")
    response = token_request(sim)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 32
    assert requests.get(one(sim), headers={"Authorization": "Bearer " + body["access_token"]}, timeout=10).status_code == 200
    assert token_request(sim).json()["access_token"] != body["access_token"]
    basic = requests.post(sim.origin + "/ADFS/OAuth2/Token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
    assert basic.status_code == 200, "client_secret_basic and a path in any case"
    lines = sim.access_lines()
    assert [(line["path"], line["http_status"], line["user"]) for line in lines[:2]] == \
        [("/adfs/oauth2/token", 200, "alice"), (sim.url[len(sim.origin):] + "/requests/" + APPROVED, 200, "alice")]
    assert body["access_token"] not in sim.text("access.jsonl")


@pytest.mark.parametrize("form, error", [
    ({"client_secret": "wrong"}, "invalid_client"),
    ({"client_id": "nobody"}, "invalid_client"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": ""}, "invalid_request"),
])
def test_token_endpoint_errors_are_oauth2_json(simulator, form, error):
    sim = simulator("--auth", "bearer")
    response = token_request(sim, **form)
    assert response.status_code == 400
    assert response.json()["error"] == error and response.json()["error_description"]


def test_secrets_in_a_query_string_are_not_logged(simulator):
    sim = simulator("--auth", "bearer")
    requests.post(sim.origin + "/adfs/oauth2/token?client_secret=" + CLIENT_SECRET, data={"grant_type": "x"}, timeout=10)
    requests.get(one(sim) + "?access_token=" + STATIC_TOKEN, timeout=10)
    assert [line["path"].split("?")[1] for line in sim.access_lines()] == ["client_secret=REDACTED", "access_token=REDACTED"]


# ---------------------------------------------------------------- rights

@needs_spnego
def test_read_only_user_gets_403_on_put_and_it_is_audited(simulator):
    sim = simulator("--auth", "basic,ntlm")
    reader = ("reader", READER_PW)
    assert requests.get(one(sim), auth=reader, timeout=10).status_code == 200
    response = requests.put(one(sim), json={"status": "Completed"}, auth=reader, timeout=10)
    assert response.status_code == 403
    assert response.json() == {"Message": "Authorization has been denied for this request."}
    with requests.Session() as session:
        created = handshake(session, "POST", sim.url + "/requests", ntlm_client("MIMLAB\\reader", READER_PW), header="NTLM",
                            json={"type": "Enroll", "profiletemplateuuid": APPROVED})
        assert created.status_code == 403
    assert [(a["event"], a["method"], a["http_status"], a["user"], a["from"]) for a in sim.audit_lines()] == \
        [("refused", "PUT", 403, "reader", "Approved"), ("refused", "POST", 403, "reader", None)]
    assert requests.get(one(sim), auth=("alice", ALICE_PW), timeout=10).json()["Status"] == 3


# ---------------------------------------------------------------- Kerberos

def kerberos_sim(simulator, realm, *extra):
    return simulator("--auth", "negotiate,ntlm", "--keytab", realm.keytab, *extra, env=kerberos_env(realm))


@needs_spnego
def test_kerberos_from_a_password_with_mutual_auth(simulator, realm):
    sim = kerberos_sim(simulator, realm)
    context = kerberos_client()
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), context)
        assert response.status_code == 200
        assert context.complete, "the final server token (mutual authentication) completed the client context"
        assert session.get(one(sim), timeout=10).status_code == 200
        assert session.put(one(sim), json={"status": "Completed"}, timeout=10).status_code == 200
    lines = sim.access_lines()
    assert [(line["http_status"], line["handshake"], line["user"]) for line in lines] == \
        [(200, True, "alice"), (200, False, "alice"), (200, False, "alice")]
    assert (lines[0]["auth_scheme"], lines[0]["auth_mechanism"], lines[0]["principal"]) == ("negotiate", "kerberos", "alice@" + REALM)
    assert len({line["client_port"] for line in lines}) == 1


@needs_spnego
def test_kerberos_from_a_kinit_ticket_cache(simulator, realm, tmp_path, monkeypatch):
    ccache = "FILE:%s" % (tmp_path / "ccache")
    env = dict(os.environ, KRB5CCNAME=ccache)
    subprocess.run([krb5_realm.find_tool("kinit") or "kinit", "alice@" + REALM], input=ALICE_PW + "\n", env=env, text=True,
                   capture_output=True, timeout=30, check=True)
    monkeypatch.setenv("KRB5CCNAME", ccache)
    sim = kerberos_sim(simulator, realm)
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), spnego.client(hostname="localhost", service="HTTP", protocol="negotiate"))
    assert response.status_code == 200
    assert sim.access_lines()[-1]["principal"] == "alice@" + REALM


@needs_spnego
def test_kerberos_accepts_any_spn_in_the_keytab_and_refuses_others(simulator, realm):
    sim = kerberos_sim(simulator, realm)
    with requests.Session() as session:
        assert handshake(session, "GET", one(sim), kerberos_client(hostname="mimcm.mimlab.test")).status_code == 200
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), kerberos_client(hostname="nokey.mimlab.test"))
    assert response.status_code == 401, "a ticket for a principal that is not in the keytab must fail"
    assert sim.access_lines()[-1]["auth_error"]


@needs_spnego
def test_kerberos_principal_unknown_to_the_users_file_is_403(simulator, realm):
    sim = kerberos_sim(simulator, realm)
    with requests.Session() as session:
        response = handshake(session, "PUT", one(sim), kerberos_client("mallory", MALLORY_PW), json={"status": "Completed"})
    assert response.status_code == 403
    [audit] = sim.audit_lines()
    assert (audit["event"], audit["user"]) == ("refused", None) and "mallory@" + REALM in audit["reason"]


@needs_spnego
def test_kerberos_each_connection_needs_its_own_handshake(simulator, realm):
    sim = kerberos_sim(simulator, realm)
    for _connection in range(2):
        with requests.Session() as session:
            assert handshake(session, "GET", one(sim), kerberos_client()).status_code == 200
            assert session.get(one(sim), timeout=10).status_code == 200
    assert sorted(handshakes_by_port(sim).values()) == [1, 1]


@needs_spnego
def test_negotiate_falls_back_to_ntlm_inside_spnego(simulator, realm):
    sim = kerberos_sim(simulator, realm)
    context = spnego.client("MIMLAB\\alice", ALICE_PW, hostname="localhost", service="HTTP", protocol="negotiate",
                            options=spnego.NegotiateOptions.use_negotiate)
    with requests.Session() as session:
        assert handshake(session, "GET", one(sim), context).status_code == 200
    assert sim.access_lines()[-1]["auth_mechanism"] == "ntlm"


@needs_spnego
def test_raw_token_garbage_is_401(simulator):
    sim = simulator("--auth", "negotiate")
    bad = base64.b64encode(b"not a token").decode()
    response = requests.get(one(sim), headers={"Authorization": "Negotiate " + bad}, timeout=10)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Negotiate"
