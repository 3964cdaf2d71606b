# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creating requests: request types, the created URI, reuse of an open request, a POST never repeated blindly, and the
data collection encodings (HTTP mocked with responses; the integration target cm_request runs the same against the
simulator)."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from ansible_collections.mim.certificate_management.plugins.module_utils._create import (
    Wanted, create, open_requests, parse_created, reuse)
from ansible_collections.mim.certificate_management.plugins.module_utils._errors import (
    ConfigurationError, HTTPStatusError, RequestConflict, UnexpectedResponse)
from ansible_collections.mim.certificate_management.plugins.module_utils._request import request_type, type_matches
from ansible_collections.mim.certificate_management.plugins.module_utils._templates import check_request_data, find_template, template_view

BASE = 'https://cm.example.test/CertificateManagement/api/v1.0'
TEMPLATE = 'a039b4d0-5ce8-4eff-8651-181c6576fda3'
ME = '8f1590dc-d932-4b66-8e68-2e91c5880780'
NEW_ID = 'b0b0b0b0-0000-4000-8000-000000000001'


def wanted(**changes):
    fields = dict(request_type=request_type('enroll'), template=TEMPLATE, target_user=None, smartcard=None, profile=None,
                  data_collection={'Host Name': 'web01'}, comment='', priority=None)
    fields.update(changes)
    return Wanted(**fields)


def request(uuid, status=3, request_type=1, **changes):
    fields = dict(Uuid=uuid, RequestType=request_type, Status=status, OriginatorUserUuid=ME, TargetUserUuid=ME,
                  ProfileTemplateUuid=TEMPLATE, Submitted='2026-12-01T10:00:00', OldSmartcardUuid='00000000-0000-0000-0000-000000000000',
                  OldProfileUuid='00000000-0000-0000-0000-000000000000')
    fields.update(changes)
    return fields


def search(found_by_status):
    """Mock GET /requests?status=X for the three open statuses."""
    for status in ('Pending', 'Approved', 'Executing'):
        found = found_by_status.get(status, [])
        responses.get('%s/requests' % BASE, json=found, status=200,
                      match=[responses.matchers.query_param_matcher({'status': status, 'targetuser': 'current'})])


@pytest.mark.parametrize('value, wanted_type, expected', [
    (1, 'Enroll', True), ('1', 'Enroll', True), (5, 'Enroll', False), ('Enroll', 'enroll', True), ('renew', 'Renew', True),
    (5, 'Unblock', True), (5, 'Renew', False), (1, 'Renew', False), (7, 'Renew', None), (None, 'Enroll', None),
])
def test_request_types_are_told_apart_only_where_documented(value, wanted_type, expected):
    assert type_matches(value, request_type(wanted_type)) is expected


def test_unknown_type_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="type 'Approve' is not one of Enroll"):
        request_type('Approve')


@pytest.mark.parametrize('answer', [
    'api/v1.0/requests/%s' % NEW_ID, '/CertificateManagement/api/v1.0/requests/%s' % NEW_ID,
    'https://cm.example.test/certificatemanagement/api/v1.0/requests/{%s}' % NEW_ID.upper(), ' api/v1.0/requests/%s/ ' % NEW_ID,
])
def test_the_created_uri_is_parsed(answer):
    assert parse_created(answer, BASE) == NEW_ID


@pytest.mark.parametrize('answer', ['created', {'Uuid': NEW_ID}, 'api/v1.0/requests/%s/profiles' % NEW_ID,
                                    'api/v1.0/requests/%s?x=1' % NEW_ID, None, 'api/v2.0/requests/%s' % NEW_ID])
def test_a_201_without_a_parsable_id_says_a_request_may_exist(answer):
    with pytest.raises(UnexpectedResponse, match='a request may have been created'):
        parse_created(answer, BASE)


def test_body_encodings():
    array = wanted(priority=4, target_user=ME).body('array')
    assert array == {'profiletemplateuuid': TEMPLATE, 'type': 'Enroll', 'datacollection': [{'Host Name': 'web01'}],
                     'comment': '', 'target': ME, 'priority': 4}
    assert json.loads(wanted().body('string')['datacollection']) == [{'Host Name': 'web01'}]


