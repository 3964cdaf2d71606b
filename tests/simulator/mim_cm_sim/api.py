"""The MIM CM REST API's controllers that the simulator models: requests (search, get, create, final status), profile
templates and their workflow policies, the enrollment of certificates for a request (generation options, certificate
data), software profiles and smart cards (read only), and the approval of a Pending request outside the API
(run_simulator.py --approve/--deny).

No socket code: a routed call goes in, a Reply comes out (server.py sends it).  One lock guards all state.  The
certificate authority (ca.py, which needs cryptography) comes in as an object, so this module imports no cryptography.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import parse_qsl

from .auth import AuthResult
from .faults import FAULT_KINDS, FaultSettings
from .logs import JsonLines
from .replies import Reply, json_reply, message_reply, method_not_allowed, not_found, server_error
from .store import (ACTIVE, FINAL_STATUSES, OPTION_SIMULATOR_KEYS, PUT_RESULTS, STATUS_NUMBERS, ZERO_GUID, Entry, Holder, Seed, Template,
                    canonical_guid, complete_request, dump_seed, load_json_object, lower_keys, now_stamp, parse_profile_status,
                    parse_request_type, parse_status, request_type_label, status_label, write_atomic)

BASE_PATH = "/certificatemanagement/api/v1.0"
REQUESTS_PATH = BASE_PATH + "/requests"
DENIED = "Authorization has been denied for this request."
ID = "{id}"  # a path segment that must be a GUID (400 otherwise)
NAME = "{name}"  # any path segment
# The modelled routes: path segments below BASE_PATH -> verb -> Call operation.  Any other path is IIS's 404.
ROUTES = (
    (("requests",), {"GET": "search", "POST": "post"}),
    (("requests", ID), {"GET": "get", "PUT": "put"}),
    (("requests", ID, "profiles"), {"GET": "request_profiles"}),
    (("requests", ID, "certificaterequestgenerationoptions"), {"GET": "generation_options"}),
    (("requests", ID, "certificatedata"), {"POST": "certificatedata"}),
    (("profiletemplates",), {"GET": "templates"}),
    (("profiletemplates", ID, "policies", NAME), {"GET": "policy"}),
    (("profiletemplates", ID, "policy", "workflow", NAME), {"GET": "policy"}),  # the page's table; its examples use /policies
    (("profiles",), {"GET": "profiles"}),
    (("profiles", ID), {"GET": "profile"}),
    (("profiles", ID, "operations"), {"GET": "profile_operations"}),
    (("profiles", ID, "certificates"), {"GET": "profile_certificates"}),
    (("smartcards",), {"GET": "smartcards"}),
    (("smartcards", ID), {"GET": "smartcard"}),
    (("smartcards", ID, "operations"), {"GET": "smartcard_operations"}),
    (("smartcards", ID, "certificates"), {"GET": "smartcard_certificates"}),
)
# What a Completed Enroll request of a seeded software template gets (README "Seed file").
NEW_PROFILE_OPERATIONS = ("renew", "revoke", "retire")
ADMIN_ACTIONS = {"approve": "Approved", "deny": "Denied"}
GARBAGE_ANSWER = "created"  # --create-answer garbage: a 201 whose body names no request
# The statuses in which certificates can be requested (README "Enrolling certificates"); a submission leaves Executing.
ENROLLING = (STATUS_NUMBERS["approved"], STATUS_NUMBERS["executing"])
EXECUTING = STATUS_NUMBERS["executing"]


class Call(NamedTuple):
    """A routed API call that has not run yet: what fault injection needs to know about it, and how to run it.

    run() returns None when the connection must be reset without an answer (a lost POST answer).
    """

    operation: str  # "get" (one request), "search", "put", "post", "certificatedata", or the name of another route (ROUTES)
    request_id: Optional[str]  # for "get" and "put" only: the request whose scripted faults apply
    run: Callable[[], Optional[Reply]]


class Config(NamedTuple):
    """Global behaviour chosen on the command line."""

    put_response: int
    status_format: str
    transitions: Dict[str, frozenset]
    create_status: int
    api_disabled: bool
    users: Dict[str, Dict[str, Any]]
    state_path: Optional[str]
    faults: FaultSettings = FaultSettings()
    create_datacollection: str = "any"  # "string": a POST whose datacollection is a real array gets a 500
    create_answer: str = "uri"  # "garbage": a 201 whose body names no request
    lose_post_answers: int = 0  # the first N applied POSTs get no answer (TCP RST)
    pkcs7_style: str = "cmc"  # the Pkcs7 of certificatedata answers: "cmc" (a CMC full response) or "certs-only"
    lose_certificatedata_answers: int = 0  # the first N applied certificatedata POSTs get no answer (TCP RST)


def parse_put_body(body: bytes) -> str:
    """{"status": "Completed"|"Canceled"|"Abandoned"}, key and value in any case."""
    value = lower_keys(load_json_object(body)).get("status")
    if value is None:
        raise ValueError("The request body has no 'status' member.")
    for target in PUT_RESULTS:
        if isinstance(value, str) and value.strip().lower() == target.lower():
            return target
    raise ValueError("Status %r is not valid here; use one of %s." % (value, ", ".join(PUT_RESULTS)))


def find_route(segments: Tuple[str, ...]) -> Optional[Tuple[Tuple[str, ...], Dict[str, str]]]:
    """The ROUTES entry whose pattern the path segments match ({id} and {name} match any non-empty segment), or None."""
    for pattern, verbs in ROUTES:
        if len(pattern) == len(segments) and all(segments[i] == part or (part in (ID, NAME) and segments[i]) for i, part in enumerate(pattern)):
            return pattern, verbs
    return None


def data_collection_value(name: str, value: Any) -> str:
    """A data collection value as text: strings as sent, null as "", numbers as their JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    raise ValueError("datacollection: the value of %r must be a string." % name)


