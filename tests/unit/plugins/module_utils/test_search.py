# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading requests: by id, per status, the date filters and the added status_name (HTTP mocked with responses)."""

from __future__ import annotations

import datetime

import pytest
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError,
    RequestNotFound,
    UnexpectedResponse,
)
from ansible_collections.mim.certificate_management.plugins.module_utils._filters import parse_timestamp, submitted_cutoff
from ansible_collections.mim.certificate_management.plugins.module_utils._search import find_requests

BASE = 'https://cm.example.test/CertificateManagement/api/v1.0/requests'
OLD = {'Uuid': 'aaaaaaaa-0000-4000-8000-000000000001', 'Status': 16, 'Submitted': '2020-01-02T03:04:05.1234567'}
NEW = {'Uuid': 'aaaaaaaa-0000-4000-8000-000000000002', 'Status': 3, 'Submitted': '2099-01-01T00:00:00'}
UTC = datetime.timezone.utc


@pytest.mark.parametrize('text, expected', [
    ('2024-05-02T08:15:42.1830000', datetime.datetime(2024, 5, 2, 8, 15, 42, 183000, UTC)),
    ('2024-05-02', datetime.datetime(2024, 5, 2, tzinfo=UTC)),
    ('2024-05-02T08:15Z', datetime.datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
    ('2024-05-02T10:15:00+02:00', datetime.datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
    ('2024-05-02 08:15:42-0130', datetime.datetime(2024, 5, 2, 9, 45, 42, tzinfo=UTC)),
])
def test_timestamps_as_dotnet_and_people_write_them(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize('text', ['yesterday', '2024-13', '02/05/2024', '', None])
def test_bad_timestamps(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_cutoff_takes_the_earlier_of_both_filters():
    now = datetime.datetime(2026, 11, 24, tzinfo=UTC)
    assert submitted_cutoff(older_than_days=30, now=now) == datetime.datetime(2026, 10, 25, tzinfo=UTC)
    assert submitted_cutoff('2026-01-01', 30, now=now) == datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert submitted_cutoff() is None


@pytest.mark.parametrize('before, days, message', [('last week', None, 'submitted_before'), (None, -1, 'older_than_days must be zero or more')])
def test_bad_filters_are_configuration_errors(before, days, message):
    with pytest.raises(ConfigurationError, match=message):
        submitted_cutoff(before, days)


@responses.activate
def test_one_by_id_gets_its_status_name(client):
    responses.get('%s/%s' % (BASE, OLD['Uuid']), json=OLD)
    assert find_requests(client, OLD['Uuid']) == [dict(OLD, status_name='Pending')]


@responses.activate
def test_an_unknown_id_is_an_empty_list(client):
    responses.get('%s/%s' % (BASE, OLD['Uuid']), status=204)
    assert find_requests(client, OLD['Uuid']) == []


@responses.activate
def test_a_404_is_reported_not_hidden(client):
    responses.get('%s/%s' % (BASE, OLD['Uuid']), status=404)
    with pytest.raises(RequestNotFound, match='Clm.WebApi.Enabled'):
        find_requests(client, OLD['Uuid'])


@responses.activate
def test_one_search_per_status_merged_without_duplicates(client):
    responses.get(BASE, match=[responses.matchers.query_param_matcher({'status': 'Pending', 'targetuser': 'current'})], json=[OLD])
    responses.get(BASE, match=[responses.matchers.query_param_matcher({'status': 'Approved', 'targetuser': 'current'})], json=[NEW, OLD])
    found = find_requests(client, statuses=['Pending', 'Approved'], target_user='current')
    assert [request['Uuid'] for request in found] == [OLD['Uuid'], NEW['Uuid']]
    assert len(responses.calls) == 2


@responses.activate
def test_search_without_filters_and_204_means_none(client):
    responses.get(BASE, match=[responses.matchers.query_param_matcher({})], status=204)
    assert find_requests(client) == []


@responses.activate
def test_date_filter_keeps_old_requests_only(client):
    responses.get(BASE, json=[OLD, NEW])
    found = find_requests(client, cutoff=datetime.datetime(2026, 1, 1, tzinfo=UTC))
    assert [request['Uuid'] for request in found] == [OLD['Uuid']]


@responses.activate
def test_unknown_status_number_is_shown_as_null(client):
    odd = dict(NEW, Status=42)
    responses.get(BASE, json=[odd])
    assert find_requests(client) == [dict(odd, status_name=None)]


@responses.activate
@pytest.mark.parametrize('body', [{'not': 'a list'}, ['not an object']])
def test_a_search_answer_that_is_not_a_list_of_objects(client, body):
    responses.get(BASE, json=body)
    with pytest.raises(UnexpectedResponse, match='list of Request objects'):
        find_requests(client)


@responses.activate
def test_a_request_with_an_unreadable_submitted_date(client):
    responses.get(BASE, json=[dict(OLD, Submitted='soon')])
    with pytest.raises(UnexpectedResponse, match="Submitted value 'soon'"):
        find_requests(client, cutoff=datetime.datetime(2026, 1, 1, tzinfo=UTC))
