# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cm_request_info's options and work, shared by the module and its controller-side action plugin."""

from __future__ import annotations

from typing import Any

from ansible_collections.mim.certificate_management.plugins.module_utils._filters import submitted_cutoff
from ansible_collections.mim.certificate_management.plugins.module_utils._module import ModuleDefinition, client_from_module, connection_argument_spec
from ansible_collections.mim.certificate_management.plugins.module_utils._request import STATUS_TABLE, canonical_request_id, status_name
from ansible_collections.mim.certificate_management.plugins.module_utils._search import STATUS_NAME_KEY, find_requests, unknown_status_warning
from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import Secrets


def argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options and the module's own."""
    spec = connection_argument_spec()
    spec.update(
        request_id=dict(type='str'),
        status=dict(type='list', elements='str', choices=[entry.name.lower() for entry in STATUS_TABLE]),
        target_user=dict(type='str', choices=['current']),
        submitted_before=dict(type='str'),
        older_than_days=dict(type='float'),
    )
    return spec


def read(module: Any, secrets: Secrets, _context: dict[str, Any]) -> dict[str, Any]:
    """The requests found, each unknown status warned about."""
    params = module.params
    request_id = canonical_request_id(params['request_id']) if params['request_id'] else None
    cutoff = submitted_cutoff(params['submitted_before'], params['older_than_days'])
    found = find_requests(client_from_module(module, secrets), request_id, [status_name(name) for name in params['status'] or ()],
                          params['target_user'], cutoff)
    for request in found:
        if request[STATUS_NAME_KEY] is None:
            module.warn(unknown_status_warning(request))
    return dict(changed=False, requests=found)


DEFINITION = ModuleDefinition('mim.certificate_management.cm_request_info', argument_spec, read,
                              dict(mutually_exclusive=[('request_id', 'status'), ('request_id', 'target_user')]))
