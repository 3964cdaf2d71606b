"""Tests of the MIM CM REST API simulator, run against the real server process.

Why a subprocess: the collection's tests use the simulator exactly this way
(command line, port file, log files), so these tests check what those users see.
Run with: python -m pytest tests/simulator/tests -q
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from conftest import ALICE, APPROVED, BASE, LAUNCHER

# MIM_CM_SIMULATOR_PYTHON runs the server under another interpreter (e.g. 3.9 or 3.13) than the tests.
PYTHON = os.environ.get("MIM_CM_SIMULATOR_PYTHON") or sys.executable

BOB = "c3d9e8f2-7a64-4b1e-8c02-9d5b3f0a6e21"
APPROVED_BOB = "0c96d73f-967b-420e-854a-43ad2a1504bc"
EXECUTING = "4b8d2e61-0f3a-4c7b-9e15-6a2c8d4f0b93"
PENDING = "d2a7c4e9-5b16-4f83-a0d2-7c9e1b3f5a68"
COMPLETED = "f5c1a8d3-2e94-4b6f-8d07-3a5e9c1b7f24"
CANCELED = "93e6b0f4-8a2d-4c5e-b7f1-1d4a6c8e0b35"
FORBIDDEN = "11111111-2222-4333-8444-555555555555"
BROKEN_PUT = "22222222-3333-4444-8555-666666666666"
NAMED = "33333333-4444-4555-8666-777777777777"
NO_CONTENT = "44444444-5555-4666-8777-888888888888"
TEMPLATE = "a039b4d0-5ce8-4eff-8651-181c6576fda3"

SEED = {"requests": [
    {"Uuid": APPROVED, "Status": 3, "TargetUserUuid": ALICE, "Comment": "alice approved"},
    {"Uuid": APPROVED_BOB, "Status": "Approved", "TargetUserUuid": BOB},
    {"Uuid": EXECUTING, "Status": "executing", "TargetUserUuid": ALICE},
    {"Uuid": PENDING, "Status": 16, "TargetUserUuid": BOB},
    {"Uuid": COMPLETED, "Status": 8, "Completed": "2024-04-20T11:42:17.6630000"},
    {"Uuid": CANCELED, "Status": "Canceled"},
    {"Uuid": FORBIDDEN, "Status": 3, "_simulator": {"error": 403}},
    {"Uuid": BROKEN_PUT, "Status": 3, "_simulator": {"error": 500, "error_on": "put"}},
    {"Uuid": NAMED, "Status": 3, "_simulator": {"status_format": "name"}},
    {"Uuid": NO_CONTENT, "Status": 3, "_simulator": {"put_response": 204}},
]}
USERS = {"users": {"alice": {"password": "alice-pw", "uuid": ALICE}, "bob": {"password": "bob-pw", "uuid": BOB.upper()}}}
FIELDS = ["Uuid", "RequestType", "Status", "Flags", "DataCollection", "DataCollectionFlags", "OriginatorUserUuid", "TargetUserUuid",
          "Submitted", "Completed", "NewProfileUuid", "OldProfileUuid", "NewSmartcardUuid", "OldSmartcardUuid", "Priority", "Comment",
          "ProfileTemplateUuid", "SecurityDescriptor", "IsSmartcard", "IsEnrollmentAgent", "IsDataCollectionComplete"]
CORRELATION = re.compile(r"Correlation ID: ([0-9a-f-]{36})")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")


@pytest.fixture
def start(simulator):
    """Factory: start(*switches, seed=...) -> running simulator with this module's users and seed; all are stopped at teardown."""

    def _start(*args, seed=None):
        return simulator(*args, seed=SEED if seed is None else seed, users=USERS, python=PYTHON, checked=False)

    return _start


@pytest.fixture
def sim(start):
    """The default simulator: no auth, Status as numbers, PUT answers 200."""
    return start()


