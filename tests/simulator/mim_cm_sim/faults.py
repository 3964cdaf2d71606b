"""Fault injection (README "Fault injection"): the kinds, the --fault-* switches, and the one place that executes a fault.

Which call gets a fault is decided by Api.pick_fault (the request's scripted queue, then --fault-rate), under the
API's lock; this module says what each kind answers and runs it.
"""

from __future__ import annotations

import argparse
import time
from html import escape
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Tuple

from .replies import JSON_TYPE, Reply, html_reply, http_sys_reply, page, server_error

if TYPE_CHECKING:
    from .api import Api, Call

# Every kind, the transient ones (the default random set), those that run the call.
FAULT_KINDS = ("503", "502", "504", "429", "408", "html", "delay", "reset_before", "reset_after", "malformed_json", "500", "redirect")
TRANSIENT_FAULTS = FAULT_KINDS[:10]
APPLYING_FAULTS = ("delay", "reset_after", "malformed_json")
FAULT_METHODS = ("get", "put", "any")
REDIRECT_ORIGIN = "https://cm-other.example.test"


class FaultSettings(NamedTuple):
    """The --fault-* switches and --retry-after."""

    rate: float = 0.0
    kinds: Tuple[str, ...] = TRANSIENT_FAULTS
    seed: Optional[int] = None
    delay: float = 5.0
    retry_after: int = 1


def fault_settings(args: argparse.Namespace) -> FaultSettings:
    """--fault-rate, --fault-kinds, --fault-seed, --fault-delay, --retry-after."""
    kinds = tuple(kind.strip().lower() for kind in args.fault_kinds.split(","))
    if any(kind not in FAULT_KINDS for kind in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError("--fault-kinds %r: use a comma-separated list of %s without repeats" % (args.fault_kinds, ", ".join(FAULT_KINDS)))
    if not 0 <= args.fault_rate <= 1:
        raise ValueError("--fault-rate %r: use a probability from 0 to 1" % args.fault_rate)
    if not 0 <= args.fault_delay <= 3600:
        raise ValueError("--fault-delay %r: use seconds from 0 to 3600" % args.fault_delay)
    if args.retry_after < 0:
        raise ValueError("--retry-after %r: use 0 or more seconds" % args.retry_after)
    return FaultSettings(args.fault_rate, kinds, args.fault_seed, args.fault_delay, args.retry_after)


def is_scripted_fault(item: Any) -> bool:
    """One entry of _simulator.faults: "get:503", "put:reset_after", "any:delay"..."""
    method, _sep, kind = item.partition(":") if isinstance(item, str) else ("", "", "")
    return method in FAULT_METHODS and kind in FAULT_KINDS


def fault_reply(kind: str, retry_after: int, path: str) -> Tuple[Optional[Reply], Optional[str]]:
    """The answer of a fault that does not run the call (and its correlation ID for "500"); (None, None) for the others."""
    wait = (("Retry-After", str(retry_after)),)
    if kind == "503":
        return http_sys_reply(503, "Service Unavailable", "The service is unavailable.", wait), None
    if kind == "502":
        return html_reply(502, "502 - Web server received an invalid response while acting as a gateway or proxy server.",
                          "There is a problem with the page you are looking for, and it cannot be displayed. When the Web server (while acting "
                          "as a gateway or proxy) contacted the upstream content server, it received an invalid response from the content server."), None
    if kind == "504":
        return html_reply(504, "504 - Gateway Timeout.", "The Web server (while acting as a gateway or proxy) did not receive a timely "
                          "response from the upstream content server."), None
    if kind == "429":
        return html_reply(429, "429 - Too Many Requests.", "The client has sent too many requests in a given amount of time.", wait), None
    if kind == "408":
        return http_sys_reply(408, "Request Timeout", "The request has timed out.", (("Connection", "close"),)), None
    if kind == "html":
        return Reply(503, page("iis_503_detailed.html").substitute(url=escape(path)).encode("utf-8"), "text/html; charset=utf-8"), None
    if kind == "500":
        return server_error("Simulated unhandled server error.")
    if kind == "redirect":
        location = REDIRECT_ORIGIN + path
        body = page("object_moved.html", final_line_end=False).substitute(location=escape(location))
        return Reply(302, body.encode("utf-8"), "text/html; charset=UTF-8", (("Location", location),)), None
    return None, None


def run_fault(api: Api, kind: str, call: Call, method: str, path: str) -> Optional[Reply]:
    """The one place that executes a fault.  None means: abort the connection with a TCP RST, without an answer."""
    reply, correlation_id = fault_reply(kind, api.config.faults.retry_after, path)
    api.log_fault(kind, method, call.request_id, correlation_id)
    if kind == "delay":
        time.sleep(api.config.faults.delay)  # no lock held: other calls go on meanwhile
    if kind in APPLYING_FAULTS:
        reply = call.run()  # exactly the normal call: same state change, audit line and persistence
    if kind == "malformed_json" and reply is not None:  # None: the call lost its answer itself (--lose-post-answers)
        reply = Reply(200, reply.body[:len(reply.body) // 2] or b'{"Uuid":"', JSON_TYPE)  # a cut-off JSON text never parses
    return None if kind in ("reset_before", "reset_after") else reply
