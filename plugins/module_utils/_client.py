# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIM CM REST client: HTTP sessions, URL building, GET/PUT and error decoding."""

from __future__ import annotations

import datetime
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

DEFAULT_API_PATH = '/CertificateManagement/api/v1.0'
USER_AGENT = 'ansible-mim.certificate_management'

_GUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
_HTML_TITLE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r'<[^>]+>')
_MESSAGE_KEYS = ('message', 'exceptionmessage', 'messagedetail', 'error_description', 'error')
_MAX_MESSAGE = 500
# Transient answers worth another try: a busy or restarting server, a load balancer without a healthy backend.
RETRY_STATUSES = (408, 429, 502, 503, 504)
MAX_DELAY = 30  # seconds: no single wait, Retry-After included, is longer


def canonical_request_id(value):
    """Return a request GUID in the form the API takes (lower case, no braces); raise ConfigurationError otherwise."""
    text = value.strip().lower() if isinstance(value, str) else ''
    if text.startswith('{') and text.endswith('}'):
        text = text[1:-1]
    if not _GUID.match(text):
        raise ConfigurationError('request_id %r is not a GUID; expected 8-4-4-4-12 hexadecimal digits, '
                                 'for example 2f1b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d (braces are allowed)' % (value,))
    return text


def canonical_request_ids(values):
    """Canonical form of many GUIDs; one ConfigurationError naming every malformed one."""
    canonical, bad = [], []
    for value in values or []:
        try:
            canonical.append(canonical_request_id(value))
        except ConfigurationError:
            bad.append(value)
    if bad:
        raise ConfigurationError('request_ids has %d value(s) that are not GUIDs: %s; expected 8-4-4-4-12 hexadecimal digits'
                                 % (len(bad), ', '.join(repr(value) for value in bad)))
    if not canonical:
        raise ConfigurationError('request_ids is empty; give at least one request GUID')
    return canonical