def put_status(sim, request_id, status, **kwargs):
    return requests.put("%s/requests/%s" % (sim.url, request_id), json={"status": status}, timeout=10, **kwargs)


def get_request(sim, request_id, **kwargs):
    return requests.get("%s/requests/%s" % (sim.url, request_id), timeout=10, **kwargs)


# ---------------------------------------------------------------- start-up

def test_banner_and_port_file(sim):
    with open(sim.stdout, encoding="utf-8") as handle:
        assert handle.read().strip() == "MIM CM simulator listening on http://127.0.0.1:%d" % sim.port
    assert sim.port > 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_server_cleanly(sim, signum):
    assert get_request(sim, APPROVED).status_code == 200
    sim.process.send_signal(signum)
    assert sim.process.wait(timeout=10) == 0


def test_bad_seed_fails_at_start_with_a_message(tmp_path):
    seed = tmp_path / "bad.json"
    seed.write_text(json.dumps({"requests": [{"Uuid": APPROVED, "_simulator": {"error": 418}}]}), encoding="utf-8")
    result = subprocess.run([PYTHON, LAUNCHER, "--port", "0", "--seed", str(seed)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "_simulator.error=418" in result.stderr


# ---------------------------------------------------------------- GET one

def test_get_known_request_returns_microsoft_shaped_object(sim):
    response = get_request(sim, APPROVED)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == FIELDS
    assert body["Uuid"] == APPROVED and body["Status"] == 3 and body["Comment"] == "alice approved"
    assert body["Completed"] == "0001-01-01T00:00:00"
    assert body["NewSmartcardUuid"] == "00000000-0000-0000-0000-000000000000"
    assert body["SecurityDescriptor"].endswith("\u0000")
    assert body["IsDataCollectionComplete"] is True and body["DataCollection"] == []
    assert "\\u0000" in response.text


def test_simulator_settings_never_reach_clients(sim):
    assert "_simulator" not in get_request(sim, NAMED).text


def test_get_unknown_request_is_204_with_empty_body(sim):
    response = get_request(sim, str(uuid.uuid4()))
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"


def test_path_and_id_match_case_insensitively_with_braces(sim):
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        for path in ("/certificatemanagement/API/V1.0/Requests/{%s}" % APPROVED.upper(),
                     "/CERTIFICATEMANAGEMENT/api/v1.0/REQUESTS/%7B" + APPROVED + "%7D",
                     BASE + "/requests/" + APPROVED.replace("-", "")):
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200, path
            assert json.loads(response.read())["Uuid"] == APPROVED
    finally:
        connection.close()


def test_seed_guids_canonical_and_unknown_status_numbers_kept(start):
    odd = "ABCDEF00-0000-4000-8000-000000000001"
    sim = start("--status-format", "name", seed={"requests": [{"uuid": "{%s}" % odd, "status": 42, "TargetUserUuid": BOB.upper()}]})
    body = get_request(sim, odd.lower()).json()
    assert (body["Uuid"], body["TargetUserUuid"], body["Status"]) == (odd.lower(), BOB, 42)
    response = put_status(sim, odd, "Completed")
    assert response.status_code == 500 and "42" in response.json()["Message"]


def test_id_that_is_not_a_guid_is_400(sim):
    response = get_request(sim, "not-a-guid")
    assert response.status_code == 400
    assert "Message" in response.json()


def test_unknown_path_is_404_html(sim):
    response = requests.get("%s/certificates" % sim.url, timeout=10)  # a documented route that the simulator does not model
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "404 - File or directory not found." in response.text


# ---------------------------------------------------------------- search

def search(sim, params, **kwargs):
    return requests.get("%s/requests" % sim.url, params=params, timeout=10, **kwargs)


def test_search_by_status_name_any_case(sim):
    response = search(sim, {"Status": "aPProved"})
    assert response.status_code == 200
    assert {item["Uuid"] for item in response.json()} == {APPROVED, APPROVED_BOB, FORBIDDEN, BROKEN_PUT, NAMED, NO_CONTENT}
    assert [item["Uuid"] for item in search(sim, {"status": "Executing"}).json()] == [EXECUTING]


def test_search_without_filter_lists_all(sim):
    assert len(search(sim, {}).json()) == len(SEED["requests"])


def test_search_with_no_match_is_204(sim):
    response = search(sim, {"status": "Denied"})
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("status", ["Bogus", "Abandoned"])
def test_search_unknown_status_is_400_with_message(sim, status):
    response = search(sim, {"status": status})
    assert response.status_code == 400
    assert "'%s' is not a valid request status" % status in response.json()["Message"]


def test_search_targetuser_current_uses_the_authenticated_user(start):
    sim = start("--auth", "basic")
    mine = search(sim, {"targetuser": "current"}, auth=("alice", "alice-pw"))
    assert {item["Uuid"] for item in mine.json()} == {APPROVED, EXECUTING}
    both = search(sim, {"targetuser": "current", "status": "Pending"}, auth=("bob", "bob-pw"))
    assert [item["Uuid"] for item in both.json()] == [PENDING]
    assert search(sim, {"targetuser": "someone"}, auth=("bob", "bob-pw")).status_code == 400


# ---------------------------------------------------------------- POST

def test_post_creates_a_request(sim):
    body = {"Type": "Enroll", "ProfileTemplateUuid": TEMPLATE, "datacollection": "[{\"name\": \"Employee ID\", \"value\": \"E-1\"}]",
            "comment": "new one", "priority": 2, "target": BOB}
    response = requests.post("%s/requests" % sim.url, json=body, timeout=10)
    assert response.status_code == 201
    location = response.json()
    match = re.match(r"^api/v1\.0/requests/([0-9a-f-]{36})$", location)
    assert match, location
    created = get_request(sim, match.group(1)).json()
    assert created["Status"] == 3 and created["RequestType"] == 1 and created["Priority"] == 2
    assert created["ProfileTemplateUuid"] == TEMPLATE and created["TargetUserUuid"] == BOB and created["Comment"] == "new one"
    assert created["DataCollection"] == [{"Name": "Employee ID", "Value": "E-1"}]
    assert [(a["event"], a["method"], a["request_id"], a["to"], a["http_status"]) for a in sim.audit_lines()] == \
        [("applied", "POST", match.group(1), "Approved", 201)]


def test_post_with_create_status_switch(start):
    sim = start("--create-status", "pending")
    body = {"type": "Enroll", "profiletemplateuuid": TEMPLATE, "datacollection": [], "comment": ""}
    location = requests.post("%s/requests" % sim.url, json=body, timeout=10).json()
    assert get_request(sim, location.rsplit("/", 1)[1]).json()["Status"] == 16


def test_post_bad_body_is_400_and_audited_as_refused(sim):
    response = requests.post("%s/requests" % sim.url, json={"type": "Enroll"}, timeout=10)
    assert response.status_code == 400
    assert "profiletemplateuuid" in response.json()["Message"]
    assert [(a["event"], a["method"], a["http_status"]) for a in sim.audit_lines()] == [("refused", "POST", 400)]
    assert len(search(sim, {}).json()) == len(SEED["requests"])


# ---------------------------------------------------------------- PUT

def test_put_completes_an_approved_request(sim):
    response = put_status(sim, APPROVED, "Completed")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == FIELDS and body["Status"] == 8
    assert TIMESTAMP.match(body["Completed"]), body["Completed"]
    assert get_request(sim, APPROVED).json()["Status"] == 8
    [line] = sim.audit_lines()
    assert {k: line[k] for k in ("event", "method", "request_id", "from", "to", "requested", "http_status", "user", "correlation_id")} == {
        "event": "applied", "method": "PUT", "request_id": APPROVED, "from": "Approved", "to": "Completed", "requested": "Completed",
        "http_status": 200, "user": None, "correlation_id": None}
    assert line["time"]


def test_put_key_and_value_case_insensitive(sim):
    response = requests.put("%s/requests/%s" % (sim.url, EXECUTING), data='{"STATUS": "abandoned"}', timeout=10,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["Status"] == 9, "an abandoned request reads Failed"
    assert response.json()["Completed"] == "0001-01-01T00:00:00"


def test_put_response_204_switch(start):
    sim = start("--put-response", "204")
    response = put_status(sim, PENDING, "Canceled")
    assert response.status_code == 204 and response.content == b""
    assert get_request(sim, PENDING).json()["Status"] == 17


def test_put_response_per_request_override(sim):
    response = put_status(sim, NO_CONTENT, "Completed")
    assert response.status_code == 204 and response.content == b""
    assert put_status(sim, APPROVED_BOB, "Completed").status_code == 200


def test_status_format_name_switch(start):
    sim = start("--status-format", "name")
    assert get_request(sim, APPROVED).json()["Status"] == "Approved"
    assert put_status(sim, APPROVED, "Completed").json()["Status"] == "Completed"
    assert {item["Status"] for item in search(sim, {"status": "8"}).json()} == {"Completed"}


def test_status_format_per_request_override(sim):
    assert get_request(sim, NAMED).json()["Status"] == "Approved"
    assert get_request(sim, APPROVED).json()["Status"] == 3
    assert put_status(sim, NAMED, "Abandoned").json()["Status"] == "Failed", "an abandoned request reads Failed"


@pytest.mark.parametrize("request_id, target, current, number, would_read", [
    (EXECUTING, "Canceled", "Executing", 18, "Canceled"),
    (PENDING, "Completed", "Pending", 16, "Completed"),
    (PENDING, "Abandoned", "Pending", 16, "Failed"),
    (COMPLETED, "Completed", "Completed", 8, "Completed"),
    (CANCELED, "Abandoned", "Canceled", 17, "Failed"),
])
def test_refused_transition_is_500_with_correlation_id(sim, request_id, target, current, number, would_read):
    response = put_status(sim, request_id, target)
    assert response.status_code == 500
    message = response.json()["Message"]
    assert message.startswith("An error has occurred.")
    assert "cannot move from status %s to status %s." % (current, target) in message
    correlation_id = CORRELATION.search(message).group(1)
    [line] = sim.audit_lines()
    assert (line["event"], line["from"], line["to"], line["requested"], line["http_status"]) == ("refused", current, would_read, target, 500)
    assert line["correlation_id"] == correlation_id and line["reason"]
    assert get_request(sim, request_id).json()["Status"] == number


def test_concurrent_puts_apply_exactly_once(sim):
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(lambda _n: put_status(sim, APPROVED, "Completed").status_code, range(20)))
    assert codes == [200] + [500] * 19
    assert sorted(line["event"] for line in sim.audit_lines()) == ["applied"] + ["refused"] * 19


def test_refused_transition_leaves_the_request_unchanged(sim):
    before = get_request(sim, EXECUTING).json()
    assert put_status(sim, EXECUTING, "Canceled").status_code == 500
    assert get_request(sim, EXECUTING).json() == before


def test_two_correlation_ids_differ(sim):
    first = CORRELATION.search(put_status(sim, CANCELED, "Completed").json()["Message"]).group(1)
    second = CORRELATION.search(put_status(sim, CANCELED, "Completed").json()["Message"]).group(1)
    assert first != second


def test_transitions_file(start, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"Completed": ["Pending", "Canceled", "completed"]}), encoding="utf-8")
    sim = start("--transitions", str(rules))
    assert put_status(sim, PENDING, "Completed").status_code == 200
    assert put_status(sim, CANCELED, "Completed").status_code == 500, "a final status never moves"
    assert put_status(sim, COMPLETED, "Completed").status_code == 500, "a final status never moves"
    assert put_status(sim, APPROVED, "Completed").status_code == 500
    assert put_status(sim, APPROVED, "Canceled").status_code == 500


