# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the module_utils tests."""

from __future__ import annotations

import pytest

from ansible_collections.mim.certificate_management.plugins.module_utils._auth import auth_from_options
from ansible_collections.mim.certificate_management.plugins.module_utils._client import CMClient


@pytest.fixture
def client():
    """A client of https://cm.example.test without authentication whose retries do not sleep."""
    return CMClient('https://cm.example.test', auth_from_options('none'), sleep=lambda seconds: None)
