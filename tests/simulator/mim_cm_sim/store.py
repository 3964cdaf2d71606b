"""The stored state: the status table, Microsoft's shapes and defaults (requests, profile templates with their workflow
policies and certificate request generation options, software profiles, smart cards, certificate metadata), and the seed
and state files."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import uuid
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from .faults import FAULT_KINDS, FAULT_METHODS, is_scripted_fault

# The one status table: number on the wire -> name, the CM database codes (SQL API externalGetStatus; README "Status table").
STATUSES = {0: "None", 3: "Approved", 4: "Denied", 8: "Completed", 9: "Failed", 16: "Pending", 17: "Canceled", 18: "Executing"}
STATUS_NUMBERS = {name.lower(): number for number, name in STATUSES.items()}
FINAL_STATUSES = frozenset(STATUS_NUMBERS[name] for name in ("denied", "completed", "failed", "canceled"))
# PUT body value -> the status the request reads afterwards: Abandoned is an action, not a status (the request ends Failed).
PUT_RESULTS = {"Completed": "Completed", "Canceled": "Canceled", "Abandoned": "Failed"}
DEFAULT_TRANSITIONS = {"Completed": ["Approved", "Executing"], "Canceled": ["Pending", "Approved"], "Abandoned": ["Approved", "Executing"]}
# Request type names from Microsoft's "Create request" page; the numbers are the simulator's own choice.
# RequestType numbers: Enroll 1 and Unblock 5 are what Microsoft's REST examples show; the others are the simulator's.
REQUEST_TYPES = ("None", "Enroll", "Duplicate", "OfflineUnblock", "OnlineUpdate", "Unblock", "Recover", "RecoverOnBehalf",
                 "Reinstate", "Retire", "Revoke", "TemporaryCards", "Renew")
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
ZERO_DATE = "0001-01-01T00:00:00"
DEFAULT_SDDL = "O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCLCSWLORC;;;AU)\u0000"
FIELD_ORDER = ("Uuid", "RequestType", "Status", "Flags", "DataCollection", "DataCollectionFlags", "OriginatorUserUuid",
               "TargetUserUuid", "Submitted", "Completed", "NewProfileUuid", "OldProfileUuid", "NewSmartcardUuid",
               "OldSmartcardUuid", "Priority", "Comment", "ProfileTemplateUuid", "SecurityDescriptor", "IsSmartcard",
               "IsEnrollmentAgent", "IsDataCollectionComplete")
SIMULATOR_CHOICES = {"error": (403, 500), "error_on": FAULT_METHODS, "put_response": (200, 204), "status_format": ("number", "name")}
MAX_SEQUENCE = 100000

# Profile templates (ProfileTemplateLimitedView, GET /profiletemplates) and their workflow policies (ProfileTemplatePolicy).
TEMPLATE_FIELDS = ("Name", "Description", "Uuid", "IsSmartcardProfileTemplate", "IsVirtualSmartcardProfileTemplate")
POLICY_DEFAULTS: Tuple[Tuple[str, Any], ...] = (
    ("ApprovalsNeeded", 0), ("AuthorizedApprover", DEFAULT_SDDL), ("AuthorizedEnrollmentAgent", DEFAULT_SDDL),
    ("AuthorizedInitiator", DEFAULT_SDDL), ("CollectComments", False), ("CollectRequestPriority", False), ("DefaultRequestPriority", 0),
    ("Documents", []), ("Enabled", True), ("EnrollAgentRequired", False), ("OneTimePasswordPolicy", None), ("Personalization", None),
    ("PolicyDataCollection", []), ("SelfServiceEnabled", True))
POLICY_BOOLEANS = ("CollectComments", "CollectRequestPriority", "Enabled", "EnrollAgentRequired", "SelfServiceEnabled")
# Per-template "_simulator" settings: the POST faults for requests that name the template, and the enrollment answers.
TEMPLATE_CHOICES = {"create_datacollection": ("any", "string"), "create_answer": ("uri", "garbage"), "pkcs7_style": ("cmc", "certs-only")}
TEMPLATE_COUNTS = ("lose_post_answers", "lose_certificatedata_answers")
# Certificate request generation options (GET /requests/{id}/certificaterequestgenerationoptions): Microsoft's keys in the
# order of its example; each seed entry may add the simulator's own server_generated and template_common_name.
OPTION_FIELDS = ("Subject", "KeyAlgorithmName", "KeySize", "FriendlyName", "HashAlgorithmName", "KeyStorageProviderNames", "Exportable",
                 "KeyProtectionLevel", "KeyUsages")
OPTION_SIMULATOR_KEYS = ("server_generated", "template_common_name")
KEY_ALGORITHMS = {"RSA": None, "ECDSA_P256": 256, "ECDSA_P384": 384, "ECDSA_P521": 521}  # name -> the curve's key size
HASH_ALGORITHMS = ("SHA1", "SHA256", "SHA384", "SHA512")
DEFAULT_KSP = "Microsoft Software Key Storage Provider"
# Software profiles, smart cards (Microsoft's key order, from the examples) and certificate metadata (X509ClmCertificate).
PROFILE_FIELDS = ("Uuid", "Status", "Flags", "ParentProfileUuid", "PrimaryProfileUuid", "AssignedUserUuid", "ProfileTemplateUuid",
                  "ProfileTemplateVersion", "Comment", "ProfileOperations")
SMARTCARD_FIELDS = ("Uuid", "Status", "Flags", "ParentSmartcardUuid", "PrimarySmartcardUuid", "PermanentSmartcardUuid", "AssignedUserUuid",
                    "ProfileTemplateUuid", "ProfileTemplateVersion", "Comment", "SerialNumber", "Middleware", "Atr")
CERTIFICATE_FIELDS = ("IsKeyHistory", "ArchivedOnCa", "CertificateType", "TemplateCommonName", "SerialNumber", "Thumbprint")
CERTIFICATE_OPTIONAL = ("NotBefore", "NotAfter", "Issuer")  # sent only when the seed gives them (GET /certificates has them)
# Profile status names: only Active is known (2 in Microsoft's example); other statuses are numbers.
PROFILE_STATUSES = {"active": 2}
ACTIVE = 2


class Entry(NamedTuple):
    """A stored request: the Microsoft-shaped object plus its private simulator settings."""

    request: Dict[str, Any]
    sim: Dict[str, Any]


class Template(NamedTuple):
    """A profile template: its limited view (what GET /profiletemplates sends), its policies by request type name, settings,
    and its certificate request generation options (with the simulator's keys; [] when it issues no certificates)."""

    view: Dict[str, Any]
    policies: Dict[str, Dict[str, Any]]
    sim: Dict[str, Any]
    options: List[Dict[str, Any]]

    @property
    def is_smartcard(self) -> bool:
        """A smart card or virtual smart card template (requests for it read IsSmartcard true)."""
        return bool(self.view["IsSmartcardProfileTemplate"] or self.view["IsVirtualSmartcardProfileTemplate"])


class Holder(NamedTuple):
    """A software profile or a smart card: the Microsoft-shaped object, its certificates' metadata, its operations."""

    view: Dict[str, Any]
    certificates: List[Dict[str, Any]]
    operations: List[str]  # a profile's is its ProfileOperations (the same list); a card's is simulator-only


class Seed(NamedTuple):
    """Everything a seed or state file holds, each kind by canonical Uuid in file order."""

    entries: Dict[str, Entry]
    templates: Dict[str, Template]
    profiles: Dict[str, Holder]
    smartcards: Dict[str, Holder]


# ---------------------------------------------------------------- small helpers

def now_stamp() -> str:
    """UTC time in the .NET round-trip shape (7 fractional digits) that MIM CM sends."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def canonical_guid(text: Any) -> Optional[str]:
    """Lower-case hyphenated GUID, or None: ids match case-insensitively, with or without braces."""
    if not isinstance(text, str):
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


def parse_status(value: Any) -> int:
    """Status as any number (seeds may hold unknown ones to test clients) or one of the table's names in any case."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in STATUS_NUMBERS:
        return STATUS_NUMBERS[text.lower()]
    hint = " (Abandoned is a PUT action; an abandoned request reads Failed)" if text.lower() == "abandoned" else ""
    raise ValueError("unknown status %r: use a number or one of %s%s" % (value, ", ".join(STATUSES.values()), hint))


def status_label(number: int) -> Any:
    """Name of a status number; numbers outside the table stay numbers (never guessed)."""
    return STATUSES.get(number, number)


def parse_request_type(value: Any) -> int:
    """Request type as int or name (Microsoft's create body sends names like "Enroll").

    TemporaryEnroll (the workflow policy page's name) is TemporaryCards (the create request page's).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    for number, name in enumerate(REQUEST_TYPES):
        if text in (name.lower(), "temporaryenroll" if name == "TemporaryCards" else name.lower()):
            return number
    raise ValueError("Unknown request type %r." % (value,))


def request_type_label(number: int) -> Any:
    """Name of a request type number (the simulator's numbering); numbers outside it stay numbers."""
    return REQUEST_TYPES[number] if 0 <= number < len(REQUEST_TYPES) else number


def parse_profile_status(value: Any) -> int:
    """A profile status: a number, or Active (2, from Microsoft's example); the other names' numbers are not known."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit():
        return int(text)
    if text.lower() in PROFILE_STATUSES:
        return PROFILE_STATUSES[text.lower()]
    raise ValueError("unknown profile status %r: use Active or a number" % (value,))


def lower_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    """JSON member names are matched case-insensitively, as Json.NET does."""
    return {str(key).lower(): value for key, value in data.items()}


def load_json_object(body: bytes) -> Dict[str, Any]:
    """Decode a request body that must be a JSON object; ValueError carries the client message."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    return data


def read_json_file(path: str) -> Any:
    """Read a JSON configuration file, naming the file in any error."""
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except ValueError as exc:
            raise ValueError("%s: not valid JSON: %s" % (path, exc))


def write_atomic(path: str, text: str) -> None:
    """Write temp then rename, so a reader (or a crash) never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


# ---------------------------------------------------------------- seed / state loading

def check_simulator_settings(sim: Any, where: str) -> Dict[str, Any]:
    """Validate the private "_simulator" block so a typo fails at start, not mid-test."""
    if not isinstance(sim, dict):
        raise ValueError("%s: _simulator must be an object" % where)
    for key, value in sim.items():
        if key == "faults":
            ok = isinstance(value, list) and all(is_scripted_fault(item) for item in value)
            expected = "a list of METHOD:KIND (METHOD %s; KIND %s)" % (", ".join(FAULT_METHODS), ", ".join(FAULT_KINDS))
        elif key == "put_delay":
            ok, expected = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 3600, "a number of seconds, 0 to 3600"
        elif key == "issued":
            ok, expected = isinstance(value, list), "a list of certificate metadata objects"
        else:
            ok, expected = key in SIMULATOR_CHOICES and value in SIMULATOR_CHOICES[key], "one of %s" % (SIMULATOR_CHOICES.get(key, "the known keys"),)
        if not ok:
            raise ValueError("%s: _simulator.%s=%r is not %s" % (where, key, value, expected))
    sim = dict(sim, faults=list(sim["faults"])) if "faults" in sim else dict(sim)
    if "issued" in sim:  # the certificates a certificatedata POST issued, for the profile of a Completed PUT
        sim["issued"] = [complete_certificate(item, "%s: _simulator.issued[%d]" % (where, index)) for index, item in enumerate(sim["issued"])]
    return sim


def complete_request(raw: Dict[str, Any], where: str) -> Dict[str, Any]:
    """Fill missing fields with Microsoft-like defaults, in Microsoft's key order; GUIDs in canonical form."""
    canonical = {name.lower(): name for name in FIELD_ORDER}
    given = {canonical.get(key.lower(), key): value for key, value in raw.items()}
    defaults = {"Uuid": str(uuid.uuid4()), "RequestType": 1, "Status": "Approved", "Flags": 0, "DataCollection": [], "DataCollectionFlags": 0,
                "Submitted": now_stamp(), "Completed": ZERO_DATE, "Priority": 0, "Comment": "", "SecurityDescriptor": DEFAULT_SDDL,
                "IsSmartcard": False, "IsEnrollmentAgent": False, "IsDataCollectionComplete": True}
    request = {name: given.pop(name, defaults.get(name, ZERO_GUID)) for name in FIELD_ORDER}
    request.update(given)
    for name in FIELD_ORDER:
        if name.endswith("Uuid"):
            guid = canonical_guid(request[name])
            if guid is None:
                raise ValueError("%s: %s %r is not a GUID" % (where, name, request[name]))
            request[name] = guid
    try:
        request["Status"] = parse_status(request["Status"])
        request["RequestType"] = parse_request_type(request["RequestType"])
    except ValueError as exc:
        raise ValueError("%s: %s" % (where, exc))
    return request


def load_entries(data: Any, source: str) -> Dict[str, Entry]:
    """Seed and state files share one format: {"requests": [ {...Request..., "_simulator": {...}} ]}."""
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        raise ValueError('%s: expected {"requests": [...]}' % source)
    entries = {}  # type: Dict[str, Entry]
    for index, raw in enumerate(data["requests"]):
        where = "%s: requests[%d]" % (source, index)
        if not isinstance(raw, dict):
            raise ValueError("%s: must be an object" % where)
        raw = dict(raw)
        sim = check_simulator_settings(raw.pop("_simulator", {}), where)
        request = complete_request(raw, where)
        key = request["Uuid"]  # canonical: complete_request canonicalised it
        if key in entries:
            raise ValueError("%s: duplicate Uuid %s" % (where, request["Uuid"]))
        entries[key] = Entry(request, sim)
    return entries


def canonical_keys(raw: Dict[str, Any], names: Tuple[str, ...]) -> Dict[str, Any]:
    """Seed keys in any case: the known names spelled as Microsoft does, other keys kept as given."""
    canonical = {name.lower(): name for name in names}
    return {canonical.get(str(key).lower(), key): value for key, value in raw.items()}


def complete_object(raw: Dict[str, Any], order: Tuple[str, ...], defaults: Dict[str, Any], where: str) -> Dict[str, Any]:
    """Known fields in Microsoft's order with defaults, unknown keys after them, every ...Uuid field a canonical GUID."""
    given = canonical_keys(raw, order)
    result = {name: given.pop(name, defaults.get(name, ZERO_GUID)) for name in order}
    result.update(given)
    for name in order:
        if name.endswith("Uuid"):
            guid = canonical_guid(result[name])
            if guid is None:
                raise ValueError("%s: %s %r is not a GUID" % (where, name, result[name]))
            result[name] = guid
    return result


def pop_key(raw: Dict[str, Any], name: str, default: Any) -> Any:
    """Remove a simulator key (any case) from a seed object and return its value."""
    for key in list(raw):
        if str(key).lower() == name.lower():
            return raw.pop(key)
    return default


def check_type(value: Any, kind: Any, where: str, expected: str) -> Any:
    """value is an instance of kind (bool is not an int here), or the start stops."""
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, (int, float)))
    if not ok:
        raise ValueError("%s is %r, not %s" % (where, value, expected))
    return value


