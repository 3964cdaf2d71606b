"""Profile templates and their workflow policies, request creation under those policies (and its POST faults),
software profiles and smart cards, against the real server process.

Why: the collection's cm_profile_template_info, cm_request (create) and cm_profile_info modules are written against
these answers, so each shape, refusal and fault is pinned here as a client sees it on the wire.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import requests

from conftest import ALICE, LAUNCHER, ROOT, UNKNOWN

BOB = "c3d9e8f2-7a64-4b1e-8c02-9d5b3f0a6e21"
ZERO = "00000000-0000-0000-0000-000000000000"
WEB = "6d3f9a21-5c7e-4b80-9f14-2a8e7c3d5b61"  # software, no approval; Enroll needs "Host Name"; Revoke disabled
SIGN = "b7e24c90-1f3d-4a6b-8c25-9d0e6f7a3b48"  # software, one approval and a comment
CARD_TEMPLATE = "e2c85f13-7a9b-4d06-b3e1-5f8a2c4d6e97"  # smart card
STRING_ONLY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"  # _simulator: create_datacollection string
GARBAGE = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"  # _simulator: create_answer garbage
LOSE = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"  # _simulator: lose_post_answers 1
PROFILE = "3a7c9e15-2b4d-4f68-a0c1-8e6b4d2f9a53"  # Active, two certificates
OLD_PROFILE = "4b8d0f26-3c5e-4a79-b1d2-9f7c5e3a0b64"  # status 4 (a number: only Active has a name)
CARD = "5c9e1a37-4d6f-4b8a-82e3-0a8d6f4b1c75"
CARD_SERIAL = "d1ef6869-5517-42a0-8f05-16ca1a0b834d"
ENROLLED = "5e9b1d37-8c2a-4e6f-9b04-1c7d3a5f8e26"  # Completed, NewProfileUuid PROFILE
RENEWING = "6f0a2e48-9d3b-4f7a-8c15-2d8e4b6a9f37"  # Approved Renew of PROFILE (OldProfileUuid)
PENDING = "7a1b3f59-0e4c-4a8b-9d26-3e9f5c7b0a48"

HOST_NAME = {"Name": "Host Name", "Description": "DNS name of the server", "Required": True}
SEED = {
    "requests": [
        {"Uuid": ENROLLED, "Status": "Completed", "NewProfileUuid": PROFILE, "ProfileTemplateUuid": WEB, "TargetUserUuid": ALICE},
        {"Uuid": RENEWING, "RequestType": "Renew", "Status": "Approved", "OldProfileUuid": PROFILE, "ProfileTemplateUuid": WEB},
        {"Uuid": PENDING, "Status": "Pending", "ProfileTemplateUuid": SIGN},
    ],
    "profile_templates": [
        {"Name": "Web Server", "Description": "auto-approved", "Uuid": WEB.upper(),
         "policies": {"enroll": {"PolicyDataCollection": [HOST_NAME, {"name": "Notes"}], "DefaultRequestPriority": 7},
                      "RENEW": {"ApprovalsNeeded": 0}, "Revoke": {"Enabled": False}, "TemporaryEnroll": {"SelfServiceEnabled": False}}},
        {"Name": "Code Signing", "Uuid": SIGN, "policies": {"Enroll": {"ApprovalsNeeded": 1, "CollectComments": True}}},
        {"Name": "Smart Card Logon", "Uuid": CARD_TEMPLATE, "IsSmartcardProfileTemplate": True,
         "policies": {"Enroll": {"ApprovalsNeeded": 1}, "Unblock": {}}},
        {"Name": "String only", "Uuid": STRING_ONLY, "policies": {"Enroll": {}}, "_simulator": {"create_datacollection": "string"}},
        {"Name": "Garbage answer", "Uuid": GARBAGE, "policies": {"Enroll": {}}, "_simulator": {"create_answer": "garbage"}},
        {"Name": "Lost answer", "Uuid": LOSE, "policies": {"Enroll": {}}, "_simulator": {"lose_post_answers": 1}},
    ],
    "profiles": [
        {"Uuid": PROFILE, "Status": "Active", "AssignedUserUuid": ALICE, "ProfileTemplateUuid": WEB, "ProfileOperations": ["Renew", "revoke"],
         "certificates": [
             {"TemplateCommonName": "WebServer", "SerialNumber": "1B0000B01052AFA0", "Thumbprint": "C52B0C5FB8AAD31A5B239FF2712ED14122D67D30",
              "NotBefore": "2024-01-01T00:00:00Z", "NotAfter": "2025-01-01T00:00:00Z", "Issuer": "CN=Contoso CA"},
             {"isKeyHistory": True, "SerialNumber": "1B0000B011AB48AE", "Thumbprint": "E7C4324896271BE869544FF28AA2B1BF3B3BDFCF"}]},
        {"uuid": OLD_PROFILE, "status": 4, "AssignedUserUuid": BOB, "ProfileTemplateUuid": WEB},
    ],
    "smartcards": [
        {"Uuid": CARD, "Status": 2, "AssignedUserUuid": ALICE, "ProfileTemplateUuid": CARD_TEMPLATE, "SerialNumber": "{%s}" % CARD_SERIAL,
         "Atr": "3b8d0180fba000000397425446590301c8", "operations": ["renew", "Unblock"],
         "certificates": [{"TemplateCommonName": "SmartcardLogon", "SerialNumber": "AA01", "Thumbprint": "D9293B5414C644888444541B64631E90F2612425"}]},
    ],
}
USERS = {"users": {"alice": {"password": "alice-pw", "uuid": ALICE}, "reader": {"password": "reader-pw", "uuid": BOB, "rights": ["read"]},
                   "writer": {"password": "writer-pw", "uuid": BOB, "rights": ["write"]}}}
ALICE_AUTH = ("alice", "alice-pw")
TEMPLATE_KEYS = ["Name", "Description", "Uuid", "IsSmartcardProfileTemplate", "IsVirtualSmartcardProfileTemplate"]
POLICY_KEYS = ["ApprovalsNeeded", "AuthorizedApprover", "AuthorizedEnrollmentAgent", "AuthorizedInitiator", "CollectComments",
               "CollectRequestPriority", "DefaultRequestPriority", "Documents", "Enabled", "EnrollAgentRequired", "OneTimePasswordPolicy",
               "Personalization", "PolicyDataCollection", "SelfServiceEnabled"]
PROFILE_KEYS = ["Uuid", "Status", "Flags", "ParentProfileUuid", "PrimaryProfileUuid", "AssignedUserUuid", "ProfileTemplateUuid",
                "ProfileTemplateVersion", "Comment", "ProfileOperations"]
CARD_KEYS = ["Uuid", "Status", "Flags", "ParentSmartcardUuid", "PrimarySmartcardUuid", "PermanentSmartcardUuid", "AssignedUserUuid",
             "ProfileTemplateUuid", "ProfileTemplateVersion", "Comment", "SerialNumber", "Middleware", "Atr"]
CERTIFICATE_KEYS = ["IsKeyHistory", "ArchivedOnCa", "CertificateType", "TemplateCommonName", "SerialNumber", "Thumbprint"]
CORRELATION = re.compile(r"Correlation ID: ([0-9a-f-]{36})")
PYTHON = os.environ.get("MIM_CM_SIMULATOR_PYTHON") or sys.executable  # as in test_simulator.py: e.g. a 3.9 server
LOCATION = re.compile(r"^api/v1\.0/requests/([0-9a-f-]{36})$")


@pytest.fixture
def start(simulator):
    """Factory: start(*switches, seed=SEED) -> a running simulator with this module's users."""

    def _start(*args, seed=None):
        return simulator(*args, seed=SEED if seed is None else seed, users=USERS, python=PYTHON)

    return _start