@responses.activate
def test_an_open_request_of_the_same_kind_is_reused(client):
    old, newer = request('aaaaaaaa-0000-4000-8000-000000000001'), request('aaaaaaaa-0000-4000-8000-000000000002', Submitted='2026-12-02T00:00:00')
    other_template = request('aaaaaaaa-0000-4000-8000-000000000003', ProfileTemplateUuid='bbbbbbbb-0000-4000-8000-000000000000')
    for_someone_else = request('aaaaaaaa-0000-4000-8000-000000000004', OriginatorUserUuid='cccccccc-0000-4000-8000-000000000000')
    renew = request('aaaaaaaa-0000-4000-8000-000000000005', request_type=5)
    search({'Pending': [old], 'Approved': [newer, other_template, for_someone_else, renew]})
    warnings = []
    candidates = open_requests(client, wanted())
    assert [r['Uuid'] for r in candidates.matching] == [old['Uuid'], newer['Uuid']] and candidates.unsure == []
    assert reuse(candidates, wanted(), warnings.append)['Uuid'] == newer['Uuid']
    assert 'returning the newest' in warnings[0]


@responses.activate
def test_an_open_request_whose_type_cannot_be_told_stops_the_task(client):
    search({'Approved': [request('aaaaaaaa-0000-4000-8000-000000000007', request_type=7)]})
    candidates = open_requests(client, wanted(request_type=request_type('Renew')))
    with pytest.raises(RequestConflict, match='RequestType 7 cannot be told to be Renew.*force=true'):
        reuse(candidates, wanted(request_type=request_type('Renew')), print)


@responses.activate
def test_with_reuse_match_another_hosts_open_request_is_not_taken(client):
    web02 = request('aaaaaaaa-0000-4000-8000-000000000001', Comment='web02', DataCollection=[{'Name': 'Host Name', 'Value': 'web02'}])
    web01 = request('aaaaaaaa-0000-4000-8000-000000000002', Comment='web01', DataCollection='[{"Host Name": "web01"}]',
                    Submitted='2026-11-30T00:00:00')
    search({'Approved': [web02, web01]})
    assert reuse(open_requests(client, wanted()), wanted(), print)['Uuid'] == web02['Uuid']  # without it: the newest, web02's
    for match, comment in ((('comment',), 'web01'), (('data_collection',), ''), (('comment', 'data_collection'), 'web01')):
        asked = wanted(match=match, comment=comment)
        assert reuse(open_requests(client, asked), asked, print)['Uuid'] == web01['Uuid'], match
    assert reuse(open_requests(client, wanted(match=('comment',), comment='web03')), wanted(), print) is None
    assert 'with comment "web03"' in wanted(match=('comment',), comment='web03').describe()


@pytest.mark.parametrize('sent', [None, 'not json', [{'Name': 'Host Name', 'Value': 'WEB01'}], [{'Host Name': 'web01', 'x': 1}], {'Host Name': 'web01'}])
def test_a_data_collection_that_does_not_hold_the_items_is_not_matched(client, sent):
    asked = wanted(match=('data_collection',))
    with responses.RequestsMock() as mocked:
        for status in ('Pending', 'Approved', 'Executing'):
            mocked.get('%s/requests' % BASE, json=[request(NEW_ID, DataCollection=sent)] if status == 'Approved' else [], status=200,
                       match=[responses.matchers.query_param_matcher({'status': status, 'targetuser': 'current'})])
        assert open_requests(client, asked).matching == []


@responses.activate
def test_with_reuse_match_a_lost_answer_is_not_mistaken_for_another_hosts_new_request(client):
    responses.post('%s/requests' % BASE, body=requests.exceptions.ConnectionError('reset by peer'))
    search({'Approved': [request('aaaaaaaa-0000-4000-8000-000000000009', Comment='web02'), request(NEW_ID, Comment='web01')]})
    responses.get('%s/requests/%s' % (BASE, NEW_ID), json=request(NEW_ID, Comment='web01'))
    created = create(client, wanted(match=('comment',), comment='web01'), ('array',), set(), {})[0]
    assert created['Uuid'] == NEW_ID  # two new requests, one with this host's comment
    assert [call.request.method for call in responses.calls].count('POST') == 1


@responses.activate
def test_created_once_and_read_back(client):
    responses.post('%s/requests' % BASE, json='api/v1.0/requests/%s' % NEW_ID, status=201)
    responses.get('%s/requests/%s' % (BASE, NEW_ID), json=request(NEW_ID))
    context = {}
    created, encoding = create(client, wanted(), ('array', 'string'), set(), context)
    assert (created['Uuid'], encoding, context) == (NEW_ID, 'array', {'changed': True, 'request_id': NEW_ID})
    assert json.loads(responses.calls[0].request.body)['datacollection'] == [{'Host Name': 'web01'}]


