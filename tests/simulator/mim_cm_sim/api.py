"""The requests controller of the MIM CM REST API: its routes, and what each call does to the stored requests.

No socket code: a routed call goes in, a Reply comes out (server.py sends it).  One lock guards all state.
"""

from __future__ import annotations

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
from .store import (FINAL_STATUSES, PUT_RESULTS, ZERO_GUID, Entry, canonical_guid, complete_request, load_json_object, lower_keys,
                    now_stamp, parse_request_type, parse_status, status_label, write_atomic)

BASE_PATH = "/certificatemanagement/api/v1.0"
REQUESTS_PATH = BASE_PATH + "/requests"
DENIED = "Authorization has been denied for this request."


class Call(NamedTuple):
    """A routed API call that has not run yet: what fault injection needs to know about it, and how to run it."""

    operation: str  # "get" (one request), "search", "put" or "post"
    request_id: Optional[str]
    run: Callable[[], Reply]


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


def parse_put_body(body: bytes) -> str:
    """{"status": "Completed"|"Canceled"|"Abandoned"}, key and value in any case."""
    value = lower_keys(load_json_object(body)).get("status")
    if value is None:
        raise ValueError("The request body has no 'status' member.")
    for target in PUT_RESULTS:
        if isinstance(value, str) and value.strip().lower() == target.lower():
            return target
    raise ValueError("Status %r is not valid here; use one of %s." % (value, ", ".join(PUT_RESULTS)))


def parse_data_collection(value: Any) -> List[Dict[str, Any]]:
    """A list of {name, value}, or that list as a JSON string (Microsoft's own example sends "[]")."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            value = None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError("datacollection must be a list of {\"Name\", \"Value\"} objects.")
    return [{"Name": lower_keys(item).get("name"), "Value": lower_keys(item).get("value")} for item in value]


def parse_create_body(body: bytes) -> Dict[str, Any]:
    """Map the POST body to Request fields; ValueError carries the client message."""
    data = lower_keys(load_json_object(body))
    if "type" not in data:
        raise ValueError("The request body has no 'type' member.")
    fields = {"RequestType": parse_request_type(data["type"]), "DataCollection": parse_data_collection(data.get("datacollection") or []),
              "Comment": str(data.get("comment") or ""), "ProfileTemplateUuid": canonical_guid(data.get("profiletemplateuuid"))}
    if fields["ProfileTemplateUuid"] is None:
        raise ValueError("profiletemplateuuid is missing or not a GUID.")
    priority = data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise ValueError("priority must be an integer.")
    fields["Priority"] = priority
    if data.get("target") is not None:
        fields["TargetUserUuid"] = canonical_guid(data["target"])
        if fields["TargetUserUuid"] is None:
            raise ValueError("target is not a GUID.")
    return fields


class Api:
    """The requests controller: request in, Reply out, no socket code.  One lock guards all state."""

    def __init__(self, config: Config, entries: Dict[str, Entry], audit: JsonLines) -> None:
        self.config = config
        self.entries = entries
        self.audit = audit
        self.lock = threading.Lock()
        self.random = random.Random(config.faults.seed)  # used under the lock only, so a seed gives one sequence
        self.fault_counts = {}  # type: Dict[str, int]

    def resolve(self, method: str, path: str, query: str, body: bytes, auth: AuthResult) -> Union[Reply, Call]:
        """The requests controller's routes, matched case-insensitively; rights are checked (in the Call) once the route is known."""
        if path == REQUESTS_PATH:
            if method == "GET":
                return Call("search", None, lambda: self.forbidden(auth, "read", "GET", None) or self.search(parse_qsl(query), auth.user))
            if method == "POST":
                return Call("post", None, lambda: self.forbidden(auth, "write", "POST", None) or self.create(body, auth.user))
            return method_not_allowed(method)
        if path.startswith(REQUESTS_PATH + "/") and "/" not in path[len(REQUESTS_PATH) + 1:]:
            request_id = canonical_guid(path[len(REQUESTS_PATH) + 1:])
            if request_id is None:
                return message_reply(400, "The request is invalid. The id is not a GUID.")
            if method == "GET":
                return Call("get", request_id, lambda: self.forbidden(auth, "read", "GET", request_id) or self.get_one(request_id))
            if method == "PUT":
                return Call("put", request_id, lambda: self.forbidden(auth, "write", "PUT", request_id) or self.put(request_id, body, auth.user))
            return method_not_allowed(method)
        return not_found()

    def pick_fault(self, operation: str, request_id: Optional[str]) -> Optional[str]:
        """The one place that decides "fault or not" for a routed call: the request's scripted queue, then --fault-rate.

        operation is "get" or "put" for calls on one request ("search" and "post" only ever get random faults).
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
                  requested: Optional[str] = None) -> Reply:
        """One audit line per applied or refused write; returns the reply for brevity at call sites.

        statuses: (from, to), "to" being what the request reads (or would read) afterwards; requested: the PUT body's value.
        """
        self.audit.write({"event": event, "method": method, "request_id": request_id, "from": statuses[0], "to": statuses[1],
                          "requested": requested, "http_status": reply.status, "user": user, "reason": reason,
                          "correlation_id": correlation_id})
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
            requests = [dict(e.request, _simulator=e.sim) if e.sim else e.request for e in self.entries.values()]
            write_atomic(self.config.state_path, json.dumps({"requests": requests}, indent=2) + "\n")

    def forbidden(self, auth: AuthResult, right: str, method: str, request_id: Optional[str]) -> Optional[Reply]:
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
                self.log_write("refused", method, request_id, (current, None), reply, auth.user, reason)
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

    def create(self, body: bytes, user: Optional[str]) -> Reply:
        """POST /requests: 201 with the new request's relative URI as a JSON string."""
        to_status = status_label(self.config.create_status)
        try:
            fields = parse_create_body(body)
        except ValueError as exc:
            return self.log_write("refused", "POST", None, (None, to_status), message_reply(400, str(exc)), user, str(exc))
        new_id = str(uuid.uuid4())
        me = self.user_uuid(user) or ZERO_GUID
        raw = dict({"Uuid": new_id, "Status": self.config.create_status, "OriginatorUserUuid": me, "TargetUserUuid": me}, **fields)
        with self.lock:
            self.entries[new_id] = Entry(complete_request(raw, "POST"), {})
            self.save()
            return self.log_write("applied", "POST", new_id, (None, to_status), json_reply(201, "api/v1.0/requests/" + new_id), user)

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
            self.save()
            ok = json_reply(200, self.render(entry)) if entry.sim.get("put_response", self.config.put_response) == 200 else Reply(204)
            return self.log_write("applied", "PUT", request_id, (current, result), ok, user, requested=target)