def parse_data_collection(value: Any) -> List[Dict[str, Any]]:
    """datacollection in its three encodings: a list of one-pair objects ({"Employee ID": "E-1"}, Microsoft's create
    example), a list of {"name", "value"} objects, or either list as a JSON string (the walkthrough's "[]")."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise ValueError("datacollection is a string that holds no JSON list.")
    if not isinstance(value, list):
        raise ValueError("datacollection must be a list of {\"<name>\": \"<value>\"} or {\"name\", \"value\"} objects.")
    items = []
    for item in value:
        keys = lower_keys(item) if isinstance(item, dict) else {}
        if set(keys) == {"name", "value"}:
            name, text = keys["name"], keys["value"]
        elif isinstance(item, dict) and len(item) == 1:
            [(name, text)] = item.items()
        else:
            raise ValueError("datacollection items must be {\"<name>\": \"<value>\"} or {\"name\": ..., \"value\": ...} objects.")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("datacollection: an item has no name.")
        items.append({"Name": name, "Value": data_collection_value(name, text)})
    return items


def parse_priority(value: Any) -> int:
    """0 (highest) to 255 (lowest); a numeric string too, as Microsoft's example sends "4"."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
        raise ValueError("priority must be an integer from 0 to 255.")
    return value


def optional_guid(data: Dict[str, Any], key: str) -> Optional[str]:
    """An optional GUID member of the create body: None when absent or null, ValueError when not a GUID."""
    if data.get(key) is None:
        return None
    guid = canonical_guid(data[key])
    if guid is None:
        raise ValueError("%s is not a GUID." % key)
    return guid


def parse_create_body(body: bytes) -> Tuple[Dict[str, Any], bool]:
    """Map the POST body to Request fields, and whether datacollection came as a real array; ValueError carries the client message.

    Priority is absent from the fields when the body has none (the policy's DefaultRequestPriority applies).
    """
    data = lower_keys(load_json_object(body))
    if "type" not in data:
        raise ValueError("The request body has no 'type' member.")
    fields: Dict[str, Any] = {"RequestType": parse_request_type(data["type"]), "ProfileTemplateUuid": canonical_guid(data.get("profiletemplateuuid"))}
    if fields["ProfileTemplateUuid"] is None:
        raise ValueError("profiletemplateuuid is missing or not a GUID.")
    collection = data.get("datacollection")
    fields["DataCollection"] = parse_data_collection([] if collection is None else collection)
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ValueError("comment must be a string.")
    fields["Comment"] = comment or ""
    if data.get("priority") is not None:
        fields["Priority"] = parse_priority(data["priority"])
    for key, field in (("target", "TargetUserUuid"), ("smartcard", "OldSmartcardUuid"), ("profile", "OldProfileUuid")):
        guid = optional_guid(data, key)
        if guid is not None:
            fields[field] = guid
    return fields, isinstance(collection, list)


def describe_post(body: bytes, originator: str) -> Dict[str, Any]:
    """What a POST's audit line says about the request, read as far as the body allows (never raises)."""
    try:
        data = lower_keys(load_json_object(body))
    except ValueError:
        data = {}
    try:
        kind = request_type_label(parse_request_type(data.get("type")))
    except ValueError:
        kind = None
    target = canonical_guid(data.get("target")) if data.get("target") is not None else originator
    comment = data.get("comment") if isinstance(data.get("comment"), str) else None
    return {"route": "requests", "request_type": kind, "template_uuid": canonical_guid(data.get("profiletemplateuuid")), "target_uuid": target,
            "originator_uuid": originator, "comment": comment}


