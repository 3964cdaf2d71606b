"""Starting, watching and stopping simulator processes: the one helper that every consumer uses.

Python consumers import it (tests/simulator/tests, tools/bench, tools/testenv):

    sys.path.insert(0, "<checkout>/tests/simulator")
    from mim_cm_sim import launch
    sim = launch.start(directory, ["--seed", seed])   # a child process on a free port of 127.0.0.1, listening
    sim.url, sim.port, sim.audit_log, sim.access_log
    sim.ca_root, sim.ca_chain                         # the enrollment CA's PEM files (None when it has no CA)
    sim.stop()                                        # SIGTERM, SIGKILL after 10 s; its exit code

    sim.admin("approve", request_id)                  # a Pending request becomes Approved (or "deny": Denied)

Shell scripts and Ansible call the launcher, tests/simulator/run_simulator.py, which runs the same code:

    python run_simulator.py --background DIR [--exit-with-playbook] [switches]   # prints the settings as JSON
    python run_simulator.py --stop DIR                                           # stops it by its PID
    python run_simulator.py --approve DIR REQUEST_ID                             # Pending -> Approved (--deny: Denied)

start() runs `python run_simulator.py --port 0 --port-file DIR/port --audit-log DIR/audit.jsonl --access-log
DIR/access.jsonl --admin-dir DIR/admin --ca-export DIR --quiet [switches]` (the switches win) and waits until the port
file exists: the server writes it, atomically, once it listens (and after it wrote DIR/ca-root.pem and DIR/ca-chain.pem,
when it has an enrollment CA).  Standard library only, Python 3.9 or later, like the server.

Approval happens outside the API, as in MIM CM (the CM portal; no REST route): the launcher writes a command file
NAME.cmd into the simulator's --admin-dir, the server's main loop runs it within 0.1 s and answers in NAME.result.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

SIMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(SIMULATOR_DIR, "run_simulator.py")
SETTINGS = "simulator.json"  # the settings file that --background writes in DIR and --stop reads
CA_EXPORTS = ("ca-root.pem", "ca-chain.pem")  # what --ca-export writes: the enrollment CA's root, and issuing CA + root
PROC = "/proc"
ADMIN_COMMAND = ".cmd"  # --admin-dir: a command the launcher leaves for the server
ADMIN_RESULT = ".result"  # --admin-dir: the server's answer to it
ADMIN_TIMEOUT = 10.0


class SimulatorError(Exception):
    """The simulator did not start (the message says why, with the end of its output), or cannot be stopped."""


# ---------------------------------------------------------------- processes (Linux /proc where it exists)

class ProcessStat(NamedTuple):
    """The fields of /proc/PID/stat that are used here."""

    state: str
    ppid: int
    start_time: int


def process_stat(pid: int) -> Optional[ProcessStat]:
    """State, parent and start time of a process from /proc/PID/stat; None when it is gone (or there is no /proc)."""
    try:
        with open(os.path.join(PROC, str(pid), "stat"), encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold anything
    except (OSError, IndexError):
        return None
    return ProcessStat(fields[0], int(fields[1]), int(fields[19]))


def command_line(pid: int) -> List[str]:
    """A process's arguments ([] when it is gone or unreadable)."""
    try:
        with open(os.path.join(PROC, str(pid), "cmdline"), "rb") as handle:
            return [arg.decode("utf-8", "replace") for arg in handle.read().split(b"\0")[:-1]]
    except OSError:
        return []


def is_running(pid: int) -> bool:
    """Whether PID is a live process (a zombie that its parent has not reaped yet counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if not os.path.isdir(PROC):
        return True
    stat = process_stat(pid)
    return stat is not None and stat.state != "Z"


class ProcessWatch:
    """The process of --exit-with-pid: alive() turns False once it has ended (or its PID went to another process)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        stat = process_stat(pid)
        self.start_time = stat.start_time if stat else None
        if pid <= 0 or not is_running(pid):
            raise ValueError("--exit-with-pid %d: no such process" % pid)

    def alive(self) -> bool:
        """Checked every 0.1 s by the server's main loop."""
        if not is_running(self.pid):
            return False
        stat = process_stat(self.pid)
        return self.start_time is None or stat is None or stat.start_time == self.start_time


