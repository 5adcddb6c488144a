"""Durations (``30s``, ``15m``, ``12h``, ``7d``, ``2w``) and RFC 3339 UTC timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from reconciler.core.durations import parse_duration as parse_duration  # the one grammar

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
#: The word a retention setting uses for "keep forever".
NEVER = "never"
#: Neon refuses branch expiry further ahead than this.
MAX_EXPIRY_SECONDS = 30 * 86400


def parse_utc_timestamp(text: str) -> tuple[datetime | None, str]:
    """(aware UTC datetime, "") for an RFC 3339 UTC timestamp, else (None, reason)."""
    match = _RFC3339.match(text)
    if match is None:
        return None, "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"
    if match.group(8) not in ("Z", "z", "+00:00", "-00:00"):
        return None, "must be in UTC (end with Z)"
    if match.group(7):
        return None, "must have whole seconds (Neon accepts second precision only)"
    try:
        year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC), ""
    except ValueError as exc:
        return None, f"is not a real date and time ({exc})"


def format_utc(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, the canonical form the model keeps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