def test_put_unknown_id_is_500_not_found(sim):
    missing = str(uuid.uuid4())
    response = put_status(sim, missing, "Completed")
    assert response.status_code == 500
    message = response.json()["Message"]
    assert "not found" in message and missing in message
    [line] = sim.audit_lines()
    assert line["event"] == "refused" and line["correlation_id"] == CORRELATION.search(message).group(1)


@pytest.mark.parametrize("body", [b"not json", b"", b"[]", b"{}", b'{"state": "Completed"}', b'{"status": "Approved"}', b'{"status": 8}'])
def test_put_bad_body_is_400(sim, body):
    response = requests.put("%s/requests/%s" % (sim.url, APPROVED), data=body, timeout=10, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["Message"]
    assert get_request(sim, APPROVED).json()["Status"] == 3
    assert [(a["event"], a["http_status"]) for a in sim.audit_lines()] == [("refused", 400)]


# ---------------------------------------------------------------- the status table: the CM database codes

# Written out here, not imported from the simulator, so that a wrong table there fails these tests.
CODES = {"None": 0, "Approved": 3, "Denied": 4, "Completed": 8, "Failed": 9, "Pending": 16, "Canceled": 17, "Executing": 18}
# The default transition model: PUT body value -> statuses it may leave, and the status the request reads afterwards.
ALLOWED = {"Completed": {"Approved", "Executing"}, "Canceled": {"Pending", "Approved"}, "Abandoned": {"Approved", "Executing"}}
READS = {"Completed": "Completed", "Canceled": "Canceled", "Abandoned": "Failed"}


def status_id(code):
    """The id of the STATUS_SEED request that starts in status `code`."""
    return "00000000-0000-4000-8000-%012d" % code


STATUS_SEED = {"requests": [{"Uuid": status_id(code), "Status": name.lower()} for name, code in CODES.items()]}


def start_fails(tmp_path, *switches, seed=None):
    """Run the simulator with a bad seed or switch: it must stop at start with exit code 2; returns its stderr."""
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed or {"requests": []}), encoding="utf-8")
    result = subprocess.run([PYTHON, LAUNCHER, "--port", "0", "--seed", str(path)] + list(switches),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2, result.stderr
    return result.stderr


@pytest.mark.parametrize("status_format", ["number", "name"])
def test_every_status_round_trips(start, status_format):
    sim = start("--status-format", status_format, seed=STATUS_SEED)
    for name, code in CODES.items():
        sent = code if status_format == "number" else name
        assert get_request(sim, status_id(code)).json()["Status"] == sent, name
        for query in (name, str(code)):
            found = search(sim, {"status": query}).json()
            assert [(item["Uuid"], item["Status"]) for item in found] == [(status_id(code), sent)], query


@pytest.mark.parametrize("target", sorted(ALLOWED))
def test_default_transition_model_from_every_status(start, target):
    sim = start(seed=STATUS_SEED)
    for name, code in CODES.items():
        response = put_status(sim, status_id(code), target)
        if name in ALLOWED[target]:
            assert (response.status_code, response.json()["Status"]) == (200, CODES[READS[target]]), name
        else:
            assert response.status_code == 500, name
            assert "cannot move from status %s to status %s." % (name, target) in response.json()["Message"]
        assert get_request(sim, status_id(code)).json()["Status"] == (CODES[READS[target]] if name in ALLOWED[target] else code)
    assert [(line["event"], line["from"], line["to"], line["requested"], line["http_status"]) for line in sim.audit_lines()] == [
        ("applied", name, READS[target], target, 200) if name in ALLOWED[target] else ("refused", name, READS[target], target, 500)
        for name in CODES]


def test_abandoned_is_not_a_status(tmp_path):
    stderr = start_fails(tmp_path, seed={"requests": [{"Uuid": APPROVED, "Status": "Abandoned"}]})
    assert "requests[0]: unknown status 'Abandoned'" in stderr and "reads Failed" in stderr
    assert all(name in stderr for name in CODES), "the error names the eight statuses"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"Completed": ["Approved", "Abandoned"]}), encoding="utf-8")
    assert "unknown status 'Abandoned'" in start_fails(tmp_path, "--transitions", str(rules))
    assert "--create-status: unknown status 'abandoned'" in start_fails(tmp_path, "--create-status", "abandoned")