def complete_policy(raw: Any, where: str) -> Dict[str, Any]:
    """A workflow policy: Microsoft's documented keys with defaults (an enabled self-service policy with no approvals)."""
    if not isinstance(raw, dict):
        raise ValueError("%s: must be an object" % where)
    order = tuple(name for name, _default in POLICY_DEFAULTS)
    defaults = {name: (list(value) if isinstance(value, list) else value) for name, value in POLICY_DEFAULTS}
    given = canonical_keys(raw, order)
    policy = {name: given.pop(name, defaults[name]) for name in order}
    policy.update(given)
    if check_type(policy["ApprovalsNeeded"], int, where + ".ApprovalsNeeded", "an integer") < 0:
        raise ValueError("%s.ApprovalsNeeded must be 0 or more" % where)
    if not 0 <= check_type(policy["DefaultRequestPriority"], int, where + ".DefaultRequestPriority", "an integer") <= 255:
        raise ValueError("%s.DefaultRequestPriority must be from 0 to 255" % where)
    for name in POLICY_BOOLEANS:
        check_type(policy[name], bool, "%s.%s" % (where, name), "true or false")
    check_type(policy["Documents"], list, where + ".Documents", "a list")
    items = []
    for index, item in enumerate(check_type(policy["PolicyDataCollection"], list, where + ".PolicyDataCollection", "a list")):
        place = "%s.PolicyDataCollection[%d]" % (where, index)
        item = canonical_keys(check_type(item, dict, place, "an object"), ("Name", "Description", "Required"))
        shaped = {"Name": item.pop("Name", None), "Description": item.pop("Description", ""), "Required": item.pop("Required", False)}
        if not isinstance(shaped["Name"], str) or not shaped["Name"].strip():
            raise ValueError("%s: Name must be a non-empty string" % place)
        check_type(shaped["Description"], str, place + ".Description", "a string")
        check_type(shaped["Required"], bool, place + ".Required", "true or false")
        shaped.update(item)
        items.append(shaped)
    policy["PolicyDataCollection"] = items
    return policy


