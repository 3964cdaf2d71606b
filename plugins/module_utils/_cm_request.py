# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request's options and work: validate everything, find the template and its policy, reuse or create."""

from __future__ import annotations

from typing import Any

from ansible_collections.mim.certificate_management.plugins.module_utils._create import ENCODINGS, Wanted, create, open_requests, reuse
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, HTTPStatusError
from ansible_collections.mim.certificate_management.plugins.module_utils._module import ModuleDefinition, client_from_module, connection_argument_spec
from ansible_collections.mim.certificate_management.plugins.module_utils._request import (
    canonical_request_id, field, guid_or_none, request_status, request_type)
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets
from ansible_collections.mim.certificate_management.plugins.module_utils._templates import check_request_data, find_template, list_templates, read_policy


def argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options and the module's own."""
    spec = connection_argument_spec()
    spec.update(
        type=dict(type='str', default='Enroll'),
        profile_template=dict(type='str', required=True),
        data_collection=dict(type='dict', default={}),
        comment=dict(type='str', default=''),
        target_user=dict(type='str'),
        priority=dict(type='int'),
        smartcard=dict(type='str'),
        profile=dict(type='str'),
        force=dict(type='bool', default=False),
        data_collection_encoding=dict(type='str', default='auto', choices=['auto'] + list(ENCODINGS)),
        reuse_match=dict(type='list', elements='str', default=[], choices=['comment', 'data_collection']),
    )
    return spec


def _wanted(params: dict[str, Any]) -> Wanted:
    """The request asked for, every option checked before any network call; its template is filled in once found."""
    if params['priority'] is not None and not 0 <= params['priority'] <= 255:
        raise ConfigurationError('priority must be from 0 (highest) to 255 (lowest), not %s' % params['priority'])
    data = {}
    for name, value in (params['data_collection'] or {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigurationError('data_collection item %r must be a text value, not %s' % (name, type(value).__name__))
        data[str(name)] = str(value)
    ids = dict((option, canonical_request_id(params[option], option) if params[option] else None)
               for option in ('target_user', 'smartcard', 'profile'))
    match = tuple(sorted(set(params['reuse_match'] or [])))
    if 'comment' in match and not (params['comment'] or '').strip():
        raise ConfigurationError('reuse_match has comment but comment is empty; give each request a comment of its own (the '
                                 'host name, for example), or leave comment out of reuse_match')
    if 'data_collection' in match and not data:
        raise ConfigurationError('reuse_match has data_collection but data_collection is empty; give the items that tell '
                                 'this request apart, or leave data_collection out of reuse_match')
    return Wanted(request_type(params['type']), '', ids['target_user'], ids['smartcard'], ids['profile'], data,
                  params['comment'] or '', params['priority'], match)


def ensure_request(module: Any, secrets: Secrets, context: dict[str, Any]) -> dict[str, Any]:
    """The open request like the one asked for, or a new one (nothing in check mode)."""
    params = module.params
    asked = _wanted(params)
    client = client_from_module(module, secrets)
    template = find_template(list_templates(client), params['profile_template'])
    wanted = asked._replace(template=template['uuid'])
    context['profile_template'] = {'uuid': template['uuid'], 'name': template['name']}
    try:
        policy = read_policy(client, wanted.template, wanted.request_type.name)
    except HTTPStatusError as exc:
        if exc.http_status != 403:
            raise
        module.warn('the %s policy of profile template %s cannot be read (HTTP 403), so the data collection was not '
                    'checked before sending' % (wanted.request_type.name, wanted.template))
        policy = None
    if policy is None:
        module.warn('profile template %s has no %s policy that the server shows (HTTP 204): the data collection was not '
                    'checked, the server decides whether it takes the request' % (wanted.template, wanted.request_type.name))
    else:
        check_request_data(policy, wanted.template, wanted.request_type.name, wanted.data_collection, wanted.comment)
    candidates = open_requests(client, wanted)
    existing = None if params['force'] else reuse(candidates, wanted, module.warn)
    result = dict(changed=False, created=False, profile_template=context['profile_template'])
    if existing is not None:
        return dict(result, request_id=guid_or_none(field(existing, 'Uuid')), request=existing, status=request_status(existing))
    if module.check_mode:
        return dict(result, changed=True, created=True, msg='would create a %s' % wanted.describe())
    encodings = ENCODINGS if params['data_collection_encoding'] == 'auto' else (params['data_collection_encoding'],)
    request, encoding = create(client, wanted, encodings, candidates.ids(), context)
    return dict(result, changed=True, created=True, request_id=context['request_id'], request=request,
                status=request_status(request), data_collection_encoding=encoding)


DEFINITION = ModuleDefinition('mim.certificate_management.cm_request', argument_spec, ensure_request,
                              dict(mutually_exclusive=[('smartcard', 'profile')]))
