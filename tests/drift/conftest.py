"""The ledger fixtures (one ledger per backend, a settable clock) for the drift store tests."""

from tests.ledger.conftest import clock, ledger, ledger_url, open_at, postgres_admin

__all__ = ["clock", "ledger", "ledger_url", "open_at", "postgres_admin"]