@pytest.fixture
def sim(start):
    return start()


def get(sim, path, **kwargs):
    return requests.get(sim.url + path, timeout=10, **kwargs)


def post(sim, body, **kwargs):
    return requests.post(sim.url + "/requests", json=body, timeout=10, **kwargs)


def enroll(template=WEB, **members):
    """A create body: Enroll on template, the data collection WEB's Enroll policy requires, no comment."""
    return dict({"type": "Enroll", "profiletemplateuuid": template, "datacollection": [{"Host Name": "web01"}], "comment": ""}, **members)


def created_id(response):
    assert response.status_code == 201, response.text
    match = LOCATION.match(response.json())
    assert match, response.text
    return match.group(1)


def request_count(sim):
    return len(get(sim, "/requests").json())


def post_lines(sim):
    return [line for line in sim.audit_lines() if line.get("method") == "POST"]


# ---------------------------------------------------------------- profile templates and policies

def test_templates_are_the_limited_views(sim):
    response = get(sim, "/profiletemplates")
    assert response.status_code == 200
    views = response.json()
    assert [view["Uuid"] for view in views] == [WEB, SIGN, CARD_TEMPLATE, STRING_ONLY, GARBAGE, LOSE]
    assert all(list(view) == TEMPLATE_KEYS for view in views), "no policies, no _simulator"
    assert views[0] == {"Name": "Web Server", "Description": "auto-approved", "Uuid": WEB, "IsSmartcardProfileTemplate": False,
                        "IsVirtualSmartcardProfileTemplate": False}
    assert views[1]["Description"] == "" and views[2]["IsSmartcardProfileTemplate"] is True
    assert get(sim, "/profiletemplates", params={"targetuser": "Current"}).json() == views