@responses.activate
def test_a_lost_answer_is_looked_for_before_anything_is_sent_again(client):
    responses.post('%s/requests' % BASE, body=requests.exceptions.ConnectionError('reset by peer'))
    search({'Approved': [request('aaaaaaaa-0000-4000-8000-000000000001'), request(NEW_ID)]})
    responses.get('%s/requests/%s' % (BASE, NEW_ID), json=request(NEW_ID))
    created = create(client, wanted(), ('array', 'string'), {'aaaaaaaa-0000-4000-8000-000000000001'}, {})[0]
    assert created['Uuid'] == NEW_ID
    assert [call.request.method for call in responses.calls].count('POST') == 1


@responses.activate
def test_a_lost_answer_with_nothing_created_is_sent_again(client):
    responses.post('%s/requests' % BASE, body=requests.exceptions.ConnectionError('reset by peer'))
    responses.post('%s/requests' % BASE, json='api/v1.0/requests/%s' % NEW_ID, status=201)
    search({})
    responses.get('%s/requests/%s' % (BASE, NEW_ID), json=request(NEW_ID))
    created = create(client, wanted(), ('array',), set(), {})[0]
    assert created['Uuid'] == NEW_ID
    assert [call.request.method for call in responses.calls] == ['POST', 'GET', 'GET', 'GET', 'POST', 'GET']


@responses.activate
def test_a_refused_array_falls_back_to_the_string_once(client):
    responses.post('%s/requests' % BASE, json={'Message': 'An error has occurred. Correlation ID: 1234'}, status=500)
    responses.post('%s/requests' % BASE, json='api/v1.0/requests/%s' % NEW_ID, status=201)
    search({})
    responses.get('%s/requests/%s' % (BASE, NEW_ID), json=request(NEW_ID))
    encoding = create(client, wanted(), ('array', 'string'), set(), {})[1]
    posts = [json.loads(call.request.body) for call in responses.calls if call.request.method == 'POST']
    assert encoding == 'string' and isinstance(posts[0]['datacollection'], list) and isinstance(posts[1]['datacollection'], str)


@responses.activate
def test_both_encodings_refused_names_both(client):
    responses.post('%s/requests' % BASE, json={'Message': 'array refused. Correlation ID: 1'}, status=500)
    responses.post('%s/requests' % BASE, json={'Message': 'string refused. Correlation ID: 2'}, status=500)
    search({})
    with pytest.raises(HTTPStatusError, match='the array encoding of datacollection.*array refused.*string refused') as caught:
        create(client, wanted(), ('array', 'string'), set(), {})
    assert caught.value.http_status == 500


@responses.activate
def test_a_pinned_encoding_is_sent_once(client):
    responses.post('%s/requests' % BASE, json={'Message': 'refused. Correlation ID: 3'}, status=500)
    with pytest.raises(HTTPStatusError, match='Correlation ID: 3'):
        create(client, wanted(), ('string',), set(), {})
    assert len(responses.calls) == 1


POLICY = {'ApprovalsNeeded': 0, 'CollectComments': True,
          'PolicyDataCollection': [{'Name': 'Host Name', 'Required': True}, {'Name': 'Note', 'Required': False}]}


def test_policy_checks_name_every_problem():
    with pytest.raises(ConfigurationError) as caught:
        check_request_data(POLICY, TEMPLATE, 'Enroll', {'Hostname': 'web01'}, '')
    assert "'Host Name' are missing" in caught.value.msg and "'Hostname' that the policy does not collect" in caught.value.msg
    assert 'requires a comment' in caught.value.msg and caught.value.msg.endswith('nothing was sent')
    check_request_data(POLICY, TEMPLATE, 'Enroll', {'Host Name': 'web01'}, 'why')
    check_request_data({'policydatacollection': [{'name': 'X'}]}, TEMPLATE, 'Enroll', {'X': ''}, '')  # not said to be required


def test_templates_by_uuid_or_exact_name():
    templates = [template_view({'Name': 'Web', 'Uuid': TEMPLATE.upper(), 'IsSmartcardProfileTemplate': False}),
                 template_view({'name': 'Card', 'uuid': 'bbbbbbbb-0000-4000-8000-000000000000', 'issmartcardprofiletemplate': True})]
    assert find_template(templates, 'Web')['uuid'] == TEMPLATE
    assert find_template(templates, '{%s}' % TEMPLATE)['name'] == 'Web'
    assert find_template(templates, 'Card')['is_smartcard'] is True
    assert find_template(templates, 'cccccccc-0000-4000-8000-000000000000')['name'] is None
    with pytest.raises(ConfigurationError, match="'web' is neither a GUID nor the exact name.*'Card', 'Web'"):
        find_template(templates, 'web')
    with pytest.raises(ConfigurationError, match='the name of 2 templates'):
        find_template(templates + [dict(templates[0], uuid='dddddddd-0000-4000-8000-000000000000')], 'Web')
