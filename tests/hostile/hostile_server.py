"""A hostile MIM CM REST server: answers that a real server, a proxy or an attacker in between could send.

The collection's modules must survive it (issue 12): no secret in any output, bounded time and memory, and only true
reports of what was written. tests/integration/targets/hostile starts it and checks the modules against it; see
README.md beside this file for the scenario table and the switches.

What a request id gets is chosen by the id itself: 0badc0de-SSSS-4000-8000-NNNNNNNNNNNN, where SSSS is a scenario code
of SCENARIOS and N any number (one id per test case). Every request starts Approved (3); an applied PUT moves it
(Completed 8, Canceled 17, Abandoned leaves it Failed 9) and writes one --audit-log line. Every HTTP call writes one
--access-log line: method, path, whether an Authorization header came (never its value), the answer's status.

Standard library only (Python 3.11+). Binds 127.0.0.1. SIGTERM or SIGINT stops it cleanly.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import html
import itertools
import json
import os
import re
import signal
import socketserver
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

API = '/certificatemanagement/api/v1.0'  # IIS matches paths case-insensitively
TOKEN_PATH = '/adfs/oauth2/token'
GUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', re.IGNORECASE)
MAX_BODY = 1 << 20  # what the server reads of a request body
CHUNK = 1 << 20  # streamed answers go out in pieces of this size

APPROVED, COMPLETED, FAILED, CANCELED = 3, 8, 9, 17
STATUS_NAMES = {0: 'None', 3: 'Approved', 4: 'Denied', 8: 'Completed', 9: 'Failed', 16: 'Pending', 17: 'Canceled', 18: 'Executing'}
# PUT body value: (status it leaves, statuses it may leave from). Final statuses never move.
TRANSITIONS = {'completed': (COMPLETED, (APPROVED, 18)), 'canceled': (CANCELED, (16, APPROVED)), 'abandoned': (FAILED, (APPROVED, 18))}

# Two requests that test ids are answered with by mistake; GET /requests/{id} of them answers them as they are.
OTHER_COMPLETED = '0badc0de-ffff-4000-8000-000000000008'
OTHER_CANCELED = '0badc0de-ffff-4000-8000-000000000017'


@dataclasses.dataclass(frozen=True)
class Scenario:
    """What the server does for the requests of one scenario code.

    get and put name an answer (the Handler method answer_<name>); put_answer replaces the body of the 200 that an
    applied PUT sends (None: the request object); auth demands valid Basic or Bearer credentials.
    """

    name: str
    get: str = 'object'
    put: str = 'apply'
    put_answer: str | None = None
    auth: bool = False


SCENARIOS = {
    '0001': Scenario('approved-normal'),
    '0002': Scenario('basic-required', auth=True),
    '0003': Scenario('put-answers-other-uuid', put='other_completed'),  # PUT not applied; answers another request, Completed
    '0004': Scenario('put-applied-answers-other-uuid', put_answer='other_canceled'),  # applied; answers another, Canceled
    '0005': Scenario('get-answers-other-uuid', get='other_completed'),  # GET answers another request, Completed
    '0006': Scenario('put-answers-null', put_answer='null'),
    '0007': Scenario('put-answers-true', put_answer='true'),
    '0008': Scenario('put-answers-string', put_answer='string'),
    '0009': Scenario('put-answers-list', put_answer='list'),
    '000a': Scenario('put-answers-empty-object', put_answer='empty_object'),
    '000b': Scenario('endless-body', get='endless_object'),  # chunked, never ends (until --stream-seconds)
    '000c': Scenario('huge-object', get='huge_object'),  # one valid Request object of --huge-mb, with Content-Length
    '000d': Scenario('drip-body', get='drip_body'),  # headers at once, then one body byte every --drip-interval
    '000e': Scenario('drip-headers', get='drip_headers'),  # the status line and headers one byte at a time
    '000f': Scenario('503-retry-after', get='unavailable', put='unavailable'),  # 503, Retry-After: --retry-after
    '0010': Scenario('503-huge-retry-after', get='unavailable_huge', put='unavailable_huge'),  # Retry-After: 5000 digits
    '0011': Scenario('deep-json', get='deep_json'),  # 200 with 100000 levels of [[[...]]]
    '0012': Scenario('malformed-body', get='malformed'),  # 200 with a Request object cut off in the middle
    '0013': Scenario('echo-authorization-500', get='echo_500', put='echo_500'),  # 500 whose Message quotes Authorization
    '0014': Scenario('echo-authorization-401', get='echo_401', put='echo_401'),  # 401 page quoting it, credentials or not
    '0015': Scenario('echo-authorization-403', get='echo_403', put='echo_403'),  # 403 whose Message quotes it
    'ffff': Scenario('other-request', put='final'),  # OTHER_COMPLETED and OTHER_CANCELED themselves
}

# GET /requests?status=NAME (a search): what each status filter answers.
SEARCHES = {'pending': 'endless_list', 'executing': 'huge_list', 'denied': 'deep_json'}  # others: the matching requests

PUT_ANSWERS = {'null': b'null', 'true': b'true', 'string': b'"Request updated"', 'list': b'[]', 'empty_object': b'{}'}


def request_object(request_id, status, comment=''):
    """A Request object as MIM CM sends it (PascalCase keys, status number, lower-case GUIDs)."""
    zero = '00000000-0000-0000-0000-000000000000'
    return {'Uuid': request_id, 'RequestType': 1, 'Status': status, 'Flags': 2, 'DataCollection': [], 'DataCollectionFlags': 32,
            'OriginatorUserUuid': zero, 'TargetUserUuid': zero, 'Submitted': '2026-01-05T08:00:00.000Z',
            'Completed': '2026-01-05T09:00:00.000Z' if status == COMPLETED else '0001-01-01T00:00:00',
            'NewProfileUuid': zero, 'OldProfileUuid': zero, 'NewSmartcardUuid': zero, 'OldSmartcardUuid': zero,
            'Priority': 0, 'Comment': comment, 'ProfileTemplateUuid': 'a039b4d0-5ce8-4eff-8651-181c6576fda3',
            'SecurityDescriptor': 'O:SYG:SYD:(A;;GA;;;SY)', 'IsSmartcard': False, 'IsEnrollmentAgent': False,
            'IsDataCollectionComplete': True}


def json_bytes(value):
    """Compact JSON, as ASP.NET sends it."""
    return json.dumps(value, separators=(',', ':')).encode()


def repeated(prefix, item, suffix, count=None):
    """The pieces of prefix + item,item,... + suffix, about CHUNK bytes each; count None: never ends (no suffix)."""
    per_piece = max(1, CHUNK // (len(item) + 1))
    block = b','.join([item] * per_piece)
    yield prefix
    for number in itertools.count() if count is None else range(0, count, per_piece):
        size = per_piece if count is None else min(per_piece, count - number)
        yield (b',' if number else b'') + (block if size == per_piece else b','.join([item] * size))
    yield suffix


def repeated_length(prefix, item, suffix, count):
    """The length of the body that repeated() sends for a finite count."""
    return len(prefix) + count * (len(item) + 1) - 1 + len(suffix)


class State:
    """The requests' statuses, in memory; every request starts Approved."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {OTHER_COMPLETED: COMPLETED, OTHER_CANCELED: CANCELED}

    def status(self, request_id):
        """The current status number."""
        with self.lock:
            return self.statuses.setdefault(request_id, APPROVED)

    def matching(self, status):
        """The (id, status) pairs of the requests seen so far in that status, or all."""
        with self.lock:
            return sorted((rid, number) for rid, number in self.statuses.items() if status is None or number == status)

    def apply(self, request_id, action):
        """Move a request if the model allows it: (True, before, after) or (False, before, reason)."""
        with self.lock:
            before = self.statuses.setdefault(request_id, APPROVED)
            after, sources = TRANSITIONS[action]
            if before not in sources:
                return False, before, 'Request %s cannot move from status %s to %s.' % (request_id, STATUS_NAMES[before], action.title())
            self.statuses[request_id] = after
            return True, before, after


