"""Fixtures of the apply tests: the e2e suite's private ledger on each backend.

``ledger_url`` (SQLite, and PostgreSQL in a schema of its own) needs ``workdir``; both are
reused from the e2e fixtures rather than written twice.
"""

from __future__ import annotations

from tests.e2e.conftest import ledger_url, workdir

__all__ = ["ledger_url", "workdir"]
