# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP for the collection: sessions, one deadline per whole answer, size limits, retries and error decoding.

Nothing here knows MIM CM's routes (_client) or how to authenticate (_auth): both build on this. requests' timeout
bounds each socket read, so a server that drips a byte at a time is never timed out; here a watchdog thread cuts the
connection of a call whose answer is not complete by its deadline.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import math
import random
import re
import socket
import threading
import time
import traceback

from typing import Any, Callable, Optional

from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
except ImportError:  # reported by HttpTransport as a MissingLibrary, so that a module can say so
    requests = None  # type: ignore[assignment]
    HTTPAdapter = HTTPConnectionPool = HTTPSConnectionPool = object  # type: ignore[misc,assignment]
    REQUESTS_IMPORT_ERROR: Optional[str] = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError,
    ConnectionFailure,
    HTTPStatusError,
    MimCmError,
    MissingLibrary,
    UnexpectedResponse,
)

USER_AGENT = 'ansible-mim.certificate_management'
CHUNK = 64 * 1024
# Transient answers worth another try: a busy or restarting server, a load balancer without a healthy backend.
RETRY_STATUSES = (408, 429, 502, 503, 504)
MAX_DELAY = 30  # seconds: no single wait, Retry-After included, is longer
# The largest answers read: one Request object (or token answer) is a few kilobytes, a search list a few per request;
# an error page only needs its first part for the message.
MAX_OBJECT_BYTES = 1024 * 1024
MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
# The ranges of the numeric options (seconds, tries).
TIMEOUT_RANGE = (0.0, 3600.0)
RETRIES_RANGE = (0, 10)
BACKOFF_RANGE = (0.0, 60.0)
_HTML_TITLE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r'<[^>]+>')
_MESSAGE_KEYS = ('message', 'exceptionmessage', 'messagedetail', 'error_description', 'error')
_MAX_MESSAGE = 500
_CHALLENGE = re.compile(r'(?:^|,)\s*(Negotiate|NTLM|Kerberos|Basic|Bearer)\b(?:\s+([A-Za-z0-9+/]+=*)(?=\s*(?:,|$)))?', re.IGNORECASE)
_CURRENT = threading.local()  # the watch of the call this thread is making


class _WatchedPool:
    """A connection pool that tells the current call's watch which connection carries it."""

    def _get_conn(self, timeout: Optional[float] = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]  # pylint: disable=no-member
        watch = getattr(_CURRENT, 'watch', None)
        if watch is not None:
            watch.connection = connection
        return connection


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