def ansible_playbook_pid() -> int:
    """The PID of the ansible-playbook run that this process belongs to (for --exit-with-playbook).

    Ansible runs each task in a worker forked from the ansible-playbook process (same command line), and the worker
    runs the module that started this process: the answer is the outermost of the ancestors whose command line runs
    ansible-playbook.  Linux (/proc) only.
    """
    pid, found = os.getppid(), None
    while pid > 1:
        if any(os.path.basename(arg) == "ansible-playbook" for arg in command_line(pid)[:2]):
            found = pid
        elif found is not None:
            break
        stat = process_stat(pid)
        if stat is None:
            break
        pid = stat.ppid
    if found is None:
        raise SimulatorError("--exit-with-playbook: no ansible-playbook process among the ancestors of PID %d (this needs Linux /proc)" % os.getpid())
    return found


def runs_simulator(pid: int, port_file: str) -> bool:
    """Whether PID is alive and still runs the simulator of port_file (a PID that went to another process does not)."""
    return is_running(pid) and (not os.path.isdir(PROC) or port_file in command_line(pid))


def stop_pid(pid: int, port_file: str, timeout: float = 10.0) -> bool:
    """Stop the simulator PID, if that PID still runs the simulator of port_file: SIGTERM, SIGKILL after timeout.

    Returns whether it was running.  The command line check keeps a PID that went to another process from being killed.
    """
    if not runs_simulator(pid, port_file):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- simulators

def _switch(args: Sequence[str], name: str) -> Optional[str]:
    """The value of the last NAME VALUE (or NAME=VALUE) in args."""
    value = None
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1:]
    return value


