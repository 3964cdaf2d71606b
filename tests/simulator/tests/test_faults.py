"""Fault injection of the simulator, seen on the wire by a real client.

Why: the collection's client must survive what production does to it (load
balancer 5xx pages, throttling, resets, timeouts, cut-off answers, writes whose
outcome is unknown).  These tests prove that the simulator produces each of
those situations for real, over real sockets, and that the audit log tells a
test harness exactly which faults happened and which writes were applied.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import ALICE, APPROVED, CLIENT_ID, CLIENT_SECRET, LAUNCHER, handshake

try:
    import spnego
except ImportError:
    spnego = None

OTHER = "6f0c2d1e-8b7a-4c3d-9e2f-1a0b9c8d7e6f"
CORRELATION = re.compile(r"Correlation ID: ([0-9a-f-]{36})")
TEMPLATE = "a039b4d0-5ce8-4eff-8651-181c6576fda3"
NOT_DELAY = "503,502,504,429,408,html,reset_before,reset_after,malformed_json,500,redirect"


def seed(faults=None, **settings):
    """APPROVED (with these scripted faults and settings) and OTHER, both Approved."""
    sim = dict(settings, faults=faults) if faults is not None else settings
    first = {"Uuid": APPROVED, "Status": 3, "TargetUserUuid": ALICE}
    return {"requests": [dict(first, _simulator=sim) if sim else first, {"Uuid": OTHER, "Status": 3}]}


def one(sim, request_id=APPROVED):
    return "%s/requests/%s" % (sim.url, request_id)


def put(sim, request_id=APPROVED, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.put(one(sim, request_id), json={"status": "Completed"}, allow_redirects=False, **kwargs)


def status_of(sim, request_id=APPROVED):
    return requests.get(one(sim, request_id), timeout=10).json()["Status"]


def events(sim):
    """(event, kind or to, method) per audit line."""
    return [(line["event"], line.get("kind", line.get("to")), line["method"]) for line in sim.audit_lines()]


def wait_for_audit(sim, count, bound=10.0):
    """Bounded wait until the audit log has count lines (a write that the client gave up on lands later)."""
    deadline = time.monotonic() + bound
    while len(sim.audit_lines()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sim.audit_lines()


def was_reset(exc):
    """The client saw a TCP RST (ECONNRESET), not an answer or an orderly close."""
    return "ConnectionResetError" in repr(exc) or "Connection reset by peer" in str(exc)


def outcome(call):
    """Status code of a call, or "reset" when the connection was reset."""
    try:
        return call().status_code
    except requests.exceptions.ConnectionError as exc:
        assert was_reset(exc), exc
        return "reset"


# ---------------------------------------------------------------- faults that answer and apply nothing

@pytest.mark.parametrize("kind, status", [("503", 503), ("502", 502), ("504", 504), ("429", 429), ("408", 408), ("html", 503),
                                          ("500", 500), ("redirect", 302)])
def test_answering_fault_applies_nothing(simulator, kind, status):
    sim = simulator("--retry-after", "7", seed=seed(["put:" + kind]))
    response = put(sim)
    assert response.status_code == status
    assert response.headers["Content-Length"] == str(len(response.content))
    [fault] = sim.audit_lines()
    assert (fault["event"], fault["kind"], fault["method"], fault["request_id"]) == ("fault", kind, "PUT", APPROVED)
    assert status_of(sim) == 3, "nothing was applied"
    assert events(sim) == [("fault", kind, "PUT")], "no applied or refused line"
    assert [(line["method"], line["http_status"], line["fault"]) for line in sim.access_lines()] == [("PUT", status, kind), ("GET", 200, None)]
    if kind == "500":
        assert response.json()["Message"].startswith("An error has occurred.")
        assert CORRELATION.search(response.json()["Message"]).group(1) == fault["correlation_id"]
        return
    assert fault["correlation_id"] is None
    assert response.headers["Content-Type"].startswith("text/html") and "<title>" in response.text.lower()
    assert ("Retry-After" in response.headers) == (kind in ("503", "429"))
    if kind in ("503", "429"):
        assert response.headers["Retry-After"] == "7"
    expected = {"503": "HTTP Error 503. The service is unavailable.",
                "502": "502 - Web server received an invalid response while acting as a gateway or proxy server.",
                "504": "504 - Gateway Timeout", "429": "429 - Too Many Requests", "408": "HTTP Error 408. The request has timed out.",
                "html": "<title>IIS 10.0 Detailed Error - 503.0 - Service Unavailable</title>", "redirect": "Object Moved"}
    assert expected[kind] in response.text
    if kind == "html":
        assert len(response.content) > 4096
    if kind == "408":
        assert response.headers["Connection"] == "close"
    if kind == "redirect":
        assert response.headers["Location"] == "https://cm-other.example.test/CertificateManagement/api/v1.0/requests/" + APPROVED


def test_retry_after_zero(simulator):
    sim = simulator("--retry-after", "0", seed=seed(["get:429"]))
    response = requests.get(one(sim), timeout=10)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "0")


def test_redirect_keeps_path_and_query(simulator):
    sim = simulator("--fault-rate", "1", "--fault-kinds", "redirect")
    response = requests.get(sim.url + "/requests?status=Approved", timeout=10, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://cm-other.example.test/CertificateManagement/api/v1.0/requests?status=Approved"


# ---------------------------------------------------------------- resets

def test_reset_before_is_a_connection_error_and_applies_nothing(simulator):
    sim = simulator(seed=seed(["put:reset_before"]))
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        put(sim)
    assert was_reset(caught.value), caught.value
    assert status_of(sim) == 3
    assert events(sim) == [("fault", "reset_before", "PUT")]
    assert [(line["method"], line["http_status"], line["fault"]) for line in sim.access_lines()] == [("PUT", None, "reset_before"), ("GET", 200, None)]


def test_reset_after_applies_the_write_then_resets(simulator, tmp_path):
    state = str(tmp_path / "state.json")
    sim = simulator("--state", state, seed=seed(["put:reset_after"]))
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        put(sim)
    assert was_reset(caught.value), caught.value
    assert events(sim) == [("fault", "reset_after", "PUT"), ("applied", "Completed", "PUT")]
    assert sim.audit_lines()[1]["http_status"] == 200
    assert status_of(sim) == 8, "the ambiguous write was applied"
    with open(state, encoding="utf-8") as handle:
        saved = {item["Uuid"]: item for item in json.load(handle)["requests"]}
    assert saved[APPROVED]["Status"] == 8, "and persisted like a normal write"
    assert put(sim).status_code == 500, "a blind retry of the PUT is refused"
    assert sim.access_lines()[0]["http_status"] is None


def test_reset_after_on_post_creates_the_request(simulator, tmp_path):
    state = str(tmp_path / "state.json")
    sim = simulator("--state", state, "--fault-rate", "1", "--fault-kinds", "reset_after")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(sim.url + "/requests", json={"type": "Enroll", "profiletemplateuuid": TEMPLATE}, timeout=10)
    fault, applied = sim.audit_lines()
    assert (fault["event"], fault["method"], fault["request_id"]) == ("fault", "POST", None)
    assert (applied["event"], applied["method"]) == ("applied", "POST")
    with open(state, encoding="utf-8") as handle:
        assert applied["request_id"] in [item["Uuid"] for item in json.load(handle)["requests"]]


def test_reset_over_tls(simulator, certs):
    sim = simulator("--tls-cert", certs["server.pem"], "--tls-key", certs["server.key"], "--fault-rate", "1", "--fault-kinds", "reset_before",
                    https=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(one(sim), timeout=10, verify=certs["ca.pem"])
    assert [(line["http_status"], line["fault"]) for line in sim.access_lines()] == [(None, "reset_before")]


# ---------------------------------------------------------------- faults that run the call

def test_malformed_json_applies_and_answers_cut_off_json(simulator):
    sim = simulator(seed=seed(["put:malformed_json"]))
    response = put(sim)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.content.startswith(b'{"Uuid":')
    with pytest.raises(ValueError):
        response.json()
    assert events(sim) == [("fault", "malformed_json", "PUT"), ("applied", "Completed", "PUT")]
    assert status_of(sim) == 8


def test_malformed_json_on_an_empty_answer(simulator):
    sim = simulator(seed=seed(["put:malformed_json"], put_response=204))
    response = put(sim)
    assert response.status_code == 200 and response.content
    with pytest.raises(ValueError):
        response.json()
    assert status_of(sim) == 8


def test_delay_then_normal_answer(simulator):
    sim = simulator("--fault-delay", "0.3", seed=seed(["put:delay"]))
    response = put(sim)
    assert response.status_code == 200 and response.json()["Status"] == 8
    assert events(sim) == [("fault", "delay", "PUT"), ("applied", "Completed", "PUT")]


def test_delay_applies_even_when_the_client_gave_up(simulator):
    sim = simulator("--fault-delay", "0.6", seed=seed(["put:delay"]))
    with pytest.raises(requests.exceptions.Timeout):
        put(sim, timeout=0.1)
    assert [line["event"] for line in wait_for_audit(sim, 2)] == ["fault", "applied"]
    assert status_of(sim) == 8, "the write the client gave up on was applied"


def test_delay_holds_no_lock(simulator):
    """While one call sleeps in a delay fault, other calls are answered."""
    sim = simulator("--fault-delay", "30", seed=seed(["put:delay"]))

    def delayed_put():
        try:
            put(sim, timeout=60)
        except requests.exceptions.ConnectionError:
            pass  # the server stops while this call is still waiting

    worker = threading.Thread(target=delayed_put)
    worker.start()
    assert [line["kind"] for line in wait_for_audit(sim, 1)] == ["delay"]
    assert requests.get(one(sim, OTHER), timeout=10).status_code == 200
    assert put(sim, OTHER).status_code == 200
    assert worker.is_alive(), "the delayed PUT is still waiting"
    assert sim.stop() == 0
    worker.join(timeout=10)
    assert not worker.is_alive()


# ---------------------------------------------------------------- scripted faults

def test_scripted_queue_is_consumed_in_order_and_per_method(simulator, tmp_path):
    state = str(tmp_path / "state.json")
    sim = simulator("--state", state, seed=seed(["put:503", "get:502", "any:504", "get:reset_before"]))

    def get():
        return requests.get(one(sim), timeout=10)

    calls = [get,                                                  # the head is put:503: a GET passes it by
             lambda: requests.get(sim.url + "/requests", timeout=10),  # search and other requests never consume it
             lambda: requests.get(one(sim, OTHER), timeout=10),
             lambda: put(sim),                                     # put:503
             lambda: put(sim),                                     # the head is get:502: applied
             get,                                                  # get:502
             lambda: put(sim),                                     # any:504
             lambda: put(sim),                                     # the head is get:reset_before: refused as usual (Completed)
             get,                                                  # get:reset_before
             get]                                                  # the queue is empty
    results = [outcome(call) for call in calls]
    assert results == [200, 200, 200, 503, 200, 502, 504, 500, "reset", 200]
    assert events(sim) == [("fault", "503", "PUT"), ("applied", "Completed", "PUT"), ("fault", "502", "GET"), ("fault", "504", "PUT"),
                           ("refused", "Completed", "PUT"), ("fault", "reset_before", "GET")]
    assert status_of(sim) == 8
    assert sim.stop() == 0
    with open(state, encoding="utf-8") as handle:
        saved = {item["Uuid"]: item for item in json.load(handle)["requests"]}
    assert saved[APPROVED]["_simulator"] == {"faults": []}, "the state keeps what is left of the queue"
    assert "mim_cm_simulator: faults injected: total=4 503=1 502=1 504=1 reset_before=1\n" in sim.text("stderr.txt")


def test_scripted_faults_take_precedence_over_random_ones(simulator):
    sim = simulator("--fault-rate", "1", "--fault-kinds", "502", seed=seed(["get:429", "get:504"]))
    assert [requests.get(one(sim), timeout=10).status_code for _call in range(3)] == [429, 504, 502]


def test_no_fault_switches_no_faults(simulator):
    sim = simulator()
    with requests.Session() as session:
        assert all(session.get(one(sim), timeout=10).status_code == 200 for _call in range(50))
    assert sim.audit_lines() == []
    assert {line["fault"] for line in sim.access_lines()} == {None}
    assert sim.stop() == 0
    assert "mim_cm_simulator: faults injected: total=0\n" in sim.text("stderr.txt")


# ---------------------------------------------------------------- random faults

def random_run(simulator, fault_seed, calls=40):
    """Outcomes and audit kinds of calls GET, search, PUT, GET... with every kind but delay."""
    sim = simulator("--fault-rate", "0.5", "--fault-seed", str(fault_seed), "--fault-kinds", NOT_DELAY)
    targets = [lambda: requests.get(one(sim), timeout=10, allow_redirects=False),
               lambda: requests.get(sim.url + "/requests", timeout=10, allow_redirects=False),
               lambda: put(sim, OTHER)]
    results = [outcome(targets[number % len(targets)]) for number in range(calls)]
    return results, [line["kind"] for line in sim.audit_lines() if line["event"] == "fault"]


def test_random_faults_are_reproducible_with_a_seed(simulator):
    first, second, other = random_run(simulator, 42), random_run(simulator, 42), random_run(simulator, 43)
    assert first == second
    assert len(first[1]) >= 5 and len(set(first[1])) >= 3
    assert other != first


def test_random_fault_rate_is_roughly_honoured(simulator):
    sim = simulator("--fault-rate", "0.3", "--fault-seed", "7", "--fault-kinds", "503")
    with requests.Session() as session:
        codes = [session.get(one(sim), timeout=10).status_code for _call in range(300)]
    faults = codes.count(503)
    assert 50 <= faults <= 130, faults
    assert codes.count(200) == 300 - faults
    assert len(sim.audit_lines()) == faults
    assert sim.stop() == 0
    assert "mim_cm_simulator: faults injected: total=%d 503=%d\n" % (faults, faults) in sim.text("stderr.txt")


def test_default_random_kinds_are_the_transient_set(simulator):
    sim = simulator("--fault-rate", "1", "--fault-seed", "3", "--fault-delay", "0")
    for _call in range(150):
        outcome(lambda: requests.get(one(sim), timeout=10, allow_redirects=False))
    kinds = {line["kind"] for line in sim.audit_lines()}
    assert kinds == {"503", "502", "504", "429", "408", "html", "delay", "reset_before", "reset_after", "malformed_json"}


# ---------------------------------------------------------------- put_delay: a deterministic race

def test_put_delay_lets_two_clients_both_read_approved_and_the_second_put_is_refused(simulator):
    sim = simulator(seed=seed(put_delay=0.5))
    barrier = threading.Barrier(2)

    def client():
        with requests.Session() as session:
            barrier.wait(timeout=10)
            seen = session.get(one(sim), timeout=10).json()["Status"]
            response = session.put(one(sim), json={"status": "Completed"}, timeout=10)
            return seen, response.status_code, response.json()

    results = []
    threads = [threading.Thread(target=lambda: results.append(client())) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted((seen, code) for seen, code, _body in results) == [(3, 200), (3, 500)], "both read Approved, one PUT wins"
    refused = next(body for _seen, code, body in results if code == 500)
    assert "cannot move from status Completed to status Completed" in refused["Message"]
    assert [(line["event"], line["from"], line["to"]) for line in sim.audit_lines()] == [
        ("applied", "Approved", "Completed"), ("refused", "Completed", "Completed")]


# ---------------------------------------------------------------- what is never faulted

def test_token_endpoint_and_401_are_never_faulted(simulator):
    sim = simulator("--auth", "bearer", "--fault-rate", "1", "--fault-kinds", "503")
    assert requests.get(one(sim), timeout=10).status_code == 401
    token = requests.post(sim.origin + "/adfs/oauth2/token", timeout=10,
                          data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert token.status_code == 200
    response = requests.get(one(sim), timeout=10, headers={"Authorization": "Bearer " + token.json()["access_token"]})
    assert response.status_code == 503, "authenticated API calls are faulted"
    assert [(line["http_status"], line["fault"]) for line in sim.access_lines()] == [(401, None), (200, None), (503, "503")]
    assert [line["event"] for line in sim.audit_lines()] == ["fault"]


@pytest.mark.skipif(spnego is None, reason="pyspnego is not installed")
def test_ntlm_challenge_leg_is_never_faulted(simulator):
    sim = simulator("--auth", "ntlm", "--fault-rate", "1", "--fault-kinds", "429")
    with requests.Session() as session:
        response = handshake(session, "GET", one(sim), spnego.client("alice", "Alice pw-1", protocol="ntlm"), header="NTLM")
        assert response.status_code == 429, "the call that completes the handshake is the API call: it can be faulted"
        assert session.get(one(sim), timeout=10).status_code == 429, "and the connection stays authenticated"
    lines = sim.access_lines()
    assert [(line["http_status"], line["handshake"], line["fault"]) for line in lines] == [(401, False, None), (429, True, "429"), (429, False, "429")]
    assert len({line["client_port"] for line in lines}) == 1


# ---------------------------------------------------------------- bad switches

@pytest.mark.parametrize("switches, message", [
    (("--fault-rate", "1.5"), "--fault-rate"),
    (("--fault-rate", "nan"), "--fault-rate"),
    (("--fault-kinds", "503,teapot"), "--fault-kinds"),
    (("--fault-kinds", "503,503"), "--fault-kinds"),
    (("--fault-delay", "-1"), "--fault-delay"),
    (("--retry-after", "-1"), "--retry-after"),
])
def test_bad_fault_switches_stop_the_start(switches, message):
    result = subprocess.run([sys.executable, LAUNCHER, "--port", "0"] + list(switches), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "mim_cm_simulator: error:" in result.stderr and message in result.stderr


@pytest.mark.parametrize("settings", [{"faults": ["post:503"]}, {"faults": ["put:teapot"]}, {"faults": "put:503"}, {"put_delay": -1},
                                      {"put_delay": "1"}, {"put_delay": True}])
def test_bad_fault_seed_keys_stop_the_start(tmp_path, settings):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"requests": [{"Uuid": APPROVED, "_simulator": settings}]}), encoding="utf-8")
    result = subprocess.run([sys.executable, LAUNCHER, "--port", "0", "--seed", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "_simulator.%s=" % next(iter(settings)) in result.stderr