def test_templates_targetuser_other_than_current_is_400(sim):
    response = get(sim, "/profiletemplates", params={"targetuser": BOB})
    assert response.status_code == 400 and "current" in response.json()["Message"]


def test_no_templates_is_204(start):
    response = get(start(seed={"requests": []}), "/profiletemplates")
    assert response.status_code == 204 and response.content == b""


def test_policy_with_defaults_in_microsofts_order(sim):
    response = get(sim, "/profiletemplates/%s/policies/enroll" % WEB)
    assert response.status_code == 200
    policy = response.json()
    assert list(policy) == POLICY_KEYS
    assert (policy["ApprovalsNeeded"], policy["Enabled"], policy["CollectComments"], policy["DefaultRequestPriority"]) == (0, True, False, 7)
    assert policy["PolicyDataCollection"] == [HOST_NAME, {"Name": "Notes", "Description": "", "Required": False}]
    assert policy["AuthorizedApprover"].startswith("O:") and policy["Documents"] == [] and policy["OneTimePasswordPolicy"] is None
    defaults = get(sim, "/profiletemplates/%s/policies/unblock" % CARD_TEMPLATE).json()
    sddl = defaults.pop("AuthorizedApprover")
    assert sddl.endswith("\u0000") and defaults.pop("AuthorizedEnrollmentAgent") == sddl == defaults.pop("AuthorizedInitiator")
    assert defaults == {"ApprovalsNeeded": 0, "CollectComments": False, "CollectRequestPriority": False, "DefaultRequestPriority": 0,
                        "Documents": [], "Enabled": True, "EnrollAgentRequired": False, "OneTimePasswordPolicy": None, "Personalization": None,
                        "PolicyDataCollection": [], "SelfServiceEnabled": True}


@pytest.mark.parametrize("path", ["/profiletemplates/{%s}/policies/ENROLL" % WEB.upper(),
                                  "/ProfileTemplates/%s/Policy/Workflow/Enroll" % WEB])
def test_policy_path_variants_and_any_case(sim, path):
    assert get(sim, path).json() == get(sim, "/profiletemplates/%s/policies/enroll" % WEB).json()


def test_policy_of_other_types(sim):
    assert get(sim, "/profiletemplates/%s/policies/Revoke" % WEB).json()["Enabled"] is False
    assert get(sim, "/profiletemplates/%s/policies/temporarycards" % WEB).json()["SelfServiceEnabled"] is False
    assert get(sim, "/profiletemplates/%s/policies/TemporaryEnroll" % WEB).json()["SelfServiceEnabled"] is False
    assert get(sim, "/profiletemplates/%s/policies/Enroll" % SIGN).json()["ApprovalsNeeded"] == 1


def test_policy_the_template_lacks_is_204(sim):
    response = get(sim, "/profiletemplates/%s/policies/retire" % WEB)
    assert response.status_code == 204 and response.content == b""


def test_policy_of_unknown_template_is_500_with_correlation_id(sim):
    missing = str(uuid.uuid4())
    response = get(sim, "/profiletemplates/%s/policies/enroll" % missing)
    assert response.status_code == 500
    assert missing in response.json()["Message"] and CORRELATION.search(response.json()["Message"])


@pytest.mark.parametrize("path", ["/profiletemplates/not-a-guid/policies/enroll", "/profiletemplates/%s/policies/bogus" % WEB])
def test_policy_bad_id_or_type_is_400(sim, path):
    response = get(sim, path)
    assert response.status_code == 400 and response.json()["Message"]


def test_template_smartcard_configuration_is_not_modelled(sim):
    response = get(sim, "/profiletemplates/%s/configuration/smartcards" % CARD_TEMPLATE)
    assert response.status_code == 404 and "<html" in response.text


def test_templates_other_verb_is_405(sim):
    assert requests.post(sim.url + "/profiletemplates", json={}, timeout=10).status_code == 405


# ---------------------------------------------------------------- creating requests under the policies

