# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIM CM REST client: the site's address and the request routes, over the HTTP transport."""

from __future__ import annotations

import os
import re
import time

from typing import Any, Callable, Optional, Protocol
from urllib.parse import urlsplit

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, MimCmError, RequestNotFound, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._request import check_identity, names_request
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets
from ansible_collections.mim.certificate_management.plugins.module_utils._transport import HttpTransport

DEFAULT_API_PATH = '/CertificateManagement/api/v1.0'


class Auth(Protocol):
    """What the client needs of an authentication method (_auth has one class per method)."""

    def prepare(self, timeout: float, retries: int, secrets: Secrets) -> None:
        """Get what every session needs once per run, before the first session."""

    def configure(self, session: Any) -> None:
        """Make every call of a new requests.Session authenticated."""

    def describe(self) -> str:
        """Name the method and the account, never a secret."""


# A plain path: segments of unreserved characters (no query, fragment, percent-encoding, dot segments or backslashes).
_API_PATH = re.compile(r'/?([A-Za-z0-9_~-][A-Za-z0-9._~-]*(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*)?/?')
_HOST = re.compile(r'[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]')


def site_url(url: Optional[str], api_path: Optional[str]) -> str:
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
    host = parts.netloc.rsplit(':', 1)[0] if port is not None else parts.netloc
    if (parts.scheme.lower() not in ('http', 'https') or not parts.hostname or parts.query or parts.fragment
            or not _HOST.fullmatch(host) or port == 0):
        raise ConfigurationError('url %r is not an http:// or https:// address of the MIM CM site, '
                                 'for example https://cm.contoso.com' % (url,))
    api_path = api_path or ''
    if not _API_PATH.fullmatch(api_path) or 'requests' in api_path.lower().split('/'):
        raise ConfigurationError('api_path %r is not a plain path such as %s: no query (?), fragment (#), percent-encoding, '
                                 'dot segments or backslashes, and no requests segment' % (api_path, DEFAULT_API_PATH))
    path = '/'.join(part.strip('/') for part in (parts.path, api_path) if part.strip('/'))
    return ('%s://%s/%s' % (parts.scheme.lower(), parts.netloc, path)).rstrip('/')


def check_files(**paths: Optional[str]) -> None:
    """ConfigurationError naming the first option whose file does not exist where the module runs."""
    for option, path in paths.items():
        if path and not os.path.isfile(path):
            raise ConfigurationError('%s %s is not a readable file; give the path of a PEM file' % (option, path))