@pytest.mark.parametrize("value", ["7", "1", "42"])
def test_create_status_must_be_in_the_table(tmp_path, value):
    assert "--create-status %s: not in the status table" % value in start_fails(tmp_path, "--create-status", value)


# ---------------------------------------------------------------- simulated errors

def test_simulated_403_on_get_and_put(sim):
    response = get_request(sim, FORBIDDEN)
    assert response.status_code == 403
    assert response.json()["Message"] == "Authorization has been denied for this request."
    assert put_status(sim, FORBIDDEN, "Completed").status_code == 403
    assert [(a["event"], a["http_status"]) for a in sim.audit_lines()] == [("refused", 403)]


def test_simulated_500_on_put_only(sim):
    assert get_request(sim, BROKEN_PUT).status_code == 200
    response = put_status(sim, BROKEN_PUT, "Completed")
    assert response.status_code == 500
    correlation_id = CORRELATION.search(response.json()["Message"]).group(1)
    [line] = sim.audit_lines()
    assert (line["event"], line["request_id"], line["correlation_id"]) == ("refused", BROKEN_PUT, correlation_id)
    assert get_request(sim, BROKEN_PUT).json()["Status"] == 3


def test_api_disabled_answers_404_everywhere(start):
    sim = start("--api-disabled")
    assert get_request(sim, APPROVED).status_code == 404
    assert search(sim, {}).status_code == 404
    assert put_status(sim, APPROVED, "Completed").status_code == 404
    response = requests.post("%s/requests" % sim.url, json={"type": "Enroll", "profiletemplateuuid": TEMPLATE}, timeout=10)
    assert response.status_code == 404 and "<html" in response.text
    assert sim.audit_lines() == []


