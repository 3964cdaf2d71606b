# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status table (the CM database's codes) and the final actions a user may ask for."""

from __future__ import annotations

import pytest

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._request import (
    REST_API,
    SQL_API,
    STATUS_TABLE,
    final_action,
    is_final,
    status_name,
)

# Every code of the FIM CM SQL API's externalGetStatus, with whether it is final.
DATABASE_CODES = [(0, 'None', False), (3, 'Approved', False), (4, 'Denied', True), (8, 'Completed', True),
                  (9, 'Failed', True), (16, 'Pending', False), (17, 'Canceled', True), (18, 'Executing', False)]


@pytest.mark.parametrize('number, name, final', DATABASE_CODES)
def test_every_database_code_as_number_numeric_string_and_name(number, name, final):
    assert status_name(number) == status_name(str(number)) == status_name(' %d ' % number) == name
    assert status_name(name) == status_name(name.upper()) == name
    assert is_final(name) is final


def test_the_table_is_exactly_the_eight_database_codes():
    assert [(entry.number, entry.name, entry.final) for entry in STATUS_TABLE] == DATABASE_CODES


def test_every_code_names_where_it_is_documented():
    assert all(SQL_API in entry.sources for entry in STATUS_TABLE)
    assert {entry.name for entry in STATUS_TABLE if REST_API in entry.sources} == {'Approved', 'Completed'}


def test_a_server_that_names_an_abandoned_request_abandoned_means_failed():
    assert status_name('Abandoned') == status_name('abandoned') == 'Failed'


@pytest.mark.parametrize('value', [1, 2, 5, 6, 7, 12, -1, 42, '7', 'Finished', '', None, True, 8.0, []])
def test_values_outside_the_table_are_never_a_known_status(value):
    with pytest.raises(UnexpectedResponse, match='not in the MIM CM status table') as caught:
        status_name(value)
    assert repr(value) in caught.value.msg and 'please report it' in caught.value.msg


@pytest.mark.parametrize('choice, put_value, reaches', [('completed', 'Completed', 'Completed'), ('Canceled', 'Canceled', 'Canceled'),
                                                        ('ABANDONED', 'Abandoned', 'Failed')])
def test_final_actions_send_one_value_and_reach_one_status(choice, put_value, reaches):
    action = final_action(choice)
    assert (action.put_value, action.reaches) == (put_value, reaches)


def test_an_unknown_action_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match='completed, canceled, abandoned'):
        final_action('approved')
