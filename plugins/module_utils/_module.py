# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the connection options (documented in doc_fragments/connection.py), the client built
from them, and the one place where a module's failures are reported."""

from __future__ import annotations

import os

from typing import Any, Callable, Mapping, NamedTuple, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import AUTH_METHODS, CREDENTIAL_OPTIONS, auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import DEFAULT_API_PATH, CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, MimCmError, MissingLibrary, unexpected_error
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets

ENV_PREFIX = 'MIM_CM_'
# The options whose values are secrets: the connection's, and the options of a module's own that are (pfx_password of
# cm_request_certificates); module_secrets registers every form of each with Ansible's masking.
SECRET_OPTIONS = ('password', 'token', 'client_secret', 'pfx_password')
_BOOLEAN_CREDENTIALS = ('token_validate_certs',)


class ModuleDefinition(NamedTuple):
    """A module as its module file and its action plugin both run it: its name, its options and their constraints (as
    AnsibleModule takes them), and its work (module, secrets, context) -> result, for run_module."""

    name: str
    argument_spec: Callable[[], dict[str, dict[str, Any]]]
    work: Callable[[Any, Secrets, dict[str, Any]], dict[str, Any]]
    constraints: Mapping[str, Any] = {}


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """The shared connection options. The site's options fall back to the environment variable a job runner injects;
    the credentials of the chosen auth method do too, but only those (see auth_options)."""
    def env(name: str, **spec: Any) -> dict[str, Any]:
        spec['fallback'] = (env_fallback, [ENV_PREFIX + name])
        return spec

    return dict(
        url=env('URL', type='str'),
        api_path=dict(type='str', default=DEFAULT_API_PATH),
        auth=env('AUTH', type='str', default='negotiate', choices=list(AUTH_METHODS)),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        service_principal=dict(type='str'),
        token=dict(type='str', no_log=True),
        token_url=dict(type='str', no_log=False),
        client_id=dict(type='str'),
        client_secret=dict(type='str', no_log=True),
        resource=dict(type='str'),
        token_ca_path=dict(type='path'),
        token_validate_certs=dict(type='bool'),
        validate_certs=env('VALIDATE_CERTS', type='bool', default=True),
        ca_path=env('CA_PATH', type='path'),
        client_cert=env('CLIENT_CERT', type='path'),
        client_key=env('CLIENT_KEY', type='path', no_log=False),
        timeout=dict(type='float', default=30),
        retries=dict(type='int', default=3),
        backoff_factor=dict(type='float', default=0.5),
    )


def auth_options(params: Mapping[str, Any], secrets: Secrets, environ: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The credential options of the task, and for the chosen auth method only, MIM_CM_* variables for those not given.

    An AWX credential injects MIM_CM_* for a whole job: a variable that belongs to another method is never read, while
    the same option given to the task itself is an error, so that a wrong auth does not go unnoticed.
    """
    environ = os.environ if environ is None else environ
    uses = AUTH_METHODS[params['auth']].uses + _BOOLEAN_CREDENTIALS
    options: dict[str, Any] = {}
    for key in CREDENTIAL_OPTIONS + list(_BOOLEAN_CREDENTIALS):
        value = params.get(key)
        variable = ENV_PREFIX + key.upper()
        if value is None and key in uses and environ.get(variable):
            value = environ[variable]
            if key in _BOOLEAN_CREDENTIALS:
                try:
                    value = boolean(value)
                except TypeError:
                    raise ConfigurationError('%s is %r, which is not a boolean' % (variable, value))
            elif key.endswith('_path'):
                value = os.path.expanduser(value)
            if key in SECRET_OPTIONS:
                secrets.add(value)
        if value is not None:
            options[key] = value
    options.setdefault('token_validate_certs', True)
    return options


def module_secrets(module: AnsibleModule) -> Secrets:
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


def run_module(module: AnsibleModule, work: Callable[[Secrets, dict[str, Any]], dict[str, Any]]) -> None:
    """Run work(secrets, context) and exit with its result: the one place where a module's failures are reported.

    work returns the result dict (with failed: true for a failure that still has results) and may put keys into
    context that a failure result carries too. Whatever goes wrong ends in fail_json with a message scrubbed of every
    secret, never in a traceback.
    """
    secrets = module_secrets(module)
    context: dict[str, Any] = {}
    failure: Optional[dict[str, Any]] = None
    try:
        result = work(secrets, context)
    except MissingLibrary as exc:
        failure = dict(msg=missing_required_lib(exc.library, reason=exc.reason), exception=exc.import_error)
    except MimCmError as exc:
        failure = exc.to_result()
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the boundary: a traceback could carry server text
        failure = dict(msg=secrets.scrub(unexpected_error(exc)))
    # fail_json outside the except blocks: before ansible-core 2.19 it adds the traceback being handled to the result
    if failure is not None:
        module.fail_json(**dict(failure, **context))
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


def client_from_module(module: AnsibleModule, secrets: Secrets) -> CMClient:
    """Build the client from the module's options; bad options raise ConfigurationError before any network call."""
    params = module.params
    auth = auth_from_options(params['auth'], **auth_options(params, secrets))
    client = CMClient(params['url'], auth, api_path=params['api_path'], validate_certs=params['validate_certs'],
                      ca_path=params['ca_path'], timeout=params['timeout'], client_cert=params['client_cert'],
                      client_key=params['client_key'], retries=params['retries'], backoff_factor=params['backoff_factor'],
                      secrets=secrets)
    if client.base_url.startswith('http://') and params['auth'] in ('basic', 'bearer'):
        module.warn('url is plain http://, so the %s credentials cross the network unencrypted; use https://' % params['auth'])
    return client