# ---------------------------------------------------------------- auth

def test_basic_auth_401_then_200(start):
    sim = start("--auth", "basic")
    response = get_request(sim, APPROVED)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="MIM CM simulator"'
    assert response.headers["Content-Type"].startswith("text/html") and "401" in response.text
    assert get_request(sim, APPROVED, auth=("alice", "wrong")).status_code == 401
    assert get_request(sim, APPROVED, auth=("mallory", "alice-pw")).status_code == 401
    assert get_request(sim, APPROVED, auth=("alice", "alice-pw")).status_code == 200
    assert put_status(sim, APPROVED, "Completed", auth=("alice", "alice-pw")).status_code == 200
    assert [a["user"] for a in sim.audit_lines()] == ["alice"]
    assert [(a["http_status"], a["user"]) for a in sim.access_lines()] == [(401, None), (401, None), (401, None), (200, "alice"), (200, "alice")]


def test_basic_auth_refuses_put_without_credentials_and_changes_nothing(start):
    sim = start("--auth", "basic")
    assert put_status(sim, APPROVED, "Completed").status_code == 401
    assert sim.audit_lines() == []
    assert get_request(sim, APPROVED, auth=("bob", "bob-pw")).json()["Status"] == 3


# ---------------------------------------------------------------- state, connections, logs

