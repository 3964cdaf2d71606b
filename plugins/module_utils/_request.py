# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about requests: the GUIDs that name them, and reading a Request object's fields as a server sent them."""

from __future__ import annotations

import re

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse

_GUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def canonical_request_id(value):
    """Return a request GUID in the form the API takes (lower case, no braces); raise ConfigurationError otherwise."""
    text = value.strip().lower() if isinstance(value, str) else ''
    if text.startswith('{') and text.endswith('}'):
        text = text[1:-1]
    if not _GUID.fullmatch(text):
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


_MISSING = object()


def field(request, name, default=None):
    """A field of a Request object by name in any case (the API sends PascalCase; servers and proxies may not)."""
    value = request.get(name, _MISSING)
    if value is not _MISSING:
        return value
    lowered = name.lower()
    return next((value for key, value in request.items() if str(key).lower() == lowered), default)


def _uuid_of(answer):
    """The Uuid an answer names, canonical, or None."""
    sent = field(answer, 'Uuid') if isinstance(answer, dict) else None
    return sent.strip().lower().strip('{}') if isinstance(sent, str) else None


def check_identity(request, request_id, url=None):
    """Return request if it is the Request object of request_id; raise UnexpectedResponse otherwise.

    An answer about another request (a misrouting proxy, a server bug) must never be taken for this one's state.
    """
    found = _uuid_of(request)
    if found != request_id:
        what = 'request %s' % found[:64] if found else 'an object without a Uuid'
        raise UnexpectedResponse('asked for request %s, the server answered with %s; nothing was done on the strength '
                                 'of that answer' % (request_id, what), url=url)
    return request


def names_request(answer, request_id):
    """Tell whether an answer is the Request object of request_id, worth taking as its new state."""
    return _uuid_of(answer) == request_id and field(answer, 'Status') is not None