def parse_certificatedata_body(body: bytes) -> Tuple[str, List[str], str]:
    """{"pfxpassword", "certificaterequests": [CSR, ...], "comments"}, names in any case, each optional; ValueError carries the
    client message.  A missing or null member is "" (or no CSRs)."""
    data = lower_keys(load_json_object(body))
    password, requests, comments = data.get("pfxpassword"), data.get("certificaterequests"), data.get("comments")
    if password is not None and not isinstance(password, str):
        raise ValueError("pfxpassword must be a string.")
    if requests is not None and not (isinstance(requests, list) and all(isinstance(item, str) for item in requests)):
        raise ValueError("certificaterequests must be a list of base64-encoded PKCS #10 requests (strings).")
    if comments is not None and not isinstance(comments, str):
        raise ValueError("comments must be a string.")
    return password or "", requests or [], comments or ""


def describe_submission(body: bytes) -> Dict[str, Any]:
    """What a certificatedata POST's audit line says, read as far as the body allows (never raises); never the password."""
    try:
        data = lower_keys(load_json_object(body))
    except ValueError:
        data = {}
    requests, comments = data.get("certificaterequests"), data.get("comments")
    return {"route": "certificatedata", "csr_count": len(requests) if isinstance(requests, list) else None,
            "comments": comments if isinstance(comments, str) else None, "serials": None, "thumbprints": None, "reissued": None}


def public_option(option: Dict[str, Any]) -> Dict[str, Any]:
    """A generation option as clients get it: without the simulator's own keys."""
    return {key: value for key, value in option.items() if key not in OPTION_SIMULATOR_KEYS}


def policy_refusal(template: Template, policy: Optional[Dict[str, Any]], kind: Any, fields: Dict[str, Any]) -> Optional[str]:
    """Why the template's policy refuses this request, or None: a disabled or missing policy, a required item, a comment."""
    where = "profile template %s (%s)" % (template.view["Name"], template.view["Uuid"])
    if policy is None or not policy["Enabled"]:
        return "Request type %s is not allowed for %s." % (kind, where)
    given = {item["Name"].strip().lower(): item["Value"] for item in fields["DataCollection"]}
    for item in policy["PolicyDataCollection"]:
        if item["Required"] and not given.get(item["Name"].strip().lower(), "").strip():
            return "The data collection item '%s' is required by the %s policy of %s." % (item["Name"], kind, where)
    if policy["CollectComments"] and not fields["Comment"].strip():
        return "A comment is required by the %s policy of %s." % (kind, where)
    return None


def windows_base64(data: Optional[bytes]) -> Optional[str]:
    """Base64 in lines of 64 characters, each ended by CR LF, as the Pkcs7 of Microsoft's certificatedata example."""
    if data is None:
        return None
    text = base64.b64encode(data).decode("ascii")
    return "".join(text[start:start + 64] + "\r\n" for start in range(0, len(text), 64))


def certificate_answer(issued: Any) -> Dict[str, Any]:
    """One Certificate object of a certificatedata answer (ca.Issued in), with the documented keys in the documented order."""
    return {"CertificateId": str(uuid.uuid4()), "Error": None, "Flags": 0, "IsExternal": False, "isKeyHistory": False,
            "isPfx": issued.pfx is not None, "isPkcs7": issued.pkcs7 is not None, "isServerGenerated": issued.option["server_generated"],
            "Pfx": windows_base64(issued.pfx), "Pkcs7": windows_base64(issued.pkcs7), "TemplateCommonName": issued.option["template_common_name"],
            "UseLocalMachineStore": False}