def check_template_settings(sim: Any, where: str) -> Dict[str, Any]:
    """A template's "_simulator" block: the POST faults for requests that name it."""
    if not isinstance(sim, dict):
        raise ValueError("%s: _simulator must be an object" % where)
    for key, value in sim.items():
        if key in TEMPLATE_COUNTS:
            ok, expected = isinstance(value, int) and not isinstance(value, bool) and value >= 0, "a count, 0 or more"
        else:
            ok, expected = key in TEMPLATE_CHOICES and value in TEMPLATE_CHOICES[key], "one of %s" % (TEMPLATE_CHOICES.get(key, "the known keys"),)
        if not ok:
            raise ValueError("%s: _simulator.%s=%r is not %s" % (where, key, value, expected))
    return dict(sim)


def choice(value: Any, names: Any, where: str) -> str:
    """One of names, given in any case, spelled as names spells it."""
    found = next((name for name in names if isinstance(value, str) and value.strip().lower() == name.lower()), None)
    if found is None:
        raise ValueError("%s is %r, not one of %s" % (where, value, ", ".join(names)))
    return found


def in_range(value: Any, low: int, high: int, where: str) -> int:
    """An integer from low to high."""
    if not low <= check_type(value, int, where, "an integer") <= high:
        raise ValueError("%s is %r, not from %d to %d" % (where, value, low, high))
    return value


