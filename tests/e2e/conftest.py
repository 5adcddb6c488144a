"""End-to-end fixtures: the emulator served on loopback and a working copy of a fleet.

The CLI runs as a real process (``python -m reconciler``) against the emulator over real
sockets, exactly as a CI job would run it against Neon, with keys in environment variables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from reconciler.emulator import Emulator, RunningServer, seed_from_mapping, serve
from tests.e2e.secret_scan import (
    emulator_passwords,
    find_leaks,
    sink_mode_problems,
    sink_tokens,
    workdir_files,
)
from tests.support.cli import RECORDED

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fleet.example"
POSTGRES_DSN_ENV = "FLEET_TEST_POSTGRES_DSN"

KEYS = {
    "NEON_FREE_ORG_KEY": "e2e-org-free-key",
    "NEON_PAID_ORG_KEY": "e2e-org-paid-key",
    "NEON_PERSONAL_KEY": "e2e-personal-key",
    # Only seeded by tests that need a third org (the fault soak); listed here so that every
    # e2e test's secret scan looks for it.
    "NEON_TEAM_ORG_KEY": "e2e-org-team-key",
}


#: The emulator's limits in ``e2e_seed`` (requests per minute per account, per second per route).
E2E_RPM, E2E_PER_ROUTE = 6000, 400


def rate_limits(rpm: int, per_route: int) -> dict[str, str]:
    """Environment that tells the CLI's own pacing the emulator's limits.

    By default the CLI paces itself to Neon's 700 requests/minute, so runs of a few hundred
    requests against a seed with higher limits spend most of their time waiting on nothing.
    """
    return {"NEON_FLEET_RATE_LIMIT": f"{rpm}/min", "NEON_FLEET_ROUTE_RATE_LIMIT": f"{per_route}/s"}


#: The pacing matching ``e2e_seed``'s default limits.
E2E_RATE_LIMITS = rate_limits(E2E_RPM, E2E_PER_ROUTE)


def e2e_seed(
    *, operation_ms: int = 100, rpm: int = E2E_RPM, per_route: int = E2E_PER_ROUTE
) -> dict[str, Any]:
    """Two orgs as in fleet.example, the keys above, and generous limits for speed."""
    return {
        "orgs": [
            {"id": "org-free-1", "name": "Sponsored free", "plan": "agent"},
            {"id": "org-paid-1", "name": "Paid", "plan": "agent"},
        ],
        "keys": [
            {
                "token": KEYS["NEON_PERSONAL_KEY"],
                "kind": "personal",
                "orgs": {"org-free-1": "admin", "org-paid-1": "admin"},
            },
            {"token": KEYS["NEON_FREE_ORG_KEY"], "kind": "org", "org": "org-free-1"},
            {"token": KEYS["NEON_PAID_ORG_KEY"], "kind": "org", "org": "org-paid-1"},
        ],
        "limits": {"requests_per_minute": rpm, "route_requests_per_second": per_route},
        "operation_duration_ms": operation_ms,
    }


@dataclass
class Loopback:
    """A running emulator and how to reach it."""

    emulator: Emulator
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, key_env: str) -> httpx.Client:
        """A raw HTTP client with one of the seeded keys, for out-of-band changes."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEYS[key_env]}"}, timeout=10
        )

    def projects(self, org_id: str, key_env: str) -> list[dict[str, Any]]:
        with self.api(key_env) as client:
            body = client.get("/projects", params={"org_id": org_id, "limit": 400}).json()
        return list(body["projects"])


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(e2e_seed()))
    with serve(emulator) as server:
        yield Loopback(emulator, server)
    emulator.close()


@pytest.fixture(autouse=True)
def no_secret_leaks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    """Scan everything the test produced for secrets once it is done (see secret_scan.py)."""
    RECORDED.clear()
    # Asked for here, not at teardown: this makes ledger_url outlive the scan, so a PostgreSQL
    # test schema still exists when it is read.
    url = request.getfixturevalue("ledger_url") if "ledger_url" in request.fixturenames else ""
    yield
    if "workdir" not in request.fixturenames:
        return
    work = tmp_path / "work"
    secrets = sink_tokens(work) | set(KEYS.values()) | emulator_passwords(tmp_path / "emulator.db")
    haystacks = {f"output of run #{n}": (r.out + r.err).encode() for n, r in enumerate(RECORDED)}
    haystacks.update({str(p.relative_to(work)): p.read_bytes() for p in workdir_files(work)})
    if url.startswith("postgresql://"):
        haystacks["postgres ledger"] = _dump_postgres(url)
    leaks = find_leaks(haystacks, secrets) + sink_mode_problems(work)
    RECORDED.clear()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


def _dump_postgres(url: str) -> bytes:
    dsn, _, query = url.partition("?")
    schema = dict(part.split("=", 1) for part in query.split("&") if "=" in part)["schema"]
    rows: list[str] = []
    with psycopg.connect(dsn) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            statement = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            rows.extend(repr(row) for row in connection.execute(statement))
    return "\n".join(rows).encode()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of fleet.example in a fresh working directory (its ledger and secrets land here)."""
    work = tmp_path / "work"
    shutil.copytree(EXAMPLE, work / "fleet", ignore=shutil.ignore_patterns("ci"))
    return work


@pytest.fixture
def env(loopback: Loopback) -> dict[str, str]:
    """The environment a CI job would set: keys and the API host."""
    return {**KEYS, "NEON_API_HOST": loopback.url, "NO_COLOR": "1"}


def postgres_dsn() -> str:
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(f"{POSTGRES_DSN_ENV} is not set: no PostgreSQL server to test against")
    return dsn


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    """A private ledger per test on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{workdir}/.fleet/ledger.db"
        return
    dsn = postgres_dsn()
    schema = f"fleet_e2e_{uuid.uuid4().hex[:12]}"
    yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )
