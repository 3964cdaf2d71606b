# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading software profiles and smart cards for cm_profile_info: one by uuid, a search, or a request's profiles, each
with the operations the caller may start on it and its certificates' metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Optional

if TYPE_CHECKING:
    from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._request import field, guid_or_none


class Kind(NamedTuple):
    route: str  # the collection route under the API base
    noun: str  # for messages
    search: str  # the query parameter of the search route


KINDS = {'profile': Kind('profiles', 'profile', 'status'), 'smartcard': Kind('smartcards', 'smart card', 'cardid')}


def find(client: CMClient, kind_name: str, uuid: Optional[str] = None, search: Optional[str] = None,
         request_id: Optional[str] = None, details: bool = True) -> list[dict[str, Any]]:
    """The profiles or cards asked for, as the server sent them; with details each gains operations and certificates."""
    kind = KINDS[kind_name]
    if uuid:
        found = client.get_object('%s/%s' % (kind.route, uuid), 'read %s %s' % (kind.noun, uuid), kind.noun, uuid)
        items = [found] if found is not None else []
    elif request_id:
        items = client.get_list('requests/%s/%s' % (request_id, kind.route), 'read the %ss of request %s' % (kind.noun, request_id))
    else:
        params = {kind.search: search} if search else None
        # GET /smartcards?cardid= answers one card in Microsoft's example
        items = client.get_list(kind.route, 'search %ss%s' % (kind.noun, ' %s=%s' % (kind.search, search) if search else ''),
                                params=params, one_or_list=kind.search == 'cardid')
    return [_with_details(client, kind, item) if details else dict(item) for item in items]


def _with_details(client: CMClient, kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
    uuid = guid_or_none(field(item, 'Uuid'))
    if uuid is None:
        return dict(item, operations=None, certificates=None)
    return dict(item,
                operations=client.get_names('%s/%s/operations' % (kind.route, uuid), 'read the operations of %s %s' % (kind.noun, uuid)),
                certificates=client.get_list('%s/%s/certificates' % (kind.route, uuid),
                                             'read the certificates of %s %s' % (kind.noun, uuid)))