def complete_option(raw: Any, where: str) -> Dict[str, Any]:
    """A certificate request generation option: Microsoft's keys with Microsoft-like defaults, unknown keys after them, then
    the simulator's server_generated (default false) and template_common_name (default "WebServer")."""
    raw = dict(check_type(raw, dict, where, "an object"))
    server_generated = check_type(pop_key(raw, "server_generated", False), bool, where + ".server_generated", "true or false")
    common_name = check_type(pop_key(raw, "template_common_name", "WebServer"), str, where + ".template_common_name", "a string")
    if not common_name.strip():
        raise ValueError("%s.template_common_name must not be empty" % where)
    given = canonical_keys(raw, OPTION_FIELDS)
    algorithm = choice(given.pop("KeyAlgorithmName", "RSA"), KEY_ALGORITHMS, where + ".KeyAlgorithmName")
    curve_size = KEY_ALGORITHMS[algorithm]
    size = given.pop("KeySize", curve_size or 2048)
    if curve_size is None:
        in_range(size, 1024, 16384, where + ".KeySize")
    elif check_type(size, int, where + ".KeySize", "an integer") != curve_size:
        raise ValueError("%s.KeySize is %r: %s keys are %d bits" % (where, size, algorithm, curve_size))
    option = {"Subject": check_type(given.pop("Subject", ""), str, where + ".Subject", "a string"),
              "KeyAlgorithmName": algorithm, "KeySize": size,
              "FriendlyName": check_type(given.pop("FriendlyName", ""), str, where + ".FriendlyName", "a string"),
              "HashAlgorithmName": choice(given.pop("HashAlgorithmName", "SHA256"), HASH_ALGORITHMS, where + ".HashAlgorithmName"),
              "KeyStorageProviderNames": check_type(given.pop("KeyStorageProviderNames", [DEFAULT_KSP]), list, where + ".KeyStorageProviderNames",
                                                    "a list of names"),
              "Exportable": in_range(given.pop("Exportable", 0), 0, 1, where + ".Exportable"),
              "KeyProtectionLevel": in_range(given.pop("KeyProtectionLevel", 0), 0, 3, where + ".KeyProtectionLevel"),
              "KeyUsages": in_range(given.pop("KeyUsages", 3), 1, 7, where + ".KeyUsages")}
    if not all(isinstance(name, str) and name.strip() for name in option["KeyStorageProviderNames"]):
        raise ValueError("%s.KeyStorageProviderNames must be non-empty strings" % where)
    option["KeyStorageProviderNames"] = list(option["KeyStorageProviderNames"])
    option.update(given)
    option.update(server_generated=server_generated, template_common_name=common_name)
    return option


