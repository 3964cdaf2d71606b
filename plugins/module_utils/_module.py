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


def connection_argument_spec():
    """The shared connection options, each with the environment variable a job runner would inject."""
    def env(name, **spec):
        spec['fallback'] = (env_fallback, [ENV_PREFIX + name])
        return spec

    return dict(
        url=env('URL', type='str'),
        api_path=dict(type='str', default=DEFAULT_API_PATH),
        auth=env('AUTH', type='str', default='negotiate', choices=list(AUTH_METHODS)),
        username=env('USERNAME', type='str'),
        password=env('PASSWORD', type='str', no_log=True),
        service_principal=env('SERVICE_PRINCIPAL', type='str'),
        token=env('TOKEN', type='str', no_log=True),
        token_url=env('TOKEN_URL', type='str', no_log=False),
        client_id=env('CLIENT_ID', type='str'),
        client_secret=env('CLIENT_SECRET', type='str', no_log=True),
        resource=env('RESOURCE', type='str'),
        validate_certs=env('VALIDATE_CERTS', type='bool', default=True),
        ca_path=env('CA_PATH', type='path'),
        client_cert=env('CLIENT_CERT', type='path'),
        client_key=env('CLIENT_KEY', type='path', no_log=False),
        timeout=dict(type='float', default=30),
        retries=dict(type='int', default=3),
        backoff_factor=dict(type='float', default=0.5),
    )


ENV_PREFIX = 'MIM_CM_'
_AUTH_OPTIONS = sorted(set().union(*(method.uses for method in AUTH_METHODS.values())))


def _auth_options(params):
    """The credential options for the chosen auth method.

    A value that came from the environment (an AWX credential injects MIM_CM_* for the whole job) and belongs to
    another method is left out; the same value given as a task option is an error, so a wrong auth does not go unnoticed.
    """
    uses = AUTH_METHODS[params['auth']].uses
    return dict((key, params[key]) for key in _AUTH_OPTIONS
                if key in uses or params[key] is None or params[key] != os.environ.get(ENV_PREFIX + key.upper()))


def client_from_module(module):
    """Build the client from the module's options; bad options raise ConfigurationError before any network call."""
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    auth = auth_from_options(params['auth'], **_auth_options(params))
    client = CMClient(params['url'], auth, api_path=params['api_path'], validate_certs=params['validate_certs'],
                      ca_path=params['ca_path'], timeout=params['timeout'], client_cert=params['client_cert'],
                      client_key=params['client_key'], retries=params['retries'], backoff_factor=params['backoff_factor'])
    if client.base_url.startswith('http://') and params['auth'] in ('basic', 'bearer'):
        module.warn('url is plain http://, so the %s credentials cross the network unencrypted; use https://' % params['auth'])
    return client