def test_create_auto_approved_request(start):
    sim = start("--auth", "basic")
    body = {"Type": "enroll", "ProfileTemplateUuid": WEB.upper(), "DataCollection": [{"Host Name": "web01"}, {"Notes": "rack 4"}],
            "Comment": "", "Priority": "4"}
    new_id = created_id(post(sim, body, auth=ALICE_AUTH))
    request = get(sim, "/requests/" + new_id, auth=ALICE_AUTH).json()
    assert (request["Status"], request["RequestType"], request["Priority"], request["IsSmartcard"]) == (3, 1, 4, False)
    assert (request["OriginatorUserUuid"], request["TargetUserUuid"], request["ProfileTemplateUuid"]) == (ALICE, ALICE, WEB)
    assert request["DataCollection"] == [{"Name": "Host Name", "Value": "web01"}, {"Name": "Notes", "Value": "rack 4"}]
    assert (request["OldProfileUuid"], request["OldSmartcardUuid"], request["NewProfileUuid"]) == (ZERO, ZERO, ZERO)
    [line] = sim.audit_lines()
    assert {key: line[key] for key in ("event", "method", "request_id", "from", "to", "http_status", "user", "request_type", "template_uuid",
                                       "target_uuid", "originator_uuid", "reason", "correlation_id")} == {
        "event": "applied", "method": "POST", "request_id": new_id, "from": None, "to": "Approved", "http_status": 201, "user": "alice",
        "request_type": "Enroll", "template_uuid": WEB, "target_uuid": ALICE, "originator_uuid": ALICE, "reason": None, "correlation_id": None}


def test_create_that_needs_approval_reads_pending(start):
    sim = start("--auth", "basic")
    new_id = created_id(post(sim, {"type": "Enroll", "profiletemplateuuid": SIGN, "datacollection": [], "comment": "release signing",
                                   "target": BOB.upper()}, auth=ALICE_AUTH))
    request = get(sim, "/requests/" + new_id, auth=ALICE_AUTH).json()
    assert (request["Status"], request["Comment"], request["Priority"]) == (16, "release signing", 0)
    assert (request["OriginatorUserUuid"], request["TargetUserUuid"]) == (ALICE, BOB)
    assert [(line["to"], line["target_uuid"], line["originator_uuid"]) for line in sim.audit_lines()] == [("Pending", BOB, ALICE)]


def test_create_takes_the_policy_default_priority(sim):
    assert get(sim, "/requests/" + created_id(post(sim, enroll()))).json()["Priority"] == 7


@pytest.mark.parametrize("collection", [
    [{"Host Name": "web01"}, {"Notes": "x"}],
    [{"name": "Host Name", "value": "web01"}, {"NAME": "Notes", "Value": "x"}],
    json.dumps([{"Host Name": "web01"}, {"Notes": "x"}]),
    json.dumps([{"Name": "Host Name", "Value": "web01"}, {"name": "Notes", "value": "x"}]),
])
def test_create_datacollection_encodings(sim, collection):
    new_id = created_id(post(sim, enroll(datacollection=collection)))
    assert get(sim, "/requests/" + new_id).json()["DataCollection"] == [{"Name": "Host Name", "Value": "web01"}, {"Name": "Notes", "Value": "x"}]


def test_create_microsofts_one_pair_example_keeps_name_as_a_name(sim):
    new_id = created_id(post(sim, enroll(datacollection=[{"Host Name": "web01"}, {"name": "pavle"}, {"city": "seattle"}])))
    assert get(sim, "/requests/" + new_id).json()["DataCollection"][1:] == [{"Name": "name", "Value": "pavle"}, {"Name": "city", "Value": "seattle"}]


def test_create_unblock_names_the_card_and_reads_smartcard(sim):
    new_id = created_id(post(sim, {"type": "Unblock", "profiletemplateuuid": CARD_TEMPLATE, "datacollection": "[]", "comment": "",
                                   "smartcard": "{%s}" % CARD.upper()}))
    request = get(sim, "/requests/" + new_id).json()
    assert (request["RequestType"], request["Status"], request["OldSmartcardUuid"], request["IsSmartcard"]) == (5, 3, CARD, True)


def test_create_renew_names_the_profile(sim):
    new_id = created_id(post(sim, {"type": "Renew", "profiletemplateuuid": WEB, "datacollection": [], "comment": "", "profile": PROFILE}))
    assert get(sim, "/requests/" + new_id).json()["OldProfileUuid"] == PROFILE
    assert [profile["Uuid"] for profile in get(sim, "/requests/%s/profiles" % new_id).json()] == [PROFILE]


