# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading requests for cm_request_info: one by id, or a search per status, then the client-side date filter."""

from __future__ import annotations

import datetime

from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:
    from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import RequestNotFound, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._filters import submitted_before_cutoff
from ansible_collections.mim.certificate_management.plugins.module_utils._request import REPORT_HINT, request_status

STATUS_NAME_KEY = 'status_name'


def find_requests(client: CMClient, request_id: Optional[str] = None, statuses: Sequence[str] = (), target_user: Optional[str] = None,
                  cutoff: Optional[datetime.datetime] = None) -> list[dict[str, Any]]:
    """Return the matching Request objects as the server sent them, each with its canonical status under status_name."""
    if request_id:
        try:
            found = [client.get_request(request_id)]
        except RequestNotFound as exc:
            if exc.http_status == 404:  # 404 is not "no such request" but a missing API: report it
                raise
            found = []
    else:
        found, seen = [], set()
        for status in statuses or (None,):
            for request in client.search_requests(status, target_user):
                key = str(request.get('Uuid', id(request))).lower()
                if key not in seen:
                    seen.add(key)
                    found.append(request)
    if cutoff is not None:
        found = [request for request in found if submitted_before_cutoff(request, cutoff)]
    return [dict(request, **{STATUS_NAME_KEY: _status_name_or_none(request)}) for request in found]


def _status_name_or_none(request: dict[str, Any]) -> Optional[str]:
    """An info module shows a request with an unknown status number instead of failing; its status_name is None."""
    try:
        return request_status(request)
    except UnexpectedResponse:
        return None


def unknown_status_warning(request: dict[str, Any]) -> str:
    """The warning for a request listed with status_name None: what the server sent and how to report it."""
    fields = {str(key).lower(): value for key, value in request.items()}
    return 'request %s has the status %r, which is not in the MIM CM status table, so its status_name is null; %s' % (
        fields.get('uuid'), fields.get('status'), REPORT_HINT)
