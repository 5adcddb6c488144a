"""``ApiKey``: an API token that knows where it came from, so errors can name it safely.

A 401 is only actionable if the user learns *which* key was rejected. The client takes plain
``str`` keys everywhere; an ``ApiKey`` is a ``str`` (it goes into the ``Authorization``
header unchanged) that also carries a ``label`` such as ``the org key in NEON_ORG_KEY (org
acme, org-123)``. Errors show the label, never the token, and ``repr`` hides the token too.

It also carries the Neon ``account`` whose rate budget the key spends (``org:<id>`` for org and
project-scoped keys, ``user:…`` for a personal key; see ``reconciler.credentials``), so the
client's limiter can keep one budget per account.
"""

from __future__ import annotations


class ApiKey(str):
    """An API token with a human label; ``repr`` shows only the label."""

    label: str
    account: str

    # ``label`` and ``account`` have defaults because copy/pickle rebuild a str subclass from
    # the token alone and then restore them from ``__dict__``.
    def __new__(cls, token: str, label: str = "", account: str = "") -> ApiKey:
        key = super().__new__(cls, token)
        key.label = label
        key.account = account
        return key

    def __repr__(self) -> str:
        # A stray ``%r`` or a traceback's locals must never print the token.
        return f"ApiKey(<{self.label}>)"


def key_label(key: str) -> str:
    """The label of ``key`` if it is an ``ApiKey``, else ``""`` (never the token itself)."""
    return key.label if isinstance(key, ApiKey) else ""


def key_account(key: str) -> str:
    """The rate-budget account of ``key`` if it is an ``ApiKey`` that knows it, else ``""``."""
    return key.account if isinstance(key, ApiKey) else ""