@pytest.mark.parametrize("body, message", [
    (enroll(template="99999999-8888-4777-8666-555555555555"), "Profile template 99999999-8888-4777-8666-555555555555 was not found."),
    (enroll(type="Retire"), "Request type Retire is not allowed for profile template Web Server (%s)." % WEB),
    (enroll(type="Revoke"), "Request type Revoke is not allowed for profile template Web Server (%s)." % WEB),
    (enroll(datacollection=[{"Notes": "x"}]), "The data collection item 'Host Name' is required by the Enroll policy of profile template Web Server"),
    (enroll(datacollection=[{"host name": "  "}]), "The data collection item 'Host Name' is required"),
    (enroll(template=SIGN, comment=" "), "A comment is required by the Enroll policy of profile template Code Signing"),
])
def test_create_refused_by_the_policy_is_500(sim, body, message):
    response = post(sim, body)
    assert response.status_code == 500
    text = response.json()["Message"]
    assert text.startswith("An error has occurred. ") and message in text
    [line] = sim.audit_lines()
    assert (line["event"], line["method"], line["request_id"], line["http_status"], line["request_type"], line["template_uuid"]) == (
        "refused", "POST", None, 500, body["type"], body["profiletemplateuuid"])
    assert line["correlation_id"] == CORRELATION.search(text).group(1) and message in line["reason"]
    assert request_count(sim) == len(SEED["requests"])


@pytest.mark.parametrize("members, message", [
    ({"priority": 256}, "priority must be an integer from 0 to 255."),
    ({"priority": -1}, "priority"),
    ({"priority": "high"}, "priority"),
    ({"priority": True}, "priority"),
    ({"smartcard": "card-1"}, "smartcard is not a GUID."),
    ({"profile": "profile-1"}, "profile is not a GUID."),
    ({"target": "bob"}, "target is not a GUID."),
    ({"datacollection": [{"a": "1", "b": "2"}]}, "datacollection items must be"),
    ({"datacollection": [{"Host Name": ["web01"]}]}, "must be a string"),
    ({"datacollection": "[{\"Host Name\""}, "holds no JSON list"),
    ({"datacollection": {"Host Name": "web01"}}, "datacollection must be a list"),
    ({"comment": 5}, "comment must be a string."),
])
def test_create_bad_body_is_400(sim, members, message):
    response = post(sim, enroll(**members))
    assert response.status_code == 400 and message in response.json()["Message"]
    assert [(line["event"], line["http_status"], line["request_type"]) for line in sim.audit_lines()] == [("refused", 400, "Enroll")]
    assert request_count(sim) == len(SEED["requests"])


def test_create_refused_by_rights_is_audited_with_what_was_asked(start):
    sim = start("--auth", "basic")
    response = post(sim, enroll(), auth=("reader", "reader-pw"))
    assert response.status_code == 403
    [line] = sim.audit_lines()
    assert (line["event"], line["http_status"], line["request_type"], line["template_uuid"], line["originator_uuid"]) == (
        "refused", 403, "Enroll", WEB, BOB)


def test_create_without_templates_keeps_create_status(start):
    sim = start("--create-status", "Executing", seed={"requests": []})
    new_id = created_id(post(sim, enroll(template=str(uuid.uuid4()), type="Retire", datacollection=[])))
    assert get(sim, "/requests/" + new_id).json()["Status"] == 18


# ---------------------------------------------------------------- POST faults

@pytest.mark.parametrize("switches, template", [(("--create-datacollection", "string"), WEB), ((), STRING_ONLY)])
def test_create_datacollection_string_refuses_a_real_array(start, switches, template):
    sim = start(*switches)
    body = enroll(template=template)
    response = post(sim, body)
    assert response.status_code == 500
    correlation_id = CORRELATION.search(response.json()["Message"]).group(1)
    assert "datacollection must be a JSON string" in response.json()["Message"]
    [line] = sim.audit_lines()
    assert (line["event"], line["correlation_id"], line["template_uuid"]) == ("refused", correlation_id, template)
    assert request_count(sim) == len(SEED["requests"])
    created_id(post(sim, dict(body, datacollection=json.dumps(body["datacollection"]))))
    created_id(post(sim, dict(body, datacollection="[{\"Host Name\": \"web02\"}]")))


