"""Durations as people write them: ``30s``, ``15m``, ``12h``, ``7d``, ``2w``.

The one grammar for durations, wherever they are read: manifests (``manifests.timing``), CLI
options, and the client's time budgets from the environment (``neon.retry``).
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^([1-9][0-9]{0,8})([smhdw])$")


def parse_duration(text: str) -> int | None:
    """Seconds in ``text``, or None when it is not a duration."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
