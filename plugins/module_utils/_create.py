# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creating a request for cm_request: reuse an open request of the same kind, else POST once, and after a POST whose
outcome is unknown, look for the request it may have created before anything is sent again."""

from __future__ import annotations

import json
import re

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

if TYPE_CHECKING:
    from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import MimCmError, RequestConflict, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._request import (
    OPEN_STATUSES, RequestTypeEntry, field, guid_or_none, request_status, type_matches)

ENCODINGS = ('array', 'string')

# The answer to a POST: the new request's URI as a JSON string, relative (api/v1.0/requests/<guid>), perhaps with the
# site's path or address in front; nothing else.
_CREATED = re.compile(r'(?:https?://[^/\s]+)?/?(?:[A-Za-z0-9._~-]+/)*api/v1\.0/requests/\{?([0-9A-Fa-f-]{36})\}?/?', re.IGNORECASE)


class Wanted(NamedTuple):
    """What the new request is: its type, template, target user (None: the caller), card or profile, and body."""

    request_type: RequestTypeEntry
    template: str
    target_user: Optional[str]
    smartcard: Optional[str]
    profile: Optional[str]
    data_collection: dict[str, str]
    comment: str
    priority: Optional[int]
    match: tuple[str, ...] = ()  # what else an open request must share to be this one: 'comment', 'data_collection'

    def body(self, encoding: str) -> dict[str, Any]:
        """The POST body, with datacollection as an array of one-pair objects or as that array in a JSON string."""
        items = [{name: value} for name, value in self.data_collection.items()]
        body: dict[str, Any] = {'profiletemplateuuid': self.template, 'type': self.request_type.name,
                                'datacollection': items if encoding == 'array' else json.dumps(items),
                                'comment': self.comment}
        for key, value in (('target', self.target_user), ('priority', self.priority), ('smartcard', self.smartcard),
                           ('profile', self.profile)):
            if value is not None:
                body[key] = value
        return body

    def describe(self) -> str:
        target = 'user %s' % self.target_user if self.target_user else 'the caller'
        also = [('comment %s' % json.dumps(self.comment)) if 'comment' in self.match else '',
                'its data collection' if 'data_collection' in self.match else '']
        also_text = ''.join(' with ' + what for what in also if what)
        return '%s request for profile template %s and %s%s' % (self.request_type.name, self.template, target, also_text)


class Candidates(NamedTuple):
    """The open requests of the same template, target, card and profile: those of the wanted type, and those whose type
    cannot be told from its number."""

    matching: list[dict[str, Any]]
    unsure: list[dict[str, Any]]

    def ids(self) -> set[str]:
        return _ids(self.matching + self.unsure)


def open_requests(client: CMClient, wanted: Wanted) -> Candidates:
    """Search Pending, Approved and Executing requests for ones like wanted.

    Without target_user the search is the caller's own (targetuser=current) and only requests the caller created for
    itself count (originator = target); with target_user, any open request for that user counts, whoever created it.
    """
    matching, unsure, seen = [], [], set()
    for status in OPEN_STATUSES:
        for request in client.search_requests(status, None if wanted.target_user else 'current'):
            uuid = guid_or_none(field(request, 'Uuid'))
            if uuid is None or uuid in seen or not _alike(request, wanted):
                continue
            seen.add(uuid)
            same_type = type_matches(field(request, 'RequestType'), wanted.request_type)
            if same_type:
                matching.append(request)
            elif same_type is None:
                unsure.append(request)
    return Candidates(matching, unsure)


def _alike(request: dict[str, Any], wanted: Wanted) -> bool:
    try:
        if request_status(request) not in OPEN_STATUSES:
            return False
    except MimCmError:
        return False
    target = guid_or_none(field(request, 'TargetUserUuid'))
    if wanted.target_user:
        if target != wanted.target_user:
            return False
    elif target is None or guid_or_none(field(request, 'OriginatorUserUuid')) != target:
        return False
    return (guid_or_none(field(request, 'ProfileTemplateUuid')) == wanted.template
            and (wanted.smartcard is None or guid_or_none(field(request, 'OldSmartcardUuid')) == wanted.smartcard)
            and (wanted.profile is None or guid_or_none(field(request, 'OldProfileUuid')) == wanted.profile)
            and ('comment' not in wanted.match or field(request, 'Comment') == wanted.comment)
            and ('data_collection' not in wanted.match or _holds(field(request, 'DataCollection'), wanted.data_collection)))


def _holds(sent: Any, wanted: dict[str, str]) -> bool:
    """Whether a request's DataCollection ({Name, Value} objects, or one-pair objects as a POST sends them, perhaps in a
    JSON string) has every wanted item with the same value; anything unreadable holds nothing."""
    if isinstance(sent, str):
        try:
            sent = json.loads(sent)
        except ValueError:
            return False
    items: dict[str, Any] = {}
    for item in sent if isinstance(sent, list) else []:
        if isinstance(item, dict) and field(item, 'Name') is not None:
            items[str(field(item, 'Name'))] = field(item, 'Value')
        elif isinstance(item, dict) and len(item) == 1:
            items.update((str(name), value) for name, value in item.items())
    return all(items.get(name) == value for name, value in wanted.items())


def reuse(candidates: Candidates, wanted: Wanted, warn: Callable[[str], None]) -> Optional[dict[str, Any]]:
    """The open request to return instead of creating one (the newest), or None; an open request whose type cannot be
    told is a conflict: creating another could duplicate it, reusing it could be wrong."""
    if candidates.matching:
        newest = sorted(candidates.matching, key=lambda request: str(field(request, 'Submitted') or ''))[-1]
        if len(candidates.matching) > 1:
            warn('%d open requests match the %s: %s; returning the newest'
                 % (len(candidates.matching), wanted.describe(), ', '.join(sorted(_ids(candidates.matching)))))
        return newest
    if candidates.unsure:
        raise RequestConflict(
            'open request(s) %s match the %s, but their RequestType %s cannot be told to be %s (Microsoft documents the '
            'numbers of Enroll and Unblock only); finalize or cancel them, or set force=true to create another request'
            % (', '.join(sorted(candidates.ids())), wanted.describe(),
               ', '.join(sorted({str(field(request, 'RequestType')) for request in candidates.unsure})), wanted.request_type.name))
    return None


def _ids(requests: list[dict[str, Any]]) -> set[str]:
    return {str(guid_or_none(field(request, 'Uuid'))) for request in requests}


def parse_created(answer: Any, url: str) -> str:
    """The id in the answer to a POST, parsed strictly; a 201 without one means a request may exist that we cannot name."""
    match = _CREATED.fullmatch(answer.strip()) if isinstance(answer, str) else None
    request_id = guid_or_none(match.group(1)) if match else None
    if request_id is None:
        raise UnexpectedResponse('the server accepted the request (HTTP 201) but its answer names no request: %s; a request '
                                 'may have been created: look for it (cm_request_info) before running this again'
                                 % json.dumps(answer)[:200], url=url)
    return request_id


def create(client: CMClient, wanted: Wanted, encodings: tuple[str, ...], before: set[str],
           context: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """POST the request, each encoding of datacollection in turn, and return (the Request object read back, the
    encoding that worked).

    The POST is never sent again blindly: after no answer or a transient one, and before trying the next encoding
    after a refusal, the open requests are searched for one that was not there before (before: their ids).
    """
    refusals = []
    for encoding in encodings:
        attempt = 0
        while True:
            try:
                answer = client.create_request(wanted.body(encoding))
            except MimCmError as exc:
                found = _created_meanwhile(client, wanted, before) if (exc.retryable or exc.http_status is None
                                                                       or encoding != encodings[-1]) else None
                if found is not None:
                    return _read_back(client, found, context), encoding
                if exc.retryable or exc.http_status is None:
                    client.backoff(exc, attempt)  # raises exc when the run's retries are spent
                    attempt += 1
                    continue
                if encoding != encodings[-1] and exc.http_status in (400, 500):
                    refusals.append('the %s encoding of datacollection: %s' % (encoding, exc.msg))
                    break
                if refusals:
                    exc.msg = 'the server refused %s, then %s' % ('; '.join(refusals), exc.msg)
                    exc.args = (exc.msg,)
                raise
            request_id = parse_created(answer, '%s/requests' % client.base_url)
            return _read_back(client, request_id, context), encoding
    raise AssertionError('unreachable: the last encoding either returns or raises')


def _created_meanwhile(client: CMClient, wanted: Wanted, before: set[str]) -> Optional[str]:
    """The id of an open request like wanted that was not there before the POST, if the search finds exactly one."""
    new = sorted(open_requests(client, wanted).ids() - before)
    return new[0] if len(new) == 1 else None


def _read_back(client: CMClient, request_id: str, context: dict[str, Any]) -> dict[str, Any]:
    """The new request as the server reads it; from here on, a failure still reports the request as created."""
    context.update(changed=True, request_id=request_id)
    return client.get_request(request_id)
