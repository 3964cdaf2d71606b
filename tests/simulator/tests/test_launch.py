"""The launcher and its helper: generated seeds, --exit-with-pid, and run_simulator.py --background / --stop.

Why: the integration targets' setup role, the scripts (demo, bundle test, molecule, runme.sh) and the Python
consumers (bench, the integration environment, these tests) all start the simulator through this one path, and rely
on it to stop when the run that started it ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from conftest import APPROVED, LAUNCHER, launch

PATTERN = "66666666-0000-4000-8000-%012d"


def run_launcher(*args, **kwargs):
    return subprocess.run([sys.executable, LAUNCHER] + list(args), capture_output=True, text=True, timeout=60, check=False, **kwargs)


def test_seed_sequence_adds_generated_requests(simulator):
    sim = simulator("--seed-sequence", PATTERN + ":5")
    found = requests.get(sim.url + "/requests", params={"status": "Approved"}, timeout=10).json()
    assert sorted(item["Uuid"] for item in found) == sorted([APPROVED] + [PATTERN % number for number in range(1, 6)])
    pending = simulator("--seed-sequence", PATTERN + ":3:Pending")
    assert [item["Status"] for item in requests.get(pending.url + "/requests?status=Pending", timeout=10).json()] == [16, 16, 16]


@pytest.mark.parametrize("spec, message", [
    (PATTERN + ":0", "COUNT from 1 to"),
    (PATTERN + ":many", "COUNT from 1 to"),
    ("66666666-0000-4000-8000-000000000001:3", "exactly one integer field"),
    ("66666666-%d:3", "is not a GUID"),
    (PATTERN + ":3:Abandoned", "Abandoned is a PUT action"),
    ("a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a%03d:99", "is in --seed too"),
])
def test_seed_sequence_errors(tmp_path, spec, message):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"requests": [{"Uuid": APPROVED}]}))
    result = run_launcher("--port", "0", "--seed", str(seed), "--seed-sequence", spec)
    assert result.returncode == 2
    assert "mim_cm_simulator: error:" in result.stderr and message in result.stderr


def test_exit_with_pid_stops_when_that_process_ends(simulator):
    watched = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # pylint: disable=consider-using-with
    try:
        sim = simulator("--exit-with-pid", str(watched.pid))
        assert requests.get(sim.url + "/requests/" + APPROVED, timeout=10).status_code == 200
        time.sleep(0.5)
        assert sim.process.poll() is None
    finally:
        watched.kill()
        watched.wait()
    assert sim.process.wait(timeout=10) == 0
    assert "process %d (--exit-with-pid) has ended: stopping" % watched.pid in sim.text("stderr.txt")
    assert "faults injected: total=0" in sim.text("stderr.txt")  # the normal shutdown: state saved, logs flushed


def test_exit_with_pid_of_no_process(tmp_path):
    result = run_launcher("--port", "0", "--exit-with-pid", "999999999")
    assert result.returncode == 2
    assert "mim_cm_simulator: error: --exit-with-pid 999999999: no such process" in result.stderr


def test_background_and_stop(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"requests": [{"Uuid": APPROVED}]}))
    directory = tmp_path / "sim"
    result = run_launcher("--background", str(directory), "--seed", str(seed))
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    try:
        assert settings == launch.recorded(str(directory))
        assert settings["url"] == "http://127.0.0.1:%d" % settings["port"]
        assert settings["audit_log"] == str(directory / "audit.jsonl") and settings["access_log"] == str(directory / "access.jsonl")
        assert requests.get(settings["url"] + "/CertificateManagement/api/v1.0/requests/" + APPROVED, timeout=10).status_code == 200
        assert launch.is_running(settings["pid"])
        assert os.getsid(settings["pid"]) == settings["pid"]  # its own session: it outlives the launcher
    finally:
        stopped = run_launcher("--stop", str(directory))
    assert stopped.returncode == 0 and "stopped the simulator" in stopped.stdout
    assert not launch.is_running(settings["pid"])
    assert "GET" in (directory / "access.jsonl").read_text()
    again = run_launcher("--stop", str(directory))
    assert again.returncode == 0 and "no simulator of" in again.stdout


def test_stop_spares_a_pid_that_runs_something_else(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # pylint: disable=consider-using-with
    try:
        assert not launch.stop_pid(other.pid, str(tmp_path / "port"))
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_background_failure_says_why(tmp_path):
    result = run_launcher("--background", str(tmp_path / "sim"), "--seed", str(tmp_path / "missing.json"))
    assert result.returncode == 1
    assert "run_simulator.py: error: the simulator in" in result.stderr and "exited with 2" in result.stderr
    assert "missing.json" in result.stderr


def test_exit_with_playbook_needs_ansible_playbook(tmp_path):
    result = run_launcher("--background", str(tmp_path / "sim"), "--exit-with-playbook")
    assert result.returncode == 1
    assert "no ansible-playbook process among the ancestors" in result.stderr


def test_helper_starts_and_stops_a_child(tmp_path):
    with launch.start(str(tmp_path / "sim"), ["--auth", "none"], access_log=False) as sim:
        assert sim.access_log is None and sim.audit_log == str(tmp_path / "sim" / "audit.jsonl")
        assert requests.get(sim.url + "/CertificateManagement/api/v1.0/requests", timeout=10).status_code == 204
    assert sim.process.returncode == 0
    assert "MIM CM simulator listening on %s" % sim.url in (tmp_path / "sim" / "simulator.out").read_text()


def test_a_new_start_in_the_same_directory_starts_afresh(tmp_path):
    for _run in range(2):
        with launch.start(str(tmp_path / "sim")) as sim:
            requests.get(sim.url + "/CertificateManagement/api/v1.0/requests", timeout=10)
    assert len((tmp_path / "sim" / "access.jsonl").read_text().splitlines()) == 1
    assert (tmp_path / "sim" / "simulator.out").read_text().count("listening on") == 1


# ---------------------------------------------------------------- approval outside the API: --approve / --deny

PENDING = "d2a7c4e9-5b16-4f83-a0d2-7c9e1b3f5a68"
PENDING_TOO = "93e6b0f4-8a2d-4c5e-b7f1-1d4a6c8e0b35"


@pytest.fixture
def background(tmp_path):
    """A simulator started with --background, with an Approved and two Pending requests; stopped at teardown."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"requests": [{"Uuid": APPROVED}, {"Uuid": PENDING, "Status": "Pending"},
                                             {"Uuid": PENDING_TOO, "Status": 16}]}))
    directory = tmp_path / "sim"
    result = run_launcher("--background", str(directory), "--seed", str(seed), "--auth", "basic", "--users", write_users(tmp_path))
    assert result.returncode == 0, result.stderr
    yield directory, json.loads(result.stdout)
    run_launcher("--stop", str(directory))


