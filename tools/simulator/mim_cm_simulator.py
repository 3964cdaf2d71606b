"""Local simulator of the MIM CM REST API (the requests controller).

Why it exists: the collection talks to Microsoft Identity Manager Certificate
Management over HTTP, and its tests and demos need a server that answers like
the real one (status codes, ASP.NET/IIS error bodies, keep-alive connections)
without a Windows domain.  It speaks the authentication a real IIS site does:
Windows Integrated Authentication (Negotiate with Kerberos or NTLM, and NTLM)
through pyspnego's acceptor, Basic, ADFS-style OAuth2 bearer tokens, and TLS
(with client certificates and channel binding) through the ssl module.  With
--auth none, basic or bearer it needs the Python standard library only (3.9 or
later); pyspnego is imported only when negotiate or ntlm is switched on.  It can
also inject production failures on the wire (error pages, throttling, resets,
delays, cut-off answers), so that the client's retries can be proven.  See
README.md next to this file for every switch, the file formats and the logs.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hmac
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_PATH = "/certificatemanagement/api/v1.0"
REQUESTS_PATH = BASE_PATH + "/requests"
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
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html"
MAX_BODY = 1 << 20
REALM = "MIM CM simulator"
DENIED = "Authorization has been denied for this request."
SCHEMES = ("negotiate", "ntlm", "basic", "bearer")
RIGHTS = ("read", "write")
TOKEN_PATH = "/adfs/oauth2/token"
TOKEN_LIFETIME = 3600
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
TLS_HANDSHAKE_TIMEOUT = 10.0
# Fault injection (README "Fault injection"): every kind, the transient ones (the default random set), those that run the call.
FAULT_KINDS = ("503", "502", "504", "429", "408", "html", "delay", "reset_before", "reset_after", "malformed_json", "500", "redirect")
TRANSIENT_FAULTS = FAULT_KINDS[:10]
APPLYING_FAULTS = ("delay", "reset_after", "malformed_json")
FAULT_METHODS = ("get", "put", "any")
SIMULATOR_CHOICES = {"error": (403, 500), "error_on": FAULT_METHODS, "put_response": (200, 204), "status_format": ("number", "name")}
REDIRECT_ORIGIN = "https://cm-other.example.test"
# Query parameters whose values never reach a log (a client may misplace a secret in the URL).
SECRET_PARAMS = re.compile(r"\b((?:client_secret|password|access_token|refresh_token|id_token|client_assertion|assertion|code)=)[^&\s'\"]*",
                           re.IGNORECASE)


class Reply(NamedTuple):
    """One HTTP answer, built by the API layer and written by the handler in one send."""

    status: int
    body: bytes = b""
    content_type: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()


class Call(NamedTuple):
    """A routed API call that has not run yet: what fault injection needs to know about it, and how to run it."""

    operation: str  # "get" (one request), "search", "put" or "post"
    request_id: Optional[str]
    run: Callable[[], Reply]


class Entry(NamedTuple):
    """A stored request: the Microsoft-shaped object plus its private simulator settings."""

    request: Dict[str, Any]
    sim: Dict[str, Any]


class FaultSettings(NamedTuple):
    """The --fault-* switches and --retry-after."""

    rate: float = 0.0
    kinds: Tuple[str, ...] = TRANSIENT_FAULTS
    seed: Optional[int] = None
    delay: float = 5.0
    retry_after: int = 1


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


# ---------------------------------------------------------------- small helpers

def now_stamp() -> str:
    """UTC time in the .NET round-trip shape (7 fractional digits) that MIM CM sends."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def iso_now() -> str:
    """Timestamp for log lines."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


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


# ---------------------------------------------------------------- replies

def json_reply(status: int, payload: Any) -> Reply:
    """Compact JSON like Json.NET; ensure_ascii keeps SDDL's NUL as \\u0000."""
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), JSON_TYPE)


def message_reply(status: int, message: str) -> Reply:
    """ASP.NET Web API error body."""
    return json_reply(status, {"Message": message})


def server_error(text: str) -> Tuple[Reply, str]:
    """500 with a fresh correlation ID in the message, as MIM CM does; the ID also goes to the audit log."""
    correlation_id = str(uuid.uuid4())
    return message_reply(500, "An error has occurred. %s Correlation ID: %s" % (text, correlation_id)), correlation_id


def html_reply(status: int, title: str, text: str, headers: Tuple[Tuple[str, str], ...] = ()) -> Reply:
    """IIS-style HTML error page: clients must not assume error bodies are JSON."""
    page = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>%s</title></head><body><div id="header"><h1>Server Error</h1></div>'
            '<div id="content"><fieldset><h2>%s</h2><h3>%s</h3></fieldset></div></body></html>\r\n') % (title, title, text)
    return Reply(status, page.encode("utf-8"), HTML_TYPE, headers)


def not_found() -> Reply:
    """What IIS answers for an unknown path, or for every route while the API is disabled."""
    return html_reply(404, "404 - File or directory not found.",
                      "The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.")


def method_not_allowed(method: str) -> Reply:
    """Web API's answer for a known route with an unsupported verb."""
    return message_reply(405, "The requested resource does not support http method '%s'." % method)


