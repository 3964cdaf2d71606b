# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the connection options (documented in doc_fragments/connection.py) and the client built from them."""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import AUTH_METHODS, auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import (
    DEFAULT_API_PATH,
    REQUESTS_IMPORT_ERROR,
    CMClient,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError


def connection_argument_spec():
    """The shared connection options, each with the environment variable a job runner would inject."""
    return dict(
        url=dict(type='str', fallback=(env_fallback, ['MIM_CM_URL'])),
        api_path=dict(type='str', default=DEFAULT_API_PATH),
        auth=dict(type='str', default='none', choices=sorted(AUTH_METHODS), fallback=(env_fallback, ['MIM_CM_AUTH'])),
        username=dict(type='str', fallback=(env_fallback, ['MIM_CM_USERNAME'])),
        password=dict(type='str', no_log=True, fallback=(env_fallback, ['MIM_CM_PASSWORD'])),
        token=dict(type='str', no_log=True, fallback=(env_fallback, ['MIM_CM_TOKEN'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['MIM_CM_VALIDATE_CERTS'])),
        ca_path=dict(type='path', fallback=(env_fallback, ['MIM_CM_CA_PATH'])),
        timeout=dict(type='float', default=30),
    )


def client_from_module(module):
    """Build the client from the module's options; bad options raise ConfigurationError before any network call."""
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    ca_path = params['ca_path']
    if ca_path and not os.path.isfile(ca_path):
        raise ConfigurationError('ca_path %s is not a readable file; give the PEM bundle of the CA that signed the MIM CM server certificate'
                                 % ca_path)
    auth = auth_from_options(params['auth'], username=params['username'], password=params['password'], token=params['token'])
    client = CMClient(params['url'], auth, api_path=params['api_path'], validate_certs=params['validate_certs'],
                      ca_path=ca_path, timeout=params['timeout'])
    if client.base_url.startswith('http://') and params['password']:
        module.warn('url is plain http://, so the password crosses the network unencrypted; use https://')
    return client