_POOLS = {'http': _WatchedHTTPPool, 'https': _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with pools whose connections the watchdog can cut (proxied ones too)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class Watch:
    """The deadline of one call; a context manager that makes it the current call of this thread."""

    def __init__(self, watchdog: Watchdog, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.connection: Any = None
        self.expired = False
        self.done = False
        self._watchdog = watchdog
        self._outer: Optional[Watch] = None

    def __enter__(self) -> Watch:
        self._outer = getattr(_CURRENT, 'watch', None)
        _CURRENT.watch = self
        self._watchdog.add(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.done = True
        _CURRENT.watch = self._outer

    def cut(self) -> bool:
        """Shut the call's socket down, which ends a blocked read at once; False while there is no socket yet."""
        self.expired = True
        sock = getattr(self.connection, 'sock', None)
        if sock is None:
            return False
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under a TLS wrapper too
        except OSError:
            pass
        return True


class Watchdog:
    """One daemon thread for all the calls of a client: it cuts each call still running at its deadline."""

    RETRY_CUT = 0.05  # seconds: a call still connecting has no socket to cut yet; look again this much later

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def watch(self, seconds: float) -> Watch:
        """A Watch for a call that must be answered within seconds."""
        return Watch(self, seconds)

    def add(self, watch: Watch, deadline: Optional[float] = None) -> None:
        with self._condition:
            heapq.heappush(self._heap, (deadline or watch.deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name='mim-cm-deadlines', daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, _order, watch = self._heap[0]
                if deadline > time.monotonic():
                    self._condition.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._heap)
                if not watch.cut():
                    heapq.heappush(self._heap, (time.monotonic() + self.RETRY_CUT, next(self._order), watch))


def read_body(response: Any, limit: int) -> tuple[bytes, bool]:
    """Read a streamed response's body, at most limit bytes (decoded); return (body, complete).

    A declared Content-Length over the limit is refused before reading; an incomplete body closes the connection.
    The body is kept on the response, so that response.json() and response.text work as usual.
    """
    declared = response.headers.get('Content-Length', '')
    complete = not (declared.isdigit() and len(declared) < 19 and int(declared) > limit and
                    response.headers.get('Content-Encoding', 'identity') == 'identity')
    chunks, size = [], 0
    if complete:
        for chunk in response.iter_content(CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                complete = False
                break
    body = b''.join(chunks)[:limit]
    if not complete:
        response.close()
    response._content = body  # pylint: disable=protected-access
    response._content_consumed = True  # pylint: disable=protected-access
    return body, complete


def bounded(text: str, scrub: Callable[[str], str]) -> str:
    """Server or library text for a message: scrubbed of secrets first (a secret cut in half would no longer be
    recognised), then cut to a readable length."""
    text = scrub(text)
    return text[:_MAX_MESSAGE] + ('...' if len(text) > _MAX_MESSAGE else '')


def _unchanged(text: str) -> str:
    return text


def server_message(response: Any, scrub: Callable[[str], str] = _unchanged) -> str:
    """Return the server's own words from an error answer: JSON Message, a JSON string, or the text of an HTML page."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    text = None
    if isinstance(data, dict):
        lowered = {str(key).lower(): value for key, value in data.items()}
        parts = [str(lowered[key]) for key in _MESSAGE_KEYS if lowered.get(key)]
        text = ' '.join(parts) or None
    elif isinstance(data, str) and data:
        text = data
    if text is None:
        text = response.text or ''
        title = _HTML_TITLE.search(text)
        if title:
            text = title.group(1)
        text = ' '.join(_HTML_TAG.sub(' ', text).split())
    return bounded(text, scrub)


def challenges(response: Any) -> list[tuple[str, Optional[str]]]:
    """The (scheme, base64 token or None) pairs of a response's WWW-Authenticate header, in its order."""
    return [(match.group(1), match.group(2)) for match in _CHALLENGE.finditer(response.headers.get('WWW-Authenticate', ''))]


def offered_schemes(response: Any) -> list[str]:
    """The authentication schemes a 401 answer offers, in its order."""
    return [scheme for scheme, _token in challenges(response)]


def number_option(option: str, value: Any, bounds: tuple[float, float], unit: str) -> Any:
    """A finite number within bounds (lower bound exclusive for timeout), or a ConfigurationError naming the option."""
    low, high = bounds
    if (value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < low or value > high or (option == 'timeout' and value == low)):
        raise ConfigurationError('%s must be a number of %s from %s%s to %s, not %r'
                                 % (option, unit, 'more than ' if option == 'timeout' else '', low, high, value))
    return value


class _RetryBudget:
    """One retry budget for every call of a run: a server that fails every call is waited for once, not once per call.

    The first transient failure of an outage starts a backoff round that all workers share; a run spends at most
    `retries` rounds on one outage. When they are spent and the server still fails, the calls left are not sent. Any
    call that succeeds ends the outage and refills the budget.
    """

    def __init__(self, retries: int, backoff_factor: float, sleep: Callable[[float], Any]) -> None:
        self.retries = retries
        self._backoff_factor = backoff_factor
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rounds = 0  # the rounds spent on the current outage
        self._round = 0  # the number of the latest round of the run, never reset
        self._resume_at = 0.0  # the end of that round
        self._gave_up: Optional[MimCmError] = None
        self._waited = threading.local()  # .round: the number of the last round this thread waited for

    def before_call(self, action: str) -> None:
        """Wait for a backoff round in progress that this thread has not waited for; raise at once when the run has
        given up on the server."""
        with self._lock:
            gave_up, latest, resume_at = self._gave_up, self._round, self._resume_at
        delay = 0 if self._waited_for(latest) else resume_at - time.monotonic()
        if gave_up is not None:
            raise type(gave_up)('Did not %s: the calls before it failed (%s) and the %d retries of this run are spent; '
                                'nothing was sent' % (action, gave_up.msg, self.retries), http_status=gave_up.http_status)
        if delay > 0:
            self._sleep(delay)

    def succeeded(self) -> None:
        with self._lock:
            self._rounds, self._gave_up = 0, None

    def backoff(self, exc: MimCmError, attempt: int) -> None:
        """Wait before try number attempt + 2 of a call after the transient failure exc, or raise exc when the tries of
        the call (retries) or the rounds of the run are spent."""
        with self._lock:
            now = time.monotonic()
            if attempt >= self.retries:
                raise exc
            if self._resume_at > now and not self._waited_for(self._round):
                delay = self._resume_at - now  # a round this thread has not waited for is in progress: join it
            elif self._rounds < self.retries:
                delay = min(MAX_DELAY, self._backoff_factor * 2 ** self._rounds) * random.uniform(0.5, 1.0)
                if exc.retry_after:
                    delay = max(delay, min(MAX_DELAY, exc.retry_after))
                self._rounds += 1
                self._round += 1
                self._resume_at = now + delay
            else:
                self._gave_up = exc
                raise exc
            self._waited.round = self._round
        self._sleep(delay)

    def _waited_for(self, number: int) -> bool:
        return getattr(self._waited, 'round', 0) == number


class HttpTransport:
    """Calls over one kept-alive requests.Session per worker thread, cookies shared by all threads.

    authenticate(session) prepares each new session; describe() names the authentication in a 401 hint.
    """

    def __init__(self, verify: Any = True, cert: Any = None, timeout: float = 30, retries: int = 3, backoff_factor: float = 0.5,
                 sleep: Callable[[float], Any] = time.sleep, authenticate: Optional[Callable[[Any], None]] = None,
                 describe: Optional[Callable[[], str]] = None, scrub: Callable[[str], str] = _unchanged) -> None:
        if requests is None:
            raise MissingLibrary('requests', REQUESTS_IMPORT_ERROR)
        self.timeout = number_option('timeout', timeout, TIMEOUT_RANGE, 'seconds')
        self.retries = number_option('retries', retries, RETRIES_RANGE, 'tries')
        self._budget = _RetryBudget(self.retries, number_option('backoff_factor', backoff_factor, BACKOFF_RANGE, 'seconds'), sleep)
        self._verify = verify
        self._cert = cert
        self._authenticate = authenticate or (lambda session: None)
        self._describe = describe or (lambda: 'no authentication')
        self._scrub = scrub
        self._cookies = requests.cookies.RequestsCookieJar()
        self._local = threading.local()
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}
        self._watchdog = Watchdog()

    @property
    def session(self) -> Any:
        """This thread's requests.Session: one kept-alive connection, authenticated once; cookies shared by all threads.

        Windows authentication binds to a connection, so concurrent workers each keep their own instead of passing
        connections around a shared pool in the middle of a handshake.
        """
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
            for prefix in ('http://', 'https://'):
                session.mount(prefix, WatchedAdapter())
            session.headers.update({'Accept': 'application/json', 'User-Agent': USER_AGENT})
            session.verify = self._verify
            session.cert = self._cert
            session.cookies = self._cookies
            # No settings from the environment (REQUESTS_CA_BUNDLE, ~/.netrc) over the options; proxies_for reads the
            # proxy variables once per host instead of requests reading them on every call.
            session.trust_env = False
            self._authenticate(session)
        return session

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies that HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY give url's host; read once per host."""
        host = urlsplit(url)[:2]
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

    def backoff(self, exc: MimCmError, attempt: int) -> None:
        """Wait before another try of a call after its transient failure exc, or re-raise exc (see _RetryBudget)."""
        self._budget.backoff(exc, attempt)

    def call(self, method: str, url: str, action: str, json: Any = None, data: Any = None, params: Any = None,
             not_found_ok: bool = False, retry: bool = True, expect: Optional[type] = None) -> tuple[Any, Any]:
        """Send a call; return (response, its JSON decoded as expect (dict, list or object) or None when empty).

        With retry, transient failures (unreadable bodies included) are tried again within the retry budget: only for
        calls that are safe to repeat.
        """
        attempt = 0
        while True:
            try:
                self._budget.before_call(action)
                answer = self._send_once(method, url, action, json, data, params, not_found_ok, expect)
            except MimCmError as exc:
                if not (retry and exc.retryable):
                    raise
                try:
                    self._budget.backoff(exc, attempt)
                except MimCmError:
                    if attempt:
                        exc.msg += ' (%d attempts)' % (attempt + 1)
                        exc.args = (exc.msg,)
                    raise
                attempt += 1
                continue
            self._budget.succeeded()
            return answer

    def _send_once(self, method: str, url: str, action: str, json: Any, data: Any, params: Any, not_found_ok: bool,
                   expect: Optional[type]) -> tuple[Any, Any]:
        """Send one call, never following a redirect (a redirected PUT would silently become a GET); the whole answer
        must arrive within timeout and fit its size limit."""
        session = self.session
        with self._watchdog.watch(self.timeout) as watch:
            try:
                response = session.request(method, url, json=json, data=data, params=params, timeout=self.timeout,
                                           allow_redirects=False, proxies=self.proxies_for(url), stream=True)
                status = response.status_code
                limit = MAX_ERROR_BYTES if status >= 300 else MAX_LIST_BYTES if expect is list else MAX_OBJECT_BYTES
                body, complete = read_body(response, limit)
            except requests.exceptions.RequestException as exc:
                if watch.expired:
                    raise self._too_slow(action, url)
                if isinstance(exc, requests.exceptions.SSLError):
                    raise ConnectionFailure('Failed to %s: TLS error talking to %s: %s. %s' % (action, url, _reason(exc, self._scrub), _tls_hint(exc)), url=url)
                if isinstance(exc, requests.exceptions.Timeout):
                    raise ConnectionFailure('Failed to %s: no answer from %s within %s seconds (%s); check the server or raise '
                                            'timeout' % (action, url, self.timeout, _reason(exc, self._scrub)), url=url, retryable=True)
                raise ConnectionFailure('Failed to %s: could not connect to %s: %s; check url and that the server is reachable'
                                        % (action, url, _reason(exc, self._scrub)), url=url, retryable=True)
        if watch.expired:  # cut in the middle of the headers, the answer can look complete
            raise self._too_slow(action, url)
        if 300 <= status < 400:
            location = bounded(response.headers.get('Location', '(no Location)'), self._scrub)
            raise HTTPStatusError('Failed to %s: %s answered HTTP %s redirecting to %s; redirects are not followed, '
                                  'set url to the final address' % (action, url, status, location), http_status=status, url=url)
        if status >= 400 and not (not_found_ok and status == 404):
            raise HTTPStatusError('Failed to %s at %s with HTTP status %s %s: %s%s'
                                  % (action, url, status, bounded(response.reason or '', self._scrub), server_message(response, self._scrub) or '(no message)',
                                     _hint(status, self._describe, response)),
                                  http_status=status, url=url, retryable=status in RETRY_STATUSES,
                                  retry_after=_retry_after(response))
        if not complete:
            raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with more than %d bytes, more than the MIM CM API '
                                     'sends for it; not read further' % (action, url, status, limit), http_status=status, url=url)
        if expect is None or status in (204, 404) or not body:
            return response, None
        return response, _decode(response, expect, url, action, self._scrub)

    def _too_slow(self, action: str, url: str) -> ConnectionFailure:
        """The failure of a call cut off at its deadline (retryable: a slow moment may pass)."""
        return ConnectionFailure('Failed to %s: no complete answer from %s within the timeout of %s seconds; check the server '
                                 'or raise timeout' % (action, url, self.timeout), url=url, retryable=True)


def _decode(response: Any, expect: type, url: str, action: str, scrub: Callable[[str], str]) -> Any:
    """The JSON body as a dict (a Request object), a list of them, or any JSON (object); an unreadable body may be a
    transient fault."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with a body that is not JSON (or nested too deeply): %s'
                                 % (action, url, response.status_code, server_message(response, scrub)),
                                 http_status=response.status_code, url=url, retryable=True)
    if expect is object:
        return data
    if expect is dict and isinstance(data, dict):
        return data
    if expect is list and isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with JSON that is not %s'
                             % (action, url, response.status_code, 'a Request object' if expect is dict else 'a list of Request objects'),
                             http_status=response.status_code, url=url)


def _reason(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """The innermost cause of a transport error, without the noise of urllib3's wrappers."""
    reason = exc
    while reason.__context__ is not None and isinstance(reason.__context__, Exception):
        reason = reason.__context__
    return bounded(str(reason) or type(reason).__name__, scrub)


def _retry_after(response: Any) -> Optional[float]:
    """Seconds from a Retry-After header (a number or an HTTP date), at most MAX_DELAY; None when absent or unreadable."""
    value = (response.headers.get('Retry-After') or '').strip()[:64]
    if value.isdigit():
        return min(MAX_DELAY, int(value)) if len(value) < 10 else MAX_DELAY
    try:
        moment = parsedate_to_datetime(value)
        seconds = (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds() if moment.tzinfo else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return None if seconds is None else min(MAX_DELAY, max(0.0, seconds))


def _tls_hint(exc: BaseException) -> str:
    """Which option to look at for a TLS failure; verification is never switched off for the user."""
    text = str(exc).lower()
    if 'certificate required' in text or 'handshake failure' in text or 'unknown ca' in text or 'bad certificate' in text:
        return 'The server wants a client certificate it trusts: set client_cert and client_key'
    if 'eof occurred' in text or 'unexpected eof' in text:
        # with TLS 1.3 a refused client certificate often shows as the server closing the connection
        return 'The server closed the TLS connection; if the site requires client certificates, set client_cert and client_key'
    return ('Set ca_path to the PEM bundle of the CA that signed the server certificate '
            '(validate_certs: false is only for test servers)')


def _hint(status: int, describe: Callable[[], str], response: Any = None) -> str:
    """A next step for the statuses a user can act on."""
    if status == 401:
        offered = ', '.join(offered_schemes(response)) if response is not None else ''
        return (' (authentication with %s was refused: check the credentials and that the site accepts this method%s)'
                % (describe(), '; the server offers: %s' % offered if offered else ''))
    if status == 403:
        return ' (the account lacks the MIM CM permission for this request or action)'
    return ''
