# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exception classes of the collection. Modules catch MimCmError once."""

from __future__ import annotations

from typing import Any, Optional


class MimCmError(Exception):
    """Base of every failure a module reports; carries what the user needs to act."""

    def __init__(self, msg: str, http_status: Optional[int] = None, url: Optional[str] = None, retryable: bool = False,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.http_status = http_status
        self.url = url
        self.retryable = retryable  # a transient failure: the same call may succeed if tried again
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After), if it did

    def to_result(self) -> dict[str, Any]:
        """Return the keys a module passes to fail_json: msg, and the HTTP facts when there was an answer."""
        result: dict[str, Any] = {'msg': self.msg}
        if self.http_status is not None:
            result['http_status'] = self.http_status
        if self.url is not None:
            result['url'] = self.url
        return result


class ConfigurationError(MimCmError):
    """An option is missing or malformed; raised before any network call."""


class ConnectionFailure(MimCmError):
    """No HTTP answer: DNS, refused connection, TLS failure or timeout."""


class AuthenticationError(MimCmError):
    """Authentication could not be completed (a handshake or token request failed on the client side)."""


class HTTPStatusError(MimCmError):
    """The server answered with an error status (4xx, 5xx) or an unexpected redirect."""


class UnexpectedResponse(MimCmError):
    """The server answered, but with something the API does not document (bad JSON, unknown status)."""


class RequestNotFound(MimCmError):
    """The request id is not known to the server (or the API is not reachable at that path)."""


class FinalStatusConflict(MimCmError):
    """The request already holds a different final status; final statuses never change."""


class RequestConflict(MimCmError):
    """An open request may already be the one asked for, but cannot be told to be: creating another could duplicate it."""


class MissingLibrary(MimCmError):
    """A Python library the chosen options need is not installed where the module runs."""

    def __init__(self, library: str, import_error: Optional[str] = None, reason: Optional[str] = None) -> None:
        super().__init__('the Python library %s is missing%s' % (library, ' (needed for %s)' % reason if reason else ''))
        self.library = library
        self.import_error = import_error
        self.reason = reason


def unexpected_error(exc: BaseException, doing: Optional[str] = None) -> str:
    """The message for an exception no layer expected: its type and text (bounded), and what was being done."""
    text = ' '.join(str(exc).split())[:1000]
    return 'unexpected error%s: %s%s' % (' while %s' % doing if doing else '', type(exc).__name__, ': %s' % text if text else '')
