# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small class per authentication method; each checks its own options and prepares the client's HTTP session.

Negotiate, Kerberos and NTLM use pyspnego (through _spnego_http, imported only when one of them is chosen, so that
the other methods do not pay for loading it).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import threading

from typing import Any, Optional

try:
    from requests.auth import AuthBase
except ImportError:
    AuthBase = object  # type: ignore[assignment,misc]

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import AuthenticationError, ConfigurationError, MissingLibrary
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets
from ansible_collections.mim.certificate_management.plugins.module_utils._transport import HttpTransport

HAS_SPNEGO = importlib.util.find_spec('spnego') is not None
HAS_GSSAPI = importlib.util.find_spec('gssapi') is not None

# What an HTTP header value may hold of a credential: a bearer token is visible ASCII (RFC 6750 b64token and JWTs);
# a Basic user-id or password is any text without control characters (RFC 7617).
_TOKEN = re.compile(r'[\x21-\x7e]+')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')


class _Auth:
    """An authentication method: the options it uses, checked before any network call."""

    name = ''
    uses: tuple[str, ...] = ()

    def __init__(self, username: Optional[str] = None, password: Optional[str] = None, token: Optional[str] = None,
                 service_principal: Optional[str] = None, token_url: Optional[str] = None, client_id: Optional[str] = None,
                 client_secret: Optional[str] = None, resource: Optional[str] = None, token_ca_path: Optional[str] = None,
                 token_validate_certs: bool = True) -> None:
        self.username = username
        self.password = password
        self.token = token
        self.service_principal = service_principal
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.resource = resource
        self.token_ca_path = token_ca_path
        self.token_validate_certs = token_validate_certs
        self.secrets = Secrets()  # replaced by the run's collector in prepare()
        self._check_unused()
        self.validate()

    def _check_unused(self) -> None:
        given = dict((key, value) for key, value in vars(self).items() if key in CREDENTIAL_OPTIONS and value)
        unused = sorted(key for key in given if key not in self.uses)
        if unused:
            raise ConfigurationError('auth is %s, which does not use %s; remove %s or choose the auth method it belongs to'
                                     % (self.name, ' and '.join(unused), 'them' if len(unused) > 1 else 'it'))

    def validate(self) -> None:
        """Raise ConfigurationError when an option this method needs is missing."""

    def prepare(self, timeout: float, retries: int, secrets: Secrets) -> None:
        """Get what every session needs once per run (an ADFS token), before the first session; secrets collects the
        credentials it derives."""
        self.secrets = secrets

    def configure(self, session: Any) -> None:
        """Prepare a new requests.Session so that every call it makes is authenticated."""

    def describe(self) -> str:
        """Name the method and the account, for error messages; never a secret."""
        account = self.username or self.client_id
        return 'auth %s as %s' % (self.name, account) if account else 'auth %s' % self.name


class NoAuth(_Auth):
    """No Authorization header, for servers (or simulators) that allow anonymous calls."""

    name = 'none'


class BasicAuth(_Auth):
    """HTTP Basic; only sensible over HTTPS."""

    name = 'basic'
    uses = ('username', 'password')

    def validate(self) -> None:
        if not self.username or self.password is None:
            raise ConfigurationError('auth basic needs username and password (or MIM_CM_USERNAME and MIM_CM_PASSWORD)')
        if ':' in self.username:
            raise ConfigurationError('username must not contain a colon with auth basic (RFC 7617)')
        for option in ('username', 'password'):
            if _CONTROL.search(getattr(self, option)):
                raise ConfigurationError('%s holds a control character (a line break, tab, ...), which auth basic cannot send; '
                                         'remove it, for example the line end of the file it was read from' % option)

    def configure(self, session: Any) -> None:
        # UTF-8, as RFC 7617 allows (requests would send latin-1 and fail on anything outside it)
        credentials = base64.b64encode(('%s:%s' % (self.username, self.password)).encode('utf-8')).decode('ascii')
        self.secrets.add(credentials)
        session.auth = _HeaderAuth('Basic %s' % credentials)


