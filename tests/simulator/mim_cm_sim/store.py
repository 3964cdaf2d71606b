"""The stored requests: the status table, Microsoft's request shape and defaults, and the seed and state files."""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import uuid
from typing import Any, Dict, NamedTuple, Optional

from .faults import FAULT_KINDS, FAULT_METHODS, is_scripted_fault

# The one status table: number on the wire -> name, the CM database codes (SQL API externalGetStatus; README "Status table").
STATUSES = {0: "None", 3: "Approved", 4: "Denied", 8: "Completed", 9: "Failed", 16: "Pending", 17: "Canceled", 18: "Executing"}
STATUS_NUMBERS = {name.lower(): number for number, name in STATUSES.items()}
FINAL_STATUSES = frozenset(STATUS_NUMBERS[name] for name in ("denied", "completed", "failed", "canceled"))
# PUT body value -> the status the request reads afterwards: Abandoned is an action, not a status (the request ends Failed).
PUT_RESULTS = {"Completed": "Completed", "Canceled": "Canceled", "Abandoned": "Failed"}
DEFAULT_TRANSITIONS = {"Completed": ["Approved", "Executing"], "Canceled": ["Pending", "Approved"], "Abandoned": ["Approved", "Executing"]}
# Request type names from Microsoft's "Create request" page; the numbers are the simulator's own choice.
REQUEST_TYPES = ("None", "Enroll", "Duplicate", "OfflineUnblock", "OnlineUpdate", "Renew", "Recover", "RecoverOnBehalf",
                 "Reinstate", "Retire", "Revoke", "TemporaryCards", "Unblock")
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
ZERO_DATE = "0001-01-01T00:00:00"
DEFAULT_SDDL = "O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCLCSWLORC;;;AU)\u0000"
FIELD_ORDER = ("Uuid", "RequestType", "Status", "Flags", "DataCollection", "DataCollectionFlags", "OriginatorUserUuid",
               "TargetUserUuid", "Submitted", "Completed", "NewProfileUuid", "OldProfileUuid", "NewSmartcardUuid",
               "OldSmartcardUuid", "Priority", "Comment", "ProfileTemplateUuid", "SecurityDescriptor", "IsSmartcard",
               "IsEnrollmentAgent", "IsDataCollectionComplete")
SIMULATOR_CHOICES = {"error": (403, 500), "error_on": FAULT_METHODS, "put_response": (200, 204), "status_format": ("number", "name")}
MAX_SEQUENCE = 100000


class Entry(NamedTuple):
    """A stored request: the Microsoft-shaped object plus its private simulator settings."""

    request: Dict[str, Any]
    sim: Dict[str, Any]


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
    """Request type as int or name (Microsoft's create body sends names like "Enroll")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for number, name in enumerate(REQUEST_TYPES):
        if isinstance(value, str) and name.lower() == value.strip().lower():
            return number
    raise ValueError("Unknown request type %r." % (value,))


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
        else:
            ok, expected = key in SIMULATOR_CHOICES and value in SIMULATOR_CHOICES[key], "one of %s" % (SIMULATOR_CHOICES.get(key, "the known keys"),)
        if not ok:
            raise ValueError("%s: _simulator.%s=%r is not %s" % (where, key, value, expected))
    return dict(sim, faults=list(sim["faults"])) if "faults" in sim else dict(sim)


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
