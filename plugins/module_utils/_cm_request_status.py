# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_status's options and work, shared by the module and its controller-side action plugin."""

from __future__ import annotations

from typing import Any

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError
from ansible_collections.mim.certificate_management.plugins.module_utils._finalize import batch_outcome, finalize_many, finalize_request
from ansible_collections.mim.certificate_management.plugins.module_utils._module import ModuleDefinition, client_from_module, connection_argument_spec
from ansible_collections.mim.certificate_management.plugins.module_utils._request import (
    FINAL_ACTIONS,
    canonical_request_id,
    canonical_request_ids,
    final_action,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets

CONSTRAINTS = dict(mutually_exclusive=[('request_id', 'request_ids')], required_one_of=[('request_id', 'request_ids')])


def argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options and the module's own."""
    spec = connection_argument_spec()
    spec.update(
        request_id=dict(type='str'),
        request_ids=dict(type='list', elements='str'),
        concurrency=dict(type='int', default=8),
        status=dict(type='str', required=True, choices=[action.choice for action in FINAL_ACTIONS]),
    )
    return spec


def finalize(module: Any, secrets: Secrets, context: dict[str, Any]) -> dict[str, Any]:
    """The one id, or the batch, finalized; a batch with a failed id is a failed result that keeps every entry."""
    params = module.params
    action = final_action(params['status'])
    if params['request_id'] is not None:
        context['request_id'] = canonical_request_id(params['request_id'])
        return finalize_request(client_from_module(module, secrets), context['request_id'], action, module.check_mode, module._diff)
    request_ids = canonical_request_ids(params['request_ids'])
    if not 1 <= params['concurrency'] <= 64:
        raise ConfigurationError('concurrency must be between 1 and 64, not %s' % params['concurrency'])
    outcome = batch_outcome(finalize_many(client_from_module(module, secrets), request_ids, action, module.check_mode,
                                          module._diff, params['concurrency']))
    return dict(outcome, failed=bool(outcome.get('msg')))


DEFINITION = ModuleDefinition('mim.certificate_management.cm_request_status', argument_spec, finalize, CONSTRAINTS)
