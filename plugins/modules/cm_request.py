#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_request
short_description: Create a MIM CM request, or return the open one that already does the same
version_added: 0.1.0
description:
  - Creates a Microsoft Identity Manager Certificate Management (MIM CM) request (enroll, renew, revoke, ...) with
    C(POST /requests) of the MIM CM REST API, for a profile template given by uuid or name.
  - Before creating, looks for an open request (Pending, Approved or Executing) of the same type, profile template,
    target user, smart card and profile. When there is one, returns it and reports no change, so that a re-run does
    not create a second request. Without O(target_user) only the caller's own requests count (those it created for
    itself); with O(target_user), any open request for that user counts, whoever created it, because the REST API has
    no way to tell who the caller is. O(reuse_match) narrows the search further, for callers that create requests
    of the same template for the same target on behalf of several hosts or jobs. O(force=true) always creates.
  - Reads the template's workflow policy for the request type first, when the server lets the caller read it, and
    refuses before anything is sent a required data collection item that is missing, an item the policy does not
    collect, or a missing comment the policy requires.
  - A POST is never sent again blindly. After a POST that got no answer, or a transient one, the open requests are
    searched for one that was not there before; a request found that way is the one created, and is reported once.
  - Microsoft documents the numbers of two request types only (Enroll 1, Unblock 5). An open request of the same
    template and target whose type number is not documented cannot be told apart, so it stops the task with an error
    naming it instead of being reused or duplicated.
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.in_controller
attributes:
  check_mode:
    description: Finds the template, reads its policy, checks the data and looks for an open request; creates nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
options:
  type:
    description:
      - The request type, as the REST API names it, in any case - C(Enroll), C(Renew), C(Revoke), C(Retire),
        C(Unblock), C(Recover), C(OnlineUpdate), C(Reinstate), C(Duplicate), C(RecoverOnBehalf), C(OfflineUnblock) or
        C(TemporaryCards).
    type: str
    default: Enroll
    version_added: 0.1.0
  profile_template:
    description:
      - The profile template, by uuid (any case, braces allowed) or by its exact name among the templates the caller
        may enroll for (see M(mim.certificate_management.cm_profile_template_info)).
    type: str
    required: true
    version_added: 0.1.0
  data_collection:
    description:
      - The data collection items the template's policy asks for, name to value.
    type: dict
    default: {}
    version_added: 0.1.0
  comment:
    description:
      - The request's comment. Some policies require one.
    type: str
    default: ''
    version_added: 0.1.0
  target_user:
    description:
      - The Active Directory objectGUID of the user the request is for. Default is the caller.
    type: str
    version_added: 0.1.0
  priority:
    description:
      - The request's priority, 0 (highest) to 255 (lowest). Default is the policy's.
    type: int
    version_added: 0.1.0
  smartcard:
    description:
      - The uuid of the smart card the request is about (Unblock, Retire, ... of a card).
    type: str
    version_added: 0.1.0
  profile:
    description:
      - The uuid of the software profile the request is about (Renew, Revoke, ... of a profile).
      - Microsoft documents the C(smartcard) property of the POST body only; that C(profile) names a software profile
        the same way is inferred.
    type: str
    version_added: 0.1.0
  force:
    description:
      - Create a request even when an open one of the same kind exists.
    type: bool
    default: false
    version_added: 0.1.0
  reuse_match:
    description:
      - What else an open request must share with this task to be returned instead of a new one, and to be taken
        for the request that a POST without an answer created.
      - V(comment) - its C(Comment) is O(comment), exactly.
      - V(data_collection) - its C(DataCollection) holds every item of O(data_collection) with the same value.
      - Needed when one account creates requests of the same template and target for several hosts, as a controller
        does for a fleet; without it, a host would take another host's open request. The role
        C(mim.certificate_management.enroll_certificate) matches on V(comment), the host's name by default.
      - That the server keeps the comment and the data collection as sent and returns them in the request is
        documented for the request object; whether every policy keeps a comment it does not collect is not.
    type: list
    elements: str
    choices: [comment, data_collection]
    default: []
    version_added: 0.1.0
  data_collection_encoding:
    description:
      - How C(datacollection) is sent. Microsoft's pages show both an array of one-pair objects and that array
        encoded as a JSON string.
      - V(auto) sends the array and, when the server refuses it with HTTP 400 or 500, looks for a request created
        anyway and then sends the string once. RV(data_collection_encoding) tells which one worked; pin it here (for
        example with C(module_defaults)) to skip the first try.
    type: str
    choices: [auto, array, string]
    default: auto
    version_added: 0.1.0
notes:
  - There is no REST route to approve or deny a request. A request whose policy needs approvals stays Pending until
    its approvers act in the CM portal; M(mim.certificate_management.cm_request_info) reads its status.
seealso:
  - module: mim.certificate_management.cm_profile_template_info
  - module: mim.certificate_management.cm_request_info
  - module: mim.certificate_management.cm_request_status
'''

EXAMPLES = r'''
- name: Create (or find) this host's enrollment request
  mim.certificate_management.cm_request:
    url: https://cm.contoso.com
    auth: negotiate
    profile_template: Web Server (auto-approved)
    type: Enroll
    data_collection:
      Host Name: "{{ inventory_hostname }}"
    comment: "{{ inventory_hostname }}"
    reuse_match: [comment]  # the controller's account creates the requests of every host
  delegate_to: localhost
  register: cm_new

- name: The request to finalize later
  ansible.builtin.set_fact:
    cm_request_id: "{{ cm_new.request_id }}"
'''

RETURN = r'''
request_id:
  description: The id of the request created, or of the open request found.
  returned: success, except in check mode when a request would be created
  type: str
  sample: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
request:
  description: The Request object as the server reads it (after creating, read back).
  returned: success, except in check mode when a request would be created
  type: dict
  sample:
    Uuid: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
    RequestType: 1
    Status: 3
    ProfileTemplateUuid: a039b4d0-5ce8-4eff-8651-181c6576fda3
status:
  description: The request's status name (Pending until approved, Approved when the policy needs no approval).
  returned: success, except in check mode when a request would be created
  type: str
  sample: Approved
created:
  description: Whether the task created the request (or, in check mode, would create one).
  returned: always
  type: bool
  sample: true
data_collection_encoding:
  description: The encoding of C(datacollection) that the server accepted.
  returned: when a request was created
  type: str
  sample: array
profile_template:
  description: The template the request is for.
  returned: success
  type: dict
  contains:
    uuid:
      description: Its uuid.
      type: str
    name:
      description: Its name, or V(null) for a uuid the template list does not hold.
      type: str
  sample:
    uuid: a039b4d0-5ce8-4eff-8651-181c6576fda3
    name: Web Server (auto-approved)
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._cm_request import DEFINITION
from ansible_collections.mim.certificate_management.plugins.module_utils._module import run_module


def main():
    module = AnsibleModule(argument_spec=DEFINITION.argument_spec(), supports_check_mode=True, **DEFINITION.constraints)
    run_module(module, lambda secrets, context: DEFINITION.work(module, secrets, context))


if __name__ == '__main__':
    main()
