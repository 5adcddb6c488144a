"""Failures a CI job meets are fast and named: a wrong API host, a rejected key, an expected 403.

Real ``fleet`` processes, as a CI job runs them. The wrong-host runs get a small retry budget
(``NEON_FLEET_RETRY_BUDGET``) and must not retry at all: one ``Error:`` line naming the host,
no retry warnings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator, seed_from_mapping, serve
from tests.e2e.conftest import KEYS, e2e_seed
from tests.support.cli import Result, run_subprocess
from tests.support.ports import closed_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def free_plan_url(tmp_path: Path) -> Iterator[str]:
    """The emulator on loopback with fleet.example's orgs; the free org is on Neon's free plan."""
    seed = e2e_seed()
    seed["orgs"][0]["plan"] = "free"  # org-free-1: no consumption history (403)
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(seed))
    with serve(emulator) as server:
        yield server.url
    emulator.close()


def _fleet(args: list[str], workdir: Path, **env: str) -> Result:
    return run_subprocess(args, cwd=workdir, env={**KEYS, "NO_COLOR": "1", **env}, timeout=60)


@pytest.mark.parametrize("target", ["closed-port", "unresolvable"])
def test_wrong_api_host_fails_in_seconds_naming_the_host(workdir: Path, target: str) -> None:
    with contextlib.ExitStack() as stack:
        if target == "closed-port":
            port = stack.enter_context(closed_port())
            url, host, words = (
                f"http://127.0.0.1:{port}",
                f"http://127.0.0.1:{port}",
                "nothing is listening at",
            )
        else:
            url, host = "https://nonexistent.invalid", "https://nonexistent.invalid:443"
            words = "cannot resolve the host name of"
        result = _fleet(["--api-host", url, "plan", "fleet"], workdir, NEON_FLEET_RETRY_BUDGET="30")
    assert result.code == 1, result.text
    (line,) = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert f"{words} {host}" in line and "check --api-host / NEON_API_HOST" in line
    assert "WARNING" not in result.err and "Traceback" not in result.err


def test_invalid_key_names_the_variable_and_org(workdir: Path, free_plan_url: str) -> None:
    result = _fleet(
        ["plan", "fleet"], workdir, NEON_API_HOST=free_plan_url, NEON_PAID_ORG_KEY="napi-wrong"
    )
    assert result.code == 1, result.text
    assert "HTTP 401" in result.err
    assert "rejected the org key in NEON_PAID_ORG_KEY (org paid, org-paid-1)" in result.err
    assert "napi-wrong" not in result.text
    assert "WARNING" not in result.err


def test_usage_sync_on_a_free_org_is_not_announced_as_a_retry(
    workdir: Path, free_plan_url: str
) -> None:
    result = _fleet(["usage", "sync", "fleet"], workdir, NEON_API_HOST=free_plan_url)
    assert result.code == 0, result.text
    assert "HTTP 403" in result.text
    assert "attempt #" not in result.text and "WARNING" not in result.err
    assert "escalating" not in result.text  # the old "attempt #1/8 failed …; escalating"
    assert "the org key in NEON_FREE_ORG_KEY (org free, org-free-1) may not do this" in result.text