def server_message(response):
    """Return the server's own words from an error answer: JSON Message, a JSON string, or the text of an HTML page."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        lowered = {str(key).lower(): value for key, value in data.items()}
        parts = [str(lowered[key]) for key in _MESSAGE_KEYS if lowered.get(key)]
        if parts:
            return ' '.join(parts)
    elif isinstance(data, str) and data:
        return data
    text = response.text or ''
    title = _HTML_TITLE.search(text)
    if title:
        text = title.group(1)
    text = ' '.join(_HTML_TAG.sub(' ', text).split())
    return text[:_MAX_MESSAGE] + ('...' if len(text) > _MAX_MESSAGE else '')


def _join_url(url, api_path):
    """Join the site URL and the API path, validating the URL before any network call."""
    if not url:
        raise ConfigurationError('url is required: the MIM CM site, for example https://cm.contoso.com (or set MIM_CM_URL)')
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ('http', 'https') or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError('url %r is not an http:// or https:// address of the MIM CM site, '
                                 'for example https://cm.contoso.com' % (url,))
    if parts.username or parts.password:
        raise ConfigurationError('url must not carry credentials; use username and password instead')
    path = '/'.join(part.strip('/') for part in (parts.path, api_path or '') if part.strip('/'))
    return ('%s://%s/%s' % (parts.scheme.lower(), parts.netloc, path)).rstrip('/')


class CMClient:
    """Talks to one MIM CM site over one requests.Session (keep-alive, cookies kept for the whole run)."""

    def __init__(self, url, auth, api_path=DEFAULT_API_PATH, validate_certs=True, ca_path=None, timeout=30,
                 client_cert=None, client_key=None, retries=3, backoff_factor=0.5, sleep=time.sleep):
        if requests is None:
            raise ConfigurationError('the Python library requests is required on the host that runs the module')
        if timeout is None or timeout <= 0:
            raise ConfigurationError('timeout must be a positive number of seconds, not %r' % (timeout,))
        if retries is None or retries < 0:
            raise ConfigurationError('retries must be zero or more, not %r' % (retries,))
        if backoff_factor is None or backoff_factor < 0:
            raise ConfigurationError('backoff_factor must be zero or more seconds, not %r' % (backoff_factor,))
        if client_key and not client_cert:
            raise ConfigurationError('client_key was given without client_cert; give both for mutual TLS')
        for option, path in (('ca_path', ca_path), ('client_cert', client_cert), ('client_key', client_key)):
            if path and not os.path.isfile(path):
                raise ConfigurationError('%s %s is not a readable file; give the path of a PEM file' % (option, path))
        self.base_url = _join_url(url, api_path)
        self.auth = auth
        self.timeout = timeout
        self._verify = (ca_path or True) if validate_certs else False
        self._cert = ((client_cert, client_key) if client_key else client_cert) if client_cert else None
        self._cookies = requests.cookies.RequestsCookieJar()
        self._local = threading.local()
        self._proxies = {}
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.retries_made = 0
        self._sleep = sleep
        self._lock = threading.Lock()

    @property
    def session(self):
        """This thread's requests.Session: one kept-alive connection, authenticated once; cookies shared by all threads.

        Windows authentication binds to a connection, so concurrent workers each keep their own instead of passing
        connections around a shared pool in the middle of a handshake.
        """
        session = getattr(self._local, 'session', None)
        if session is None:
            session = self._local.session = requests.Session()
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
        """Return the server's Request object; raise RequestNotFound when the server does not know the id."""
        url = self.request_url(request_id)
        response, data = self._send('GET', url, 'read request %s' % request_id, not_found_ok=True, expect=dict)
        if response.status_code == 404:
            raise RequestNotFound('request %s was not found at %s (HTTP 404). The MIM CM REST API may be disabled '
                                  '(Clm.WebApi.Enabled in the CM web.config) or api_path may be wrong'
                                  % (request_id, url), http_status=404, url=url)
        if data is None:
            raise RequestNotFound('request %s was not found: the server answered HTTP %s with no content'
                                  % (request_id, response.status_code), http_status=response.status_code, url=url)
        return data

    def search_requests(self, status=None, target_user=None):
        """GET /requests with the server-side filters; return the list of Request objects (empty after 204)."""
        params = dict((key, value) for key, value in (('status', status), ('targetuser', target_user)) if value)
        action = 'search requests%s' % ''.join(' %s=%s' % item for item in sorted(params.items()))
        return self._send('GET', '%s/requests' % self.base_url, action, params=params, expect=list)[1] or []

    def set_request_status(self, request_id, status):
        """PUT the final status, once; return the Request object of a 200 answer, or None after 204 No Content."""
        action = 'set request %s to %s' % (request_id, status)
        return self._send('PUT', self.request_url(request_id), action, json={'status': status}, retry=False, expect=dict)[1]

    def fetch_token(self, token_url, form, action):
        """POST an OAuth2 token request (ADFS client credentials); return the JSON answer. Never shows the form."""
        response, answer = self._send('POST', token_url, action, data=form, expect=dict)
        if answer is None:
            raise UnexpectedResponse('Failed to %s: %s answered HTTP %s without a JSON object'
                                     % (action, token_url, response.status_code), http_status=response.status_code, url=token_url)
        return answer

    def pause(self, attempt, retry_after=None):
        """Wait before try number attempt + 2: exponential backoff with jitter, at least what Retry-After asked (bounded)."""
        delay = min(MAX_DELAY, self.backoff_factor * 2 ** attempt) * random.uniform(0.5, 1.0)
        if retry_after:
            delay = max(delay, min(MAX_DELAY, retry_after))
        with self._lock:
            self.retries_made += 1
        self._sleep(delay)

    def _send(self, method, url, action, json=None, data=None, params=None, not_found_ok=False, retry=True, expect=None):
        """Send a call; return (response, its JSON decoded as expect (dict or list) or None when empty).

        With retry, transient failures (unreadable bodies included) are tried again up to `retries` times: only for
        calls that are safe to repeat.
        """
        attempt = 0
        while True:
            try:
                return self._send_once(method, url, action, json, data, params, not_found_ok, expect)
            except MimCmError as exc:
                if not (retry and exc.retryable) or attempt >= self.retries:
                    if attempt:
                        exc.msg += ' (%d attempts)' % (attempt + 1)
                        exc.args = (exc.msg,)
                    raise
                self.pause(attempt, exc.retry_after)
                attempt += 1

    def _send_once(self, method, url, action, json, data, params, not_found_ok, expect):
        """Send one call, never following a redirect (a redirected PUT would silently become a GET)."""
        try:
            response = self.session.request(method, url, json=json, data=data, params=params, timeout=self.timeout,
                                            allow_redirects=False, proxies=self.proxies_for(url))
        except requests.exceptions.SSLError as exc:
            raise ConnectionFailure('Failed to %s: TLS error talking to %s: %s. %s' % (action, url, _reason(exc), _tls_hint(exc)), url=url)
        except requests.exceptions.Timeout as exc:
            raise ConnectionFailure('Failed to %s: no answer from %s within %s seconds (%s); check the server or raise timeout'
                                    % (action, url, self.timeout, _reason(exc)), url=url, retryable=True)
        except requests.exceptions.RequestException as exc:
            raise ConnectionFailure('Failed to %s: could not connect to %s: %s; check url and that the server is reachable'
                                    % (action, url, _reason(exc)), url=url, retryable=True)
        status = response.status_code
        if 300 <= status < 400:
            raise HTTPStatusError('Failed to %s: %s answered HTTP %s redirecting to %s; redirects are not followed, '
                                  'set url to the final address' % (action, url, status, response.headers.get('Location', '(no Location)')),
                                  http_status=status, url=url)
        if status >= 400 and not (not_found_ok and status == 404):
            raise HTTPStatusError('Failed to %s at %s with HTTP status %s %s: %s%s'
                                  % (action, url, status, response.reason or '', server_message(response) or '(no message)',
                                     _hint(status, self.auth, response)),
                                  http_status=status, url=url, retryable=status in RETRY_STATUSES,
                                  retry_after=_retry_after(response))
        if expect is None or status in (204, 404) or not response.content:
            return response, None
        return response, _decode(response, expect, url, action)


def _decode(response, expect, url, action):
    """The JSON body as a dict (a Request object) or a list of them; an unreadable body may be a transient fault."""
    try:
        data = response.json()
    except ValueError:
        raise UnexpectedResponse('Failed to %s: %s answered HTTP %s with a body that is not JSON: %s'
                                 % (action, url, response.status_code, server_message(response)),
                                 http_status=response.status_code, url=url, retryable=True)
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
    return str(reason) or type(reason).__name__


def _retry_after(response):
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    value = (response.headers.get('Retry-After') or '').strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) if moment.tzinfo else None


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