def complete_template(raw: Dict[str, Any], where: str) -> Template:
    """A seed's profile template: the limited view with defaults, its policies by request type name, its settings, its
    generation options."""
    raw = dict(raw)
    sim = check_template_settings(pop_key(raw, "_simulator", {}), where)
    options = [complete_option(item, "%s.generation_options[%d]" % (where, index))
               for index, item in enumerate(check_type(pop_key(raw, "generation_options", []), list, where + ".generation_options", "a list"))]
    policies_raw = pop_key(raw, "policies", {})
    if not isinstance(policies_raw, dict):
        raise ValueError("%s: policies must be an object of request type -> policy" % where)
    defaults = {"Uuid": str(uuid.uuid4()), "Name": "", "Description": "", "IsSmartcardProfileTemplate": False,
                "IsVirtualSmartcardProfileTemplate": False}
    view = complete_object(raw, TEMPLATE_FIELDS, defaults, where)
    check_type(view["Name"], str, where + ".Name", "a string")
    check_type(view["Description"], str, where + ".Description", "a string")
    for name in ("IsSmartcardProfileTemplate", "IsVirtualSmartcardProfileTemplate"):
        check_type(view[name], bool, "%s.%s" % (where, name), "true or false")
    policies = {}
    for key, value in policies_raw.items():
        try:
            number = parse_request_type(key) if isinstance(key, str) else -1
        except ValueError:
            number = -1
        if number < 1:
            raise ValueError("%s: policies: %r is not a request type (%s)" % (where, key, ", ".join(REQUEST_TYPES[1:])))
        name = REQUEST_TYPES[number]
        if name in policies:
            raise ValueError("%s: policies: %s given twice" % (where, name))
        policies[name] = complete_policy(value, "%s.policies.%s" % (where, name))
    return Template(view, policies, sim, options)


