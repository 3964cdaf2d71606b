# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MIM CM request status table and the final actions: the only place where status numbers meet names."""

from __future__ import annotations

import collections

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._request import field

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
        raise UnexpectedResponse('the server sent the request status %r, which is not in the MIM CM status table (%s); '
                                 'refusing to guess what it means; %s'
                                 % (value, ', '.join('%d %s' % (e.number, e.name) for e in STATUS_TABLE), REPORT_HINT))
    return entry


def status_name(value):
    """Return the canonical name (Completed, ...) of a status sent by a server."""
    return status_entry(value).name


def request_status(request, url=None):
    """Return the canonical status name of a Request object as the server sent it."""
    value = field(request, 'Status')
    if value is None:
        raise UnexpectedResponse('the server sent a Request object without a Status field', url=url)
    try:
        return status_name(value)
    except UnexpectedResponse as exc:
        exc.url = url
        raise


def is_final(name):
    """Tell whether a canonical status name is final: nothing leaves a final status."""
    return _BY_NAME[name.lower()].final


def final_action(choice):
    """Return the FinalAction a user asked for (completed, canceled, abandoned; any case)."""
    for action in FINAL_ACTIONS:
        if action.choice == choice.lower():
            return action
    raise ConfigurationError("status %r is not one of %s" % (choice, ", ".join(action.choice for action in FINAL_ACTIONS)))
