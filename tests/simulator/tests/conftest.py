"""Shared fixtures for the simulator's tests: simulator subprocesses for all of them, and more for the authentication and TLS tests.

Why: the authentication and TLS tests need real infrastructure, made once per session: a test PKI
(tools/testenv/pki.py) and a throwaway MIT Kerberos realm with a running KDC
(tools/testenv/krb5_realm.py).  Simulators run as subprocesses, started by the
helper that every other consumer uses too (mim_cm_sim.launch).  If the KDC tools are missing, the
Kerberos tests skip and the end of the run says so loudly.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tools", "testenv"))
sys.path.insert(0, os.path.dirname(HERE))

import krb5_realm  # noqa: E402  pylint: disable=wrong-import-position
import pki  # noqa: E402  pylint: disable=wrong-import-position
from mim_cm_sim import launch  # noqa: E402  pylint: disable=wrong-import-position

LAUNCHER = launch.LAUNCHER  # tests/simulator/run_simulator.py, for the tests of start-up errors

BASE = "/CertificateManagement/api/v1.0"
REALM = "MIMLAB.TEST"
ALICE = "5a2f6c1e-3b1d-4d0a-9a51-0f4a1c7e2b10"
READER = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
APPROVED = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099"
UNKNOWN = "f3a1c9e2-7b4d-4e15-9c8a-2d6b0e4f7a13"  # in no seed; not random, for xdist workers must collect the same tests
ALICE_PW = "Alice pw-1"
READER_PW = "Reader pw-2"
MALLORY_PW = "Mallory pw-3"
CLIENT_ID = "mim-automation"
CLIENT_SECRET = "client-secret-4"
STATIC_TOKEN = "static-token-5"
SECRETS = (ALICE_PW, READER_PW, MALLORY_PW, CLIENT_SECRET, STATIC_TOKEN)
USERS = {"users": {"alice": {"password": ALICE_PW, "uuid": ALICE},
                   "reader": {"password": READER_PW, "uuid": READER, "rights": ["read"]}},
         "clients": {CLIENT_ID: {"secret": CLIENT_SECRET, "user": "alice"}},
         "tokens": {STATIC_TOKEN: "alice"}}
SEED = {"requests": [{"Uuid": APPROVED, "Status": 3, "TargetUserUuid": ALICE}]}
KERBEROS_SKIPPED = "Kerberos tests SKIPPED"  # how the skip reasons of the Kerberos tier begin


def read_jsonl(path):
    """All records of a JSON-lines log (empty list when the file does not exist yet)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class SimulatorProcess:
    """A simulator subprocess with its own directory, users file and seed (USERS and SEED unless given) and logs.

    python: the interpreter that runs the server (this one unless given).  stdout: the path of its standard output.
    state: the path given with --state, if any.
    """

    def __init__(self, directory, args, env=None, https=False, seed=None, users=None, python=None):
        os.makedirs(directory)
        self.directory = directory
        self.path = lambda name: os.path.join(directory, name)
        self.stdout = self.path("stdout.txt")
        self.state = args[args.index("--state") + 1] if "--state" in args else None
        for name, data in (("users.json", USERS if users is None else users), ("seed.json", SEED if seed is None else seed)):
            with open(self.path(name), "w", encoding="utf-8") as handle:
                json.dump(data, handle)
        try:
            self.sim = launch.start(directory, ["--seed", self.path("seed.json"), "--users", self.path("users.json")] + list(args),
                                    python=python, env=env, timeout=20, stdout=self.stdout, stderr=self.path("stderr.txt"))
        except launch.SimulatorError as exc:
            pytest.fail("simulator did not start: %s" % exc)
        self.process = self.sim.process
        self.port = self.sim.port
        self.origin = "%s://%s:%d" % ("https" if https else "http", "localhost" if https else "127.0.0.1", self.port)
        self.url = self.origin + BASE

    def text(self, name):
        """Content of one of the simulator's files."""
        with open(self.path(name), encoding="utf-8") as handle:
            return handle.read()

    def stop(self, bound=10.0):
        """SIGTERM, then kill after a bound; returns the exit code."""
        return self.sim.stop(bound)

    def access_lines(self):
        return read_jsonl(self.path("access.jsonl"))

    def audit_lines(self):
        return read_jsonl(self.path("audit.jsonl"))

    def assert_no_secret_logged(self):
        """No password, client secret or token in stdout, stderr or the logs."""
        for name in ("stdout.txt", "stderr.txt", "access.jsonl", "audit.jsonl"):
            text = self.text(name) if os.path.exists(self.path(name)) else ""
            for secret in SECRETS:
                assert secret not in text, (name, "a secret reached a log")