class CMClient:
    """Talks to one MIM CM site with the authentication auth (see _auth); every answer about a request is checked to be
    about that request."""

    def __init__(self, url: Optional[str], auth: Auth, api_path: str = DEFAULT_API_PATH, validate_certs: bool = True,
                 ca_path: Optional[str] = None, timeout: float = 30, client_cert: Optional[str] = None,
                 client_key: Optional[str] = None, retries: int = 3, backoff_factor: float = 0.5,
                 sleep: Callable[[float], Any] = time.sleep, secrets: Optional[Secrets] = None) -> None:
        if client_key and not client_cert:
            raise ConfigurationError('client_key was given without client_cert; give both for mutual TLS')
        check_files(ca_path=ca_path, client_cert=client_cert, client_key=client_key)
        self.base_url = site_url(url, api_path)
        self.auth = auth
        self.secrets = secrets if secrets is not None else Secrets()
        cert = ((client_cert, client_key) if client_key else client_cert) if client_cert else None
        self.http = HttpTransport((ca_path or True) if validate_certs else False, cert, timeout, retries, backoff_factor, sleep,
                                  authenticate=self._authenticate, describe=auth.describe, scrub=self.secrets.scrub)

    def prepare(self) -> None:
        """Get what every session needs once per run (an ADFS token) before the sessions exist; safe to call again."""
        self.auth.prepare(self.http.timeout, self.http.retries, self.secrets)

    def _authenticate(self, session: Any) -> None:
        self.prepare()
        self.auth.configure(session)

    @property
    def retries(self) -> int:
        return self.http.retries

    def backoff(self, exc: MimCmError, attempt: int) -> None:
        """Wait before another try after the transient failure exc, or re-raise it (the run's shared retry budget)."""
        self.http.backoff(exc, attempt)

    def request_url(self, request_id: str) -> str:
        """Return the URL of one request."""
        return '%s/requests/%s' % (self.base_url, request_id)

    def get_request(self, request_id: str) -> dict[str, Any]:
        """Return the server's Request object of request_id; raise RequestNotFound when the server does not know the id."""
        url = self.request_url(request_id)
        response, data = self.http.call('GET', url, 'read request %s' % request_id, not_found_ok=True, expect=dict)
        if response.status_code == 404:
            raise RequestNotFound('request %s was not found at %s (HTTP 404). The MIM CM REST API may be disabled '
                                  '(Clm.WebApi.Enabled in the CM web.config) or api_path may be wrong'
                                  % (request_id, url), http_status=404, url=url)
        if data is None:
            raise RequestNotFound('request %s was not found: the server answered HTTP %s with no content'
                                  % (request_id, response.status_code), http_status=response.status_code, url=url)
        return check_identity(data, request_id, url)

    def search_requests(self, status: Optional[str] = None, target_user: Optional[str] = None) -> list[dict[str, Any]]:
        """GET /requests with the server-side filters; return the list of Request objects (empty after 204)."""
        params = dict((key, value) for key, value in (('status', status), ('targetuser', target_user)) if value)
        action = 'search requests%s' % ''.join(' %s=%s' % item for item in sorted(params.items()))
        return self.http.call('GET', '%s/requests' % self.base_url, action, params=params, expect=list)[1] or []

    def set_request_status(self, request_id: str, status: str) -> Optional[dict[str, Any]]:
        """PUT the final status, once; return the Request object the server answered, or None when the answer is not
        the Request object of request_id (204, an empty or odd body, another request's object): read it again then."""
        action = 'set request %s to %s' % (request_id, status)
        answer = self.http.call('PUT', self.request_url(request_id), action, json={'status': status}, retry=False, expect=object)[1]
        return answer if names_request(answer, request_id) else None

    def create_request(self, body: dict[str, Any]) -> Any:
        """POST /requests once, never retried here (the caller looks for the request it may have created first);
        return what the server answered (the new request's URI as a JSON string, as documented)."""
        return self.http.call('POST', '%s/requests' % self.base_url, 'create a request', json=body, retry=False, expect=object)[1]

    def generation_options(self, request_id: str) -> list[dict[str, Any]]:
        """GET the certificate request generation options of a request: one entry per CSR to submit, in order; an empty
        list after 204."""
        return self.get_list('requests/%s/certificaterequestgenerationoptions' % request_id,
                             'read the certificate request generation options of request %s' % request_id)

    def submit_certificate_data(self, request_id: str, body: dict[str, Any]) -> Optional[list[dict[str, Any]]]:
        """POST the CSRs of a request once, never retried here (the certificates it issues cannot be read again, so the
        caller reads the request before anything is sent again); return the Certificate objects answered, or None when
        the answer has no content."""
        return self.http.call('POST', '%s/requests/%s/certificatedata' % (self.base_url, request_id),
                              'submit the certificate requests of request %s' % request_id, json=body, retry=False, expect=list)[1]

    def get_list(self, path: str, action: str, params: Optional[dict[str, str]] = None, one_or_list: bool = False) -> list[Any]:
        """GET a route that answers a list (path below the API base); an empty list after 204. With one_or_list, a
        route documented to answer one object (GET /smartcards?cardid=) may answer either."""
        if not one_or_list:
            return self.http.call('GET', '%s/%s' % (self.base_url, path), action, params=params, expect=list)[1] or []
        url = '%s/%s' % (self.base_url, path)
        answer = self.http.call('GET', url, action, params=params, expect=object)[1]
        answer = [answer] if isinstance(answer, dict) else answer or []
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            raise UnexpectedResponse('Failed to %s: %s answered JSON that is neither an object nor a list of objects' % (action, url), url=url)
        return answer

    def get_object(self, path: str, action: str, kind: Optional[str] = None, object_id: Optional[str] = None) -> Optional[dict[str, Any]]:
        """GET a route that answers one object; None after 204. With kind and object_id the answer must be that object."""
        url = '%s/%s' % (self.base_url, path)
        answer = self.http.call('GET', url, action, expect=dict)[1]
        if answer is not None and kind and object_id:
            check_identity(answer, object_id, url, kind)
        return answer

    def get_names(self, path: str, action: str) -> list[str]:
        """GET a route that answers a list of names (the operations of a profile or card); empty after 204."""
        url = '%s/%s' % (self.base_url, path)
        answer = self.http.call('GET', url, action, expect=object)[1]
        if answer is None:
            return []
        if not isinstance(answer, list) or not all(isinstance(item, str) for item in answer):
            raise UnexpectedResponse('Failed to %s: %s answered JSON that is not a list of names' % (action, url), url=url)
        return answer