def _tail(path: Optional[str], lines: int = 20) -> str:
    """The end of an output file, for an error message."""
    try:
        with open(path or "", encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


class Simulator:
    """A simulator that start() has started and that listens on .port; stop() ends it by its PID."""

    def __init__(self, directory: str, pid: int, port: int, args: Sequence[str], output: Optional[str],
                 process: Optional[subprocess.Popen] = None) -> None:
        self.directory = directory
        self.pid = pid
        self.port = port
        self.process = process  # None when stop() runs in another process than start() (run_simulator.py --stop)
        self.output = output  # where its standard output (and standard error, unless given elsewhere) goes
        self.port_file = os.path.join(directory, "port")
        self.audit_log = _switch(args, "--audit-log")
        self.access_log = _switch(args, "--access-log")
        self.admin_dir = _switch(args, "--admin-dir")
        self.ca_export = _switch(args, "--ca-export")
        self.host = _switch(args, "--host") or "127.0.0.1"
        self.scheme = "https" if _switch(args, "--tls-cert") else "http"

    @property
    def url(self) -> str:
        """Where it answers, e.g. http://127.0.0.1:40123 (the API is below /CertificateManagement/api/v1.0)."""
        return "%s://%s:%d" % (self.scheme, "[%s]" % self.host if ":" in self.host else self.host, self.port)

    def ca_file(self, name: str) -> Optional[str]:
        """The path of an exported CA file, or None when the simulator wrote none (no enrollment CA, or no --ca-export)."""
        path = os.path.join(self.ca_export, name) if self.ca_export else None
        return path if path and os.path.exists(path) else None

    @property
    def ca_root(self) -> Optional[str]:
        """The enrollment CA's root certificate (PEM), to verify issued certificates against; None without a CA."""
        return self.ca_file(CA_EXPORTS[0])

    @property
    def ca_chain(self) -> Optional[str]:
        """The issuing CA's certificate then the root's (PEM); None without a CA."""
        return self.ca_file(CA_EXPORTS[1])

    def settings(self) -> Dict[str, Any]:
        """What other processes need to reach and stop it (run_simulator.py --background prints this as JSON)."""
        return {"pid": self.pid, "port": self.port, "url": self.url, "directory": self.directory, "port_file": self.port_file,
                "audit_log": self.audit_log, "access_log": self.access_log, "admin_dir": self.admin_dir, "output": self.output,
                "ca_root": self.ca_root, "ca_chain": self.ca_chain}

    def admin(self, action: str, request_id: str, timeout: float = ADMIN_TIMEOUT) -> str:
        """Approve ("approve") or deny ("deny") a Pending request; returns the server's message, raises SimulatorError."""
        return send_admin(self.admin_dir, self.pid, self.port_file, action, request_id, timeout)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after timeout seconds; the exit code when it is this process's child (else None)."""
        if self.process is None:
            stop_pid(self.pid, self.port_file, timeout)
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def start(directory: str, args: Sequence[str] = (), *, python: Optional[str] = None, env: Optional[Dict[str, str]] = None,
          timeout: float = 30.0, audit_log: bool = True, access_log: bool = True, quiet: bool = True,
          stdout: Optional[str] = None, stderr: Optional[str] = None, detach: bool = False) -> Simulator:
    """Start a simulator on a free port with its files in directory, and return once it listens.

    args: simulator switches (they win over the defaults: --port 0, the logs in directory, --quiet).  python: the
    interpreter that runs it (this one by default).  env: variables added to this process's environment.
    audit_log, access_log: whether to write directory/audit.jsonl and directory/access.jsonl (unless args name others).
    stdout, stderr: files for its output (default both directory/simulator.out).  detach: its own session, so that it
    outlives this process (then stop it with stop_pid or run_simulator.py --stop).  Raises SimulatorError.
    """
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    port_file = os.path.join(directory, "port")
    defaults = ["--port", "0", "--port-file", port_file]
    if audit_log:
        defaults += ["--audit-log", os.path.join(directory, "audit.jsonl")]
    if access_log:
        defaults += ["--access-log", os.path.join(directory, "access.jsonl")]
    defaults += ["--admin-dir", os.path.join(directory, "admin"), "--ca-export", directory]
    if quiet:
        defaults.append("--quiet")
    args = defaults + list(args)
    stdout = stdout or os.path.join(directory, "simulator.out")
    # The files of an earlier start in the same directory go: a stale port must not pass for this one's, and the logs
    # (which the server appends to) must hold this run only.
    for name in ("port", "audit.jsonl", "access.jsonl", "simulator.out", SETTINGS) + CA_EXPORTS:
        path = os.path.join(directory, name)
        if os.path.exists(path) and (name in ("port", SETTINGS) or path in (_switch(args, "--audit-log"), _switch(args, "--access-log"), stdout)
                                     or (name in CA_EXPORTS and _switch(args, "--ca-export") == directory)):
            os.unlink(path)
    with open(stdout, "ab") as out, open(stderr or stdout, "ab") as err:
        command = [python or sys.executable, LAUNCHER] + args
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,  # pylint: disable=consider-using-with
                                   env=dict(os.environ, **env) if env else None, start_new_session=detach)
    deadline = time.monotonic() + timeout
    while not os.path.exists(port_file):
        if process.poll() is not None or time.monotonic() > deadline:
            why = "exited with %s" % process.returncode if process.poll() is not None else "did not listen within %g s" % timeout
            if process.poll() is None:
                process.kill()
                process.wait()
            raise SimulatorError("the simulator in %s %s:\n%s" % (directory, why, _tail(stderr or stdout)))
        time.sleep(0.02)
    with open(port_file, encoding="utf-8") as handle:
        port = int(handle.read())
    return Simulator(directory, process.pid, port, args, stdout, process)


