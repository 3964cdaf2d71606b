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
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import MimCmError, unexpected_error
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets


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
SECRET_OPTIONS = ('password', 'token', 'client_secret')
_AUTH_OPTIONS = sorted(set().union(*(method.uses for method in AUTH_METHODS.values())))


def _auth_options(params):
    """The credential options for the chosen auth method.

    A value that came from the environment (an AWX credential injects MIM_CM_* for the whole job) and belongs to
    another method is left out; the same value given as a task option is an error, so a wrong auth does not go unnoticed.
    """
    uses = AUTH_METHODS[params['auth']].uses
    return dict((key, params[key]) for key in _AUTH_OPTIONS
                if key in uses or params[key] is None or params[key] != os.environ.get(ENV_PREFIX + key.upper()))


def module_secrets(module):
    """The secrets of the options (and a password written into url) in every form, registered with Ansible's masking,
    which then covers the result and its invocation; tokens fetched later join them as they arrive."""
    secrets = Secrets(on_add=module.no_log_values.update)
    for option in SECRET_OPTIONS:
        secrets.add(module.params.get(option))
    url = module.params.get('url')
    authority = url.split('://', 1)[-1].split('/', 1)[0] if isinstance(url, str) else ''
    if '@' in authority:
        userinfo = authority.rsplit('@', 1)[0]
        secrets.add(userinfo)
        secrets.add(userinfo.partition(':')[2])
    return secrets


def run_module(module, work):
    """Run work(secrets, context) and exit with its result: the one place where a module's failures are reported.

    work returns the result dict (with failed: true for a failure that still has results) and may put keys into
    context that a failure result carries too. Whatever goes wrong ends in fail_json with a message scrubbed of every
    secret, never in a traceback.
    """
    secrets = module_secrets(module)
    context = {}
    try:
        result = work(secrets, context)
    except MimCmError as exc:
        module.fail_json(**dict(exc.to_result(), **context))
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the boundary: a traceback could carry server text
        module.fail_json(msg=secrets.scrub(unexpected_error(exc)), **context)
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


def client_from_module(module, secrets):
    """Build the client from the module's options; bad options raise ConfigurationError before any network call."""
    if REQUESTS_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    auth = auth_from_options(params['auth'], **_auth_options(params))
    client = CMClient(params['url'], auth, api_path=params['api_path'], validate_certs=params['validate_certs'],
                      ca_path=params['ca_path'], timeout=params['timeout'], client_cert=params['client_cert'],
                      client_key=params['client_key'], retries=params['retries'], backoff_factor=params['backoff_factor'],
                      secrets=secrets)
    if client.base_url.startswith('http://') and params['auth'] in ('basic', 'bearer'):
        module.warn('url is plain http://, so the %s credentials cross the network unencrypted; use https://' % params['auth'])
    return client
