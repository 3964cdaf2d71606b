# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIM CM request status table: the only place where status numbers meet names."""

from __future__ import annotations

import collections

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse

StatusEntry = collections.namedtuple('StatusEntry', ['number', 'name', 'final', 'documented'])

# Microsoft documents only 3 = Approved and 8 = Completed; the other numbers follow
# the order of Microsoft.Clm.Shared.Requests.RequestStatus and are inferred.
STATUS_TABLE = (
    StatusEntry(0, 'None', False, False),
    StatusEntry(1, 'Pending', False, False),
    StatusEntry(2, 'Denied', True, False),
    StatusEntry(3, 'Approved', False, True),
    StatusEntry(4, 'Executing', False, False),
    StatusEntry(5, 'Failed', True, False),
    StatusEntry(6, 'Canceled', True, False),
    StatusEntry(7, 'Abandoned', True, False),
    StatusEntry(8, 'Completed', True, True),
)

# The statuses a client may ask for with PUT /requests/{id}.
SETTABLE_STATUSES = ('Completed', 'Canceled', 'Abandoned')

_BY_NUMBER = {entry.number: entry for entry in STATUS_TABLE}
_BY_NAME = {entry.name.lower(): entry for entry in STATUS_TABLE}


def status_entry(value):
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
        raise UnexpectedResponse('the server sent the request status %r, which is not in the MIM CM status table '
                                 '(%s); refusing to guess what it means' % (value, ', '.join(e.name for e in STATUS_TABLE)))
    return entry


def status_name(value):
    """Return the canonical name (Completed, ...) of a status sent by a server."""
    return status_entry(value).name


def request_status(request, url=None):
    """Return the canonical status name of a Request object as the server sent it."""
    for key, value in request.items():
        if str(key).lower() == 'status':
            return status_name(value)
    raise UnexpectedResponse('the server sent a Request object without a Status field', url=url)


def is_final(name):
    """Tell whether a canonical status name is final: nothing leaves a final status."""
    return _BY_NAME[name.lower()].final


def settable_status(choice):
    """Return the canonical name of a status a user asked for (completed -> Completed)."""
    for name in SETTABLE_STATUSES:
        if name.lower() == choice.lower():
            return name
    raise ConfigurationError("status %r is not one of %s" % (choice, ", ".join(s.lower() for s in SETTABLE_STATUSES)))