@pytest.mark.parametrize("switches, template", [(("--create-answer", "garbage"), WEB), ((), GARBAGE)])
def test_create_answer_garbage_still_creates(start, switches, template):
    sim = start(*switches)
    response = post(sim, enroll(template=template))
    assert response.status_code == 201
    assert response.json() == "created" and not re.search(r"[0-9a-f]{8}-", response.text)
    [line] = sim.audit_lines()
    assert line["event"] == "applied" and line["http_status"] == 201
    assert get(sim, "/requests/" + line["request_id"]).json()["ProfileTemplateUuid"] == template
    other = post(sim, enroll(template=SIGN, comment="x"))
    assert other.status_code == 201 and (other.json() == "created") == (template == WEB), "a template's setting is its own"


@pytest.mark.parametrize("switches, template", [(("--lose-post-answers", "1"), WEB), ((), LOSE)])
def test_lose_post_answers_resets_after_creating(start, switches, template):
    sim = start(*switches)
    assert post(sim, enroll(template=SIGN)).status_code == 500, "a refused POST does not use up a lost answer"
    with pytest.raises(requests.exceptions.ConnectionError):
        post(sim, enroll(template=template))
    lines = sim.audit_lines()
    assert [(line["event"], line.get("kind")) for line in lines] == [("refused", None), ("fault", "reset_after"), ("applied", None)]
    lost_id = lines[2]["request_id"]
    assert lines[1]["request_id"] == lost_id and lines[1]["method"] == "POST"
    assert get(sim, "/requests/" + lost_id).json()["Status"] == 3, "the request exists although its answer was lost"
    assert [line["fault"] for line in sim.access_lines() if line["method"] == "POST"] == [None, "reset_after"]
    created_id(post(sim, enroll(template=template)))
    assert sim.stop() == 0
    assert "faults injected: total=1 reset_after=1" in sim.text("stderr.txt")


# ---------------------------------------------------------------- profiles

def test_profiles_list_and_status_filter(sim):
    profiles = get(sim, "/profiles").json()
    assert [p["Uuid"] for p in profiles] == [PROFILE, OLD_PROFILE] and all(list(p) == PROFILE_KEYS for p in profiles)
    assert profiles[0] == {"Uuid": PROFILE, "Status": 2, "Flags": 1, "ParentProfileUuid": ZERO, "PrimaryProfileUuid": ZERO, "AssignedUserUuid": ALICE,
                           "ProfileTemplateUuid": WEB, "ProfileTemplateVersion": 1, "Comment": "", "ProfileOperations": ["renew", "revoke"]}
    assert [p["Uuid"] for p in get(sim, "/profiles", params={"status": "active"}).json()] == [PROFILE]
    assert [p["Uuid"] for p in get(sim, "/profiles", params={"status": "4"}).json()] == [OLD_PROFILE]
    assert get(sim, "/profiles", params={"status": "7"}).status_code == 204
    assert get(sim, "/profiles", params={"status": "Retired"}).status_code == 400


def test_profile_one_operations_certificates(sim):
    assert get(sim, "/profiles/{%s}" % PROFILE.upper()).json()["Uuid"] == PROFILE
    assert get(sim, "/profiles/%s/operations" % PROFILE).json() == ["renew", "revoke"]
    certificates = get(sim, "/profiles/%s/certificates" % PROFILE).json()
    assert list(certificates[0]) == CERTIFICATE_KEYS + ["NotBefore", "NotAfter", "Issuer"] and list(certificates[1]) == CERTIFICATE_KEYS
    assert certificates[0]["Issuer"] == "CN=Contoso CA" and certificates[1]["IsKeyHistory"] is True
    assert (certificates[1]["ArchivedOnCa"], certificates[1]["CertificateType"], certificates[1]["TemplateCommonName"]) == (False, 1, "")


@pytest.mark.parametrize("path", ["/profiles/%s" % UNKNOWN, "/profiles/%s/operations" % OLD_PROFILE,
                                  "/profiles/%s/certificates" % OLD_PROFILE, "/profiles/%s/certificates" % UNKNOWN,
                                  "/requests/%s/profiles" % PENDING, "/requests/%s/profiles" % UNKNOWN])
def test_profile_unknown_or_empty_is_204(sim, path):
    response = get(sim, path)
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize("path", ["/profiles/nope", "/profiles/nope/certificates", "/requests/nope/profiles", "/smartcards/nope/operations"])
def test_profile_and_card_ids_must_be_guids(sim, path):
    assert get(sim, path).status_code == 400


def test_request_profiles_new_and_old(sim):
    assert [p["Uuid"] for p in get(sim, "/requests/%s/profiles" % ENROLLED).json()] == [PROFILE]
    assert [p["Uuid"] for p in get(sim, "/requests/%s/profiles" % RENEWING).json()] == [PROFILE]


