# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIM CM REST client: HTTP sessions, URL building, GET/PUT and error decoding."""

from __future__ import annotations

import datetime
import math
import os
import random
import re
import threading
import time
import traceback

from email.utils import parsedate_to_datetime

from urllib.parse import urlsplit

try:
    import requests
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import offered_schemes
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError,
    ConnectionFailure,
    HTTPStatusError,
    MimCmError,
    RequestNotFound,
    UnexpectedResponse,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._request import check_identity, names_request
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets
from ansible_collections.mim.certificate_management.plugins.module_utils._transport import WatchedAdapter, Watchdog, read_body

DEFAULT_API_PATH = '/CertificateManagement/api/v1.0'
USER_AGENT = 'ansible-mim.certificate_management'

_HTML_TITLE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r'<[^>]+>')
_MESSAGE_KEYS = ('message', 'exceptionmessage', 'messagedetail', 'error_description', 'error')
_MAX_MESSAGE = 500
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
# A plain path: segments of unreserved characters (no query, fragment, percent-encoding, dot segments or backslashes).
_API_PATH = re.compile(r'/?([A-Za-z0-9_~-][A-Za-z0-9._~-]*(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*)?/?')
_HOST = re.compile(r'[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]')


def server_message(response):
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
    return text[:_MAX_MESSAGE] + ('...' if len(text) > _MAX_MESSAGE else '')


def _join_url(url, api_path):
    """Join the site URL and the API path, validating both before any network call.

    A URL with user information is refused without echoing it: its password must not reach any output.
    """
    if not url:
        raise ConfigurationError('url is required: the MIM CM site, for example https://cm.contoso.com (or set MIM_CM_URL)')
    try:
        parts = urlsplit(url.strip())
        has_userinfo = '@' in parts.netloc
        port = parts.port
    except ValueError:
        raise ConfigurationError('url is not a valid address (bad host or port); give the MIM CM site, for example '
                                 'https://cm.contoso.com or https://cm.contoso.com:8443')
    if has_userinfo:
        raise ConfigurationError('url must not carry user information (user:password@); give the account with username '
                                 'and password instead')
    if (parts.scheme.lower() not in ('http', 'https') or not parts.hostname or parts.query or parts.fragment
            or not _HOST.fullmatch(parts.netloc.rsplit(':', 1)[0] if port is not None else parts.netloc) or port == 0):
        raise ConfigurationError('url %r is not an http:// or https:// address of the MIM CM site, '
                                 'for example https://cm.contoso.com' % (url,))
    api_path = api_path or ''
    if not _API_PATH.fullmatch(api_path) or 'requests' in api_path.lower().split('/'):
        raise ConfigurationError('api_path %r is not a plain path such as %s: no query (?), fragment (#), percent-encoding, '
                                 'dot segments or backslashes, and no requests segment' % (api_path, DEFAULT_API_PATH))
    path = '/'.join(part.strip('/') for part in (parts.path, api_path) if part.strip('/'))
    return ('%s://%s/%s' % (parts.scheme.lower(), parts.netloc, path)).rstrip('/')


def _number(option, value, bounds, unit):
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

    def __init__(self, retries, backoff_factor, sleep):
        self.retries = retries
        self._backoff_factor = backoff_factor
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rounds = 0
        self._resume_at = 0.0
        self._gave_up = None
        self._waited = threading.local()  # the end of the last round this thread waited for

    def before_call(self, action):
        """Wait for a backoff round in progress that this thread has not waited for; raise at once when the run has
        given up on the server."""
        with self._lock:
            gave_up, resume_at = self._gave_up, self._resume_at
        delay = 0 if getattr(self._waited, 'until', None) == resume_at else resume_at - time.monotonic()
        if gave_up is not None:
            raise type(gave_up)('Did not %s: the calls before it failed (%s) and the %d retries of this run are spent; '
                                'nothing was sent' % (action, gave_up.msg, self.retries), http_status=gave_up.http_status)
        if delay > 0:
            self._sleep(delay)

    def succeeded(self):
        with self._lock:
            self._rounds, self._gave_up = 0, None

    def backoff(self, exc, attempt):
        """Wait before try number attempt + 2 of a call after the transient failure exc, or raise exc when the tries of
        the call (retries) or the rounds of the run are spent."""
        with self._lock:
            now = time.monotonic()
            if attempt >= self.retries:
                raise exc
            if self._resume_at > now and getattr(self._waited, 'until', None) != self._resume_at:
                delay = self._resume_at - now  # a round this thread has not waited for is in progress: join it
            elif self._rounds < self.retries:
                delay = min(MAX_DELAY, self._backoff_factor * 2 ** self._rounds) * random.uniform(0.5, 1.0)
                if exc.retry_after:
                    delay = max(delay, min(MAX_DELAY, exc.retry_after))
                self._rounds += 1
                self._resume_at = now + delay
            else:
                self._gave_up = exc
                raise exc
            self._waited.until = self._resume_at
        self._sleep(delay)


