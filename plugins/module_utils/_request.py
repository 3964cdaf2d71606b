# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about requests: the GUIDs that name them, reading a Request object's fields as a server sent them, and the
status table with the final actions: the only place where status numbers meet names."""

from __future__ import annotations

import collections
import re

from typing import Any, Iterable, Mapping, Optional

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse

_GUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def canonical_request_id(value: Any, option: str = 'request_id') -> str:
    """Return a GUID (of a request, or of what option names) in the form the API takes (lower case, no braces); raise
    ConfigurationError otherwise."""
    text = guid_or_none(value)
    if text is None:
        raise ConfigurationError('%s %r is not a GUID; expected 8-4-4-4-12 hexadecimal digits, '
                                 'for example 2f1b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d (braces are allowed)' % (option, value))
    return text


def guid_or_none(value: Any) -> Optional[str]:
    """A GUID in canonical form (lower case, no braces), or None when value is not one."""
    text = value.strip().lower() if isinstance(value, str) else ''
    if text.startswith('{') and text.endswith('}'):
        text = text[1:-1]
    return text if _GUID.fullmatch(text) else None


def canonical_request_ids(values: Optional[Iterable[Any]]) -> list[str]:
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


def field(request: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A field of a Request object by name in any case (the API sends PascalCase; servers and proxies may not)."""
    value = request.get(name, _MISSING)
    if value is not _MISSING:
        return value
    lowered = name.lower()
    return next((value for key, value in request.items() if str(key).lower() == lowered), default)


def _uuid_of(answer: Any) -> Optional[str]:
    """The Uuid an answer names, canonical, or None."""
    sent = field(answer, 'Uuid') if isinstance(answer, dict) else None
    return sent.strip().lower().strip('{}') if isinstance(sent, str) else None


def check_identity(request: Any, request_id: str, url: Optional[str] = None, kind: str = 'request') -> dict[str, Any]:
    """Return request if it is the object (a Request, or the kind named) of request_id; raise UnexpectedResponse
    otherwise.

    An answer about another object (a misrouting proxy, a server bug) must never be taken for this one's state.
    """
    found = _uuid_of(request)
    if found != request_id:
        what = '%s %s' % (kind, found[:64]) if found else 'an object without a Uuid'
        raise UnexpectedResponse('asked for %s %s, the server answered with %s; nothing was done on the strength '
                                 'of that answer' % (kind, request_id, what), url=url)
    return request


def names_request(answer: Any, request_id: str) -> bool:
    """Tell whether an answer is the Request object of request_id, worth taking as its new state."""
    return _uuid_of(answer) == request_id and field(answer, 'Status') is not None


StatusEntry = collections.namedtuple('StatusEntry', ['number', 'name', 'final', 'sources'])

# Where a code is documented: the FIM CM SQL API procedure externalGetStatus lists the CM database's codes for all
# eight RequestStatus members; Microsoft's REST pages show two of them in their GET and PUT examples.
SQL_API = 'SQL API externalGetStatus'
REST_API = 'REST API example'

STATUS_TABLE = (
    StatusEntry(0, 'None', False, (SQL_API,)),
    StatusEntry(3, 'Approved', False, (SQL_API, REST_API)),
    StatusEntry(4, 'Denied', True, (SQL_API,)),
    StatusEntry(8, 'Completed', True, (SQL_API, REST_API)),
    StatusEntry(9, 'Failed', True, (SQL_API,)),
    StatusEntry(16, 'Pending', False, (SQL_API,)),
    StatusEntry(17, 'Canceled', True, (SQL_API,)),
    StatusEntry(18, 'Executing', False, (SQL_API,)),
)

# Names a server may send for a status that are not RequestStatus members: a server variant that reports an abandoned
# request by the action's name means what RequestOperations.Abandon documents, Failed.
STATUS_ALIASES = {'abandoned': 'Failed'}

FinalAction = collections.namedtuple('FinalAction', ['choice', 'put_value', 'reaches', 'verb'])

# What a user may ask for: the value PUT /requests/{id} sends, and the status the request reads once it is done.
# Abandoned is an action, not a status: an abandoned request reads Failed.
FINAL_ACTIONS = (
    FinalAction('completed', 'Completed', 'Completed', 'marked Completed'),
    FinalAction('canceled', 'Canceled', 'Canceled', 'marked Canceled'),
    FinalAction('abandoned', 'Abandoned', 'Failed', 'abandoned (which leaves it Failed)'),
)