def test_completed_enroll_of_a_software_template_issues_a_profile(sim):
    new_id = created_id(post(sim, enroll(target=BOB)))
    completed = requests.put(sim.url + "/requests/" + new_id, json={"status": "Completed"}, timeout=10).json()
    profile_id = completed["NewProfileUuid"]
    assert completed["Status"] == 8 and profile_id not in (ZERO, PROFILE, OLD_PROFILE)
    profile = get(sim, "/profiles/" + profile_id).json()
    assert (profile["Status"], profile["AssignedUserUuid"], profile["ProfileTemplateUuid"]) == (2, BOB, WEB)
    assert profile["ProfileOperations"] == ["renew", "revoke", "retire"] == get(sim, "/profiles/%s/operations" % profile_id).json()
    assert get(sim, "/profiles/%s/certificates" % profile_id).status_code == 204
    assert [p["Uuid"] for p in get(sim, "/requests/%s/profiles" % new_id).json()] == [profile_id]
    assert get(sim, "/requests/" + new_id).json()["NewProfileUuid"] == profile_id


def test_completed_smartcard_or_non_enroll_request_issues_no_profile(sim):
    card_request = created_id(post(sim, {"type": "Unblock", "profiletemplateuuid": CARD_TEMPLATE, "datacollection": [], "comment": ""}))
    for request_id in (card_request, RENEWING):
        completed = requests.put(sim.url + "/requests/" + request_id, json={"status": "Completed"}, timeout=10).json()
        assert completed["Status"] == 8 and completed["NewProfileUuid"] == ZERO
    assert len(get(sim, "/profiles").json()) == 2


# ---------------------------------------------------------------- smart cards

def test_smartcards_list_one_and_defaults(sim):
    [card] = get(sim, "/smartcards").json()
    assert list(card) == CARD_KEYS and card == get(sim, "/smartcards/" + CARD.upper()).json()
    assert (card["Uuid"], card["SerialNumber"], card["Middleware"], card["Flags"], card["PermanentSmartcardUuid"]) == (
        CARD, "{%s}" % CARD_SERIAL, "MSBaseCSP", 1, ZERO)
    assert "operations" not in card and "certificates" not in card


@pytest.mark.parametrize("card_id", [CARD_SERIAL, "{%s}" % CARD_SERIAL.upper(), CARD])
def test_smartcards_by_cardid_is_one_object(sim, card_id):
    response = get(sim, "/smartcards", params={"cardid": card_id})
    assert response.status_code == 200 and response.json()["Uuid"] == CARD


def test_smartcards_unknown_is_204(sim, start):
    assert get(sim, "/smartcards", params={"cardid": str(uuid.uuid4())}).status_code == 204
    assert get(sim, "/smartcards/%s" % uuid.uuid4()).status_code == 204
    assert get(start(seed={"requests": []}), "/smartcards").status_code == 204


def test_smartcard_operations_and_certificates(sim):
    assert get(sim, "/smartcards/%s/operations" % CARD).json() == ["renew", "unblock"]
    [certificate] = get(sim, "/smartcards/%s/certificates" % CARD).json()
    assert list(certificate) == CERTIFICATE_KEYS and certificate["TemplateCommonName"] == "SmartcardLogon"


# ---------------------------------------------------------------- rights, state, seed errors, the sample seed

@pytest.mark.parametrize("path", ["/profiletemplates", "/profiletemplates/%s/policies/enroll" % WEB, "/profiles", "/profiles/%s" % PROFILE,
                                  "/profiles/%s/certificates" % PROFILE, "/requests/%s/profiles" % ENROLLED, "/smartcards",
                                  "/smartcards/%s/operations" % CARD])
def test_read_routes_need_the_read_right(start, path):
    sim = start("--auth", "basic")
    assert get(sim, path).status_code == 401
    assert get(sim, path, auth=("reader", "reader-pw")).status_code == 200
    response = get(sim, path, auth=("writer", "writer-pw"))
    assert response.status_code == 403 and response.json()["Message"] == "Authorization has been denied for this request."
    assert sim.audit_lines() == [], "reads are never audited"


