"""The message of a refused apply, with the holder text the apply itself passes to the ledger."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.app import planning
from reconciler.app.applying import apply_session
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.credentials import Credentials
from reconciler.errors import LockHeldError
from reconciler.ledger import Ledger
from reconciler.neon import NeonClient

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


class _NoApi(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no API call expected: {request.url}")


class _LedgerOnlyEnvironment(Environment):
    """An ``Environment`` with the test's ledger and a client that must not be used."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(GlobalOptions(environ={}), planning.validate(EXAMPLE).fleet)
        self._test_ledger = ledger
        self._test_client = NeonClient("http://unused.test/api/v2", transport=_NoApi())

    def client(self) -> NeonClient:
        return self._test_client

    def ledger(self) -> Ledger:
        return self._test_ledger

    def credentials(self) -> Credentials:
        return Credentials(org_keys={})


def test_the_lock_held_message_names_the_pid_once(open_at: Callable[..., Ledger]) -> None:
    env = _LedgerOnlyEnvironment(open_at())
    try:
        with (
            apply_session(env),
            pytest.raises(LockHeldError) as caught,
            open_at().apply_lock("me"),
        ):
            pass
    finally:
        env.client().close()
    message = str(caught.value)
    assert message.count("pid") == 1, message
    assert f"(pid {os.getpid()}) since " in message