class CMClient:
    """Talks to one MIM CM site: one kept-alive requests.Session per worker thread, cookies kept for the whole run."""

    def __init__(self, url, auth, api_path=DEFAULT_API_PATH, validate_certs=True, ca_path=None, timeout=30,
                 client_cert=None, client_key=None, retries=3, backoff_factor=0.5, sleep=time.sleep, secrets=None):
        if requests is None:
            raise ConfigurationError('the Python library requests is required on the host that runs the module')
        self.timeout = _number('timeout', timeout, TIMEOUT_RANGE, 'seconds')
        self.retries = _number('retries', retries, RETRIES_RANGE, 'tries')
        backoff_factor = _number('backoff_factor', backoff_factor, BACKOFF_RANGE, 'seconds')
        if client_key and not client_cert:
            raise ConfigurationError('client_key was given without client_cert; give both for mutual TLS')
        for option, path in (('ca_path', ca_path), ('client_cert', client_cert), ('client_key', client_key)):
            if path and not os.path.isfile(path):
                raise ConfigurationError('%s %s is not a readable file; give the path of a PEM file' % (option, path))
        self.base_url = _join_url(url, api_path)
        self.auth = auth
        self.secrets = secrets if secrets is not None else Secrets()
        self._verify = (ca_path or True) if validate_certs else False
        self._cert = ((client_cert, client_key) if client_key else client_cert) if client_cert else None
        self._cookies = requests.cookies.RequestsCookieJar()
        self._local = threading.local()
        self._proxies = {}
        self._budget = _RetryBudget(self.retries, backoff_factor, sleep)
        self._watchdog = Watchdog()

    @property
    def session(self):
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
            self.auth.configure(session, self)
        return session

    def proxies_for(self, url):
        """The proxies that HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY give url's host; read once per host."""
        host = urlsplit(url)[:2]
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

    def request_url(self, request_id):
        """Return the URL of one request."""
        return '%s/requests/%s' % (self.base_url, request_id)

    def get_request(self, request_id):
        """Return the server's Request object of request_id; raise RequestNotFound when the server does not know the id."""
        url = self.request_url(request_id)
        response, data = self._send('GET', url, 'read request %s' % request_id, not_found_ok=True, expect=dict)
        if response.status_code == 404:
            raise RequestNotFound('request %s was not found at %s (HTTP 404). The MIM CM REST API may be disabled '
                                  '(Clm.WebApi.Enabled in the CM web.config) or api_path may be wrong'
                                  % (request_id, url), http_status=404, url=url)
        if data is None:
            raise RequestNotFound('request %s was not found: the server answered HTTP %s with no content'
                                  % (request_id, response.status_code), http_status=response.status_code, url=url)
        return check_identity(data, request_id, url)

    def search_requests(self, status=None, target_user=None):
        """GET /requests with the server-side filters; return the list of Request objects (empty after 204)."""
        params = dict((key, value) for key, value in (('status', status), ('targetuser', target_user)) if value)
        action = 'search requests%s' % ''.join(' %s=%s' % item for item in sorted(params.items()))
        return self._send('GET', '%s/requests' % self.base_url, action, params=params, expect=list)[1] or []

    def set_request_status(self, request_id, status):
        """PUT the final status, once; return the Request object the server answered, or None when the answer is not
        the Request object of request_id (204, an empty or odd body, another request's object): read it again then."""
        action = 'set request %s to %s' % (request_id, status)
        answer = self._send('PUT', self.request_url(request_id), action, json={'status': status}, retry=False, expect=object)[1]
        return answer if names_request(answer, request_id) else None

    def fetch_token(self, token_url, form, action):
        """POST an OAuth2 token request (ADFS client credentials); return the JSON answer. Never shows the form."""
        response, answer = self._send('POST', token_url, action, data=form, expect=dict)
        if answer is None:
            raise UnexpectedResponse('Failed to %s: %s answered HTTP %s without a JSON object'
                                     % (action, token_url, response.status_code), http_status=response.status_code, url=token_url)
        return answer

    def backoff(self, exc, attempt):
        """Wait before another try of a call after its transient failure exc, or re-raise exc (see _RetryBudget)."""
        self._budget.backoff(exc, attempt)

    def _send(self, method, url, action, json=None, data=None, params=None, not_found_ok=False, retry=True, expect=None):
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

    def _send_once(self, method, url, action, json, data, params, not_found_ok, expect):
        """Send one call, never following a redirect (a redirected PUT would silently become a GET); the whole answer
        must arrive within timeout and fit its size limit."""
        session = self.session  # authenticated first: an ADFS token fetch is a call of its own, with its own deadline
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
                    raise ConnectionFailure('Failed to %s: TLS error talking to %s: %s. %s' % (action, url, _reason(exc), _tls_hint(exc)), url=url)
                if isinstance(exc, requests.exceptions.Timeout):
                    raise ConnectionFailure('Failed to %s: no answer from %s within %s seconds (%s); check the server or raise '
                                            'timeout' % (action, url, self.timeout, _reason(exc)), url=url, retryable=True)
                raise ConnectionFailure('Failed to %s: could not connect to %s: %s; check url and that the server is reachable'
                                        % (action, url, _reason(exc)), url=url, retryable=True)
        if watch.expired:  # cut in the middle of the headers, the answer can look complete
            raise self._too_slow(action, url)
        if 300 <= status < 400:
            raise HTTPStatusError('Failed to %s: %s answered HTTP %s redirecting to %s; redirects are not followed, '
                                  'set url to the final address' % (action, url, status, response.headers.get('Location', '(no Location)')[:_MAX_MESSAGE]),
                                  http_status=status, url=url)
        if status >= 400 and not (not_found_ok and status == 404):
            raise HTTPStatusError('Failed to %s at %s with HTTP status %s %s: %s%s'
                                  % (action, url, status, (response.reason or '')[:_MAX_MESSAGE], server_message(response) or '(no message)',
                                     _hint(status, self.auth, response)),
                                  http_status=status, url=url, retryable=status in RETRY_STATUSES,
                                  retry_after=_retry_after(response))
        if not complete:
            raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with more than %d bytes, more than the MIM CM API '
                                     'sends for it; not read further' % (action, url, status, limit), http_status=status, url=url)
        if expect is None or status in (204, 404) or not body:
            return response, None
        return response, _decode(response, expect, url, action)

    def _too_slow(self, action, url):
        """The failure of a call cut off at its deadline (retryable: a slow moment may pass)."""
        return ConnectionFailure('Failed to %s: no complete answer from %s within the timeout of %s seconds; check the server '
                                 'or raise timeout' % (action, url, self.timeout), url=url, retryable=True)