def test_state_keeps_templates_profiles_and_counters(start, tmp_path):
    state = os.path.join(str(tmp_path), "state.json")
    first = start("--state", state)
    with pytest.raises(requests.exceptions.ConnectionError):
        post(first, enroll(template=LOSE))
    new_id = created_id(post(first, enroll()))
    profile_id = requests.put(first.url + "/requests/" + new_id, json={"status": "Completed"}, timeout=10).json()["NewProfileUuid"]
    first.stop()
    second = start("--state", state, seed={"requests": []})
    assert len(get(second, "/profiletemplates").json()) == len(SEED["profile_templates"])
    assert get(second, "/profiles/" + profile_id).json()["AssignedUserUuid"] == ZERO
    assert len(get(second, "/profiles/%s/certificates" % PROFILE).json()) == 2
    assert get(second, "/smartcards/%s/operations" % CARD).json() == ["renew", "unblock"]
    created_id(post(second, enroll(template=LOSE)))  # its one lost answer was used up before the restart


@pytest.mark.parametrize("seed, message", [
    ({"profile_templates": [{"Uuid": WEB, "policies": {"Approve": {}}}]}, "profile_templates[0]: policies: 'Approve' is not a request type"),
    ({"profile_templates": [{"Uuid": WEB, "policies": {"Enroll": {"ApprovalsNeeded": "1"}}}]}, "Enroll.ApprovalsNeeded is '1', not an integer"),
    ({"profile_templates": [{"Uuid": WEB, "policies": {"Enroll": {"PolicyDataCollection": [{"Required": True}]}}}]}, "Name must be a non-empty"),
    ({"profile_templates": [{"Uuid": WEB, "policies": {"enroll": {}, "ENROLL": {}}}]}, "Enroll given twice"),
    ({"profile_templates": [{"Uuid": WEB, "_simulator": {"create_answer": "none"}}]}, "_simulator.create_answer='none'"),
    ({"profile_templates": [{"Uuid": "web"}]}, "profile_templates[0]: Uuid 'web' is not a GUID"),
    ({"profile_templates": [{"Uuid": WEB}, {"Uuid": WEB.upper()}]}, "profile_templates[1]: duplicate Uuid"),
    ({"profiles": [{"Uuid": PROFILE, "Status": "Retired"}]}, "unknown profile status 'Retired'"),
    ({"profiles": [{"Uuid": PROFILE, "AssignedUserUuid": "alice"}]}, "AssignedUserUuid 'alice' is not a GUID"),
    ({"profiles": [{"Uuid": PROFILE, "certificates": ["1B00"]}]}, "profiles[0].certificates[0] is '1B00', not an object"),
    ({"smartcards": [{"Uuid": CARD, "Status": "Active"}]}, "Status is 'Active', not an integer"),
    ({"smartcards": [{"Uuid": CARD, "operations": "renew"}]}, "operations is 'renew', not a list"),
])
def test_bad_seed_stops_the_start(tmp_path, seed, message):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(dict({"requests": []}, **seed)), encoding="utf-8")
    result = subprocess.run([PYTHON, LAUNCHER, "--port", "0", "--seed", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "mim_cm_simulator: error:" in result.stderr
    assert message in result.stderr, result.stderr


def test_the_sample_seed(simulator):
    with open(os.path.join(ROOT, "tools", "demo", "sample_seed.json"), encoding="utf-8") as handle:
        sim = simulator(seed=json.load(handle), python=PYTHON)
    names = {view["Name"]: view for view in get(sim, "/profiletemplates").json()}
    assert sorted(names) == ["Code Signing (needs approval)", "Smart Card Logon", "Web Server (auto-approved)"]
    web, signing = names["Web Server (auto-approved)"]["Uuid"], names["Code Signing (needs approval)"]["Uuid"]
    assert names["Smart Card Logon"]["IsSmartcardProfileTemplate"] is True
    assert post(sim, {"type": "Enroll", "profiletemplateuuid": web, "datacollection": [], "comment": ""}).status_code == 500
    assert get(sim, "/requests/" + created_id(post(sim, enroll(template=web)))).json()["Status"] == 3
    assert get(sim, "/requests/" + created_id(post(sim, enroll(template=signing, comment="release")))).json()["Status"] == 16
    [profile] = get(sim, "/profiles", params={"status": "Active"}).json()
    assert len(get(sim, "/profiles/%s/certificates" % profile["Uuid"]).json()) == 2
    [completed] = [r for r in get(sim, "/requests", params={"status": "Completed"}).json() if r["NewProfileUuid"] == profile["Uuid"]]
    assert [p["Uuid"] for p in get(sim, "/requests/%s/profiles" % completed["Uuid"]).json()] == [profile["Uuid"]]
    assert [r["Status"] for r in get(sim, "/requests").json()][:7] == [3, 3, 3, 18, 16, 8, 17], "the existing sample requests are unchanged"
