"""The secret guard: secret-named fields and secret-looking values never reach the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import LedgerError
from reconciler.ledger.guard import is_secret_name, redact_text, reject_secrets


@pytest.mark.parametrize(
    "name",
    ["key", "token", "Password", "api-key", "db_password", "access_token", "connection_uris"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["key_id", "key_name", "project_id", "tokens_used", "keys"])
def test_names_that_are_only_near_secrets(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"outer": {"inner": [{"token": "x"}]}}, r"detail\.outer\.inner\[0\]\.token"),
        ({"ok": ["fine", "napi_abc123"]}, r"detail\.ok\[1\] looks like a token"),
        ({"u": "postgres://me:pw@h/db"}, r"detail\.u looks like a token"),
    ],
)
def test_nested_secrets_are_found_and_located(value: Any, where: str) -> None:
    with pytest.raises(LedgerError, match=where):
        reject_secrets(value, "detail")


def test_ordinary_details_pass() -> None:
    reject_secrets(
        {"project_name": "cust-1", "key_id": 5, "uri": "postgres://me@h/db", "n": [1, 2.5, None]},
        "detail",
    )


def test_free_text_is_masked() -> None:
    text = "401 for napi_ABC-123_x at postgresql://app:pw@ep.neon.tech/db (retry)"
    assert redact_text(text) == "401 for napi_*** at postgresql://app:***@ep.neon.tech/db (retry)"