class BearerAuth(_Auth):
    """An OAuth2 access token: given as token, or fetched once per run from an ADFS token endpoint (client credentials)."""

    name = 'bearer'
    uses = ('token', 'token_url', 'client_id', 'client_secret', 'resource', 'token_ca_path')

    def __init__(self, **options: Any) -> None:
        self._lock = threading.Lock()
        super().__init__(**options)

    def validate(self) -> None:
        grant = (self.token_url, self.client_id, self.client_secret)
        if self.token and any(grant):
            raise ConfigurationError('auth bearer takes either token or token_url with client_id and client_secret, not both')
        if not self.token and not all(grant):
            raise ConfigurationError('auth bearer needs token (or MIM_CM_TOKEN), or token_url, client_id and client_secret '
                                     'to fetch one from ADFS')
        if self.token and not _TOKEN.fullmatch(self.token):
            raise ConfigurationError('token holds a character an access token cannot (a control character such as the line '
                                     'end of the file it was read from, a space or a non-ASCII character); remove it')
        if self.token_ca_path and not os.path.isfile(self.token_ca_path):
            raise ConfigurationError('token_ca_path %s is not a readable file; give the path of a PEM file' % self.token_ca_path)

    def prepare(self, timeout: float, retries: int, secrets: Secrets) -> None:
        super().prepare(timeout, retries, secrets)
        with self._lock:  # concurrent workers share one token, fetched once per run
            if not self.token and self.token_url:  # validate() makes sure that one of them is set
                self.token = self._fetch(self.token_url, timeout, retries)

    def configure(self, session: Any) -> None:
        session.auth = _HeaderAuth('Bearer %s' % self.token)

    def _fetch(self, token_url: str, timeout: float, retries: int) -> str:
        """POST the client credentials to the token endpoint, over a connection of its own with its own TLS settings."""
        verify = (self.token_ca_path or True) if self.token_validate_certs else False
        http = HttpTransport(verify, timeout=timeout, retries=retries, scrub=self.secrets.scrub)
        form = {'grant_type': 'client_credentials', 'client_id': self.client_id, 'client_secret': self.client_secret}
        if self.resource:
            form['resource'] = self.resource
        response, answer = http.call('POST', token_url, 'fetch an access token for client_id %s' % self.client_id,
                                     data=form, expect=dict)
        token = (answer or {}).get('access_token')
        if isinstance(token, str):
            self.secrets.add(token)
        if not token or not isinstance(token, str):
            raise AuthenticationError('the token endpoint %s answered HTTP %s without an access_token'
                                      % (token_url, response.status_code), url=token_url)
        if not _TOKEN.fullmatch(token):
            raise AuthenticationError('the token endpoint %s answered an access_token with a character a token cannot hold '
                                      '(a control character, a space or a non-ASCII character)' % token_url, url=token_url)
        return token


class _HeaderAuth(AuthBase):
    """Sets the Authorization header of every call."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __call__(self, request: Any) -> Any:
        request.headers['Authorization'] = self.value
        return request


class _SpnegoAuth(_Auth):
    """Windows Integrated Authentication through pyspnego, answering IIS's 401 challenge on the same connection."""

    uses = ('username', 'password', 'service_principal')
    schemes: tuple[str, ...] = ('Negotiate',)

    def validate(self) -> None:
        if not HAS_SPNEGO:
            raise MissingLibrary('pyspnego', reason='auth %s' % self.name)
        if self.password and not self.username:
            raise ConfigurationError('auth %s got a password without username' % self.name)
        if self.service_principal and not re.match(r'^[^/@\s]+/[^/@\s]+(@[^/@\s]+)?$', self.service_principal):
            raise ConfigurationError('service_principal %r is not of the form HTTP/host.example.com' % (self.service_principal,))

    def configure(self, session: Any) -> None:
        from ansible_collections.mim.certificate_management.plugins.module_utils._spnego_http import SpnegoHTTPAuth

        session.auth = SpnegoHTTPAuth(self)

    def context(self, host: str, channel_bindings: Any) -> Any:
        """A new pyspnego client context for one connection."""
        import spnego

        service, hostname = 'HTTP', host
        if self.service_principal:
            service, hostname = self.service_principal.split('@')[0].split('/', 1)
        return spnego.client(self.username, self.password, hostname=hostname, service=service,
                             channel_bindings=channel_bindings, protocol=self.name)


class NegotiateAuth(_SpnegoAuth):
    """Negotiate: Kerberos when a ticket or the password can get one, NTLM otherwise."""

    name = 'negotiate'
    schemes = ('Negotiate', 'NTLM')


class KerberosAuth(_SpnegoAuth):
    """Kerberos only: the ticket cache (KRB5CCNAME) without password, or username (UPN) and password without kinit."""

    name = 'kerberos'
    schemes = ('Negotiate', 'Kerberos')

    def validate(self) -> None:
        super().validate()
        if not HAS_GSSAPI:
            raise MissingLibrary('gssapi', reason='auth kerberos; pip install pyspnego[kerberos], which builds it with the MIT '
                                 'Kerberos libraries, libkrb5-dev or krb5-devel, and gcc')


class NtlmAuth(_SpnegoAuth):
    """NTLM only: DOMAIN\\user or UPN, and password."""

    name = 'ntlm'
    schemes = ('NTLM', 'Negotiate')

    def validate(self) -> None:
        super().validate()
        if not self.username or self.password is None:
            raise ConfigurationError('auth ntlm needs username (DOMAIN\\user or user@domain) and password')


AUTH_METHODS = dict((cls.name, cls) for cls in (NegotiateAuth, KerberosAuth, NtlmAuth, BasicAuth, BearerAuth, NoAuth))
# The options that name or prove an identity: a method that does not use one refuses it.
CREDENTIAL_OPTIONS = sorted(set().union(*(cls.uses for cls in AUTH_METHODS.values())))


def auth_from_options(method: str, **options: Any) -> _Auth:
    """Return the authentication object for the auth option; raise ConfigurationError on a bad combination."""
    try:
        cls = AUTH_METHODS[method]
    except KeyError:
        raise ConfigurationError('auth %r is not supported; choose one of %s' % (method, ', '.join(sorted(AUTH_METHODS))))
    return cls(**options)
