# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving one request to a final status: read first, write only when needed, verify what the server says."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import FinalStatusConflict, MimCmError, UnexpectedResponse, unexpected_error
from ansible_collections.mim.certificate_management.plugins.module_utils._request import FinalAction, is_final, request_status


def finalize_request(client: CMClient, request_id: str, action: FinalAction, check_mode: bool = False,
                     diff: bool = False) -> dict[str, Any]:
    """Bring request_id to the outcome of action (a FinalAction) and return the module result for it.

    The request is done when it reads action.reaches (Failed after an abandon). The transition itself is the server's
    decision: a refusal comes back as the server's error.
    """
    url = client.request_url(request_id)
    before = client.get_request(request_id)
    previous = request_status(before, url)
    wanted = action.reaches
    result = {'changed': False, 'request_id': request_id, 'previous_status': previous, 'status': previous, 'request': before}
    if diff:
        result['diff'] = status_diff(request_id, previous, wanted)
    if previous == wanted:
        return result
    if is_final(previous):
        raise FinalStatusConflict('request %s is already %s, a final status, so it cannot be %s; nothing was changed'
                                  % (request_id, previous, action.verb), url=url)
    result.update(changed=True, status=wanted)
    if check_mode:
        return result
    after, changed = _write(client, request_id, action, url)
    reached = _status_after_write(after, request_id, url)
    if reached != wanted:
        raise UnexpectedResponse('the server accepted that request %s be %s, but the request now reads %s'
                                 % (request_id, action.verb, reached), url=url)
    result.update(request=after, changed=changed)
    return result


def _write(client: CMClient, request_id: str, action: FinalAction, url: str) -> tuple[dict[str, Any], bool]:
    """PUT the action; return (Request object after, whether this run changed it).

    When a PUT fails, the request is read again before anything else: a write whose answer was lost (timeout, reset,
    unreadable body) may have happened, and a concurrent run may have finished the request first. Only the action
    asked for is ever sent.
    """
    attempt = 0
    while True:
        try:
            after = client.set_request_status(request_id, action.put_value)
        except MimCmError as exc:
            current = _read_after_write(client, request_id, url)
            reached = _status_after_write(current, request_id, url)
            if reached == action.reaches:
                # our write with its answer lost or unreadable (changed), or a refusal because another run got there first
                return current, exc.retryable or (exc.http_status or 0) // 100 == 2
            if not exc.retryable:
                raise
            if is_final(reached):
                raise FinalStatusConflict('request %s became %s while this run was retrying, so it cannot be %s; '
                                          'nothing was changed' % (request_id, reached, action.verb), url=url)
            client.backoff(exc, attempt)
            attempt += 1
            continue
        return (after if after is not None else _read_after_write(client, request_id, url)), True


def _read_after_write(client: CMClient, request_id: str, url: str) -> dict[str, Any]:
    """GET the request after a write was sent; a failure here leaves the write's outcome unknown, and says so."""
    try:
        return client.get_request(request_id)
    except MimCmError as exc:
        raise _outcome_unknown(exc, request_id, url)


def _status_after_write(request: dict[str, Any], request_id: str, url: str) -> str:
    """The status a request reads after a write was sent; one the table does not know leaves the outcome unknown."""
    try:
        return request_status(request, url)
    except MimCmError as exc:
        raise _outcome_unknown(exc, request_id, url)


def _outcome_unknown(exc: MimCmError, request_id: str, url: str) -> MimCmError:
    """The same error, its message saying that the write it follows may have been applied."""
    exc.msg = '%s; the write may have been applied: re-read request %s' % (exc.msg, request_id)
    exc.args = (exc.msg,)
    exc.url = exc.url or url
    return exc


def status_diff(request_id: str, before: str, after: str) -> dict[str, Any]:
    """The before/after of one request's status, as --diff shows it."""
    return {'before': {'status': before}, 'after': {'status': after}, 'before_header': request_id, 'after_header': request_id}


def finalize_many(client: CMClient, request_ids: Sequence[str], action: FinalAction, check_mode: bool = False, diff: bool = False,
                  concurrency: int = 8) -> list[dict[str, Any]]:
    """Finalize each id once (duplicates dropped, order kept), at most `concurrency` at a time over the client's sessions.

    A failing id does not stop the others: its entry carries failed, msg and the HTTP facts instead of a result.
    """
    unique = list(dict.fromkeys(request_ids))
    client.prepare()  # an ADFS token once, before the workers

    def one(request_id: str) -> dict[str, Any]:
        try:
            return finalize_request(client, request_id, action, check_mode, diff)
        except MimCmError as exc:
            return dict(exc.to_result(), request_id=request_id, failed=True, changed=False)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # one id's boundary: the others go on
            doing = 'finalizing request %s (if a write was sent, it may have been applied: re-read the request)' % request_id
            return dict(msg=client.secrets.scrub(unexpected_error(exc, doing)), request_id=request_id, failed=True, changed=False)

    if len(unique) <= 1 or concurrency <= 1:
        return [one(request_id) for request_id in unique]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(unique))) as pool:
        return list(pool.map(one, unique))


def batch_outcome(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The module result of a batch: changed when any id changed; a msg naming each failed id when any failed."""
    outcome = {'changed': any(entry['changed'] for entry in results), 'results': results}
    diffs = [entry['diff'] for entry in results if entry['changed'] and 'diff' in entry]
    if diffs:
        outcome['diff'] = diffs
    failed = [entry for entry in results if entry.get('failed')]
    if failed:
        outcome['msg'] = '%d of %d requests could not be finalized: %s' % (
            len(failed), len(results), '; '.join('%s: %s' % (entry['request_id'], entry['msg']) for entry in failed))
    return outcome
