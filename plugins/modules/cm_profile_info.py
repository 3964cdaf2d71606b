#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: cm_profile_info
short_description: Read MIM CM software profiles or smart cards, with their operations and certificates
version_added: 0.1.0
description:
  - Reads software profiles (O(kind=profile)) or smart cards (O(kind=smartcard)) with the Microsoft Identity Manager
    Certificate Management (MIM CM) REST API - one by O(uuid), the profiles of a request (O(request_id)), or a search
    (O(status) of profiles, O(card_id) of cards).
  - For each one found, adds the operations the caller may start on it (C(GET /profiles/{id}/operations), such as
    renew, revoke, retire) and the metadata of its certificates (C(GET /profiles/{id}/certificates) - serial number,
    thumbprint, template, and validity where the server gives it). The REST API gives no way to download an issued
    certificate again.
  - Profiles and cards share one module because the API treats them alike - the same kinds of routes, operations and
    certificate metadata - so one set of options and one result shape covers both.
author:
  - MIM CM automation maintainers (@mim-certificate-management)
extends_documentation_fragment:
  - mim.certificate_management.connection
  - mim.certificate_management.connection.action_group
  - mim.certificate_management.connection.info_module
options:
  kind:
    description:
      - What to read.
    type: str
    choices: [profile, smartcard]
    default: profile
    version_added: 0.1.0
  uuid:
    description:
      - The uuid of one profile or card.
    type: str
    version_added: 0.1.0
  request_id:
    description:
      - The request whose profiles to read (C(GET /requests/{id}/profiles)); O(kind=profile) only.
    type: str
    version_added: 0.1.0
  status:
    description:
      - Only profiles in this status, by the name the server takes (Microsoft's example uses C(Active)); O(kind=profile)
        only. The server decides which names it knows.
    type: str
    version_added: 0.1.0
  card_id:
    description:
      - Only the card with this card id (C(GET /smartcards?cardid=)); O(kind=smartcard) only.
    type: str
    version_added: 0.1.0
  details:
    description:
      - Read the operations and certificates of each one found (two calls each).
    type: bool
    default: true
    version_added: 0.1.0
seealso:
  - module: mim.certificate_management.cm_request_info
'''

EXAMPLES = r'''
- name: The software profile that this host's completed request created, with its certificates
  mim.certificate_management.cm_profile_info:
    url: https://cm.contoso.com
    request_id: "{{ cm_request_id }}"
  delegate_to: localhost
  register: cm_profiles

- name: Every active software profile, without details
  mim.certificate_management.cm_profile_info:
    url: https://cm.contoso.com
    status: Active
    details: false
  delegate_to: localhost
'''

RETURN = r'''
found:
  description:
    - The profiles or cards found, each as the server sent it (a profile has C(Uuid), C(Status), C(AssignedUserUuid),
      C(ProfileTemplateUuid), C(ProfileOperations), ...; a card also C(SerialNumber), C(Atr), ...) plus the keys below.
    - Empty when nothing matches or the O(uuid) is not known.
  returned: success
  type: list
  elements: dict
  contains:
    operations:
      description: The operations the caller may start on it, as the server names them (lower case in its examples).
      type: list
      elements: str
      returned: when O(details) is true
    certificates:
      description:
        - Its certificates' metadata as the server sent it (C(SerialNumber), C(Thumbprint), C(TemplateCommonName),
          C(IsKeyHistory), C(ArchivedOnCa), C(CertificateType), and C(NotBefore), C(NotAfter), C(Issuer) where given).
      type: list
      elements: dict
      returned: when O(details) is true
  sample:
    - Uuid: b99ff38c-6653-471f-ae3c-325bb351a6bc
      Status: 2
      ProfileTemplateUuid: a039b4d0-5ce8-4eff-8651-181c6576fda3
      operations: [renew, revoke, retire]
      certificates:
        - SerialNumber: 61a8e5d4000000000012
          Thumbprint: 3F2A9C5E1B7D4F608A2C3E5B7D9F1A3C5E7B9D1F
          TemplateCommonName: WebServer
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError
from ansible_collections.mim.certificate_management.plugins.module_utils._module import client_from_module, connection_argument_spec, run_module
from ansible_collections.mim.certificate_management.plugins.module_utils._profiles import KINDS, find
from ansible_collections.mim.certificate_management.plugins.module_utils._request import canonical_request_id


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        kind=dict(type='str', default='profile', choices=list(KINDS)),
        uuid=dict(type='str'),
        request_id=dict(type='str'),
        status=dict(type='str'),
        card_id=dict(type='str'),
        details=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('uuid', 'request_id', 'status', 'card_id')])
    run_module(module, lambda secrets, context: read(module, secrets))


def read(module, secrets):
    params = module.params
    kind = params['kind']
    wrong = [option for option in (('request_id', 'status') if kind == 'smartcard' else ('card_id',)) if params[option]]
    if wrong:
        raise ConfigurationError('%s does not apply to kind=%s' % (' and '.join(wrong), kind))
    uuid = canonical_request_id(params['uuid'], 'uuid') if params['uuid'] else None
    request_id = canonical_request_id(params['request_id']) if params['request_id'] else None
    found = find(client_from_module(module, secrets), kind, uuid=uuid, request_id=request_id,
                 search=params['status'] if kind == 'profile' else params['card_id'], details=params['details'])
    return dict(changed=False, found=found)


if __name__ == '__main__':
    main()
