# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scrubber: every form a secret can take in text is masked, and new secrets reach Ansible's masking."""

from __future__ import annotations

import base64
import json

from urllib.parse import quote

import pytest

from ansible_collections.mim.certificate_management.plugins.module_utils._secrets import MASK, Secrets

SECRET = 'p@ss wörd/+="\\\r\n&✓'


@pytest.mark.parametrize('form', [SECRET, quote(SECRET, safe=''), quote(SECRET, safe='').replace('%20', '+'),
                                  base64.b64encode(SECRET.encode()).decode(), base64.urlsafe_b64encode(SECRET.encode()).decode(),
                                  json.dumps(SECRET)[1:-1], json.dumps(SECRET, ensure_ascii=False)[1:-1], repr(SECRET)[1:-1]],
                         ids=['raw', 'url', 'url-plus', 'base64', 'base64url', 'json', 'json-unicode', 'python-repr'])
def test_every_form_is_scrubbed(form):
    secrets = Secrets()
    secrets.add(SECRET)
    text = secrets.scrub('the server said: <%s> (twice: %s)' % (form, form))
    assert form not in text
    assert text == 'the server said: <%s> (twice: %s)' % (MASK, MASK)


def test_a_basic_header_registered_as_its_own_secret_is_scrubbed():
    header = base64.b64encode(('alice:' + SECRET).encode()).decode()
    secrets = Secrets()
    secrets.add(header)
    assert secrets.scrub('Authorization: Basic %s' % header) == 'Authorization: Basic %s' % MASK


def test_new_forms_are_told_once_and_empty_values_ignored():
    told = []
    secrets = Secrets(on_add=told.append)
    for value in ('tok-1', 'tok-1', None, '', 42):
        secrets.add(value)
    assert len(told) == 1 and 'tok-1' in told[0] and base64.b64encode(b'tok-1').decode() in told[0]
    assert secrets.scrub(None) is None and secrets.scrub('nothing here') == 'nothing here'