REPORT_HINT = ('if your MIM CM server really sends it, please report it with the server version at '
               'https://github.com/mim-certificate-management/mim.certificate_management/issues')

_BY_NUMBER = {entry.number: entry for entry in STATUS_TABLE}
_BY_NAME = dict({entry.name.lower(): entry for entry in STATUS_TABLE},
                **{alias: entry for entry in STATUS_TABLE for alias, name in STATUS_ALIASES.items() if entry.name == name})


def status_entry(value: Any) -> StatusEntry:
    """Return the table entry for a status sent by a server (a number, a numeric string or a name, any case).

    A value outside the table is never taken for a known status: it raises UnexpectedResponse.
    """
    entry = None
    if isinstance(value, int) and not isinstance(value, bool):
        entry = _BY_NUMBER.get(value)
    elif isinstance(value, str):
        text = value.strip()
        entry = _BY_NUMBER.get(int(text)) if text.isdigit() else _BY_NAME.get(text.lower())
    if entry is None:
        raise UnexpectedResponse('the server sent the request status %r, which is not in the MIM CM status table (%s); '
                                 'refusing to guess what it means; %s'
                                 % (value, ', '.join('%d %s' % (e.number, e.name) for e in STATUS_TABLE), REPORT_HINT))
    return entry


def status_name(value: Any) -> str:
    """Return the canonical name (Completed, ...) of a status sent by a server."""
    return status_entry(value).name


def request_status(request: Mapping[str, Any], url: Optional[str] = None) -> str:
    """Return the canonical status name of a Request object as the server sent it."""
    value = field(request, 'Status')
    if value is None:
        raise UnexpectedResponse('the server sent a Request object without a Status field', url=url)
    try:
        return status_name(value)
    except UnexpectedResponse as exc:
        exc.url = url
        raise


def is_final(name: str) -> bool:
    """Tell whether a canonical status name is final: nothing leaves a final status."""
    return _BY_NAME[name.lower()].final


def final_action(choice: str) -> FinalAction:
    """Return the FinalAction a user asked for (completed, canceled, abandoned; any case)."""
    for action in FINAL_ACTIONS:
        if action.choice == choice.lower():
            return action
    raise ConfigurationError("status %r is not one of %s" % (choice, ", ".join(action.choice for action in FINAL_ACTIONS)))


RequestTypeEntry = collections.namedtuple('RequestTypeEntry', ['name', 'number', 'sources'])

# The request types POST /requests takes, by name. Their numbers in a Request object's RequestType are documented for
# two only, by Microsoft's REST examples (an Enroll request shows 1, an Unblock request 5); the others are unknown.
REQUEST_TYPES = (
    RequestTypeEntry('Enroll', 1, (REST_API,)),
    RequestTypeEntry('Renew', None, ()),
    RequestTypeEntry('Revoke', None, ()),
    RequestTypeEntry('Retire', None, ()),
    RequestTypeEntry('Unblock', 5, (REST_API,)),
    RequestTypeEntry('Recover', None, ()),
    RequestTypeEntry('OnlineUpdate', None, ()),
    RequestTypeEntry('Reinstate', None, ()),
    RequestTypeEntry('Duplicate', None, ()),
    RequestTypeEntry('RecoverOnBehalf', None, ()),
    RequestTypeEntry('OfflineUnblock', None, ()),
    RequestTypeEntry('TemporaryCards', None, ()),
)
OPEN_STATUSES = ('Pending', 'Approved', 'Executing')


def request_type(name: str) -> RequestTypeEntry:
    """The entry of a request type name (any case)."""
    for entry in REQUEST_TYPES:
        if entry.name.lower() == name.strip().lower():
            return entry
    raise ConfigurationError('type %r is not one of %s' % (name, ', '.join(entry.name for entry in REQUEST_TYPES)))


def type_matches(value: Any, wanted: RequestTypeEntry) -> Optional[bool]:
    """Whether a RequestType as a server sent it is the wanted type: True, False, or None when it cannot be told (a
    number whose type is not documented, compared with a type whose number is not documented)."""
    if isinstance(value, str) and not value.strip().isdigit():
        return value.strip().lower() == wanted.name.lower()
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if wanted.number is not None:
        return number == wanted.number
    return False if any(entry.number == number for entry in REQUEST_TYPES) else None
