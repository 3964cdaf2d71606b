# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Profile templates and their workflow policies: a template found by uuid or name, a policy read for a request type,
and the data collection of a new request checked against that policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

if TYPE_CHECKING:
    from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError
from ansible_collections.mim.certificate_management.plugins.module_utils._request import field, guid_or_none

# The flags a data collection item may carry to say that it must be filled in. Microsoft does not document the shape
# of an item; an item without any of these is not enforced here (the server still decides).
_REQUIRED_KEYS = ('Required', 'IsRequired', 'Mandatory', 'IsMandatory')


def list_templates(client: CMClient) -> list[dict[str, Any]]:
    """The profile templates the caller may enroll for, as the server sent them, each with the convenience keys of
    template_view."""
    return [template_view(template) for template in client.get_list('profiletemplates', 'list the profile templates')]


def template_view(template: Mapping[str, Any]) -> dict[str, Any]:
    """A template as the server sent it, plus uuid, name, is_smartcard and is_virtual_smartcard read in any case."""
    return dict(template, uuid=guid_or_none(field(template, 'Uuid')), name=field(template, 'Name'),
                is_smartcard=field(template, 'IsSmartcardProfileTemplate') is True,
                is_virtual_smartcard=field(template, 'IsVirtualSmartcardProfileTemplate') is True)


def find_template(templates: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The template wanted names, by uuid (any case, braces allowed) or exact name, among templates (list_templates).

    A uuid the list does not hold is used as given (the list holds only templates the caller may enroll for; other
    request types may name others); a name must match exactly one template.
    """
    guid = guid_or_none(wanted)
    if guid:
        return next((template for template in templates if template['uuid'] == guid),
                    {'uuid': guid, 'name': None, 'is_smartcard': None, 'is_virtual_smartcard': None})
    matches = [template for template in templates if template['name'] == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigurationError('profile_template %r is the name of %d templates (%s); give the uuid of the one you mean'
                                 % (wanted, len(matches), ', '.join(str(template['uuid']) for template in matches)))
    names = sorted(str(template['name']) for template in templates)
    raise ConfigurationError('profile_template %r is neither a GUID nor the exact name of a profile template you may enroll '
                             'for; the server lists %s' % (wanted, ', '.join(repr(name) for name in names[:20]) or 'none'))


def read_policy(client: CMClient, template_id: str, request_type: str) -> Optional[dict[str, Any]]:
    """The workflow policy of a template for a request type, or None when the server has none (204)."""
    return client.get_object('profiletemplates/%s/policies/%s' % (template_id, request_type.lower()),
                             'read the %s policy of profile template %s' % (request_type, template_id))


def policy_items(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The data collection items of a policy, as the server sent them (their shape is not documented)."""
    items = field(policy, 'PolicyDataCollection') or []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def item_required(item: Mapping[str, Any]) -> Optional[bool]:
    """Whether a data collection item must be filled in, or None when the item does not say."""
    flags = [field(item, key) for key in _REQUIRED_KEYS]
    flags = [flag for flag in flags if isinstance(flag, bool)]
    return any(flags) if flags else None


def check_request_data(policy: Mapping[str, Any], template: str, request_type: str, data: Mapping[str, str],
                       comment: Optional[str]) -> None:
    """Raise ConfigurationError naming every problem of data and comment under the policy, before anything is sent:
    a required item missing or empty, an item the policy does not collect, a comment the policy requires."""
    problems = []
    items = policy_items(policy)
    names = [field(item, 'Name') for item in items]
    if items and all(isinstance(name, str) for name in names):
        missing = [field(item, 'Name') for item in items if item_required(item) and not str(data.get(field(item, 'Name')) or '').strip()]
        unknown = sorted(set(data) - set(names))
        if missing:
            problems.append('the required data collection item(s) %s are missing or empty' % ', '.join(repr(name) for name in missing))
        if unknown:
            problems.append('data_collection has item(s) %s that the policy does not collect (it collects %s)'
                            % (', '.join(repr(name) for name in unknown), ', '.join(repr(name) for name in names)))
    if field(policy, 'CollectComments') is True and not (comment or '').strip():
        problems.append('the policy requires a comment')
    if problems:
        raise ConfigurationError('the %s policy of profile template %s: %s; nothing was sent'
                                 % (request_type, template, '; '.join(problems)))
