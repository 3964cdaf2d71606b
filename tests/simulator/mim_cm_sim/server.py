"""The HTTP layer (IIS-like keep-alive server, optional TLS) and the command line: build everything the switches name,
serve until SIGTERM/SIGINT (or until the process of --exit-with-pid ends), then shut down and flush the logs.

Run it through the one launcher, tests/simulator/run_simulator.py (README.md next to it documents every switch).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import unquote, urlsplit

from .api import Api, Config
from .auth import (ANONYMOUS, TOKEN_PATH, Authenticator, BasicScheme, BearerScheme, SpnegoScheme, TokenEndpoint, load_spnego,
                   load_users, parse_schemes, tls_server_end_point, write_ntlm_user_file)
from .faults import TRANSIENT_FAULTS, fault_settings, run_fault
from .launch import ADMIN_COMMAND, ADMIN_RESULT, ProcessWatch
from .logs import JsonLines, redact
from .replies import Reply, html_reply, message_reply, not_found, server_error
from .store import STATUSES, load_entries, load_seed, load_transitions, parse_status, read_json_file, sequence_requests, write_atomic

MAX_BODY = 1 << 20
TLS_HANDSHAKE_TIMEOUT = 10.0


# ---------------------------------------------------------------- HTTP layer

CONNECTION_NUMBERS = itertools.count(1)  # the access log's "connection": one number per accepted connection


class Handler(BaseHTTPRequestHandler):
    """One instance per connection; keep-alive (HTTP/1.1) because NTLM/Kerberos authenticate the connection."""

    protocol_version = "HTTP/1.1"
    server_version = "MIM-CM-Simulator/1.0"
    wbufsize = 1 << 16  # buffered: status line, headers and body leave in one send (no Nagle stall)

    def version_string(self) -> str:
        """Server header without the Python version."""
        return self.server_version

    def setup(self) -> None:
        """TLS handshake (in this connection's thread, bounded), then per-connection state for multi-leg auth."""
        self.tls_error: Optional[str] = None
        if self.server.tls_context is not None:
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
            try:
                self.request.do_handshake()
                self.request.settimeout(None)
            except OSError as exc:  # ssl.SSLError and socket.timeout are OSErrors
                self.tls_error = str(exc) or type(exc).__name__
        super().setup()
        self.connection_number = next(CONNECTION_NUMBERS)  # client ports are reused by the OS; this number is not
        self.conn_state: Dict[str, Any] = {}
        self.auth = ANONYMOUS

    def handle(self) -> None:
        """Serve the connection's requests, unless its TLS handshake failed."""
        if self.tls_error is None:
            super().handle()
        elif not self.server.quiet:
            sys.stderr.write("mim_cm_simulator: TLS handshake with %s:%d failed: %s\n" % (self.client_address[:2] + (self.tls_error,)))

    def handle_one_request(self) -> None:
        """Forget the previous call's authentication result and fault before each request on a kept-alive connection."""
        self.auth = ANONYMOUS
        self.fault: Optional[str] = None
        super().handle_one_request()

    def do_GET(self) -> None:
        """All verbs share one dispatcher."""
        body = self.read_body()
        if body is None:
            return
        try:
            reply = self.route(body)
        except Exception:  # a simulator bug must still answer like the real server: 500, no stack trace
            sys.stderr.write("mim_cm_simulator: unhandled error on %s %s\n%s" % (self.command, redact(self.path), traceback.format_exc()))
            reply = server_error("The simulator failed unexpectedly.")[0]
        if reply is None:
            self.reset_connection()
        else:
            self.send_reply(reply)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> Optional[bytes]:
        """Always consume the body, or its bytes would corrupt the next request on the connection."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_reply(message_reply(411, "Chunked request bodies are not supported; send Content-Length."))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self.send_reply(message_reply(413 if length > 0 else 400, "Bad or too large Content-Length."))
            return None
        return self.rfile.read(length) if length else b""

    def route(self, body: bytes) -> Optional[Reply]:
        """Token endpoint first (no --auth); then authenticate (IIS does it before the API); then the API routes."""
        parts = urlsplit(self.path)
        path = unquote(parts.path).lower().rstrip("/")
        if path == TOKEN_PATH:
            reply, self.auth = self.server.token_endpoint.handle(self.command, self.headers.get("Authorization"), body)
            return reply
        self.auth = self.server.authenticator.check(self.headers.get("Authorization"), self.conn_state)
        if not self.auth.ok:
            return html_reply(401, "401 - Unauthorized: Access is denied due to invalid credentials.",
                              "You do not have permission to view this directory or page using the credentials that you supplied.",
                              self.auth.headers or self.server.authenticator.challenges())
        reply = self.api_route(path, parts.query, body)
        if reply is None:
            return None
        return reply._replace(headers=self.auth.headers + reply.headers)  # the final server token goes out with the answer

    def api_route(self, path: str, query: str, body: bytes) -> Optional[Reply]:
        """Route, then maybe inject a fault (only here: authenticated calls on the API routes), then run the call."""
        api = self.server.api
        if api.config.api_disabled:
            return not_found()
        call = api.resolve(self.command, path, query, body, self.auth)
        if isinstance(call, Reply):
            return call
        self.fault = api.pick_fault(call.operation, call.request_id)
        reply = run_fault(api, self.fault, call, self.command, self.path) if self.fault else call.run()
        if reply is None and self.fault is None:
            self.fault = "reset_after"  # an applied POST that loses its answer (--lose-post-answers): the access log says so
        return reply

    def reset_connection(self) -> None:
        """Abort with a TCP RST (SO_LINGER on, timeout 0) and no answer; the access log gets http_status null.

        The descriptor is closed at once (detached first): a plain close would wait for rfile/wfile, and the
        server's shutdown(SHUT_WR) afterwards would send a FIN before the RST.
        """
        self.log_request("-")
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(self.connection.detach())

    def send_reply(self, reply: Reply) -> None:
        """Always send Content-Length (keep-alive needs it); flush once so everything leaves together."""
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        try:
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except ConnectionError:  # the client gave up (e.g. timed out during a "delay" fault): nothing to answer to
            self.close_connection = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Called by send_response for every answer, including http.server's own errors: the access log."""
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = None
        path = getattr(self, "path", None)
        auth = getattr(self, "auth", ANONYMOUS)
        self.server.access_log.write({"method": getattr(self, "command", None), "path": redact(path) if path else path, "http_status": status,
                                      "user": auth.user, "auth_scheme": auth.scheme, "auth_mechanism": auth.mechanism,
                                      "handshake": auth.handshake, "principal": auth.principal, "auth_error": auth.error,
                                      "fault": getattr(self, "fault", None), "client": self.client_address[0], "client_port": self.client_address[1],
                                      "connection": getattr(self, "connection_number", None)})
        self.log_message('"%s" %s %s', redact(getattr(self, "requestline", "")), code if status is None else status, size)

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Classic stderr line per request unless --quiet; http.server's error texts can quote the request line."""
        if not self.server.quiet:
            super().log_message("%s", redact(format % args))


class SimulatorServer(ThreadingHTTPServer):
    """Threaded server with TCP_NODELAY on every accepted socket and no reverse DNS at bind time.

    With TLS the accept loop hands the plain socket over; each connection's thread does its own handshake,
    so a stalled client cannot block the others.
    """

    daemon_threads = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops SYNs when a client opens 8 connections at once

    def __init__(self, address: Tuple[str, int], setup: Setup, access_log: JsonLines, quiet: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.api = setup.api
        self.authenticator = setup.authenticator
        self.token_endpoint = setup.token_endpoint
        self.tls_context = setup.tls_context
        self.access_log = access_log
        self.quiet = quiet
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """HTTPServer.server_bind calls getfqdn(), which can hang on hosts with broken DNS."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> Tuple[socket.socket, Any]:
        """Disable Nagle: a kept-alive response must not wait ~40 ms for the peer's delayed ACK."""
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


# ---------------------------------------------------------------- command line

def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Every switch is documented in README.md."""
    parser = argparse.ArgumentParser(description="Local simulator of the MIM CM REST API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free port)")
    parser.add_argument("--port-file", help="write the actual port here once listening (atomically)")
    parser.add_argument("--seed", help="JSON seed file: requests, profile templates, profiles, smart cards")
    parser.add_argument("--seed-sequence", metavar="PATTERN:COUNT[:STATUS]",
                        help="also seed COUNT generated requests, ids PATTERN %% 1..COUNT (e.g. 66666666-0000-4000-8000-%%012d:1000), "
                             "status STATUS (default Approved)")
    parser.add_argument("--state", help="persist state here; loaded instead of --seed when it exists")
    parser.add_argument("--audit-log", help="JSON lines, one per applied or refused write (PUT, POST)")
    parser.add_argument("--access-log", help="JSON lines, one per HTTP request received")
    parser.add_argument("--put-response", type=int, choices=(200, 204), default=200, help="PUT success answer (default 200)")
    parser.add_argument("--status-format", choices=("number", "name"), default="number", help="how Status is sent (default number)")
    parser.add_argument("--transitions", help="JSON: target status -> allowed source statuses")
    parser.add_argument("--api-disabled", action="store_true", help="every route answers 404 (Clm.WebApi.Enabled off)")
    parser.add_argument("--create-status", default="Approved",
                        help="status of requests created by POST when the seed has no profile templates (default Approved)")
    parser.add_argument("--create-datacollection", choices=("any", "string"), default="any",
                        help="string: a POST whose datacollection is a real array gets a 500, as an older server might (default any)")
    parser.add_argument("--create-answer", choices=("uri", "garbage"), default="uri",
                        help='a created request\'s 201 body: its URI "api/v1.0/requests/<id>" (default) or garbage (no request id)')
    parser.add_argument("--lose-post-answers", type=int, default=0, metavar="N",
                        help="the first N POSTs that create a request get no answer (TCP RST after the request is created)")
    parser.add_argument("--admin-dir", help="serve run_simulator.py --approve/--deny through command files in this directory")
    parser.add_argument("--ca-dir", help="the enrollment CA: root.pem, issuing.pem and issuing.key from this directory (written there "
                                         "when it holds none of them); default: a new CA each start")
    parser.add_argument("--ca-export", metavar="DIR", help="write the CA's ca-root.pem and ca-chain.pem here (launch.start: its directory)")
    parser.add_argument("--pkcs7-style", choices=("cmc", "certs-only"), default="cmc",
                        help="the Pkcs7 of certificatedata answers: a CMC full response as AD CS sends (default) or a certs-only PKCS#7")
    parser.add_argument("--lose-certificatedata-answers", type=int, default=0, metavar="N",
                        help="the first N certificatedata POSTs that issue certificates get no answer (TCP RST after issuing)")
    parser.add_argument("--users", help='JSON: {"users": {...}, "clients": {...}, "tokens": {...}} (see README)')
    parser.add_argument("--auth", default="none", help="offered schemes in order, comma-separated: negotiate, ntlm, basic, bearer; or none")
    parser.add_argument("--ntlm-domain", default="MIMLAB", help="NetBIOS domain of the NTLM users (default MIMLAB)")
    parser.add_argument("--ntlm-upn-suffix", default="MIMLAB.TEST", help="UPN suffix NTLM accepts in user@SUFFIX (default MIMLAB.TEST)")
    parser.add_argument("--keytab", help="Kerberos keytab of the service principals (sets KRB5_KTNAME)")
    parser.add_argument("--tls-cert", help="PEM server certificate (chain): serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--client-ca", help="PEM CA: require a client certificate signed by it")
    parser.add_argument("--require-channel-binding", action="store_true",
                        help="NTLM/Negotiate over HTTPS must carry tls-server-end-point channel bindings")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability (0..1) that an API call gets a random fault (default 0)")
    parser.add_argument("--fault-kinds", default=",".join(TRANSIENT_FAULTS),
                        help="comma-separated kinds of random faults (default the transient set: %(default)s)")
    parser.add_argument("--fault-seed", type=int, help="seed of the fault generator, for a reproducible sequence")
    parser.add_argument("--fault-delay", type=float, default=5.0, help="seconds that a delay fault waits before running the call (default 5)")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of 503 and 429 faults (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no per-request lines on stderr")
    parser.add_argument("--exit-with-pid", type=int, metavar="PID",
                        help="stop (as on SIGTERM) once process PID has ended, e.g. the ansible-playbook or shell that started it")
    return parser.parse_args(argv)


def tls_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    """Server TLS context (TLS 1.2 or later); with --client-ca a client certificate is required."""
    if not args.tls_cert and not args.tls_key:
        if args.client_ca or args.require_channel_binding:
            raise ValueError("--client-ca and --require-channel-binding need --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.load_verify_locations(cafile=args.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except ssl.SSLError as exc:
        raise ValueError("TLS files: %s" % exc)
    return context


def parse_create_status(text: str) -> int:
    """--create-status: one of the table's statuses; unknown numbers are for seeds (to test clients), not for new requests."""
    try:
        number = parse_status(text)
    except ValueError as exc:
        raise ValueError("--create-status: %s" % exc)
    if number not in STATUSES:
        raise ValueError("--create-status %s: not in the status table (%s)" % (text, ", ".join("%d %s" % item for item in STATUSES.items())))
    return number


def open_admin_dir(directory: str) -> None:
    """--admin-dir: create it private to this user and drop the commands and results of an earlier run."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith((ADMIN_COMMAND, ADMIN_RESULT)) or name.startswith(".tmp-"):
            os.unlink(os.path.join(directory, name))


def serve_admin(api: Api, directory: str) -> None:
    """Run the commands that run_simulator.py --approve/--deny left in --admin-dir (NAME.cmd), answering each in NAME.result.

    A command is {"action": "approve" | "deny", "request_id": "<guid>"}; a result {"ok": bool, "message": str}.  Called
    by the main loop every 0.1 s: no network route, so nothing of it is reachable through the modelled API.
    """
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(ADMIN_COMMAND))
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            command = read_json_file(path)
            os.unlink(path)
        except (OSError, ValueError) as exc:
            ok, message = False, "unreadable command: %s" % exc
        else:
            if isinstance(command, dict):
                ok, message = api.admin(command.get("action"), command.get("request_id"))
            else:
                ok, message = False, "a command must be a JSON object"
        write_atomic(os.path.join(directory, name[:-len(ADMIN_COMMAND)] + ADMIN_RESULT), json.dumps({"ok": ok, "message": message}))


def load_authority(args: argparse.Namespace, seed: Any) -> Any:
    """The enrollment CA (ca.Authority), when a template has generation options or --ca-dir is given, else None.

    Only then is ca.py, and with it cryptography, imported: the simulator stays standard-library only otherwise.
    """
    if not args.ca_dir and not any(template.options for template in seed.templates.values()):
        return None
    try:
        from . import ca  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ValueError("certificate enrollment (generation_options in the seed, or --ca-dir) needs cryptography: pip install cryptography (%s)"
                         % exc)
    ca.check_subjects(seed.templates.values())
    authority = ca.open_authority(args.ca_dir)
    if args.ca_export:
        authority.export(args.ca_export)
    return authority


class Setup(NamedTuple):
    """Everything the switches build before the server starts."""

    api: Api
    authenticator: Authenticator
    token_endpoint: TokenEndpoint
    tls_context: Optional[ssl.SSLContext]
    temp_dir: Optional[str]


def build(args: argparse.Namespace, audit: JsonLines) -> Setup:
    """Load every file the switches name; ValueError/OSError explain what is wrong."""
    directory = load_users(args.users)
    names = parse_schemes(args.auth)
    spnego_names = [name for name in names if name in ("negotiate", "ntlm")]
    if names and not directory.users:
        raise ValueError("--auth %s needs --users with at least one user" % args.auth)
    if "bearer" in names and not (directory.tokens or directory.clients):
        raise ValueError("--auth bearer needs tokens or clients in --users")
    if args.keytab and "negotiate" not in names:
        raise ValueError("--keytab needs --auth negotiate")
    if args.require_channel_binding and not spnego_names:
        raise ValueError("--require-channel-binding needs --auth negotiate or ntlm")
    if args.keytab and not os.path.isfile(args.keytab):
        raise ValueError("--keytab %s: no such file" % args.keytab)
    context = tls_context(args)
    create_status = parse_create_status(args.create_status)
    for name in ("lose_post_answers", "lose_certificatedata_answers"):
        if getattr(args, name) < 0:
            raise ValueError("--%s %d: use 0 or more" % (name.replace("_", "-"), getattr(args, name)))
    if args.state and os.path.exists(args.state):
        seed = load_seed(read_json_file(args.state), args.state)
    else:
        seed = load_seed(read_json_file(args.seed), args.seed) if args.seed else load_seed({"requests": []}, "(no seed)")
        if args.seed_sequence:
            for key, entry in load_entries(sequence_requests(args.seed_sequence), "--seed-sequence").items():
                if key in seed.entries:
                    raise ValueError("--seed-sequence: request %s is in --seed too" % key)
                seed.entries[key] = entry
    config = Config(put_response=args.put_response, status_format=args.status_format, transitions=load_transitions(args.transitions),
                    create_status=create_status, api_disabled=args.api_disabled, users=directory.users, state_path=args.state,
                    faults=fault_settings(args), create_datacollection=args.create_datacollection, create_answer=args.create_answer,
                    lose_post_answers=args.lose_post_answers, pkcs7_style=args.pkcs7_style,
                    lose_certificatedata_answers=args.lose_certificatedata_answers)
    authority = load_authority(args, seed)
    if args.admin_dir:
        open_admin_dir(args.admin_dir)
    spnego, bindings, temp_dir = None, None, None
    if spnego_names:
        spnego = load_spnego()
        if args.require_channel_binding:
            end_point = tls_server_end_point(args.tls_cert)
            bindings = spnego.channel_bindings.GssChannelBindings(application_data=b"tls-server-end-point:" + end_point)
        if args.keytab:
            os.environ["KRB5_KTNAME"] = "FILE:" + os.path.abspath(args.keytab)
        temp_dir = write_ntlm_user_file(directory, args.ntlm_domain, args.ntlm_upn_suffix)
        if temp_dir is None and "ntlm" in names:
            raise ValueError("--auth ntlm: no user in --users has a password")
    schemes = [BasicScheme(directory) if name == "basic" else BearerScheme(directory) if name == "bearer"
               else SpnegoScheme(name, directory, bindings, spnego) for name in names]
    api = Api(config, seed, audit, authority)
    with api.lock:
        api.save()
    return Setup(api, Authenticator(schemes), TokenEndpoint(directory), context, temp_dir)


def main(argv: Optional[List[str]] = None) -> int:
    """Start, announce the port, serve until SIGTERM/SIGINT (or the end of --exit-with-pid), then shut down and flush."""
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    setup = None
    try:
        watch = ProcessWatch(args.exit_with_pid) if args.exit_with_pid is not None else None
        audit, access_log = JsonLines(args.audit_log), JsonLines(args.access_log)
        setup = build(args, audit)
        server = SimulatorServer((args.host, args.port), setup, access_log, args.quiet)
    except (OSError, ValueError) as exc:
        if setup is not None and setup.temp_dir:
            shutil.rmtree(setup.temp_dir, ignore_errors=True)
        print("mim_cm_simulator: error: %s" % exc, file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    scheme = "https" if setup.tls_context else "http"
    print("MIM CM simulator listening on %s://%s:%d" % (scheme, "[%s]" % host if ":" in host else host, port), flush=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.1):
            if args.admin_dir:
                try:
                    serve_admin(setup.api, args.admin_dir)
                except Exception:  # a simulator bug must not stop the server; the launcher reports no answer
                    sys.stderr.write("mim_cm_simulator: admin command failed\n%s" % traceback.format_exc())
            if watch is not None and not watch.alive():
                print("mim_cm_simulator: process %d (--exit-with-pid) has ended: stopping" % watch.pid, file=sys.stderr, flush=True)
                break
        server.shutdown()
        server.server_close()
        with setup.api.lock:
            setup.api.save()
        print("mim_cm_simulator: faults injected: %s" % setup.api.fault_summary(), file=sys.stderr, flush=True)
    finally:
        if setup.temp_dir:
            shutil.rmtree(setup.temp_dir, ignore_errors=True)
        audit.close()
        access_log.close()
    return 0
