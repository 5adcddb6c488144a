"""A defensive check that keeps secrets out of the ledger.

The ledger stores ids, never tokens, passwords or connection strings. Callers hand it free-form
mappings (intent details, step resource ids, run summaries, meta values), so every such value
passes through ``reject_secrets`` before it is written. It refuses a mapping whose keys name a
secret (``token``, ``password``, ``key`` …) anywhere in its nesting, and any string value that
looks like a secret whatever its key (a Neon API token, a URI with a password in it). The error
names where the value was found, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import LedgerError

#: Field names that hold secrets in Neon responses or in our own code. ``key`` alone is the
#: token in Neon's ``POST /api_keys`` answer; ``key_id`` and ``key_name`` are fine.
_SECRET_NAMES = frozenset(
    {
        "key",
        "api_key",
        "token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "dsn",
        "connection_uri",
        "connection_uris",
        "connection_string",
        "private_key",
    }
)
_SECRET_SUFFIXES = ("_token", "_password", "_secret", "_dsn", "_connection_uri")
#: Neon API tokens start with ``napi_`` and Neon role passwords with ``npg_``; URIs with
#: ``user:password@`` carry a password.
_TOKEN = re.compile(r"\b(?:napi|npg)_[A-Za-z0-9_-]+", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(://[^/@:\s]+:)[^/@\s]+@")


def is_secret_name(name: str) -> bool:
    """True when a field called ``name`` would hold a secret."""
    lowered = name.strip().lower().replace("-", "_")
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def reject_secrets(value: Any, where: str) -> None:
    """Raise ``LedgerError`` if ``value`` (a JSON-like tree) holds something secret-looking.

    ``where`` names the value for the message, e.g. ``intent detail``.
    """
    if isinstance(value, Mapping):
        for name, item in value.items():
            path = f"{where}.{name}"
            if is_secret_name(str(name)):
                raise LedgerError(f"refusing to store a secret in the ledger: field {path}")
            reject_secrets(item, path)
    elif isinstance(value, str):
        if _TOKEN.search(value) or _URI_PASSWORD.search(value):
            raise LedgerError(
                f"refusing to store a secret in the ledger: {where} looks like a token "
                "or a connection string with a password"
            )
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(value):
            reject_secrets(item, f"{where}[{index}]")


def redact_text(text: str) -> str:
    """Free text (a step message, a note) with token-like words and URI passwords masked.

    Messages come from error texts we do not control, so they are cleaned rather than refused:
    refusing would lose the record of a failed step.
    """
    masked = _TOKEN.sub(lambda found: found.group(0).split("_", 1)[0] + "_***", text)
    return _URI_PASSWORD.sub(r"\1***@", masked)
