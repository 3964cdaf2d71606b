# -*- coding: utf-8 -*-
# Copyright (c) mim.certificate_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side filters over Request objects that the API's search cannot express (submission dates)."""

from __future__ import annotations

import datetime
import re

from typing import Any, Optional

from ansible_collections.mim.certificate_management.plugins.module_utils._errors import ConfigurationError, UnexpectedResponse
from ansible_collections.mim.certificate_management.plugins.module_utils._request import field

# .NET writes up to seven fractional digits and often no offset: 2024-05-02T08:15:42.1830000
_TIMESTAMP = re.compile(r'^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$', re.IGNORECASE)


def parse_timestamp(text: Any) -> datetime.datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime; a time without offset is taken as UTC.

    Raises ValueError when text is not such a timestamp.
    """
    match = _TIMESTAMP.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError('%r is not an ISO 8601 date or date-time' % (text,))
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    microsecond = int((fraction or '0')[:6].ljust(6, '0'))
    zone = datetime.timezone.utc
    if offset and offset.upper() != 'Z':
        sign = -1 if offset[0] == '-' else 1
        digits = offset[1:].replace(':', '')
        zone = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), microsecond, zone)
    return moment.astimezone(datetime.timezone.utc)


def submitted_cutoff(submitted_before: Optional[str] = None, older_than_days: Optional[float] = None,
                     now: Optional[datetime.datetime] = None) -> Optional[datetime.datetime]:
    """The latest submission time a request may have to pass both filters, or None for no date filter."""
    limits = []
    if submitted_before:
        try:
            limits.append(parse_timestamp(submitted_before))
        except ValueError as exc:
            raise ConfigurationError('submitted_before: %s; write it like 2026-01-31 or 2026-01-31T12:00:00Z' % exc)
    if older_than_days is not None:
        if older_than_days < 0:
            raise ConfigurationError('older_than_days must be zero or more, not %s' % older_than_days)
        limits.append((now or datetime.datetime.now(datetime.timezone.utc)) - datetime.timedelta(days=older_than_days))
    return min(limits) if limits else None


def submitted_before_cutoff(request: dict[str, Any], cutoff: datetime.datetime) -> bool:
    """Whether the server's Request object was submitted before cutoff."""
    submitted = field(request, 'Submitted')
    try:
        return parse_timestamp(submitted) < cutoff
    except ValueError:
        raise UnexpectedResponse('request %s has the Submitted value %r, which is not a timestamp'
                                 % (field(request, 'Uuid'), submitted))
