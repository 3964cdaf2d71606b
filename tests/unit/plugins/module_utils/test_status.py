# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status table: numbers and names from a server, what the user may ask for."""

from __future__ import annotations

import pytest

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._status import (
    STATUS_TABLE,
    is_final,
    settable_status,
    status_name,
)


@pytest.mark.parametrize('value, name', [(3, 'Approved'), (8, 'Completed'), ('8', 'Completed'), (' 6 ', 'Canceled'),
                                         ('completed', 'Completed'), ('ABANDONED', 'Abandoned'), ('None', 'None'), (0, 'None')])
def test_numbers_and_names_from_a_server(value, name):
    assert status_name(value) == name


@pytest.mark.parametrize('value', [9, -1, 42, '9', 'Finished', '', None, True, 8.0, []])
def test_values_outside_the_table_are_never_a_known_status(value):
    with pytest.raises(UnexpectedResponse, match='not in the MIM CM status table'):
        status_name(value)


def test_documented_numbers_are_the_ones_microsoft_confirms():
    documented = {(entry.number, entry.name) for entry in STATUS_TABLE if entry.documented}
    assert documented == {(3, 'Approved'), (8, 'Completed')}


def test_table_has_unique_numbers_and_names():
    assert len({entry.number for entry in STATUS_TABLE}) == len(STATUS_TABLE)
    assert len({entry.name.lower() for entry in STATUS_TABLE}) == len(STATUS_TABLE)


@pytest.mark.parametrize('name, final', [('Completed', True), ('Canceled', True), ('Abandoned', True), ('Denied', True),
                                         ('Failed', True), ('Approved', False), ('Pending', False), ('Executing', False),
                                         ('None', False)])
def test_final_statuses(name, final):
    assert is_final(name) is final


def test_settable_status_is_canonical():
    assert [settable_status(choice) for choice in ('completed', 'Canceled', 'ABANDONED')] == ['Completed', 'Canceled', 'Abandoned']
    with pytest.raises(ConfigurationError, match='completed, canceled, abandoned'):
        settable_status('approved')