def recorded(directory: str) -> Optional[Dict[str, Any]]:
    """The settings that run_simulator.py --background wrote in directory, or None."""
    try:
        with open(os.path.join(directory, SETTINGS), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def send_admin(admin_dir: Optional[str], pid: int, port_file: str, action: str, request_id: str, timeout: float = ADMIN_TIMEOUT) -> str:
    """Run an admin action (approve or deny a Pending request) in the running simulator PID; its message, or SimulatorError.

    The command goes into admin_dir (the simulator's --admin-dir) as NAME.cmd, written atomically; the server's main
    loop runs it and writes NAME.result, {"ok", "message"}.  A refusal (unknown id, not Pending) raises SimulatorError.
    """
    if not admin_dir or not os.path.isdir(admin_dir):
        raise SimulatorError("the simulator was not started with --admin-dir (%s is no directory)" % admin_dir)
    if not runs_simulator(pid, port_file):
        raise SimulatorError("the simulator (PID %d) is not running" % pid)
    name = secrets.token_hex(8)
    command, result = os.path.join(admin_dir, name + ADMIN_COMMAND), os.path.join(admin_dir, name + ADMIN_RESULT)
    temp = os.path.join(admin_dir, ".tmp-" + name)
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump({"action": action, "request_id": request_id}, handle)
    os.replace(temp, command)  # the server never sees half a command
    deadline = time.monotonic() + timeout
    while not os.path.exists(result):
        if not runs_simulator(pid, port_file) or time.monotonic() > deadline:
            if os.path.exists(command):
                os.unlink(command)
            why = "stopped" if not runs_simulator(pid, port_file) else "did not answer within %g s" % timeout
            raise SimulatorError("the simulator (PID %d) %s" % (pid, why))
        time.sleep(0.02)
    with open(result, encoding="utf-8") as handle:
        answer = json.load(handle)
    os.unlink(result)
    if not answer.get("ok"):
        raise SimulatorError(answer.get("message") or "refused")
    return str(answer.get("message"))


# ---------------------------------------------------------------- run_simulator.py

USAGE = """usage: run_simulator.py [switches]                                   serve in the foreground until SIGTERM/Ctrl-C
       run_simulator.py --background DIR [--exit-with-playbook] [switches]
                                                                    start it on a free port, files in DIR; print its settings
       run_simulator.py --stop DIR                                 stop the one started with --background DIR, by its PID
       run_simulator.py --approve DIR REQUEST_ID                   in that one, move a Pending request to Approved
       run_simulator.py --deny DIR REQUEST_ID                      ... or to Denied (there is no REST route for either)
       run_simulator.py --help                                     the switches (README.md next to this script explains them)"""


def cli(argv: List[str]) -> int:
    """The launcher's command line (tests/simulator/run_simulator.py)."""
    if argv[:1] == ["--background"] and len(argv) >= 2:
        directory, args = os.path.abspath(argv[1]), argv[2:]
        try:
            if "--exit-with-playbook" in args:
                args = [arg for arg in args if arg != "--exit-with-playbook"] + ["--exit-with-pid", str(ansible_playbook_pid())]
            settings = start(directory, args, detach=True).settings()
        except (SimulatorError, OSError) as exc:
            print("run_simulator.py: error: %s" % exc, file=sys.stderr)
            return 1
        with open(os.path.join(directory, SETTINGS), "w", encoding="utf-8") as handle:
            json.dump(settings, handle)
        print(json.dumps(settings), flush=True)
        return 0
    if argv[:1] == ["--stop"] and len(argv) == 2:
        settings = recorded(os.path.abspath(argv[1]))
        stopped = bool(settings) and stop_pid(settings["pid"], settings["port_file"])
        print("stopped the simulator of %s (PID %s)" % (argv[1], settings["pid"]) if stopped else "no simulator of %s was running" % argv[1])
        return 0
    if argv[:1] in (["--approve"], ["--deny"]) and len(argv) == 3:
        running = recorded(os.path.abspath(argv[1]))
        if not running:
            print("run_simulator.py: error: no simulator was started with --background %s" % argv[1], file=sys.stderr)
            return 1
        try:
            print(send_admin(running.get("admin_dir"), running["pid"], running["port_file"], argv[0][2:], argv[2]))
        except (SimulatorError, OSError, ValueError) as exc:
            print("run_simulator.py: error: %s" % exc, file=sys.stderr)
            return 1
        return 0
    if argv[:1] in (["--background"], ["--stop"], ["--approve"], ["--deny"]):
        print(USAGE, file=sys.stderr)
        return 2
    from .server import main  # pylint: disable=import-outside-toplevel
    return main(argv)
