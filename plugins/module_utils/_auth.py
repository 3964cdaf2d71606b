# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small class per authentication method; each checks its own options and prepares the HTTP session."""

from __future__ import annotations

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError


class _Auth:
    """An authentication method: the options it needs, checked before any network call."""

    name = ''
    uses = ()

    def __init__(self, username=None, password=None, token=None):
        self.username = username
        self.password = password
        self.token = token
        self._check_unused()
        self.validate()

    def _check_unused(self):
        given = {'username': self.username, 'password': self.password, 'token': self.token}
        unused = sorted(key for key, value in given.items() if value and key not in self.uses)
        if unused:
            raise ConfigurationError('auth is %s, which does not use %s; remove %s or choose the auth method it belongs to'
                                     % (self.name, ' and '.join(unused), 'them' if len(unused) > 1 else 'it'))

    def validate(self):
        """Raise ConfigurationError when an option this method needs is missing."""

    def apply(self, session):
        """Prepare a requests.Session so that every call it makes is authenticated."""

    def describe(self):
        """Name the method and the account, for error messages; never a secret."""
        return 'auth %s as %s' % (self.name, self.username) if self.username else 'auth %s' % self.name


class NoAuth(_Auth):
    """No Authorization header, for servers (or simulators) that allow anonymous calls."""

    name = 'none'


class BasicAuth(_Auth):
    """HTTP Basic over the session; only sensible over HTTPS."""

    name = 'basic'
    uses = ('username', 'password')

    def validate(self):
        if not self.username or self.password is None:
            raise ConfigurationError('auth basic needs username and password (or MIM_CM_USERNAME and MIM_CM_PASSWORD)')

    def apply(self, session):
        session.auth = (self.username, self.password)


class BearerAuth(_Auth):
    """A static OAuth2 access token (for example one issued by ADFS) sent as a Bearer header."""

    name = 'bearer'
    uses = ('token',)

    def validate(self):
        if not self.token:
            raise ConfigurationError('auth bearer needs token (or MIM_CM_TOKEN)')

    def apply(self, session):
        session.headers['Authorization'] = 'Bearer %s' % self.token


AUTH_METHODS = {cls.name: cls for cls in (NoAuth, BasicAuth, BearerAuth)}


def auth_from_options(method, username=None, password=None, token=None):
    """Return the authentication object for the auth option; raise ConfigurationError on a bad combination."""
    try:
        cls = AUTH_METHODS[method]
    except KeyError:
        raise ConfigurationError('auth %r is not supported; choose one of %s' % (method, ', '.join(sorted(AUTH_METHODS))))
    return cls(username=username, password=password, token=token)