def write_users(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"users": {"alice": {"password": "alice-pw"}}}))
    return str(users)


def status_of(settings, request_id):
    url = "%s/CertificateManagement/api/v1.0/requests/%s" % (settings["url"], request_id)
    return requests.get(url, auth=("alice", "alice-pw"), timeout=10).json()["Status"]


def admin_lines(directory):
    return [line for line in map(json.loads, (directory / "audit.jsonl").read_text().splitlines()) if line["event"] == "admin"]


def test_approve_and_deny_a_pending_request(background):
    directory, settings = background
    approved = run_launcher("--approve", str(directory), PENDING.upper())
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == "Request %s: Pending -> Approved." % PENDING
    denied = run_launcher("--deny", str(directory), "{%s}" % PENDING_TOO)
    assert denied.returncode == 0 and "Pending -> Denied" in denied.stdout
    assert (status_of(settings, PENDING), status_of(settings, PENDING_TOO)) == (3, 4)
    assert [(line["action"], line["request_id"], line["from"], line["to"], line["result"]) for line in admin_lines(directory)] == [
        ("approve", PENDING, "Pending", "Approved", "applied"), ("deny", PENDING_TOO, "Pending", "Denied", "applied")]
    assert os.listdir(settings["admin_dir"]) == [], "each command and its answer are removed"


@pytest.mark.parametrize("action, request_id, message", [
    ("--approve", APPROVED, "is Approved, not Pending"),
    ("--deny", "0b0b0b0b-0000-4000-8000-000000000000", "was not found"),
    ("--approve", "not-a-guid", "is not a GUID"),
])
def test_approve_refusals_exit_1_and_change_nothing(background, action, request_id, message):
    directory, settings = background
    result = run_launcher(action, str(directory), request_id)
    assert result.returncode == 1
    assert result.stderr.startswith("run_simulator.py: error: ") and message in result.stderr
    assert (status_of(settings, APPROVED), status_of(settings, PENDING)) == (3, 16)
    [line] = admin_lines(directory)
    assert line["result"] == "refused" and line["to"] is None and message in line["reason"]


def test_approve_without_a_running_simulator(background, tmp_path):
    directory, _settings = background
    assert run_launcher("--stop", str(directory)).returncode == 0
    result = run_launcher("--approve", str(directory), PENDING)
    assert result.returncode == 1 and "is not running" in result.stderr
    nothing = run_launcher("--deny", str(tmp_path / "elsewhere"), PENDING)
    assert nothing.returncode == 1 and "no simulator was started with --background" in nothing.stderr
    usage = run_launcher("--approve", str(directory))
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_approval_is_not_on_the_wire(background):
    directory, settings = background
    for path in ("/admin", "/CertificateManagement/admin", "/CertificateManagement/api/v1.0/requests/%s/approve" % PENDING):
        response = requests.post(settings["url"] + path, json={"action": "approve"}, auth=("alice", "alice-pw"), timeout=10)
        assert response.status_code == 404, path
    assert status_of(settings, PENDING) == 16 and admin_lines(directory) == []


def test_helper_approves_through_its_simulator(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"requests": [{"Uuid": PENDING, "Status": "Pending"}]}))
    with launch.start(str(tmp_path / "sim"), ["--seed", str(seed)]) as sim:
        assert sim.admin("approve", PENDING) == "Request %s: Pending -> Approved." % PENDING
        with pytest.raises(launch.SimulatorError, match="not Pending"):
            sim.admin("deny", PENDING)
        assert requests.get(sim.url + "/CertificateManagement/api/v1.0/requests/" + PENDING, timeout=10).json()["Status"] == 3