class JsonLines:
    """An append-only JSON-lines log, flushed per line so that a test can read it while the server runs."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.handle = open(path, 'a', encoding='utf-8') if path else None  # pylint: disable=consider-using-with

    def write(self, **record):
        """Add one line, the time first."""
        if self.handle is not None:
            line = json.dumps(dict(time=datetime.datetime.now(datetime.timezone.utc).isoformat(), **record)) + '\n'
            with self.lock:
                self.handle.write(line)
                self.handle.flush()

    def close(self):
        """Close at shutdown."""
        with self.lock:
            if self.handle is not None:
                self.handle.close()
                self.handle = None


class Credentials:
    """Who may call: Basic users (the header decoded as UTF-8, RFC 7617), bearer tokens, OAuth clients (--secrets)."""

    def __init__(self, path):
        data = {}
        if path:
            with open(path, encoding='utf-8') as handle:
                data = json.load(handle)
        self.users = dict(data.get('users', {}))
        self.clients = dict(data.get('clients', {}))
        self.tokens = set(data.get('tokens', [])) | set(client['access_token'] for client in self.clients.values())

    def check(self, header):
        """None without a header, else whether the header holds known credentials."""
        if header is None:
            return None
        scheme, _space, value = header.strip().partition(' ')
        if scheme.lower() == 'basic':
            user, password = basic_credentials(value)
            return user is not None and user in self.users and self.users[user] == password
        if scheme.lower() == 'bearer':
            return value.strip() in self.tokens
        return False


def basic_credentials(value):
    """(user, password) of a Basic header's value decoded as UTF-8, or (None, None)."""
    try:
        user, colon, password = base64.b64decode(value.strip(), validate=True).decode('utf-8').partition(':')
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None, None
    return (user, password) if colon else (None, None)