def complete_certificate(raw: Any, where: str) -> Dict[str, Any]:
    """Certificate metadata (X509ClmCertificate): Microsoft's keys with defaults; NotBefore, NotAfter, Issuer if given."""
    check_type(raw, dict, where, "an object")
    defaults = {"IsKeyHistory": False, "ArchivedOnCa": False, "CertificateType": 1, "TemplateCommonName": "",
                "SerialNumber": uuid.uuid4().hex[:38].upper(), "Thumbprint": (uuid.uuid4().hex + uuid.uuid4().hex[:8]).upper()}
    given = canonical_keys(raw, CERTIFICATE_FIELDS + CERTIFICATE_OPTIONAL)
    certificate = {name: given.pop(name, defaults[name]) for name in CERTIFICATE_FIELDS}
    certificate.update((name, given.pop(name)) for name in CERTIFICATE_OPTIONAL if name in given)
    certificate.update(given)
    for name in ("IsKeyHistory", "ArchivedOnCa"):
        check_type(certificate[name], bool, "%s.%s" % (where, name), "true or false")
    check_type(certificate["CertificateType"], int, where + ".CertificateType", "an integer")
    for name in ("TemplateCommonName", "SerialNumber", "Thumbprint"):
        check_type(certificate[name], str, "%s.%s" % (where, name), "a string")
    return certificate


def complete_holder(raw: Dict[str, Any], where: str, smartcard: bool) -> Holder:
    """A seed's software profile or smart card, with its simulator-only "certificates" (and a card's "operations")."""
    raw = dict(raw)
    certificates = pop_key(raw, "certificates", [])
    operations = pop_key(raw, "operations", []) if smartcard else None
    defaults = {"Uuid": str(uuid.uuid4()), "Status": ACTIVE, "Flags": 1, "ProfileTemplateVersion": 1, "Comment": "", "ProfileOperations": [],
                "SerialNumber": "{%s}" % uuid.uuid4(), "Middleware": "MSBaseCSP", "Atr": ""}
    view = complete_object(raw, SMARTCARD_FIELDS if smartcard else PROFILE_FIELDS, defaults, where)
    try:
        view["Status"] = check_type(view["Status"], int, "Status", "an integer") if smartcard else parse_profile_status(view["Status"])
    except ValueError as exc:
        raise ValueError("%s: %s" % (where, exc))
    for name in ("Flags", "ProfileTemplateVersion"):
        check_type(view[name], int, "%s.%s" % (where, name), "an integer")
    if operations is None:
        operations = view["ProfileOperations"]
    names = check_type(operations, list, where + (".operations" if smartcard else ".ProfileOperations"), "a list of names")
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise ValueError("%s: operations must be non-empty strings" % where)
    operations = [name.strip().lower() for name in names]  # Microsoft sends them in lower case
    if not smartcard:
        view["ProfileOperations"] = operations
    check_type(certificates, list, where + ".certificates", "a list")
    return Holder(view, [complete_certificate(item, "%s.certificates[%d]" % (where, index)) for index, item in enumerate(certificates)],
                  operations)


