"""The simulator's two JSON-lines logs (audit and access), and the redaction of secrets before anything is logged."""

from __future__ import annotations

import datetime
import json
import re
import threading
from typing import Any, Dict, Optional

# Query parameters whose values never reach a log (a client may misplace a secret in the URL).
SECRET_PARAMS = re.compile(r"\b((?:client_secret|password|access_token|refresh_token|id_token|client_assertion|assertion|code)=)[^&\s'\"]*",
                           re.IGNORECASE)


def iso_now() -> str:
    """Timestamp for log lines."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


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
