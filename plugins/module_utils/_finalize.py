# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving one request to a final status: read first, write only when needed, verify what the server says."""

from __future__ import annotations

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import FinalStatusConflict, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._status import is_final, request_status


def finalize_request(client, request_id, wanted, check_mode=False):
    """Bring request_id to the final status wanted and return the module result for it.

    The transition itself is the server's decision: a refusal comes back as the server's error.
    """
    url = client.request_url(request_id)
    before = client.get_request(request_id)
    previous = request_status(before, url)
    result = {'changed': False, 'request_id': request_id, 'previous_status': previous, 'status': previous, 'request': before}
    if previous == wanted:
        return result
    if is_final(previous):
        raise FinalStatusConflict('request %s is already %s, a final status, so it cannot be marked %s; '
                                  'nothing was changed' % (request_id, previous, wanted), url=url)
    result.update(changed=True, status=wanted)
    if check_mode:
        return result
    after = client.set_request_status(request_id, wanted)
    if after is None:
        after = client.get_request(request_id)
    reached = request_status(after, url)
    if reached != wanted:
        raise UnexpectedResponse('the server accepted marking request %s %s, but the request now reads %s'
                                 % (request_id, wanted, reached), url=url)
    result['request'] = after
    return result
