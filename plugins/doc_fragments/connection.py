# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every module of the collection shares, documented once."""

from __future__ import annotations


class ModuleDocFragment:
    """Connection and authentication options."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Address of the MIM CM web site, for example V(https://cm.contoso.com).
      - If not set, the value of the E(MIM_CM_URL) environment variable is used.
      - Required, from the option or the environment.
    type: str
    version_added: 0.1.0
  api_path:
    description:
      - Path of the MIM CM REST API below O(url).
      - IIS matches it case-insensitively.
    type: str
    default: /CertificateManagement/api/v1.0
    version_added: 0.1.0
  auth:
    description:
      - How to authenticate to the site.
      - V(none) sends no credentials. V(basic) sends O(username) and O(password) as HTTP Basic.
        V(bearer) sends O(token) as an OAuth2 bearer token (for example one issued by ADFS).
      - If not set, the value of the E(MIM_CM_AUTH) environment variable is used.
      - Credentials that the chosen method does not use are an error, so that a forgotten O(auth) does not go unnoticed.
    type: str
    choices: [basic, bearer, none]
    default: none
    version_added: 0.1.0
  username:
    description:
      - Account for O(auth=basic).
      - If not set, the value of the E(MIM_CM_USERNAME) environment variable is used.
    type: str
    version_added: 0.1.0
  password:
    description:
      - Password of O(username).
      - If not set, the value of the E(MIM_CM_PASSWORD) environment variable is used.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  token:
    description:
      - OAuth2 access token for O(auth=bearer).
      - If not set, the value of the E(MIM_CM_TOKEN) environment variable is used.
      - Never shown in output or error messages.
    type: str
    version_added: 0.1.0
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate.
      - Set V(false) only for test servers; a certificate error names O(ca_path) as the fix.
      - If not set, the value of the E(MIM_CM_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
    version_added: 0.1.0
  ca_path:
    description:
      - PEM file with the CA certificates to trust for the server's certificate, instead of the system store.
      - If not set, the value of the E(MIM_CM_CA_PATH) environment variable is used.
    type: path
    version_added: 0.1.0
  timeout:
    description:
      - Seconds to wait for the connection and for each answer.
    type: float
    default: 30
    version_added: 0.1.0
requirements:
  - requests (Python library, on the host that runs the module)
notes:
  - "The API calls run where the module runs. Use C(delegate_to: localhost) to call MIM CM from the controller
    whatever the target host is."
  - Redirects are never followed, so that a redirected write cannot turn into a read.
'''

    ACTION_GROUP = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/mim.certificate_management.cm) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - mim.certificate_management.cm
'''
