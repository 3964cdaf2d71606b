# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credentials of one run, in every form they could leave the module in, and the scrubbing of text."""

from __future__ import annotations

import base64
import html
import json
import threading

from typing import Any, Callable, Optional

from urllib.parse import quote, quote_plus

MASK = '********'


def forms(value: str) -> set[str]:
    """The ways a secret shows in text: raw, URL-encoded, base64, JSON-escaped, Python-escaped and HTML-escaped."""
    raw = value.encode('utf-8', 'surrogatepass')
    # repr() keeps printable non-ASCII characters as they are, unicode_escape writes them as \xNN or \uNNNN
    found = {value, quote(value, safe=''), quote_plus(value, safe=''), json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1], value.encode('unicode_escape').decode('ascii'),
             html.escape(value), html.escape(json.dumps(value)[1:-1])}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode('ascii')
        found.update((text, text.rstrip('=')))
    return {form for form in found if form}


class Secrets:
    """Collects secrets as they become known (options, Basic headers, fetched tokens) and scrubs them from text.

    on_add is told every new form, so that a module can register it for Ansible's own masking (no_log_values) too.
    """

    def __init__(self, on_add: Optional[Callable[[set[str]], Any]] = None) -> None:
        self._forms: set[str] = set()
        self._on_add = on_add
        self._lock = threading.Lock()

    def add(self, value: Any) -> None:
        """Register a secret (None and empty values are ignored)."""
        if not value or not isinstance(value, str):
            return
        new = forms(value)
        with self._lock:
            new -= self._forms
            self._forms |= new
        if new and self._on_add:
            self._on_add(new)

    def scrub(self, text: Any) -> Any:
        """text with every known form of every secret replaced by ********, longest forms first."""
        if not isinstance(text, str):
            return text
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text