@pytest.fixture
def simulator(tmp_path):
    """Factory: simulator(*switches, checked=True, **options) -> running SimulatorProcess; stopped at teardown.

    options: those of SimulatorProcess (env, https, seed, users, python).  Each simulator runs in its own
    directory below tmp_path.  Teardown checks, unless checked=False, that it exited with 0 and logged no secret.
    """
    started = []

    def _start(*args, checked=True, **options):
        sim = SimulatorProcess(str(tmp_path / ("sim%d" % len(started))), args, **options)
        started.append((sim, checked))
        return sim

    yield _start
    for sim, checked in started:
        code = sim.stop()
        if checked:
            assert code == 0
            sim.assert_no_secret_logged()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test PKI: name -> path (ca.pem, server.pem, server.key, client.pem, client.key, other-ca.pem, ...)."""
    return pki.create_pki(str(tmp_path_factory.mktemp("pki")))


def _skip_kerberos(why):
    """Skip a Kerberos test, loudly; under CI (CI=true), where the Kerberos tier must run, fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail("Kerberos tests cannot run under CI: " + why)
    pytest.skip("%s: %s" % (KERBEROS_SKIPPED, why))


@pytest.fixture(scope="session")
def realm(tmp_path_factory):
    """A realm MIMLAB.TEST with a running KDC; this process's MIT Kerberos points at it for the session.

    Users alice, reader (in --users) and mallory (not in --users).  Keytab: HTTP/localhost and
    HTTP/mimcm.mimlab.test.  HTTP/nokey.mimlab.test exists in the KDC but not in the keytab.
    """
    missing = krb5_realm.missing_tools()
    if missing:
        _skip_kerberos("%s not installed (Debian: apt-get install krb5-kdc krb5-admin-server krb5-user)" % ", ".join(missing))
    try:
        import gssapi  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        import krb5  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as exc:
        _skip_kerberos("%s (pip install 'pyspnego[kerberos]')" % exc)
    directory = str(tmp_path_factory.mktemp("krb5"))
    info = krb5_realm.create_realm(krb5_realm.Realm(directory, REALM, krb5_realm.free_port()),
                                   {"alice": ALICE_PW, "reader": READER_PW, "mallory": MALLORY_PW},
                                   ["HTTP/localhost", "HTTP/mimcm.mimlab.test"], unkeyed=["HTTP/nokey.mimlab.test"])
    kdc = krb5_realm.start_kdc(info)
    saved = {name: os.environ.get(name) for name in info.env()}
    os.environ.update(info.env())
    try:
        yield info
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        kdc.terminate()
        try:
            kdc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kdc.kill()
            kdc.wait(timeout=10)


def pytest_terminal_summary(terminalreporter):
    """Say loudly when the Kerberos tests could not run (from the skip reports, which also reach it from xdist workers)."""
    reasons = set()
    for report in terminalreporter.stats.get("skipped", []):
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if KERBEROS_SKIPPED in message:
            reasons.add(message[message.index(KERBEROS_SKIPPED):])
    for reason in sorted(reasons):
        terminalreporter.write_line("*** %s ***" % reason, red=True, bold=True)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def server_tokens(response, header):
    """The tokens in the answer's WWW-Authenticate headers for one scheme ("Negotiate" or "NTLM")."""
    values = response.raw.headers.getlist("WWW-Authenticate")
    return [base64.b64decode(v.split(" ", 1)[1]) for v in values if v.lower().startswith(header.lower() + " ")]


def handshake(session, method, url, context, header="Negotiate", **kwargs):
    """Run an NTLM/Negotiate handshake with a pyspnego client context and make the call on its connection.

    The 401 legs and the call travel on the session's one kept-alive connection.  A final server token on
    the answer (Kerberos mutual authentication) is fed back to the context.  Returns the final response.
    """
    token = context.step()
    for _leg in range(5):
        response = session.request(method, url, headers={"Authorization": "%s %s" % (header, b64(token))}, timeout=15, **kwargs)
        tokens = server_tokens(response, header)
        if response.status_code != 401 or not tokens:
            if tokens and not context.complete:
                context.step(tokens[0])
            return response
        token = context.step(tokens[0])
    raise AssertionError("handshake did not finish in 5 legs")