def read_state(sim):
    with open(sim.state, encoding="utf-8") as handle:
        return {item["Uuid"]: item for item in json.load(handle)["requests"]}


def test_state_survives_a_restart(start, tmp_path):
    first = start("--state", os.path.join(str(tmp_path), "state.json"))
    assert put_status(first, APPROVED, "Completed").status_code == 200
    assert read_state(first)[APPROVED]["Status"] == 8, "state is saved after each write, not only at shutdown"
    location = requests.post("%s/requests" % first.url, json={"type": "Enroll", "profiletemplateuuid": TEMPLATE}, timeout=10).json()
    new_id = location.rsplit("/", 1)[1]
    assert new_id in read_state(first)
    assert read_state(first)[FORBIDDEN]["_simulator"] == {"error": 403}
    first.process.kill()
    first.process.wait(timeout=10)
    second = start("--state", os.path.join(str(tmp_path), "state.json"), seed={"requests": []})
    assert get_request(second, APPROVED).json()["Status"] == 8
    assert get_request(second, new_id).status_code == 200
    assert get_request(second, FORBIDDEN).status_code == 403
    assert second.stop() == 0
    assert read_state(second)[APPROVED]["Status"] == 8


def test_without_state_a_restart_starts_from_the_seed(start):
    first = start()
    assert put_status(first, APPROVED, "Completed").status_code == 200
    first.stop()
    assert get_request(start(), APPROVED).json()["Status"] == 3


