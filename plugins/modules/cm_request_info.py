#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_request_info
short_description: Read MIM CM requests, one by id or by search
version_added: 0.1.0
description:
  - Reads one Microsoft Identity Manager Certificate Management (MIM CM) request by O(request_id), or searches requests
    by O(status) and O(target_user) with C(GET /requests) of the MIM CM REST API.
  - Filters by submission date on the client side (O(submitted_before), O(older_than_days)), which the API cannot do.
  - Never changes anything.
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.in_controller
  - mim.certificate_management.connection.info_module
options:
  request_id:
    description:
      - GUID of one request, in any case, with or without braces.
      - Mutually exclusive with O(status) and O(target_user).
    type: str
    version_added: 0.1.0
  status:
    description:
      - Only requests in these statuses. The server is searched once per status.
      - Without O(request_id) and O(status), every request the account may see is read.
      - An abandoned request reads V(failed).
    type: list
    elements: str
    choices: [none, approved, denied, completed, failed, pending, canceled, executing]
    version_added: 0.1.0
  target_user:
    description:
      - V(current) keeps the requests whose target is the authenticated account (the only value the API supports).
    type: str
    choices: [current]
    version_added: 0.1.0
  submitted_before:
    description:
      - Only requests submitted before this ISO 8601 date or date-time, such as V(2026-01-31) or V(2026-01-31T12:00:00Z).
      - Times without an offset, here and in the server's C(Submitted) values, are taken as UTC.
    type: str
    version_added: 0.1.0
  older_than_days:
    description:
      - Only requests submitted more than this many days ago.
    type: float
    version_added: 0.1.0
seealso:
  - module: mim.certificate_management.cm_request_status
'''

EXAMPLES = r'''
- name: Read one request
  mim.certificate_management.cm_request_info:
    url: https://cm.contoso.com
    request_id: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
  delegate_to: localhost
  register: one

- name: Find pending or approved requests nobody finished for 30 days
  mim.certificate_management.cm_request_info:
    url: https://cm.contoso.com
    status: [pending, approved]
    older_than_days: 30
  delegate_to: localhost
  register: stale

- name: List their ids
  ansible.builtin.debug:
    msg: "{{ stale.requests | map(attribute='Uuid') | list }}"
'''

RETURN = r'''
requests:
  description:
    - The matching requests as the server sent them (PascalCase keys), in the server's order.
    - Empty when O(request_id) is not found.
  returned: success
  type: list
  elements: dict
  contains:
    status_name:
      description:
        - The canonical name of the request's C(Status), added by this module, from the CM database's status codes
          (see the R(request statuses guide, ansible_collections.mim.certificate_management.docsite.guide_request_status)).
        - V(null) when the server sent a status outside that table; the task then also warns, naming the request.
      type: str
      sample: Approved
  sample:
    - Uuid: a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099
      Status: 3
      Submitted: "2026-11-02T08:15:42.1830000"
      status_name: Approved
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._cm_request_info import DEFINITION
from ansible_collections.mim.certificate_management.plugins.module_utils._module import run_module


def main():
    module = AnsibleModule(argument_spec=DEFINITION.argument_spec(), supports_check_mode=True, **DEFINITION.constraints)
    run_module(module, lambda secrets, context: DEFINITION.work(module, secrets, context))


if __name__ == '__main__':
    main()