def _decode(response, expect, url, action):
    """The JSON body as a dict (a Request object), a list of them, or any JSON (object); an unreadable body may be a
    transient fault."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with a body that is not JSON (or nested too deeply): %s'
                                 % (action, url, response.status_code, server_message(response)),
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


def _reason(exc):
    """The innermost cause of a transport error, without the noise of urllib3's wrappers."""
    reason = exc
    while reason.__context__ is not None and isinstance(reason.__context__, Exception):
        reason = reason.__context__
    return (str(reason) or type(reason).__name__)[:_MAX_MESSAGE]


def _retry_after(response):
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


def _tls_hint(exc):
    """Which option to look at for a TLS failure; verification is never switched off for the user."""
    text = str(exc).lower()
    if 'certificate required' in text or 'handshake failure' in text or 'unknown ca' in text or 'bad certificate' in text:
        return 'The server wants a client certificate it trusts: set client_cert and client_key'
    if 'eof occurred' in text or 'unexpected eof' in text:
        # with TLS 1.3 a refused client certificate often shows as the server closing the connection
        return 'The server closed the TLS connection; if the site requires client certificates, set client_cert and client_key'
    return ('Set ca_path to the PEM bundle of the CA that signed the server certificate '
            '(validate_certs: false is only for test servers)')


def _hint(status, auth, response=None):
    """A next step for the statuses a user can act on."""
    if status == 401:
        offered = ', '.join(offered_schemes(response)) if response is not None else ''
        return (' (authentication with %s was refused: check the credentials and that the site accepts this method%s)'
                % (auth.describe(), '; the server offers: %s' % offered if offered else ''))
    if status == 403:
        return ' (the account lacks the MIM CM permission for this request or action)'
    return ''
