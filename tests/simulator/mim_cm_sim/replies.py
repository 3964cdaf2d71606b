"""The answers the simulator sends: one Reply per call, JSON bodies as ASP.NET Web API writes them, and the HTML error
pages of IIS and HTTP.sys, kept as data files in pages/ ($name placeholders, string.Template)."""

from __future__ import annotations

import functools
import json
import os
import uuid
from string import Template
from typing import Any, NamedTuple, Optional, Tuple

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html"
PAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")


class Reply(NamedTuple):
    """One HTTP answer, built by the API layer and written by the handler in one send."""

    status: int
    body: bytes = b""
    content_type: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()


@functools.lru_cache(maxsize=None)
def page(name: str, line_end: str = "\n", final_line_end: bool = True) -> Template:
    """A page of pages/, read once; its lines end in line_end (IIS sends CRLF in some), the last one only if final_line_end."""
    with open(os.path.join(PAGES, name), encoding="utf-8") as handle:
        text = handle.read()
    if not final_line_end:
        text = text[:-1] if text.endswith("\n") else text
    return Template(text.replace("\n", line_end))


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
    body = page("iis_error.html", "\r\n").substitute(title=title, text=text)
    return Reply(status, body.encode("utf-8"), HTML_TYPE, headers)


def not_found() -> Reply:
    """What IIS answers for an unknown path, or for every route while the API is disabled."""
    return html_reply(404, "404 - File or directory not found.",
                      "The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.")


def method_not_allowed(method: str) -> Reply:
    """Web API's answer for a known route with an unsupported verb."""
    return message_reply(405, "The requested resource does not support http method '%s'." % method)


def http_sys_reply(status: int, title: str, text: str, headers: Tuple[Tuple[str, str], ...] = ()) -> Reply:
    """The short page that HTTP.sys (IIS's kernel listener) sends itself, e.g. while the application pool is down."""
    body = page("http_sys_error.html", "\r\n").substitute(title=title, status=status, text=text)
    return Reply(status, body.encode("ascii"), "text/html; charset=us-ascii", headers)
