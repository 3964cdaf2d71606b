#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_request_status
short_description: Mark a MIM CM request Completed or Canceled, or abandon it
version_added: 0.1.0
description:
  - Moves a Microsoft Identity Manager Certificate Management (MIM CM) request to a final status
    with C(PUT /requests/{id}) of the MIM CM REST API.
  - Reads the request first. A request that already has the wanted outcome is left alone and the task reports no change.
    A request in another final status (Completed, Canceled, Denied, Failed) is an error naming it, and nothing is sent.
  - V(abandoned) is an action, not a status. The FIM CM class library documents that abandoning leaves a request
    Failed, so the task succeeds when the request reads Failed afterwards, reports RV(status=Failed), and a request
    that already reads Failed counts as abandoned (no change, no write).
  - Whether a transition is allowed is the server's decision; its refusal is reported with the server's message.
  - Status numbers are the CM database's request status codes; the
    R(request statuses guide, ansible_collections.mim.certificate_management.docsite.guide_request_status) lists them
    with their sources. A number outside that table is an error, never a guess.
  - When a write was sent but its outcome cannot be read back, the error says that the write may have been applied.
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.in_controller
attributes:
  check_mode:
    description: Reads the request and reports what would change; never writes.
    support: full
  diff_mode:
    description: Shows the status before and after.
    support: full
options:
  request_id:
    description:
      - GUID of the request, in any case, with or without braces.
      - Sent to the server in canonical form (lower case, no braces).
      - Exactly one of O(request_id) and O(request_ids) is required.
    type: str
    version_added: 0.1.0
  request_ids:
    description:
      - GUIDs of many requests, finalized in one module run over kept-alive connections, O(concurrency) at a time.
      - Each id is finalized once, however often it is listed. Every id is tried; the task fails afterwards when any
        id failed, naming each failed id and why.
      - The result is RV(results), one entry per id with the keys of the single-id result.
    type: list
    elements: str
    version_added: 0.1.0
  concurrency:
    description:
      - With O(request_ids), how many requests are worked on at once, each worker on its own kept-alive connection
        (so a Windows authentication handshake runs once per worker, not once per request).
    type: int
    default: 8
    version_added: 0.1.0
  status:
    description:
      - The final outcome the request must have. V(completed) ends Completed, V(canceled) ends Canceled,
        V(abandoned) ends Failed.
    type: str
    required: true
    choices: [completed, canceled, abandoned]
    version_added: 0.1.0
seealso:
  - name: Cancel, abandon, or complete a request
    description: Microsoft's reference of the PUT call this module makes.
    link: https://learn.microsoft.com/en-us/microsoft-identity-manager/reference/cancel-abandon-or-complete-a-request
'''

EXAMPLES = r'''
- name: Mark the enrollment request of this host Completed
  mim.certificate_management.cm_request_status:
    url: https://cm.contoso.com
    auth: basic
    username: svc-provisioning
    password: "{{ cm_password }}"
    request_id: "{{ cm_request_id }}"
    status: completed
  delegate_to: localhost

- name: Complete every request of a provisioning wave in one task, eight at a time
  mim.certificate_management.cm_request_status:
    url: https://cm.contoso.com
    auth: negotiate
    request_ids: "{{ wave_request_ids }}"
    status: completed
  delegate_to: localhost
  register: wave

- name: Abandon a request, with the connection set once for the play
  module_defaults:
    group/mim.certificate_management.cm:
      url: https://cm.contoso.com
      auth: bearer
      token: "{{ adfs_access_token }}"
  block:
    - name: Abandon the request of a host whose provisioning failed
      mim.certificate_management.cm_request_status:
        request_id: "{A9B4B42C-CC50-4C9B-89D1-BBC0BCD5A099}"
        status: abandoned
      delegate_to: localhost
'''

RETURN = r'''
request_id:
  description: The request GUID in canonical form.
  returned: with O(request_id)
  type: str
  sample: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
previous_status:
  description: The status the request had before the task, as a canonical name (one of the eight statuses).
  returned: success, with O(request_id)
  type: str
  sample: Approved
status:
  description:
    - The status the request has after the task (in check mode, the status it would have), as the server reports it.
    - V(Failed) after O(status=abandoned).
  returned: success, with O(request_id)
  type: str
  sample: Completed
request:
  description:
    - The server's Request object after the call, as the server sent it (PascalCase keys).
    - In check mode, and when nothing changed, the object as read.
  returned: success, with O(request_id)
  type: dict
  sample:
    Uuid: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
    Status: 8
    Completed: "2026-11-24T10:15:00.1234567"
results:
  description:
    - With O(request_ids), one entry per distinct id, in the order given, with the keys of the single-id result
      (C(request_id), C(changed), C(previous_status), C(status), C(request), C(diff)), or, for an id that failed,
      C(failed), C(msg) and, when the server answered, C(http_status) and C(url).
  returned: with O(request_ids)
  type: list
  elements: dict
  sample:
    - request_id: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
      changed: true
      previous_status: Approved
      status: Completed
      request: {Uuid: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099, Status: 8}
http_status:
  description: HTTP status of the answer that made the task fail.
  returned: on failure, when the server answered
  type: int
  sample: 403
url:
  description: The URL of the call that failed.
  returned: on failure, when a call was made
  type: str
  sample: https://cm.contoso.com/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._cm_request_status import DEFINITION
from ansible_collections.mim.certificate_management.plugins.module_utils._module import run_module


def main():
    module = AnsibleModule(argument_spec=DEFINITION.argument_spec(), supports_check_mode=True, **DEFINITION.constraints)
    run_module(module, lambda secrets, context: DEFINITION.work(module, secrets, context))


if __name__ == '__main__':
    main()
