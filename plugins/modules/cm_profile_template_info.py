#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_profile_template_info
short_description: List the MIM CM profile templates the caller may enroll for, with their workflow policies
version_added: 0.1.0
description:
  - Reads the profile templates the caller may enroll for with C(GET /profiletemplates) of the Microsoft Identity
    Manager Certificate Management (MIM CM) REST API, filtered by name or uuid.
  - With O(policy), adds each template's workflow policy for that request type
    (C(GET /profiletemplates/{id}/policies/{type})) - approvals needed, whether comments and priority are collected,
    the data collection items - as the server sends it. Microsoft does not document the shape of a data collection
    item, so the items are passed through unchanged.
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.info_module
options:
  name:
    description:
      - Only the template with this exact name.
    type: str
    version_added: 0.1.0
  uuid:
    description:
      - Only the template with this uuid (any case, braces allowed).
    type: str
    version_added: 0.1.0
  policy:
    description:
      - Add the workflow policy of each template for this request type (a type name as
        M(mim.certificate_management.cm_request) takes it, in any case), under RV(profile_templates[].policy).
    type: str
    version_added: 0.1.0
seealso:
  - module: mim.certificate_management.cm_request
'''

EXAMPLES = r'''
- name: Read the template and its enroll policy
  mim.certificate_management.cm_profile_template_info:
    url: https://cm.contoso.com
    name: Web Server (auto-approved)
    policy: Enroll
  delegate_to: localhost
  register: cm_templates

- name: Show what the policy collects
  ansible.builtin.debug:
    msg: "{{ cm_templates.profile_templates[0].policy.PolicyDataCollection | default([]) }}"
'''

RETURN = r'''
profile_templates:
  description:
    - The templates, each as the server sent it (C(Name), C(Description), C(Uuid), C(IsSmartcardProfileTemplate),
      C(IsVirtualSmartcardProfileTemplate)) plus the keys below.
  returned: success
  type: list
  elements: dict
  contains:
    uuid:
      description: The template's uuid, lower case.
      type: str
    name:
      description: The template's name.
      type: str
    is_smartcard:
      description: Whether it is a smart card profile template (a software profile template otherwise).
      type: bool
    is_virtual_smartcard:
      description: Whether it is a virtual smart card profile template.
      type: bool
    policy:
      description:
        - The workflow policy for O(policy) as the server sent it (C(ApprovalsNeeded), C(CollectComments),
          C(CollectRequestPriority), C(PolicyDataCollection), ...), or V(null) when the template has none for that type.
      type: dict
      returned: when O(policy) is set
  sample:
    - Name: Web Server (auto-approved)
      Uuid: a039b4d0-5ce8-4eff-8651-181c6576fda3
      IsSmartcardProfileTemplate: false
      IsVirtualSmartcardProfileTemplate: false
      uuid: a039b4d0-5ce8-4eff-8651-181c6576fda3
      name: Web Server (auto-approved)
      is_smartcard: false
      is_virtual_smartcard: false
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._module import client_from_module, connection_argument_spec, run_module
from ansible_collections.mim.certificate_management.plugins.module_utils._request import canonical_request_id, request_type
from ansible_collections.mim.certificate_management.plugins.module_utils._templates import list_templates, read_policy


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type='str'),
        uuid=dict(type='str'),
        policy=dict(type='str'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, lambda secrets, context: read(module, secrets))


def read(module, secrets):
    params = module.params
    uuid = canonical_request_id(params['uuid'], 'uuid') if params['uuid'] else None
    policy = request_type(params['policy']).name if params['policy'] else None  # checked before the first call
    client = client_from_module(module, secrets)
    templates = [template for template in list_templates(client)
                 if (uuid is None or template['uuid'] == uuid) and (params['name'] is None or template['name'] == params['name'])]
    if policy:
        templates = [dict(template, policy=read_policy(client, template['uuid'], policy)) for template in templates]
    return dict(changed=False, profile_templates=templates)


if __name__ == '__main__':
    main()