def load_kind(data: Dict[str, Any], key: str, source: str, complete: Any) -> Dict[str, Any]:
    """One optional list of a seed (profile_templates, profiles, smartcards), by canonical Uuid, duplicates refused."""
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ValueError("%s: %s must be a list" % (source, key))
    found: Dict[str, Any] = {}
    for index, raw in enumerate(items):
        where = "%s: %s[%d]" % (source, key, index)
        if not isinstance(raw, dict):
            raise ValueError("%s: must be an object" % where)
        item = complete(raw, where)
        if item.view["Uuid"] in found:
            raise ValueError("%s: duplicate Uuid %s" % (where, item.view["Uuid"]))
        found[item.view["Uuid"]] = item
    return found


def load_seed(data: Any, source: str) -> Seed:
    """Seed and state files: {"requests": [...], "profile_templates": [...]?, "profiles": [...]?, "smartcards": [...]?}."""
    entries = load_entries(data, source)
    return Seed(entries, load_kind(data, "profile_templates", source, complete_template),
                load_kind(data, "profiles", source, lambda raw, where: complete_holder(raw, where, False)),
                load_kind(data, "smartcards", source, lambda raw, where: complete_holder(raw, where, True)))


def dump_seed(seed: Seed) -> Dict[str, Any]:
    """The state file: the seed format, settings and simulator-only keys kept; the newer kinds only when there are some."""
    data: Dict[str, Any] = {"requests": [dict(e.request, _simulator=e.sim) if e.sim else e.request for e in seed.entries.values()]}
    if seed.templates:
        data["profile_templates"] = [dict(t.view, policies=t.policies, **({"generation_options": t.options} if t.options else {}),
                                          **({"_simulator": t.sim} if t.sim else {})) for t in seed.templates.values()]
    if seed.profiles:
        data["profiles"] = [dict(h.view, certificates=h.certificates) for h in seed.profiles.values()]
    if seed.smartcards:
        data["smartcards"] = [dict(h.view, certificates=h.certificates, operations=h.operations) for h in seed.smartcards.values()]
    return data


def sequence_requests(spec: str) -> Dict[str, Any]:
    """--seed-sequence PATTERN:COUNT[:STATUS]: COUNT requests with the ids PATTERN % 1 .. PATTERN % COUNT, as seed data.

    PATTERN is a GUID with one printf-style integer field, e.g. 66666666-0000-4000-8000-%012d; STATUS defaults to Approved.
    load_entries checks the result like any seed.  Generated rather than committed: a thousand ids say no more than this.
    """
    pattern, _sep, rest = spec.partition(":")
    count, _sep, status = rest.partition(":")
    if not count.isdigit() or not 1 <= int(count) <= MAX_SEQUENCE:
        raise ValueError("--seed-sequence %r: use PATTERN:COUNT[:STATUS] with COUNT from 1 to %d" % (spec, MAX_SEQUENCE))
    try:
        ids = [pattern % number for number in range(1, int(count) + 1)]
    except (TypeError, ValueError):
        raise ValueError("--seed-sequence %r: PATTERN must hold exactly one integer field such as %%012d" % spec)
    return {"requests": [{"Uuid": request_id, "Status": status or "Approved"} for request_id in ids]}


def load_transitions(path: Optional[str]) -> Dict[str, frozenset]:
    """Target status -> allowed source status numbers; the real server's rules are undocumented."""
    raw = read_json_file(path) if path else DEFAULT_TRANSITIONS
    if not isinstance(raw, dict):
        raise ValueError("%s: expected an object of target -> [source statuses]" % path)
    table = {}
    for target, sources in raw.items():
        name = next((t for t in PUT_RESULTS if t.lower() == str(target).lower()), None)
        if name is None or not isinstance(sources, list):
            raise ValueError("%s: %r must be one of %s with a list of statuses" % (path, target, ", ".join(PUT_RESULTS)))
        try:
            table[name] = frozenset(parse_status(source) for source in sources)
        except ValueError as exc:
            raise ValueError("%s: %s: %s" % (path, name, exc))
    return table
