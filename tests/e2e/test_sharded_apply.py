"""Four ``fleet apply --shard i/4`` processes on one PostgreSQL ledger against one org.

The emulator enforces a per-account and per-route budget, and every shard paces itself to it:
together the four runners stay within it (leased from the ledger's ``rate_leases``, per route
a quarter each), so the emulator answers no 429; every tenant is applied exactly once, a shard
SIGKILLed mid-run recovers its own intents on its re-run (the others leave them alone), and a
whole-fleet re-plan is empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.sharding import Shard
from reconciler.emulator import Emulator, RunningServer, seed_from_mapping, serve
from reconciler.ledger import open_ledger
from reconciler.ledger.leases import LEASE_BLOCK, shared_capacity
from tests.e2e.conftest import KEYS, e2e_seed, postgres_dsn, rate_limits
from tests.support.cli import RECORDED, Result, run_subprocess
from tests.support.kills import KillPoint, Progress, run_until_killed
from tests.support.pg_schemas import private_schema_url
from tests.support.shard_run import RequestSampler, start_shards, write_one_org_fleet

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

TENANTS, SHARDS = 40, 4
#: The account budget (per minute) and per-route budget (per second) the emulator enforces and
#: every runner is told. The emulator's account bucket holds a whole minute, so it cannot catch
#: a short overshoot: the test measures the aggregate rate itself, from the emulator's counts.
RPM, PER_ROUTE = 600, 20
#: The windows the aggregate rate is checked over, and the burst any window may hold beyond
#: the budget's rate: the shared bucket's capacity and the tokens every runner may hold unspent.
WINDOW = 3.0
BURST = shared_capacity(40.0, SHARDS) + SHARDS * (LEASE_BLOCK - 1)


@pytest.fixture
def ledger_url() -> Iterator[str]:
    with private_schema_url(postgres_dsn(), "fleet_e2e") as url:
        yield url


@pytest.fixture
def budgeted(tmp_path: Path) -> Iterator[tuple[Emulator, RunningServer]]:
    seed = e2e_seed(operation_ms=20, rpm=RPM, per_route=PER_ROUTE)
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(seed))
    with serve(emulator) as server:
        yield emulator, server
    emulator.close()


def test_four_shards_share_one_account_budget_and_a_killed_shard_recovers(
    budgeted: tuple[Emulator, RunningServer], workdir: Path, ledger_url: str
) -> None:
    emulator, server = budgeted
    names = write_one_org_fleet(workdir / "shard", TENANTS)
    env = {**KEYS, "NEON_API_HOST": server.url, "NO_COLOR": "1", **rate_limits(RPM, PER_ROUTE)}
    apply = ["--ledger", ledger_url, "apply", "shard", "--auto-approve", "--lock-timeout", "30"]
    killed_shard = Shard(3, SHARDS)
    assert len(killed_shard.select(names)) >= 3  # enough work for a kill mid-run

    # 1. Shard 3 alone, SIGKILLed two requests after its first create was sent.
    outcome = run_until_killed(
        [*apply, "--shard", killed_shard.describe()],
        cwd=workdir,
        env=env,
        progress=Progress(emulator),
        point=KillPoint(after=2),
        start_methods=frozenset({"POST"}),
    )
    assert outcome.killed, "the shard finished before its kill point"

    # 2. All four shards at once; shard 3's re-run settles what the kill left open.
    with RequestSampler(emulator) as sampler:
        running = start_shards(apply, SHARDS, cwd=workdir, env=env)
        results = {}
        try:
            for index, process in running.items():
                # A generous bound for a stuck runner, not a speed test (about 15 s here).
                out, err = process.communicate(timeout=300)
                results[index] = Result(process.returncode, out, err)
                RECORDED.append(results[index])
        finally:
            for process in running.values():  # never leave a runner writing to the ledger
                if process.poll() is None:
                    process.kill()
                    process.communicate()
    for index, result in results.items():
        assert result.code == 0, f"shard {index}/{SHARDS}: {result.text}"
        recovered = "recovered from an interrupted apply" in result.text
        assert recovered == (index == killed_shard.index), f"shard {index}: {result.text}"

    stats = emulator.stats()
    assert stats.rate_limited == 0, "the runners together exceeded a budget the emulator enforces"
    # Every window holds at most the budget's rate over its (sampled) length plus the burst.
    over = [(n, span) for n, span in sampler.windows(WINDOW) if n > BURST + RPM / 60.0 * span]
    assert not over, f"windows above the budget (requests, seconds): {over[:5]}"

    # Every tenant exactly once: one project per name, owned once, created by one step.
    projects = _projects(server, "org-free-1", "NEON_FREE_ORG_KEY")
    assert Counter(p["name"] for p in projects) == Counter(f"t-{name}" for name in names)
    with open_ledger(ledger_url) as ledger:
        owned = ledger.view().tenants
        assert sorted(owned) == names
        assert len({record.project_id for record in owned.values()}) == TENANTS
        assert ledger.pending_intents() == []
        creates = Counter(
            step.tenant
            for run in ledger.runs(limit=50)
            for step in ledger.run(run.run_id).steps or ()
            if step.action == "create_project" and step.status == "succeeded"
        )
    # Creates the killed run sent were adopted by recovery, never sent again: exactly one
    # create request per tenant ever reached the emulator.
    assert set(creates) <= set(names) and max(creates.values()) == 1
    assert stats.requests[("POST", "/projects")] == TENANTS

    replan = run_subprocess(
        ["--ledger", ledger_url, "plan", "shard", "--detailed-exitcode"], cwd=workdir, env=env
    )
    assert replan.code == 0, replan.text


def _projects(server: RunningServer, org_id: str, key_env: str) -> list[dict[str, Any]]:
    import httpx

    headers = {"Authorization": f"Bearer {KEYS[key_env]}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        body = client.get("/projects", params={"org_id": org_id, "limit": 400}).json()
    return list(body["projects"])