class Api:
    """The modelled controllers: request in, Reply out, no socket code.  One lock guards all state."""

    def __init__(self, config: Config, seed: Seed, audit: JsonLines, authority: Any = None) -> None:
        self.config = config
        self.authority = authority  # ca.Authority when a template has generation options (or --ca-dir was given), else None
        self.entries = seed.entries
        self.templates = seed.templates
        self.profiles = seed.profiles
        self.smartcards = seed.smartcards
        self.audit = audit
        self.lock = threading.Lock()
        self.random = random.Random(config.faults.seed)  # used under the lock only, so a seed gives one sequence
        self.fault_counts: Dict[str, int] = {}
        self.answers_to_lose = config.lose_post_answers
        self.submissions_to_lose = config.lose_certificatedata_answers

    def resolve(self, method: str, path: str, query: str, body: bytes, auth: AuthResult) -> Union[Reply, Call]:
        """The modelled routes (ROUTES), matched case-insensitively; rights are checked (in the Call) once the route is known."""
        if not path.startswith(BASE_PATH + "/"):
            return not_found()
        segments = tuple(path[len(BASE_PATH) + 1:].split("/"))
        route = find_route(segments)
        if route is None:
            return not_found()
        pattern, verbs = route
        ids = [canonical_guid(segments[index]) for index, part in enumerate(pattern) if part == ID]
        if None in ids:
            return message_reply(400, "The request is invalid. The id is not a GUID.")
        if method not in verbs:
            return method_not_allowed(method)
        operation = verbs[method]
        ident = ids[0] if ids else None
        params = parse_qsl(query)
        user = auth.user
        if operation == "post":
            return Call("post", None, lambda: self.forbidden(auth, "write", "POST", None, describe_post(body, self.user_uuid(user) or ZERO_GUID))
                        or self.create(body, user))
        if operation == "put":
            return Call("put", ident, lambda: self.forbidden(auth, "write", "PUT", ident) or self.put(str(ident), body, user))
        if operation == "certificatedata":
            return Call("certificatedata", None, lambda: self.forbidden(auth, "write", "POST", ident, describe_submission(body))
                        or self.submit(str(ident), body, user))
        handlers: Dict[str, Callable[[], Reply]] = {
            "search": lambda: self.search(params, user),
            "get": lambda: self.get_one(str(ident)),
            "request_profiles": lambda: self.request_profiles(str(ident)),
            "generation_options": lambda: self.generation_options(str(ident)),
            "templates": lambda: self.list_templates(params),
            "policy": lambda: self.get_policy(str(ident), segments[-1]),
            "profiles": lambda: self.list_profiles(params),
            "profile": lambda: self.one_of(self.profiles, str(ident), "view"),
            "profile_operations": lambda: self.one_of(self.profiles, str(ident), "operations"),
            "profile_certificates": lambda: self.one_of(self.profiles, str(ident), "certificates"),
            "smartcards": lambda: self.list_smartcards(params),
            "smartcard": lambda: self.one_of(self.smartcards, str(ident), "view"),
            "smartcard_operations": lambda: self.one_of(self.smartcards, str(ident), "operations"),
            "smartcard_certificates": lambda: self.one_of(self.smartcards, str(ident), "certificates"),
        }
        handler = handlers[operation]
        scripted = ident if operation == "get" else None  # a request's scripted faults apply to GET and PUT on it only
        return Call(operation, scripted, lambda: self.forbidden(auth, "read", "GET", scripted) or handler())

    def pick_fault(self, operation: str, request_id: Optional[str]) -> Optional[str]:
        """The one place that decides "fault or not" for a routed call: the request's scripted queue, then --fault-rate.

        operation is "get" or "put" for calls on one request (the other operations only ever get random faults).
        The queue is consumed in order: only its head can match, and a call of another method leaves it waiting.
        """
        settings = self.config.faults
        with self.lock:
            entry = self.entries.get(request_id) if request_id else None
            queue = entry.sim.get("faults") if entry else None
            if queue and queue[0].partition(":")[0] in (operation, "any"):
                kind = queue.pop(0).partition(":")[2]
            elif settings.rate > 0 and self.random.random() < settings.rate:
                kind = self.random.choice(settings.kinds)
            else:
                return None
            self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1
            return kind

    def log_fault(self, kind: str, method: str, request_id: Optional[str], correlation_id: Optional[str]) -> None:
        """One audit line per injected fault; a fault that runs the call also gets the call's usual applied/refused line."""
        self.audit.write({"event": "fault", "kind": kind, "method": method, "request_id": request_id, "correlation_id": correlation_id})

    def fault_summary(self) -> str:
        """Faults injected per kind, for the line printed at shutdown."""
        with self.lock:
            counts = ["%s=%d" % (kind, self.fault_counts[kind]) for kind in FAULT_KINDS if kind in self.fault_counts]
            return " ".join(["total=%d" % sum(self.fault_counts.values())] + counts)

    def user_uuid(self, user: Optional[str]) -> Optional[str]:
        """GUID of the authenticated user, from --users."""
        return self.config.users.get(user, {}).get("uuid") if user else None

    def render(self, entry: Entry) -> Dict[str, Any]:
        """Client view of a request: no simulator settings, Status as number or name."""
        request = dict(entry.request)
        if entry.sim.get("status_format", self.config.status_format) == "name":
            request["Status"] = status_label(request["Status"])
        return request

    def log_write(self, event: str, method: str, request_id: Optional[str], statuses: Tuple[Any, Any], reply: Reply,
                  user: Optional[str], reason: Optional[str] = None, correlation_id: Optional[str] = None,
                  requested: Optional[str] = None, post: Optional[Dict[str, Any]] = None) -> Reply:
        """One audit line per applied or refused write; returns the reply for brevity at call sites.

        statuses: (from, to), "to" being what the request reads (or would read) afterwards; requested: the PUT body's value;
        post: a POST's request_type, template_uuid, target_uuid and originator_uuid (describe_post), added to its line.
        """
        self.audit.write(dict({"event": event, "method": method, "request_id": request_id, "from": statuses[0], "to": statuses[1],
                               "requested": requested, "http_status": reply.status, "user": user, "reason": reason,
                               "correlation_id": correlation_id}, **(post or {})))
        return reply

    def simulated_error(self, entry: Entry, operation: str) -> Tuple[Optional[Reply], Optional[str]]:
        """The per-request "_simulator.error" switch, so one instance serves every test case."""
        code = entry.sim.get("error")
        if code is None or entry.sim.get("error_on", "any") not in (operation, "any"):
            return None, None
        if code == 403:
            return message_reply(403, DENIED), None
        return server_error("Simulated server failure for request %s." % entry.request["Uuid"])

    def save(self) -> None:
        """Persist the whole state (seed format, settings kept) after each applied write; caller holds the lock."""
        if self.config.state_path:
            seed = Seed(self.entries, self.templates, self.profiles, self.smartcards)
            write_atomic(self.config.state_path, json.dumps(dump_seed(seed), indent=2) + "\n")

    def forbidden(self, auth: AuthResult, right: str, method: str, request_id: Optional[str],
                  post: Optional[Dict[str, Any]] = None) -> Optional[Reply]:
        """403 unless the caller has the right ("read" for GET, "write" for PUT/POST); anonymous calls (--auth none) pass."""
        if auth.scheme is None:
            return None
        rights = self.config.users.get(auth.user, {}).get("rights", ()) if auth.user else ()
        if right in rights:
            return None
        reply = message_reply(403, DENIED)
        if method in ("PUT", "POST"):
            reason = ("User %s lacks the %s right." % (auth.user, right) if auth.user
                      else "Principal %s is not a known user." % (auth.principal or "(none)"))
            with self.lock:
                entry = self.entries.get(request_id) if request_id else None
                current = status_label(entry.request["Status"]) if entry else None
                self.log_write("refused", method, request_id, (current, None), reply, auth.user, reason, post=post)
        return reply

    def get_one(self, request_id: str) -> Reply:
        """GET /requests/{id}: 200 with the object, 204 when unknown."""
        with self.lock:
            entry = self.entries.get(request_id)
            if entry is None:
                return Reply(204)
            failure = self.simulated_error(entry, "get")[0]
            return failure or json_reply(200, self.render(entry))

    def search(self, query: List[Tuple[str, str]], user: Optional[str]) -> Reply:
        """GET /requests?status=X&targetuser=current: 200 with a list, 204 when nothing matches."""
        params = {key.lower(): value for key, value in query}
        status = None
        if "status" in params:
            try:
                status = parse_status(params["status"])
            except ValueError:
                return message_reply(400, "The request is invalid. '%s' is not a valid request status." % params["status"])
        target = params.get("targetuser")
        if target is not None and target.lower() != "current":
            return message_reply(400, "The request is invalid. targetuser supports only 'current'.")
        wanted = self.user_uuid(user)
        with self.lock:
            found = [self.render(e) for e in self.entries.values()
                     if (status is None or e.request["Status"] == status)
                     and (target is None or (wanted is not None and e.request["TargetUserUuid"] == wanted))]
        return json_reply(200, found) if found else Reply(204)

    def create(self, body: bytes, user: Optional[str]) -> Optional[Reply]:
        """POST /requests: 201 with the new request's relative URI as a JSON string (None: reset, the answer is lost).

        With profile templates seeded, the named template's policy for the type decides: it must exist and be enabled,
        its required data collection items need values, a comment may be required; ApprovalsNeeded 0 reads Approved,
        otherwise Pending.  Without templates, any template id is taken and the request reads --create-status.
        """
        me = self.user_uuid(user) or ZERO_GUID
        post = describe_post(body, me)
        try:
            fields, sent_array = parse_create_body(body)
        except ValueError as exc:
            to = status_label(self.config.create_status) if not self.templates else None
            return self.log_write("refused", "POST", None, (None, to), message_reply(400, str(exc)), user, str(exc), post=post)
        kind = request_type_label(fields["RequestType"])
        with self.lock:
            template = self.templates.get(fields["ProfileTemplateUuid"])
            sim = template.sim if template else {}
            policy = template.policies.get(kind) if template and isinstance(kind, str) else None
            status = self.config.create_status
            if self.templates:
                status = STATUS_NUMBERS["approved"] if policy is not None and policy["ApprovalsNeeded"] == 0 else STATUS_NUMBERS["pending"]
            reason: Optional[str] = None
            if sent_array and sim.get("create_datacollection", self.config.create_datacollection) == "string":
                reason = "The request body could not be read: datacollection must be a JSON string."
            elif self.templates and template is None:
                reason = "Profile template %s was not found." % fields["ProfileTemplateUuid"]
            elif template is not None:
                reason = policy_refusal(template, policy, kind, fields)
            to = status_label(status) if reason is None or policy is not None or not self.templates else None
            if reason is not None:
                reply, correlation_id = server_error(reason)
                return self.log_write("refused", "POST", None, (None, to), reply, user, reason, correlation_id, post=post)
            new_id = str(uuid.uuid4())
            raw = dict({"Uuid": new_id, "Status": status, "OriginatorUserUuid": me, "TargetUserUuid": me,
                        "Priority": policy["DefaultRequestPriority"] if policy else 0, "IsSmartcard": bool(template and template.is_smartcard)},
                       **fields)
            request = complete_request(raw, "POST")
            self.entries[new_id] = Entry(request, {})
            lost = self.lose_answer(sim)
            self.save()
            answer = "api/v1.0/requests/" + new_id if sim.get("create_answer", self.config.create_answer) == "uri" else GARBAGE_ANSWER
            if lost:
                self.log_fault("reset_after", "POST", new_id, None)  # as a reset_after fault: its line first, then the call's
            post.update(target_uuid=request["TargetUserUuid"], template_uuid=request["ProfileTemplateUuid"])
            self.log_write("applied", "POST", new_id, (None, to), json_reply(201, answer), user, post=post)
            return None if lost else json_reply(201, answer)

    def lose_answer(self, sim: Dict[str, Any]) -> bool:
        """Whether this applied POST loses its answer: the template's lose_post_answers first, then --lose-post-answers."""
        if sim.get("lose_post_answers", 0) > 0:
            sim["lose_post_answers"] -= 1
        elif self.answers_to_lose > 0:
            self.answers_to_lose -= 1
        else:
            return False
        self.fault_counts["reset_after"] = self.fault_counts.get("reset_after", 0) + 1
        return True

    def allows(self, number: int, target: str) -> bool:
        """The transition model: nothing leaves a final status; otherwise --transitions (or the default) decides."""
        return number not in FINAL_STATUSES and number in self.config.transitions.get(target, ())

    def put(self, request_id: str, body: bytes, user: Optional[str]) -> Reply:
        """PUT /requests/{id}: move to a final status if the transition model allows it."""
        with self.lock:
            entry = self.entries.get(request_id)
            put_delay = entry.sim.get("put_delay", 0) if entry else 0
        if put_delay:
            time.sleep(put_delay)  # outside the lock: clients racing on this request can all read it before any PUT lands
        with self.lock:
            entry = self.entries.get(request_id)
            current = status_label(entry.request["Status"]) if entry else None
            failure, correlation_id = self.simulated_error(entry, "put") if entry else (None, None)
            if failure:
                return self.log_write("refused", "PUT", request_id, (current, None), failure, user, "simulated error", correlation_id)
            try:
                target = parse_put_body(body)
            except ValueError as exc:
                return self.log_write("refused", "PUT", request_id, (current, None), message_reply(400, str(exc)), user, str(exc))
            result = PUT_RESULTS[target]
            if entry is None:
                reason = "Request %s was not found." % request_id
                reply, correlation_id = server_error(reason)
                return self.log_write("refused", "PUT", request_id, (None, result), reply, user, reason, correlation_id, target)
            if not self.allows(entry.request["Status"], target):
                reason = "Request %s cannot move from status %s to status %s." % (entry.request["Uuid"], current, target)
                reply, correlation_id = server_error(reason)
                return self.log_write("refused", "PUT", request_id, (current, result), reply, user, reason, correlation_id, target)
            entry.request["Status"] = parse_status(result)
            if target == "Completed":
                entry.request["Completed"] = now_stamp()
                self.issue_profile(entry)
            self.save()
            ok = json_reply(200, self.render(entry)) if entry.sim.get("put_response", self.config.put_response) == 200 else Reply(204)
            return self.log_write("applied", "PUT", request_id, (current, result), ok, user, requested=target)

    def issue_profile(self, entry: Entry) -> None:
        """A Completed Enroll request of a seeded software template gets a new Active profile (its NewProfileUuid), holding
        the metadata of the certificates its last certificatedata POST issued."""
        request = entry.request
        template = self.templates.get(request["ProfileTemplateUuid"])
        if request["RequestType"] != 1 or request["NewProfileUuid"] != ZERO_GUID or template is None or template.is_smartcard:
            return
        profile_id = str(uuid.uuid4())
        operations = list(NEW_PROFILE_OPERATIONS)
        view = {"Uuid": profile_id, "Status": ACTIVE, "Flags": 1, "ParentProfileUuid": ZERO_GUID, "PrimaryProfileUuid": ZERO_GUID,
                "AssignedUserUuid": request["TargetUserUuid"], "ProfileTemplateUuid": template.view["Uuid"], "ProfileTemplateVersion": 1,
                "Comment": "", "ProfileOperations": operations}
        self.profiles[profile_id] = Holder(view, [dict(certificate) for certificate in entry.sim.get("issued", [])], operations)
        request["NewProfileUuid"] = profile_id

    # ---------------------------------------------------------------- enrollment: generation options, certificate data

    def enrollment_refusal(self, entry: Optional[Entry], request_id: str) -> Optional[str]:
        """Why certificates cannot be requested for this request now: unknown, or not Approved or Executing."""
        if entry is None:
            return "Request %s was not found." % request_id
        if entry.request["Status"] not in ENROLLING:
            return ("Request %s is in status %s; certificates can be requested for Approved or Executing requests only."
                    % (request_id, status_label(entry.request["Status"])))
        return None

    def template_options(self, entry: Entry) -> Tuple[Optional[Template], List[Dict[str, Any]]]:
        """The request's template (None when it is not seeded) and its generation options."""
        template = self.templates.get(entry.request["ProfileTemplateUuid"])
        return template, (template.options if template else [])

    def generation_options(self, request_id: str) -> Reply:
        """GET /requests/{id}/certificaterequestgenerationoptions: the client-generated entries (one CSR each, by position);
        204 when there are none or the request is unknown; 500 for a request that is not Approved or Executing."""
        with self.lock:
            entry = self.entries.get(request_id)
            if entry is None:
                return Reply(204)
            reason = self.enrollment_refusal(entry, request_id)
            if reason:
                return server_error(reason)[0]
            client = [public_option(option) for option in self.template_options(entry)[1] if not option["server_generated"]]
            return json_reply(200, client) if client else Reply(204)

    def submit(self, request_id: str, body: bytes, user: Optional[str]) -> Optional[Reply]:
        """POST /requests/{id}/certificatedata: check the CSRs against the client-generated options (by position), issue a
        certificate for each option (server-generated keys as PKCS #12 under pfxpassword), remember them on the request for
        the profile of a Completed PUT, move the request to Executing; 200 with the Certificate objects (None: the answer is
        lost).  A request that has certificates already gets new ones, as a real server may issue them again."""
        post = describe_submission(body)
        try:
            password, texts, _comments = parse_certificatedata_body(body)
        except ValueError as exc:
            with self.lock:
                entry = self.entries.get(request_id)
                current = status_label(entry.request["Status"]) if entry else None
            return self.log_write("refused", "POST", request_id, (current, None), message_reply(400, str(exc)), user, str(exc), post=post)
        with self.lock:
            entry = self.entries.get(request_id)
            current = status_label(entry.request["Status"]) if entry else None
            to = status_label(EXECUTING) if entry else None
            reason = self.enrollment_refusal(entry, request_id)
            requests: List[Any] = []
            template, options = self.template_options(entry) if entry else (None, [])
            if reason is None and entry is not None and (not options or self.authority is None):
                reason = "Profile template %s of request %s issues no certificates." % (entry.request["ProfileTemplateUuid"], request_id)
            if reason is None:
                reason = self.submission_refusal(options, texts, password, requests)
            if reason is not None:
                reply, correlation_id = server_error(reason)
                return self.log_write("refused", "POST", request_id, (current, to), reply, user, reason, correlation_id, post=post)
            assert entry is not None and template is not None
            style = template.sim.get("pkcs7_style", self.config.pkcs7_style)
            issued = self.authority.enroll(options, requests, password, entry.request["TargetUserUuid"], style)
            post.update(serials=[item.metadata["SerialNumber"] for item in issued], thumbprints=[item.metadata["Thumbprint"] for item in issued],
                        reissued=bool(entry.sim.get("issued")))
            entry.sim["issued"] = [item.metadata for item in issued]
            entry.request["Status"] = EXECUTING
            lost = self.lose_submission_answer(template.sim)
            self.save()
            answer = json_reply(200, [certificate_answer(item) for item in issued])
            if lost:
                self.log_fault("reset_after", "POST", request_id, None)  # as a reset_after fault: its line first, then the call's
            self.log_write("applied", "POST", request_id, (current, to), answer, user, post=post)
            return None if lost else answer

    def submission_refusal(self, options: List[Dict[str, Any]], texts: List[str], password: str, requests: List[Any]) -> Optional[str]:
        """Why a submission is refused (the number of CSRs, each CSR, the PFX password), or None with requests filled in."""
        client = [option for option in options if not option["server_generated"]]
        if len(texts) != len(client):
            return "The request needs %d certificate request(s), one per client-generated option; %d were sent." % (len(client), len(texts))
        for number, option in enumerate(client, 1):  # as many as texts (no zip: strict= needs Python 3.10)
            try:
                requests.append(self.authority.read_request(texts[number - 1], number, option))
            except ValueError as exc:
                return str(exc)
        if len(client) < len(options) and not password:
            return "A pfxpassword is required: the profile template issues server-generated keys as PFX."
        return None

    def lose_submission_answer(self, sim: Dict[str, Any]) -> bool:
        """Whether this applied submission loses its answer: the template's lose_certificatedata_answers first, then the switch."""
        if sim.get("lose_certificatedata_answers", 0) > 0:
            sim["lose_certificatedata_answers"] -= 1
        elif self.submissions_to_lose > 0:
            self.submissions_to_lose -= 1
        else:
            return False
        self.fault_counts["reset_after"] = self.fault_counts.get("reset_after", 0) + 1
        return True

    # ---------------------------------------------------------------- read-only routes: templates, profiles, smart cards

    def list_templates(self, query: List[Tuple[str, str]]) -> Reply:
        """GET /profiletemplates[?targetuser=current]: every seeded template's limited view (no per-user filtering)."""
        target = {key.lower(): value for key, value in query}.get("targetuser")
        if target is not None and target.lower() != "current":
            return message_reply(400, "The request is invalid. targetuser supports only 'current'.")
        with self.lock:
            views = [t.view for t in self.templates.values()]
            return json_reply(200, views) if views else Reply(204)

    def get_policy(self, template_id: str, type_name: str) -> Reply:
        """GET /profiletemplates/{id}/policies/{type}: the workflow policy; 204 when the template has none for the type."""
        try:
            kind = request_type_label(parse_request_type(type_name))
        except ValueError:
            return message_reply(400, "The request is invalid. '%s' is not a valid request type." % type_name)
        with self.lock:
            template = self.templates.get(template_id)
            if template is None:
                return server_error("Profile template %s was not found." % template_id)[0]
            policy = template.policies.get(kind) if isinstance(kind, str) else None
            return json_reply(200, policy) if policy is not None else Reply(204)

    def one_of(self, table: Dict[str, Holder], ident: str, part: str) -> Reply:
        """GET /profiles/{id}[/operations|/certificates], /smartcards/{id}[/...]: 200, or 204 when unknown or empty."""
        with self.lock:
            holder = table.get(ident)
            value = getattr(holder, part) if holder else None
            return json_reply(200, value) if value else Reply(204)

    def list_profiles(self, query: List[Tuple[str, str]]) -> Reply:
        """GET /profiles[?status=Active|number]: every seeded or issued profile (whoever it is assigned to)."""
        wanted = {key.lower(): value for key, value in query}.get("status")
        try:
            status = parse_profile_status(wanted) if wanted is not None else None
        except ValueError:
            return message_reply(400, "The request is invalid. '%s' is not a profile status the simulator knows (Active or a number)." % wanted)
        with self.lock:
            found = [h.view for h in self.profiles.values() if status is None or h.view["Status"] == status]
            return json_reply(200, found) if found else Reply(204)

    def request_profiles(self, request_id: str) -> Reply:
        """GET /requests/{id}/profiles: the profiles that are the request's NewProfileUuid or OldProfileUuid."""
        with self.lock:
            entry = self.entries.get(request_id)
            wanted = {entry.request["NewProfileUuid"], entry.request["OldProfileUuid"]} - {ZERO_GUID} if entry else set()
            found = [h.view for key, h in self.profiles.items() if key in wanted]
            return json_reply(200, found) if found else Reply(204)

    def list_smartcards(self, query: List[Tuple[str, str]]) -> Reply:
        """GET /smartcards: a list; ?cardid=X: the one card whose Uuid or SerialNumber (braces aside) is X, as one object."""
        card_id = {key.lower(): value for key, value in query}.get("cardid")
        with self.lock:
            if card_id is None:
                views = [h.view for h in self.smartcards.values()]
                return json_reply(200, views) if views else Reply(204)
            wanted = card_id.strip().strip("{}").lower()
            for holder in self.smartcards.values():
                serial = holder.view["SerialNumber"]
                if wanted and (holder.view["Uuid"] == canonical_guid(card_id) or (isinstance(serial, str) and serial.strip("{}").lower() == wanted)):
                    return json_reply(200, holder.view)
            return Reply(204)

    # ---------------------------------------------------------------- outside the API: run_simulator.py --approve / --deny

    def admin(self, action: Any, request_id: Any) -> Tuple[bool, str]:
        """Approve or deny a Pending request, as an approver would in the CM portal; one audit line ("admin") either way."""
        target = ADMIN_ACTIONS.get(action) if isinstance(action, str) else None
        ident = canonical_guid(request_id)
        with self.lock:
            entry = self.entries.get(ident) if ident else None
            current = status_label(entry.request["Status"]) if entry else None
            if target is None:
                reason = "Unknown action %r: use approve or deny." % (action,)
            elif ident is None:
                reason = "%r is not a GUID." % (request_id,)
            elif entry is None:
                reason = "Request %s was not found." % ident
            elif current != "Pending":
                reason = "Request %s is %s, not Pending: only a Pending request can be approved or denied." % (ident, current)
            else:
                reason = None
                entry.request["Status"] = STATUS_NUMBERS[str(target).lower()]
                self.save()
            self.audit.write({"event": "admin", "action": action, "request_id": ident or request_id, "from": current,
                              "to": target if reason is None else None, "result": "refused" if reason else "applied", "reason": reason})
            if reason:
                return False, reason
            return True, "Request %s: Pending -> %s." % (ident, target)