def auth_scheme(header):
    """The scheme word of an Authorization header, for the access log: only known words, never a value."""
    if header is None:
        return None
    word = header.strip().partition(' ')[0].lower()
    return word if word in ('basic', 'bearer', 'negotiate', 'ntlm') else 'other'


class HostileServer(ThreadingHTTPServer):
    """The server and what its handlers share."""

    daemon_threads = True
    request_queue_size = 128  # a batch opens several connections at once

    def __init__(self, options):
        self.options = options
        self.state = State()
        self.credentials = Credentials(options.secrets)
        self.access_log = JsonLines(options.access_log)
        self.audit_log = JsonLines(options.audit_log)
        self.stopping = threading.Event()  # ends streamed answers at shutdown
        super().__init__((options.host, options.port), Handler)

    def server_bind(self):
        """No reverse DNS look-up of the address (HTTPServer.server_bind calls getfqdn)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Handler(BaseHTTPRequestHandler):
    """One HTTP call: route it, check credentials, answer as the request id's scenario says."""

    protocol_version = 'HTTP/1.1'
    server: HostileServer
    request_id = None  # of a /requests/{id} call
    scenario = None  # its Scenario
    body = b''

    # ------------------------------------------------------------ dispatch

    def do_GET(self):  # pylint: disable=invalid-name
        """GET /requests/{id} or GET /requests?status=NAME."""
        self.dispatch()

    def do_PUT(self):  # pylint: disable=invalid-name
        """PUT /requests/{id} {"status": ...}."""
        self.dispatch()

    def do_POST(self):  # pylint: disable=invalid-name
        """POST /adfs/oauth2/token (client credentials)."""
        self.dispatch()

    def parse_request(self):
        """Forget the previous call of a kept-alive connection before reading the next one."""
        self.request_id = self.scenario = None
        return super().parse_request()

    def dispatch(self):
        """Read the body, route, authenticate, answer."""
        self.body = self.read_body()
        if self.body is None:
            return
        url = urlsplit(self.path)
        path = url.path.lower()
        header = self.headers.get('Authorization')
        if path == TOKEN_PATH and self.command == 'POST':
            return self.answer_token()
        match = GUID.fullmatch(path[len(API + '/requests/'):]) if path.startswith(API + '/requests/') else None
        if match:
            self.request_id = match.group(0).lower()
            self.scenario = SCENARIOS.get(self.request_id[9:13])
        search = path in (API + '/requests', API + '/requests/') and self.command == 'GET'
        if not search and (self.scenario is None or self.command not in ('GET', 'PUT')):
            return self.send_json(404, {'Message': 'No HTTP resource was found that matches the request URI.'})
        authorized = self.server.credentials.check(header)
        behaviour = 'search' if search else (self.scenario.get if self.command == 'GET' else self.scenario.put)
        if behaviour != 'echo_401' and (authorized is False or (authorized is None and self.scenario and self.scenario.auth)):
            return self.send_json(401, {'Message': 'Authorization has been denied for this request.'},
                                  {'WWW-Authenticate': 'Basic realm="MIM CM"'})
        if search:
            return self.answer_search(parse_qs(url.query).get('status', [None])[0])
        return getattr(self, 'answer_' + behaviour)()

    def read_body(self):
        """The request body (b'' without one); None after answering a body the server refuses."""
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.send_json(413, {'Message': 'Bad or too large Content-Length.'})
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b''

    # ------------------------------------------------------------ answers: requests

    def answer_object(self):
        """The request as it is."""
        self.send_json(200, request_object(self.request_id, self.server.state.status(self.request_id), self.scenario.name))

    def answer_other_completed(self):
        """Another request's object (Completed), whatever was asked; a PUT is not applied."""
        self.send_json(200, request_object(OTHER_COMPLETED, COMPLETED, 'other-request'))

    def answer_final(self):
        """The other requests are final: every PUT is refused."""
        self.send_json(500, {'Message': 'Request %s is in a final status.' % self.request_id})

    def answer_apply(self):
        """PUT: apply the transition (an audit line), answer as the scenario says."""
        try:
            action = str(json.loads(self.body)['status']).lower()
        except (ValueError, TypeError, KeyError):
            action = None
        if action not in TRANSITIONS:
            return self.send_json(400, {'Message': 'The request is invalid.'})
        applied, before, after = self.server.state.apply(self.request_id, action)
        if not applied:
            return self.send_json(500, {'Message': '%s Correlation ID: %s' % (after, uuid.uuid4())})
        self.server.audit_log.write(request_id=self.request_id, action=action.title(), **{'from': STATUS_NAMES[before]},
                                    to=STATUS_NAMES[after], scenario=self.scenario.name)
        answer = self.scenario.put_answer
        if answer == 'other_canceled':
            return self.send_json(200, request_object(OTHER_CANCELED, CANCELED, 'other-request'))
        if answer in PUT_ANSWERS:
            return self.send_bytes(200, PUT_ANSWERS[answer])
        return self.answer_object()

    def answer_unavailable(self, retry_after=None):
        """503 with Retry-After, as a load balancer without a healthy backend."""
        self.send_json(503, {'Message': 'The service is unavailable.'},
                       {'Retry-After': retry_after or str(self.server.options.retry_after)})

    def answer_unavailable_huge(self):
        """503 with a Retry-After of 5000 digits."""
        self.answer_unavailable('9' * 5000)

    def answer_deep_json(self):
        """200 with JSON nested 100000 levels deep."""
        self.send_bytes(200, b'[' * 100000 + b']' * 100000)

    def answer_malformed(self):
        """200 with a Request object cut off in the middle (a complete answer, Content-Length right)."""
        self.send_bytes(200, json_bytes(request_object(self.request_id, APPROVED))[:60])

    def answer_endless_object(self):
        """A Request object whose DataCollection never ends."""
        prefix = b'{"Uuid":"%s","Status":3,"DataCollection":[' % self.request_id.encode()
        self.stream(repeated(prefix, b'{"Name":"n","Value":"v"}', b''))

    def answer_huge_object(self):
        """One valid Request object of --huge-mb: a DataCollection of many small items (so parsing it costs memory too)."""
        prefix, item, suffix = b'{"Uuid":"%s","Status":3,"DataCollection":[' % self.request_id.encode(), b'{"Name":"n","Value":"v"}', b']}'
        count = self.server.options.huge_mb * (1 << 20) // (len(item) + 1)
        self.stream(repeated(prefix, item, suffix, count), repeated_length(prefix, item, suffix, count))

    def answer_drip_body(self):
        """The headers at once, then the body one byte at a time."""
        body = json_bytes(request_object(self.request_id, APPROVED, self.scenario.name))
        self.send_response(200)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.drip(body)

    def answer_drip_headers(self):
        """The status line and headers one byte at a time (http.server's send_response buffers nothing here)."""
        body = json_bytes(request_object(self.request_id, APPROVED, self.scenario.name))
        self.log_request(200)
        self.drip(b'HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nX-Drip: %s\r\nContent-Length: %d\r\n\r\n%s'
                  % (b'.' * 200, len(body), body))

    def answer_echo_500(self):
        """500 whose Message quotes the Authorization header: verbatim, URL-encoded, JSON-escaped, decoded."""
        self.send_json(500, {'Message': 'An error has occurred. %s Correlation ID: %s' % (self.echo(), uuid.uuid4())})

    def answer_echo_403(self):
        """403 whose Message quotes the Authorization header."""
        self.send_json(403, {'Message': 'Authorization has been denied for this request. %s' % self.echo()})

    def answer_echo_401(self):
        """401 with an HTML page (IIS style) quoting the Authorization header in its title and text."""
        text = html.escape('401 - Unauthorized: Access is denied due to invalid credentials. %s' % self.echo())
        page = '<html><head><title>%s</title></head><body><h2>%s</h2></body></html>' % (text, text)
        self.send_bytes(401, page.encode(), {'WWW-Authenticate': 'Basic realm="MIM CM"'}, 'text/html')

    def echo(self):
        """The received Authorization header, and Basic's user:password decoded: each verbatim, URL-encoded, JSON-escaped."""
        header = self.headers.get('Authorization')
        if header is None:
            return 'No Authorization header was received.'
        forms = [header]
        user, password = basic_credentials(header.partition(' ')[2]) if auth_scheme(header) == 'basic' else (None, None)
        if user is not None:
            forms.append('%s:%s' % (user, password))
        return ' '.join('Received Authorization%s: %s (url-encoded: %s; json: %s).'
                        % (' decoded' if number else '', text, quote(text, safe=''), json.dumps(text)) for number, text in enumerate(forms))

    # ------------------------------------------------------------ answers: search and token

    def answer_search(self, status):
        """GET /requests?status=NAME: the SEARCHES table, or the requests seen so far in that status."""
        behaviour = SEARCHES.get((status or '').lower())
        if behaviour == 'deep_json':
            return self.answer_deep_json()
        item = b'{"Uuid":"0badc0de-0000-4000-8000-000000000000","Status":16,"Comment":"one of very many"}'
        if behaviour == 'endless_list':
            return self.stream(repeated(b'[', item, b''))
        if behaviour == 'huge_list':
            count = self.server.options.huge_mb * (1 << 20) // (len(item) + 1)
            return self.stream(repeated(b'[', item, b']', count), repeated_length(b'[', item, b']', count))
        number = next((number for number, name in STATUS_NAMES.items() if name.lower() == (status or '').lower()), None)
        if status and number is None:
            return self.send_json(400, {'Message': "The request is invalid. '%s' is not a valid request status." % status})
        self.send_json(200, [request_object(rid, found) for rid, found in self.server.state.matching(number)])

    def answer_token(self):
        """ADFS client credentials grant: each client of --secrets gets its configured access_token (hostile or not)."""
        form = dict((key, values[0]) for key, values in parse_qs(self.body.decode('utf-8', 'replace')).items())
        client_id, secret = form.get('client_id'), form.get('client_secret')
        header = self.headers.get('Authorization')
        if auth_scheme(header) == 'basic':  # client_secret_basic
            client_id, secret = basic_credentials(header.partition(' ')[2])
        client = self.server.credentials.clients.get(client_id)
        if form.get('grant_type') != 'client_credentials':
            return self.send_json(400, {'error': 'unsupported_grant_type', 'error_description': 'Only client_credentials.'})
        if client is None or client.get('secret') != secret:
            return self.send_json(400, {'error': 'invalid_client', 'error_description': 'Client authentication failed.'})
        self.send_json(200, {'access_token': client['access_token'], 'token_type': 'bearer', 'expires_in': 3600},
                       {'Cache-Control': 'no-store', 'Pragma': 'no-cache'})

    # ------------------------------------------------------------ sending

    def send_json(self, status, value, headers=None):
        """A JSON answer with Content-Length (keep-alive)."""
        self.send_bytes(status, json_bytes(value), headers)

    def send_bytes(self, status, body, headers=None, content_type='application/json; charset=utf-8'):
        """An answer with Content-Length (keep-alive)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        try:
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            self.close_connection = True

    def stream(self, pieces, length=None):
        """200 with pieces: with Content-Length when length is known, else chunked; stops after --stream-seconds."""
        self.send_response(200)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header(*(('Content-Length', str(length)) if length is not None else ('Transfer-Encoding', 'chunked')))
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + self.server.options.stream_seconds
        try:
            for piece in pieces:
                self.wfile.write(piece if length is not None else b'%x\r\n%s\r\n' % (len(piece), piece))
                if time.monotonic() > deadline or self.server.stopping.is_set():
                    return  # cut off: the client sees a body that ends too early
            if length is None:
                self.wfile.write(b'0\r\n\r\n')
        except ConnectionError:
            pass  # the client gave up: what a module with a size cap does

    def drip(self, data):
        """Send data one byte per --drip-interval, for at most --drip-seconds, then close the connection."""
        self.close_connection = True
        deadline = time.monotonic() + self.server.options.drip_seconds
        try:
            for byte in data:
                self.wfile.write(bytes((byte,)))
                if self.server.stopping.wait(self.server.options.drip_interval) or time.monotonic() > deadline:
                    return
        except ConnectionError:
            pass

    # ------------------------------------------------------------ logging

    def log_request(self, code='-', size='-'):
        """Called by send_response for every answer (http.server's own errors included): one access-log line."""
        header = self.headers.get('Authorization') if getattr(self, 'headers', None) else None  # None: no request line yet
        self.server.access_log.write(
            method=getattr(self, 'command', None), path=getattr(self, 'path', None), request_id=self.request_id,
            scenario=self.scenario.name if self.scenario else None, authorization=header is not None,
            scheme=auth_scheme(header), auth_ok=self.server.credentials.check(header) if header is not None else None,
            status=code if isinstance(code, int) else None)

    def version_string(self):
        """The Server header of an IIS site."""
        return 'Microsoft-IIS/10.0'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """No stderr line per call: the access log has them."""


def write_atomic(path, text):
    """Write a temporary file and rename it, so that a reader never sees half of it."""
    handle, temp = tempfile.mkstemp(prefix='.tmp-', dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(handle, 'w', encoding='utf-8') as stream:
        stream.write(text)
    os.replace(temp, path)


def parse_args(argv):
    """The switches; see README.md."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=8081, help='port; 0 picks a free one')
    parser.add_argument('--port-file', help='once listening, write the port to this file (atomically)')
    parser.add_argument('--access-log', help='JSON lines, one per HTTP call')
    parser.add_argument('--audit-log', help='JSON lines, one per applied write')
    parser.add_argument('--secrets', help='JSON file: {"users": {name: password}, "tokens": [...], '
                                          '"clients": {id: {"secret": ..., "access_token": ...}}}')
    parser.add_argument('--retry-after', type=int, default=2, help='Retry-After seconds of the 503-retry-after scenario')
    parser.add_argument('--drip-interval', type=float, default=0.5, help='seconds between two dripped bytes')
    parser.add_argument('--drip-seconds', type=float, default=30, help='a drip gives up (closes) after this long')
    parser.add_argument('--stream-seconds', type=float, default=60, help='an endless answer is cut off after this long')
    parser.add_argument('--huge-mb', type=int, default=300, help='size of the huge-object answer and the huge list')
    return parser.parse_args(argv)


def main(argv=None):
    """Serve until SIGTERM or SIGINT."""
    options = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    try:
        server = HostileServer(options)
    except (OSError, ValueError) as exc:
        print('hostile_server: error: %s' % exc, file=sys.stderr)
        return 2
    if options.port_file:
        write_atomic(options.port_file, '%d\n' % server.server_port)
    print('hostile MIM CM server listening on http://%s:%d' % (options.host, server.server_port), flush=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    thread.start()
    while not stop.wait(0.1):
        pass
    server.stopping.set()
    server.shutdown()
    server.server_close()
    server.access_log.close()
    server.audit_log.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