def http_sys_reply(status: int, title: str, text: str, headers: Tuple[Tuple[str, str], ...] = ()) -> Reply:
    """The short page that HTTP.sys (IIS's kernel listener) sends itself, e.g. while the application pool is down."""
    page = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n<HTML><HEAD><TITLE>%s</TITLE>\r\n'
            '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n<BODY><h2>%s</h2>\r\n<hr><p>HTTP Error %d. %s</p>\r\n'
            '</BODY></HTML>\r\n') % (title, title, status, text)
    return Reply(status, page.encode("ascii"), "text/html; charset=us-ascii", headers)


IIS_DETAILED_503 = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<title>IIS 10.0 Detailed Error - 503.0 - Service Unavailable</title>
<style type="text/css">
<!--
body{margin:0;font-size:.7em;font-family:Verdana,Arial,Helvetica,sans-serif;}
code{margin:0;color:#006600;font-size:1.1em;font-weight:bold;}
.config_source code{font-size:.8em;color:#000000;}
pre{margin:0;font-size:1.4em;word-wrap:break-word;}
ul,ol{margin:10px 0 10px 5px;}
ul.first,ol.first{margin-top:5px;}
fieldset{padding:0 15px 10px 15px;word-break:break-all;}
.summary-container fieldset{padding-bottom:5px;margin-top:4px;}
legend.no-expand-all{padding:2px 15px 4px 10px;margin:0 0 0 -12px;}
legend{color:#333333;;margin:4px 0 8px -12px;_margin-top:0px;font-weight:bold;font-size:1em;}
a:link,a:visited{color:#007EFF;font-weight:bold;}
a:hover{text-decoration:none;}
h1{font-size:2.4em;margin:0;color:#FFF;}
h2{font-size:1.7em;margin:0;color:#CC0000;}
h3{font-size:1.4em;margin:10px 0 0 0;color:#CC0000;}
h4{font-size:1.2em;margin:10px 0 5px 0;}
#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS",Verdana,sans-serif;color:#FFF;background-color:#5C87B2;}
#content{margin:0 0 0 2%;position:relative;}
.summary-container,.content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}
.content-container p{margin:0 0 10px 0;}
#details-left{width:35%;float:left;margin-right:2%;}
#details-right{width:63%;float:left;overflow:hidden;}
#server_version{width:96%;_height:1px;min-height:1px;margin:0 0 5px 0;padding:11px 2% 8px 2%;color:#FFFFFF;background-color:#5A7FA5;
 border-bottom:1px solid #C1CFDD;border-top:1px solid #4A6C8E;font-weight:normal;font-size:1em;color:#FFF;text-align:right;}
#server_version p{margin:5px 0;}
table{margin:4px 0 4px 0;width:100%;border:none;}
td,th{vertical-align:top;padding:3px 0;text-align:left;font-weight:normal;border:none;}
th{width:30%;text-align:right;padding-right:2%;font-weight:bold;}
thead th{background-color:#ebebeb;width:25%;}
#details-right th{width:20%;}
table tr.alt td,table tr.alt th{}
.highlight-code{color:#CC0000;font-weight:bold;font-style:italic;}
.clear{clear:both;}
.preferred{padding:0 5px 2px 5px;font-weight:normal;background:#006633;color:#FFF;font-size:.8em;}
-->
</style>
</head>
<body>
<div id="content">
<div class="content-container">
  <h3>HTTP Error 503.0 - Service Unavailable</h3>
  <h4>The service is unavailable.</h4>
</div>
<div class="content-container">
 <fieldset><h4>Most likely causes:</h4>
  <ul>
   <li>The application pool is stopped or disabled.</li>
   <li>The application pool has been shut down after repeated failures (Rapid-Fail Protection).</li>
   <li>The worker process could not be started because the application pool identity has no valid credentials.</li>
   <li>The request queue of the application pool is full (queueLength reached).</li>
  </ul>
 </fieldset>
</div>
<div class="content-container">
 <fieldset><h4>Things you can try:</h4>
  <ul>
   <li>Start the application pool in IIS Manager, or run <code>appcmd start apppool /apppool.name:"CLM Application Pool"</code>.</li>
   <li>Check the System and Application event logs for WAS and W3SVC events that explain why the worker process stopped.</li>
   <li>Verify the identity of the application pool and its password.</li>
   <li>Create a tracing rule to track failed requests for this HTTP status code. For more information about creating a tracing rule
   for failed requests, click <a href="http://go.microsoft.com/fwlink/?LinkID=66439">here</a>.</li>
  </ul>
 </fieldset>
</div>
<div class="content-container">
 <fieldset><h4>Detailed Error Information:</h4>
  <div id="details-left">
   <table border="0" cellpadding="0" cellspacing="0">
    <tr class="alt"><th>Module</th><td>&nbsp;&nbsp;&nbsp;IIS Web Core</td></tr>
    <tr><th>Notification</th><td>&nbsp;&nbsp;&nbsp;BeginRequest</td></tr>
    <tr class="alt"><th>Handler</th><td>&nbsp;&nbsp;&nbsp;ExtensionlessUrlHandler-Integrated-4.0</td></tr>
    <tr><th>Error Code</th><td>&nbsp;&nbsp;&nbsp;0x80070425</td></tr>
   </table>
  </div>
  <div id="details-right">
   <table border="0" cellpadding="0" cellspacing="0">
    <tr class="alt"><th>Requested URL</th><td>&nbsp;&nbsp;&nbsp;{url}</td></tr>
    <tr><th>Physical Path</th><td>&nbsp;&nbsp;&nbsp;C:\\Program Files\\Microsoft Forefront Identity Manager\\2010\\Certificate Management\\Web</td></tr>
    <tr class="alt"><th>Logon Method</th><td>&nbsp;&nbsp;&nbsp;Not yet determined</td></tr>
    <tr><th>Logon User</th><td>&nbsp;&nbsp;&nbsp;Not yet determined</td></tr>
   </table>
   <div class="clear"></div>
  </div>
 </fieldset>
</div>
<div class="content-container">
 <fieldset><h4>More Information:</h4>
  This error means that the application pool that serves the site is not available. IIS keeps answering from the kernel-mode
  listener while the worker process is stopped, recycled or starting up, so a request that arrives in that window is refused
  without reaching the application. The condition is usually temporary: retry the request after a short wait.
  <p><a href="https://go.microsoft.com/fwlink/?LinkID=62293&amp;IIS70Error=503,0,0x80070425,20348">View more information &raquo;</a></p>
  <p>Microsoft Knowledge Base Articles:</p>
  <ul><li>Application pool states and Rapid-Fail Protection</li><li>Troubleshooting HTTP 503 errors in IIS</li></ul>
 </fieldset>
</div>
</div>
</body>
</html>
"""


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
        return Reply(503, IIS_DETAILED_503.replace("{url}", escape(path)).encode("utf-8"), "text/html; charset=utf-8"), None
    if kind == "500":
        return server_error("Simulated unhandled server error.")
    if kind == "redirect":
        location = REDIRECT_ORIGIN + path
        page = '<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF="%s">here</a></body>'
        return Reply(302, (page % escape(location)).encode("utf-8"), "text/html; charset=UTF-8", (("Location", location),)), None
    return None, None


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


def is_scripted_fault(item: Any) -> bool:
    """One entry of _simulator.faults: "get:503", "put:reset_after", "any:delay"..."""
    method, _sep, kind = item.partition(":") if isinstance(item, str) else ("", "", "")
    return method in FAULT_METHODS and kind in FAULT_KINDS


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


# ---------------------------------------------------------------- logs and auth

class JsonLines:
    """Append-only JSON-lines log, flushed per line so tests can read it while the server runs."""

    def __init__(self, path: Optional[str]) -> None:
        self.lock = threading.Lock()
        self.handle = open(path, "a", encoding="utf-8") if path else None

    def write(self, record: Dict[str, Any]) -> None:
        """Add one line with a timestamp first."""
        if self.handle is None:
            return
        line = json.dumps(dict({"time": iso_now()}, **record)) + "\n"
        with self.lock:
            self.handle.write(line)
            self.handle.flush()

    def close(self) -> None:
        """Close at shutdown."""
        with self.lock:
            if self.handle is not None:
                self.handle.close()
                self.handle = None


def redact(text: str) -> str:
    """Blank secrets that a client may put in a query string before the text reaches a log."""
    return SECRET_PARAMS.sub(lambda match: match.group(1) + "REDACTED", text)


class AuthResult(NamedTuple):
    """Outcome of one Authorization check, and what the access log says about it.

    headers carry a multi-leg continuation challenge (on 401) or the final server token (on success).
    user is the --users name; it is None for anonymous calls and for a principal that --users does not know.
    """

    ok: bool
    user: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()
    scheme: Optional[str] = None
    principal: Optional[str] = None
    mechanism: Optional[str] = None
    handshake: bool = False
    error: Optional[str] = None


ANONYMOUS = AuthResult(True)


class Directory:
    """The --users file: users, OAuth clients and static bearer tokens, plus the tokens issued at run time."""

    def __init__(self, users: Dict[str, Dict[str, Any]], clients: Dict[str, Dict[str, str]], tokens: Dict[str, str]) -> None:
        self.users = users
        self.clients = clients
        self.tokens = dict(tokens)  # token -> user
        self.expiry = {}  # type: Dict[str, float]
        self.lock = threading.Lock()

    def find(self, principal: Optional[str]) -> Optional[str]:
        """User for MIMLAB\\alice, alice@MIMLAB.TEST or alice (any case); None when unknown."""
        short = (principal or "").rpartition("\\")[2].partition("@")[0].lower()
        return next((name for name in self.users if name.lower() == short), None) if short else None

    def issue(self, user: str) -> str:
        """A new random access token for user, valid TOKEN_LIFETIME seconds."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = user
            self.expiry[token] = time.monotonic() + TOKEN_LIFETIME
        return token

    def token_user(self, token: str) -> Optional[str]:
        """User of a static or unexpired issued token."""
        with self.lock:
            if token in self.expiry and self.expiry[token] < time.monotonic():
                del self.tokens[token], self.expiry[token]
            return self.tokens.get(token)


def load_users(path: Optional[str]) -> Directory:
    """--users: {"users": {name: {"password", "uuid", "rights"}}, "clients": {id: {"secret", "user"}}, "tokens": {token: user}}."""
    if not path:
        return Directory({}, {}, {})
    data = read_json_file(path)
    shape = '%s: expected {"users": {"name": {"password": "...", "uuid": "...", "rights": ["read", "write"]}}, "clients": {...}, "tokens": {...}}'
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(isinstance(v, dict) and isinstance(v.get("password", ""), str) for v in users.values()):
        raise ValueError(shape % path)
    table = {}
    for name, record in users.items():
        rights = record.get("rights", list(RIGHTS))
        if not isinstance(rights, list) or not all(right in RIGHTS for right in rights):
            raise ValueError("%s: users.%s.rights must be a list of %s" % (path, name, ", ".join(RIGHTS)))
        table[name] = {"password": record.get("password"), "uuid": canonical_guid(record.get("uuid")), "rights": frozenset(rights)}
    clients, tokens = data.get("clients", {}), data.get("tokens", {})
    if not isinstance(clients, dict) or not all(isinstance(c, dict) and isinstance(c.get("secret"), str) and str(c.get("user")) in table
                                                for c in clients.values()):
        raise ValueError('%s: clients must be {"<client_id>": {"secret": "...", "user": "<a name from users>"}}' % path)
    if not isinstance(tokens, dict) or not all(isinstance(user, str) and user in table for user in tokens.values()):
        raise ValueError('%s: tokens must be {"<token>": "<a name from users>"}' % path)
    return Directory(table, {cid: dict(c) for cid, c in clients.items()}, dict(tokens))


class BasicScheme:
    """HTTP Basic against the --users passwords; stateless, so every call carries the credentials."""

    name = "basic"

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return 'Basic realm="%s"' % REALM

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """Check base64(user:password); the user may be written alice, MIMLAB\\alice or alice@MIMLAB.TEST."""
        try:
            principal, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return AuthResult(False, scheme=self.name, error="malformed Basic credentials")
        user = self.directory.find(principal)
        known = (self.directory.users[user]["password"] or "") if user else ""
        if sep and known and hmac.compare_digest(password.encode("utf-8"), known.encode("utf-8")):
            return AuthResult(True, user, scheme=self.name, principal=principal)
        return AuthResult(False, scheme=self.name, principal=principal, error="unknown user or wrong password")


class BearerScheme:
    """OAuth2 bearer tokens (ADFS style): static ones from --users or ones issued by the token endpoint."""

    name = "bearer"

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return "Bearer"

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """Look the token up; it is never logged."""
        user = self.directory.token_user(token) if token else None
        return AuthResult(True, user, scheme=self.name) if user else AuthResult(False, scheme=self.name, error="unknown or expired token")


class SpnegoScheme:
    """NTLM or Negotiate (Kerberos or NTLM inside SPNEGO, or a raw NTLM token) through pyspnego's acceptor.

    Like IIS, the handshake authenticates the TCP connection: the context lives in conn_state between the
    401 legs, and once complete the connection stays authenticated for later calls without Authorization.
    """

    def __init__(self, name: str, directory: Directory, channel_bindings: Any, spnego: Any) -> None:
        self.name = name
        self.header = "Negotiate" if name == "negotiate" else "NTLM"
        self.directory = directory
        self.channel_bindings = channel_bindings
        self.spnego = spnego  # the module from load_spnego(), loaded once by build()

    def challenge(self) -> str:
        """The WWW-Authenticate value offered on 401."""
        return self.header

    def accept(self, token: str, conn_state: Dict[str, Any]) -> AuthResult:
        """One leg: continue this connection's handshake, or start a new one."""
        name, context = conn_state.pop("handshake", (None, None))
        if name != self.name or context is None or context.complete:
            conn_state.pop("authenticated", None)  # a new handshake replaces the connection's identity, as in IIS
            context = self.spnego.server(protocol=self.name, channel_bindings=self.channel_bindings)
        try:
            out = context.step(base64.b64decode(token, validate=True))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # pyspnego/gssapi raise many types; all mean "refused"
            return AuthResult(False, scheme=self.name, error=failure_text(exc, context))
        reply_headers = (("WWW-Authenticate", "%s %s" % (self.header, base64.b64encode(out).decode("ascii"))),) if out else ()
        if not context.complete:
            conn_state["handshake"] = (self.name, context)
            return AuthResult(False, headers=reply_headers, scheme=self.name)
        mechanism, principal = context.negotiated_protocol, context.client_principal
        if self.channel_bindings is not None and mechanism == "kerberos" and not kerberos_channel_bound(context):
            return AuthResult(False, scheme=self.name, principal=principal, mechanism=mechanism, error="no channel bindings from the client")
        result = AuthResult(True, self.directory.find(principal), reply_headers, self.name, principal, mechanism, handshake=True)
        conn_state["authenticated"] = result._replace(headers=(), handshake=False)
        return result


def load_spnego() -> Any:
    """pyspnego is needed only for NTLM and Negotiate, so it is imported only when they are switched on."""
    try:
        import spnego  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ValueError("--auth negotiate and ntlm need pyspnego: pip install 'pyspnego[kerberos]' (%s)" % exc)
    return spnego


def kerberos_channel_bound(context: Any) -> bool:
    """Whether the Kerberos initiator really sent the expected channel bindings.

    MIT krb5 accepts an AP-REQ without bindings even when the acceptor has some (only wrong ones fail), and
    sets GSS_C_CHANNEL_BOUND_FLAG when they were present and matched.  pyspnego does not expose that flag, so
    this reads it from its inner gssapi context (pyspnego 0.12 internals); anything unexpected counts as unbound.
    pyspnego's NTLM acceptor itself refuses a missing or different MsvAvChannelBindings, so NTLM needs no check here.
    """
    try:
        import gssapi  # pylint: disable=import-outside-toplevel
        inner = getattr(context, "_context", None)  # NegotiateProxy -> the chosen mech's proxy
        return gssapi.RequirementFlag.channel_bound in inner._context.actual_flags  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-exception-caught
        return False


def failure_text(exc: Exception, context: Any) -> str:
    """Why a handshake leg failed, for the access log.

    python-gssapi defers an acceptor's GSSError (to send its error token) and raises an unhelpful AttributeError
    on the next use; the real error waits in its context's _last_err (pyspnego 0.12 / python-gssapi internals).
    """
    try:
        exc = context._context._context._last_err or exc  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return "%s: %s" % (type(exc).__name__, str(exc)[:300])


def tls_server_end_point(cert_path: str) -> bytes:
    """RFC 5929 tls-server-end-point of the server certificate (the first one in the file).

    The hash is the certificate's signature hash, or SHA-256 when that is MD5 or SHA-1 (or undefined).
    """
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    with open(cert_path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(serialization.Encoding.DER))
    return digest.finalize()


def write_ntlm_user_file(directory: Directory, domain: str, upn_suffix: str) -> Optional[str]:
    """pyspnego's NTLM acceptor reads DOMAIN:USER:PASSWORD lines from $NTLM_USER_FILE: write one from --users.

    Each user with a password gets DOMAIN\\user, user@UPN_SUFFIX and a bare user line.  The file is private to
    this process (a fresh 0700 directory, 0600 file) and is removed at shutdown.  Returns the directory, or
    None when no user has a password (then Negotiate offers Kerberos only).
    """
    lines = []
    for name, record in directory.users.items():
        password = record["password"]
        if not password:
            continue
        if any(char in name + password for char in ":\r\n"):
            raise ValueError("user %r: NTLM cannot use a name or password with ':' or a line break" % name)
        lines += ["%s:%s:%s" % (domain, name, password), ":%s@%s:%s" % (name, upn_suffix, password), ":%s:%s" % (name, password)]
    if not lines:
        return None
    folder = tempfile.mkdtemp(prefix="mim-cm-simulator-")
    path = os.path.join(folder, "ntlm_users")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.environ["NTLM_USER_FILE"] = path
    return folder


class Authenticator:
    """Dispatches on the Authorization scheme; remembers connections that completed an NTLM/Negotiate handshake."""

    def __init__(self, schemes: List[Any]) -> None:
        self.schemes = {scheme.name: scheme for scheme in schemes}

    def check(self, header: Optional[str], conn_state: Dict[str, Any]) -> AuthResult:
        """No schemes configured means anonymous access (user None)."""
        if not self.schemes:
            return ANONYMOUS
        if not header:
            conn_state.pop("handshake", None)
            return conn_state.get("authenticated") or AuthResult(False)
        scheme_name, _sep, token = header.strip().partition(" ")
        scheme = self.schemes.get(scheme_name.lower())
        if scheme is None:
            return AuthResult(False, error="scheme %s is not offered" % scheme_name[:40])
        return scheme.accept(token.strip(), conn_state)

    def challenges(self) -> Tuple[Tuple[str, str], ...]:
        """One WWW-Authenticate header per scheme, in the --auth order, as IIS sends them."""
        return tuple(("WWW-Authenticate", scheme.challenge()) for scheme in self.schemes.values())


class TokenEndpoint:
    """ADFS-style OAuth2 token endpoint (client credentials grant) at /adfs/oauth2/token; not subject to --auth."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def handle(self, method: str, authorization: Optional[str], body: bytes) -> Tuple[Reply, AuthResult]:
        """Form-encoded grant_type, client_id, client_secret, resource (or client_secret_basic) -> access token."""
        if method != "POST":
            return method_not_allowed(method), AuthResult(False)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _sep, token = (authorization or "").strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _sep, secret = (unquote(part) for part in base64.b64decode(token, validate=True).decode("utf-8").partition(":"))
            except (binascii.Error, ValueError):
                client_id = secret = None
        result = AuthResult(False, scheme="client_credentials", principal=client_id)
        if form.get("grant_type") != "client_credentials":
            code = "unsupported_grant_type" if form.get("grant_type") else "invalid_request"
            return oauth_error(code, "Only grant_type=client_credentials is supported."), result
        client = self.directory.clients.get(client_id or "")
        if client is None or not hmac.compare_digest((secret or "").encode("utf-8"), client["secret"].encode("utf-8")):
            return oauth_error("invalid_client", "MSIS9607: The client is not registered or the client secret is wrong."), result
        payload = {"access_token": self.directory.issue(client["user"]), "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        reply = json_reply(200, payload)._replace(headers=NO_STORE)
        return reply, result._replace(ok=True, user=client["user"])


def oauth_error(code: str, description: str) -> Reply:
    """OAuth2 error answer (RFC 6749 section 5.2)."""
    return json_reply(400, {"error": code, "error_description": description})._replace(headers=NO_STORE)


# ---------------------------------------------------------------- the API

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


# ---------------------------------------------------------------- HTTP layer

class Handler(BaseHTTPRequestHandler):
    """One instance per connection; keep-alive (HTTP/1.1) because NTLM/Kerberos authenticate the connection."""

    protocol_version = "HTTP/1.1"
    server_version = "MIM-CM-Simulator/1.0"
    wbufsize = 1 << 16  # buffered: status line, headers and body leave in one send (no Nagle stall)

    def version_string(self) -> str:
        """Server header without the Python version."""
        return self.server_version

    def setup(self) -> None:
        """TLS handshake (in this connection's thread, bounded), then per-connection state for multi-leg auth."""
        self.tls_error = None  # type: Optional[str]
        if self.server.tls_context is not None:
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
            try:
                self.request.do_handshake()
                self.request.settimeout(None)
            except OSError as exc:  # ssl.SSLError and socket.timeout are OSErrors
                self.tls_error = str(exc) or type(exc).__name__
        super().setup()
        self.conn_state = {}  # type: Dict[str, Any]
        self.auth = ANONYMOUS

    def handle(self) -> None:
        """Serve the connection's requests, unless its TLS handshake failed."""
        if self.tls_error is None:
            super().handle()
        elif not self.server.quiet:
            sys.stderr.write("mim_cm_simulator: TLS handshake with %s:%d failed: %s\n" % (self.client_address[:2] + (self.tls_error,)))

    def handle_one_request(self) -> None:
        """Forget the previous call's authentication result and fault before each request on a kept-alive connection."""
        self.auth = ANONYMOUS
        self.fault = None  # type: Optional[str]
        super().handle_one_request()

    def do_GET(self) -> None:
        """All verbs share one dispatcher."""
        body = self.read_body()
        if body is None:
            return
        try:
            reply = self.route(body)
        except Exception:  # a simulator bug must still answer like the real server: 500, no stack trace
            sys.stderr.write("mim_cm_simulator: unhandled error on %s %s\n%s" % (self.command, redact(self.path), traceback.format_exc()))
            reply = server_error("The simulator failed unexpectedly.")[0]
        if reply is None:
            self.reset_connection()
        else:
            self.send_reply(reply)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> Optional[bytes]:
        """Always consume the body, or its bytes would corrupt the next request on the connection."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_reply(message_reply(411, "Chunked request bodies are not supported; send Content-Length."))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self.send_reply(message_reply(413 if length > 0 else 400, "Bad or too large Content-Length."))
            return None
        return self.rfile.read(length) if length else b""

    def route(self, body: bytes) -> Optional[Reply]:
        """Token endpoint first (no --auth); then authenticate (IIS does it before the API); then the API routes."""
        parts = urlsplit(self.path)
        path = unquote(parts.path).lower().rstrip("/")
        if path == TOKEN_PATH:
            reply, self.auth = self.server.token_endpoint.handle(self.command, self.headers.get("Authorization"), body)
            return reply
        self.auth = self.server.authenticator.check(self.headers.get("Authorization"), self.conn_state)
        if not self.auth.ok:
            return html_reply(401, "401 - Unauthorized: Access is denied due to invalid credentials.",
                              "You do not have permission to view this directory or page using the credentials that you supplied.",
                              self.auth.headers or self.server.authenticator.challenges())
        reply = self.api_route(path, parts.query, body)
        if reply is None:
            return None
        return reply._replace(headers=self.auth.headers + reply.headers)  # the final server token goes out with the answer

    def api_route(self, path: str, query: str, body: bytes) -> Optional[Reply]:
        """Route, then maybe inject a fault (only here: authenticated calls on the API routes), then run the call."""
        api = self.server.api
        if api.config.api_disabled:
            return not_found()
        call = self.resolve(path, query, body)
        if isinstance(call, Reply):
            return call
        self.fault = api.pick_fault(call.operation, call.request_id)
        return self.run_fault(self.fault, call) if self.fault else call.run()

    def resolve(self, path: str, query: str, body: bytes) -> Union[Reply, Call]:
        """The requests controller's routes, matched case-insensitively; rights are checked (in the Call) once the route is known."""
        api, auth = self.server.api, self.auth
        if path == REQUESTS_PATH:
            if self.command == "GET":
                return Call("search", None, lambda: api.forbidden(auth, "read", "GET", None) or api.search(parse_qsl(query), auth.user))
            if self.command == "POST":
                return Call("post", None, lambda: api.forbidden(auth, "write", "POST", None) or api.create(body, auth.user))
            return method_not_allowed(self.command)
        if path.startswith(REQUESTS_PATH + "/") and "/" not in path[len(REQUESTS_PATH) + 1:]:
            request_id = canonical_guid(path[len(REQUESTS_PATH) + 1:])
            if request_id is None:
                return message_reply(400, "The request is invalid. The id is not a GUID.")
            if self.command == "GET":
                return Call("get", request_id, lambda: api.forbidden(auth, "read", "GET", request_id) or api.get_one(request_id))
            if self.command == "PUT":
                return Call("put", request_id, lambda: api.forbidden(auth, "write", "PUT", request_id) or api.put(request_id, body, auth.user))
            return method_not_allowed(self.command)
        return not_found()

    def run_fault(self, kind: str, call: Call) -> Optional[Reply]:
        """The one place that executes a fault.  None means: abort the connection with a TCP RST, without an answer."""
        api = self.server.api
        reply, correlation_id = fault_reply(kind, api.config.faults.retry_after, self.path)
        api.log_fault(kind, self.command, call.request_id, correlation_id)
        if kind == "delay":
            time.sleep(api.config.faults.delay)  # no lock held: other calls go on meanwhile
        if kind in APPLYING_FAULTS:
            reply = call.run()  # exactly the normal call: same state change, audit line and persistence
        if kind == "malformed_json":
            reply = Reply(200, reply.body[:len(reply.body) // 2] or b'{"Uuid":"', JSON_TYPE)  # a cut-off JSON text never parses
        return None if kind in ("reset_before", "reset_after") else reply

    def reset_connection(self) -> None:
        """Abort with a TCP RST (SO_LINGER on, timeout 0) and no answer; the access log gets http_status null.

        The descriptor is closed at once (detached first): a plain close would wait for rfile/wfile, and the
        server's shutdown(SHUT_WR) afterwards would send a FIN before the RST.
        """
        self.log_request("-")
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(self.connection.detach())

    def send_reply(self, reply: Reply) -> None:
        """Always send Content-Length (keep-alive needs it); flush once so everything leaves together."""
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        try:
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except ConnectionError:  # the client gave up (e.g. timed out during a "delay" fault): nothing to answer to
            self.close_connection = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Called by send_response for every answer, including http.server's own errors: the access log."""
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = None
        path = getattr(self, "path", None)
        auth = getattr(self, "auth", ANONYMOUS)
        self.server.access_log.write({"method": getattr(self, "command", None), "path": redact(path) if path else path, "http_status": status,
                                      "user": auth.user, "auth_scheme": auth.scheme, "auth_mechanism": auth.mechanism,
                                      "handshake": auth.handshake, "principal": auth.principal, "auth_error": auth.error,
                                      "fault": getattr(self, "fault", None), "client": self.client_address[0], "client_port": self.client_address[1]})
        self.log_message('"%s" %s %s', redact(getattr(self, "requestline", "")), code if status is None else status, size)

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Classic stderr line per request unless --quiet; http.server's error texts can quote the request line."""
        if not self.server.quiet:
            super().log_message("%s", redact(format % args))


class SimulatorServer(ThreadingHTTPServer):
    """Threaded server with TCP_NODELAY on every accepted socket and no reverse DNS at bind time.

    With TLS the accept loop hands the plain socket over; each connection's thread does its own handshake,
    so a stalled client cannot block the others.
    """

    daemon_threads = True
    request_queue_size = 128  # socketserver's default backlog of 5 drops SYNs when a client opens 8 connections at once

    def __init__(self, address: Tuple[str, int], setup: Setup, access_log: JsonLines, quiet: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.api = setup.api
        self.authenticator = setup.authenticator
        self.token_endpoint = setup.token_endpoint
        self.tls_context = setup.tls_context
        self.access_log = access_log
        self.quiet = quiet
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """HTTPServer.server_bind calls getfqdn(), which can hang on hosts with broken DNS."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> Tuple[socket.socket, Any]:
        """Disable Nagle: a kept-alive response must not wait ~40 ms for the peer's delayed ACK."""
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


# ---------------------------------------------------------------- command line

def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Every switch is documented in README.md."""
    parser = argparse.ArgumentParser(description="Local simulator of the MIM CM REST API (requests controller).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free port)")
    parser.add_argument("--port-file", help="write the actual port here once listening (atomically)")
    parser.add_argument("--seed", help="JSON seed file with the initial requests")
    parser.add_argument("--state", help="persist state here; loaded instead of --seed when it exists")
    parser.add_argument("--audit-log", help="JSON lines, one per applied or refused write (PUT, POST)")
    parser.add_argument("--access-log", help="JSON lines, one per HTTP request received")
    parser.add_argument("--put-response", type=int, choices=(200, 204), default=200, help="PUT success answer (default 200)")
    parser.add_argument("--status-format", choices=("number", "name"), default="number", help="how Status is sent (default number)")
    parser.add_argument("--transitions", help="JSON: target status -> allowed source statuses")
    parser.add_argument("--api-disabled", action="store_true", help="every route answers 404 (Clm.WebApi.Enabled off)")
    parser.add_argument("--create-status", default="Approved", help="status of requests created by POST (default Approved)")
    parser.add_argument("--users", help='JSON: {"users": {...}, "clients": {...}, "tokens": {...}} (see README)')
    parser.add_argument("--auth", default="none", help="offered schemes in order, comma-separated: negotiate, ntlm, basic, bearer; or none")
    parser.add_argument("--ntlm-domain", default="MIMLAB", help="NetBIOS domain of the NTLM users (default MIMLAB)")
    parser.add_argument("--ntlm-upn-suffix", default="MIMLAB.TEST", help="UPN suffix NTLM accepts in user@SUFFIX (default MIMLAB.TEST)")
    parser.add_argument("--keytab", help="Kerberos keytab of the service principals (sets KRB5_KTNAME)")
    parser.add_argument("--tls-cert", help="PEM server certificate (chain): serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--client-ca", help="PEM CA: require a client certificate signed by it")
    parser.add_argument("--require-channel-binding", action="store_true",
                        help="NTLM/Negotiate over HTTPS must carry tls-server-end-point channel bindings")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability (0..1) that an API call gets a random fault (default 0)")
    parser.add_argument("--fault-kinds", default=",".join(TRANSIENT_FAULTS),
                        help="comma-separated kinds of random faults (default the transient set: %(default)s)")
    parser.add_argument("--fault-seed", type=int, help="seed of the fault generator, for a reproducible sequence")
    parser.add_argument("--fault-delay", type=float, default=5.0, help="seconds that a delay fault waits before running the call (default 5)")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of 503 and 429 faults (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no per-request lines on stderr")
    return parser.parse_args(argv)


def parse_schemes(text: str) -> List[str]:
    """--auth: offered schemes in order, or none."""
    names = [name.strip().lower() for name in text.split(",")]
    if names == ["none"]:
        return []
    if any(name not in SCHEMES for name in names) or len(set(names)) != len(names):
        raise ValueError("--auth %r: use a comma-separated list of %s without repeats, or none" % (text, ", ".join(SCHEMES)))
    return names


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


def tls_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    """Server TLS context (TLS 1.2 or later); with --client-ca a client certificate is required."""
    if not args.tls_cert and not args.tls_key:
        if args.client_ca or args.require_channel_binding:
            raise ValueError("--client-ca and --require-channel-binding need --tls-cert and --tls-key")
        return None
    if not (args.tls_cert and args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.load_verify_locations(cafile=args.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    except ssl.SSLError as exc:
        raise ValueError("TLS files: %s" % exc)
    return context


def parse_create_status(text: str) -> int:
    """--create-status: one of the table's statuses; unknown numbers are for seeds (to test clients), not for new requests."""
    try:
        number = parse_status(text)
    except ValueError as exc:
        raise ValueError("--create-status: %s" % exc)
    if number not in STATUSES:
        raise ValueError("--create-status %s: not in the status table (%s)" % (text, ", ".join("%d %s" % item for item in STATUSES.items())))
    return number


class Setup(NamedTuple):
    """Everything the switches build before the server starts."""

    api: Api
    authenticator: Authenticator
    token_endpoint: TokenEndpoint
    tls_context: Optional[ssl.SSLContext]
    temp_dir: Optional[str]


def build(args: argparse.Namespace, audit: JsonLines) -> Setup:
    """Load every file the switches name; ValueError/OSError explain what is wrong."""
    directory = load_users(args.users)
    names = parse_schemes(args.auth)
    spnego_names = [name for name in names if name in ("negotiate", "ntlm")]
    if names and not directory.users:
        raise ValueError("--auth %s needs --users with at least one user" % args.auth)
    if "bearer" in names and not (directory.tokens or directory.clients):
        raise ValueError("--auth bearer needs tokens or clients in --users")
    if args.keytab and "negotiate" not in names:
        raise ValueError("--keytab needs --auth negotiate")
    if args.require_channel_binding and not spnego_names:
        raise ValueError("--require-channel-binding needs --auth negotiate or ntlm")
    if args.keytab and not os.path.isfile(args.keytab):
        raise ValueError("--keytab %s: no such file" % args.keytab)
    context = tls_context(args)
    create_status = parse_create_status(args.create_status)
    if args.state and os.path.exists(args.state):
        entries = load_entries(read_json_file(args.state), args.state)
    else:
        entries = load_entries(read_json_file(args.seed), args.seed) if args.seed else {}
    config = Config(put_response=args.put_response, status_format=args.status_format, transitions=load_transitions(args.transitions),
                    create_status=create_status, api_disabled=args.api_disabled, users=directory.users, state_path=args.state,
                    faults=fault_settings(args))
    spnego, bindings, temp_dir = None, None, None
    if spnego_names:
        spnego = load_spnego()
        if args.require_channel_binding:
            end_point = tls_server_end_point(args.tls_cert)
            bindings = spnego.channel_bindings.GssChannelBindings(application_data=b"tls-server-end-point:" + end_point)
        if args.keytab:
            os.environ["KRB5_KTNAME"] = "FILE:" + os.path.abspath(args.keytab)
        temp_dir = write_ntlm_user_file(directory, args.ntlm_domain, args.ntlm_upn_suffix)
        if temp_dir is None and "ntlm" in names:
            raise ValueError("--auth ntlm: no user in --users has a password")
    schemes = [BasicScheme(directory) if name == "basic" else BearerScheme(directory) if name == "bearer"
               else SpnegoScheme(name, directory, bindings, spnego) for name in names]
    api = Api(config, entries, audit)
    with api.lock:
        api.save()
    return Setup(api, Authenticator(schemes), TokenEndpoint(directory), context, temp_dir)


def main(argv: Optional[List[str]] = None) -> int:
    """Start, announce the port, serve until SIGTERM/SIGINT, then shut down and flush."""
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    setup = None
    try:
        audit, access_log = JsonLines(args.audit_log), JsonLines(args.access_log)
        setup = build(args, audit)
        server = SimulatorServer((args.host, args.port), setup, access_log, args.quiet)
    except (OSError, ValueError) as exc:
        if setup is not None and setup.temp_dir:
            shutil.rmtree(setup.temp_dir, ignore_errors=True)
        print("mim_cm_simulator: error: %s" % exc, file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    scheme = "https" if setup.tls_context else "http"
    print("MIM CM simulator listening on %s://%s:%d" % (scheme, "[%s]" % host if ":" in host else host, port), flush=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.1):
            pass
        server.shutdown()
        server.server_close()
        with setup.api.lock:
            setup.api.save()
        print("mim_cm_simulator: faults injected: %s" % setup.api.fault_summary(), file=sys.stderr, flush=True)
    finally:
        if setup.temp_dir:
            shutil.rmtree(setup.temp_dir, ignore_errors=True)
        audit.close()
        access_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
