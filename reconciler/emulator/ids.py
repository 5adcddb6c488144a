"""Identifier, secret and timestamp generation in Neon's formats.

Identifiers and secrets come from ``secrets`` (not the seeded fault RNG): a restarted emulator
with the same seed must not mint ids that collide with the ones already in its state file.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid

_ADJECTIVES = (
    "shiny", "winter", "bold", "misty", "quiet", "proud", "sweet", "aged", "raspy", "little",
    "bitter", "floral", "round", "long", "icy", "steep", "dark", "young", "calm", "wild",
)  # fmt: skip
_NOUNS = (
    "wind", "frost", "cloud", "sea", "breeze", "paper", "salad", "hill", "smoke", "meadow",
    "king", "frog", "leaf", "dream", "bush", "snowflake", "river", "forest", "sun", "moon",
)  # fmt: skip
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def _words() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(10**8):08d}"


def project_id() -> str:
    """A project id such as ``shiny-wind-12345678``."""
    return _words()


def branch_id() -> str:
    """A branch id such as ``br-aged-salad-12345678``."""
    return f"br-{_words()}"


def endpoint_id() -> str:
    """An endpoint id such as ``ep-little-smoke-12345678``."""
    return f"ep-{_words()}"


def operation_id() -> str:
    """An operation id (a UUID)."""
    return str(uuid.uuid4())


def api_key_id() -> int:
    """An int64 API key id (kept well inside JavaScript's safe integer range)."""
    return 100_000 + secrets.randbelow(10**12)


def api_key_token() -> str:
    """A 64-character API key token."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(64))


def password() -> str:
    """A role password."""
    return "npg_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def timestamp(at: float) -> str:
    """RFC 3339 UTC timestamp with second precision, as Neon prints them."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    """Parse an RFC 3339 timestamp; raise ``ValueError`` when it is not one."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return parsed.timestamp()


def month_bounds(at: float) -> tuple[str, str]:
    """The consumption period (calendar month, UTC) containing ``at``."""
    now = dt.datetime.fromtimestamp(at, dt.UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