def test_keep_alive_50_calls_share_one_connection(sim):
    with requests.Session() as session:
        for _call in range(50):
            response = session.get("%s/requests/%s" % (sim.url, APPROVED), timeout=10)
            assert response.status_code == 200
            assert response.headers.get("Connection", "").lower() != "close"
    with requests.Session() as other:
        assert other.get("%s/requests/%s" % (sim.url, APPROVED), timeout=10).status_code == 200
    ports = [line["client_port"] for line in sim.access_lines()]
    assert len(ports) == 51
    assert len(set(ports[:50])) == 1
    assert ports[50] != ports[0]


def test_keep_alive_with_bodies_and_empty_answers(sim):
    """PUT bodies must be consumed and 204s carry Content-Length: 0, or the next call on the connection breaks."""
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        calls = [("PUT", "/requests/" + PENDING, b'{"status":"Approved"}', 400),
                 ("GET", "/requests/" + str(uuid.uuid4()), None, 204),
                 ("PUT", "/requests/" + PENDING, b'{"status":"Canceled"}', 200),
                 ("GET", "/nothing", None, 404),
                 ("DELETE", "/requests/" + PENDING, None, 405),
                 ("GET", "/requests/" + PENDING, None, 200)]
        for method, path, body, status in calls:
            connection.request(method, BASE + path, body=body, headers={"Content-Type": "application/json"} if body else {})
            response = connection.getresponse()
            payload = response.read()
            assert response.status == status, (method, path)
            assert response.getheader("Content-Length") == str(len(payload))
    finally:
        connection.close()
    assert len({line["client_port"] for line in sim.access_lines()}) == 1


def test_access_log_has_one_line_per_call(start):
    sim = start("--auth", "basic")
    alice = ("alice", "alice-pw")
    get_request(sim, APPROVED)
    get_request(sim, APPROVED, auth=alice)
    search(sim, {"status": "Approved"}, auth=alice)
    put_status(sim, CANCELED, "Completed", auth=alice)
    requests.get("http://127.0.0.1:%d/elsewhere?x=1" % sim.port, timeout=10, auth=alice)
    lines = sim.access_lines()
    assert [(line["method"], line["path"], line["http_status"], line["user"]) for line in lines] == [
        ("GET", BASE + "/requests/" + APPROVED, 401, None),
        ("GET", BASE + "/requests/" + APPROVED, 200, "alice"),
        ("GET", BASE + "/requests?status=Approved", 200, "alice"),
        ("PUT", BASE + "/requests/" + CANCELED, 500, "alice"),
        ("GET", "/elsewhere?x=1", 404, "alice"),
    ]
    assert all(isinstance(line["client_port"], int) and line["time"] for line in lines)
