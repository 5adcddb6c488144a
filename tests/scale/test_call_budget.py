"""The issue's call budgets, checked at a small scale against the in-process emulator.

A fleet of ``N`` tenants (quotas and compute limits managed, two orgs) is planned and applied
through the real use cases; the client's call counters must match the budgets exactly:

* full refresh: one list page per org plus one endpoint list per tenant (≤ 1.1 per tenant);
* incremental plan: the list pages plus one endpoint list per changed tenant;
* tier upgrades: one transfer call per 400 projects.

``bench/fleet_scale.py`` measures the same at 10,000 tenants with the rate limits enforced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app.applying import apply_plan, apply_session
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.planning import PlanResult, make_plan
from reconciler.core.model import FleetConfig
from reconciler.core.plan import Action
from reconciler.core.plan_contract import RefreshMode
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.emulator.provision import NewProject, create_project
from reconciler.emulator.routes_keys import org_admin_user
from reconciler.manifests import load_fleet
from reconciler.neon import NeonClient
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter, shared_limiter

N = 90
ORGS = {"free": "org-free-1", "paid": "org-paid-1"}
KEYS = {"NEON_FREE_KEY": "key-free", "NEON_PAID_KEY": "key-paid", "NEON_PERSONAL_KEY": "key-me"}
TIERS = {
    "free": {"org": "free", "quota": {"compute_time_seconds": 9000}, "max": 1},
    "pro": {"org": "paid", "quota": {"compute_time_seconds": 360000}, "max": 4},
}


def tier_of(i: int) -> str:
    return "pro" if i % 3 == 0 else "free"


def write_fleet(root: Path, tiers: dict[int, str], quota: dict[int, int]) -> None:
    root.mkdir(exist_ok=True)
    (root / "fleet.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Fleet\nmetadata: {name: scale}\nspec:\n  orgs:\n"
        + "".join(
            f"    {a}: {{id: {o}, api_key_env: NEON_{a.upper()}_KEY}}\n" for a, o in ORGS.items()
        )
        + "  personal_api_key_env: NEON_PERSONAL_KEY\n"
        "  defaults: {region: aws-us-east-2, pg_version: 17}\n"
        '  project_name: "t-{tenant}"\n  policy: {prune: false, max_deletes: 0}\n'
    )
    (root / "tiers.yaml").write_text(
        "---\n".join(
            f"apiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {{name: {name}}}\nspec:\n"
            f"  org: {t['org']}\n  quota: {json.dumps(t['quota'])}\n"
            f"  compute: {{autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: {t['max']}}}\n"
            for name, t in TIERS.items()
        )
    )
    (root / "tenants.yaml").write_text(
        "---\n".join(
            f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: c{i:03d}}}\n"
            f"spec: {json.dumps(_spec(tiers.get(i, tier_of(i)), quota.get(i)))}\n"
            for i in range(N)
        )
    )


def _spec(tier: str, quota: int | None) -> dict[str, Any]:
    return {"tier": tier, **({"quota": {"compute_time_seconds": quota}} if quota else {})}


class InProcessEnvironment(Environment):
    """The use cases' environment, its client wired to an in-process emulator."""

    def __init__(self, options: GlobalOptions, fleet: FleetConfig, emulator: Emulator) -> None:
        super().__init__(options, fleet)
        self._emulator = emulator

    def client(self) -> NeonClient:
        if self._client is None:
            transport = httpx.WSGITransport(app=self._emulator)
            self._client = NeonClient("http://emulator.test/api/v2", transport=transport)
        return self._client


class Fleet:
    """Manifests on disk, the emulator holding their projects, and a ledger."""

    def __init__(self, root: Path, emulator: Emulator) -> None:
        self.root, self.emulator = root, emulator
        self.options = GlobalOptions(
            ledger_url=f"sqlite:///{root / 'ledger.db'}", workdir=root, environ=dict(KEYS)
        )
        self.manifests = root / "fleet"

    def plan(self, refresh: RefreshMode) -> PlanResult:
        desired = load_fleet(self.manifests)
        with InProcessEnvironment(self.options, desired.fleet, self.emulator) as env:
            return make_plan(env, desired, refresh=refresh)

    def apply(self, result: PlanResult) -> dict[str, int]:
        """Apply a saved plan; return the calls per route."""
        with (
            InProcessEnvironment(self.options, result.desired.fleet, self.emulator) as env,
            apply_session(env),
        ):
            assert apply_plan(env, result.plan).report.ok
            return dict(env.client().stats.snapshot().requests)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    before = shared_limiter().budget
    configure_shared_limiter(RateBudget(1e6, 1e6, 1e6))
    seed = {
        "orgs": [
            {"id": ORGS["free"], "plan": "free"},
            {"id": ORGS["paid"], "plan": "scale"},
        ],
        "keys": [
            {"token": KEYS["NEON_PERSONAL_KEY"], "kind": "personal",
             "orgs": {o: "admin" for o in ORGS.values()}},
            {"token": KEYS["NEON_FREE_KEY"], "kind": "org", "org": ORGS["free"]},
            {"token": KEYS["NEON_PAID_KEY"], "kind": "org", "org": ORGS["paid"]},
        ],
        "limits": {"requests_per_minute": 10**6, "route_requests_per_second": 10**6},
        "operation_duration_ms": 0,
    }  # fmt: skip
    emulator = Emulator(None, seed_from_mapping(seed))
    now = time.time()
    with emulator.store.transaction() as conn:
        for i in range(N):
            tier = TIERS[tier_of(i)]
            org = ORGS[str(tier["org"])]
            new = NewProject(
                org_id=org,
                name=f"t-c{i:03d}",
                settings={"quota": tier["quota"]},
                default_endpoint_settings={
                    "autoscaling_limit_min_cu": 0.25,
                    "autoscaling_limit_max_cu": tier["max"],
                },
            )
            create_project(conn, new, org_admin_user(conn, org), now, ready_at=now)
    write_fleet(tmp_path / "fleet", {}, {})
    yield Fleet(tmp_path, emulator)
    emulator.close()
    configure_shared_limiter(before)


def test_full_then_incremental_refresh_costs_what_the_issue_allows(fleet: Fleet) -> None:
    pages = len(ORGS)  # fewer than 400 projects per org: one page each
    cold = fleet.plan("changed")  # an empty ledger: every tenant is new, so all are read
    assert cold.api_calls == pages + N
    assert cold.api_calls / N <= 1.1
    assert {s.action for s in cold.plan.steps} == {Action.ADOPT_PROJECT}
    fleet.apply(cold)

    unchanged = fleet.plan("changed")
    assert unchanged.api_calls == pages
    assert unchanged.plan.steps == ()
    assert unchanged.plan.warnings == ()
    assert fleet.plan("all").api_calls == pages + N

    edited = {3: 20001, 4: 20002, 5: 20003}
    write_fleet(fleet.manifests, {}, edited)
    warm = fleet.plan("changed")
    assert warm.api_calls == pages + len(edited)
    assert {s.tenant for s in warm.plan.steps} == {f"c{i:03d}" for i in edited}

    # A full refresh reads everyone, but apply re-reads only the tenants it changes.
    full = fleet.plan("all")
    assert full.api_calls == pages + N
    assert len(full.plan.contract.to_json()["observed"]["endpoints"]) == len(edited)
    calls = fleet.apply(full)
    assert calls["GET /projects/{project_id}/endpoints"] == len(edited)
    assert fleet.plan("changed").api_calls == pages


def test_upgrades_are_batched_into_one_transfer_call_per_400(fleet: Fleet) -> None:
    fleet.apply(fleet.plan("changed"))
    upgrades = {i: "pro" for i in range(N) if tier_of(i) == "free"}
    write_fleet(fleet.manifests, upgrades, {})
    result = fleet.plan("changed")
    assert result.api_calls == len(ORGS) + len(upgrades) + 1  # + GET /auth for the personal key
    transfers = [s for s in result.plan.steps if s.action is Action.TRANSFER_PROJECTS]
    assert len(transfers) == 1
    calls = fleet.apply(result)
    transfer_calls = {r: n for r, n in calls.items() if r.endswith("/projects/transfer")}
    assert list(transfer_calls.values()) == [1]
    assert fleet.plan("changed").plan.steps == ()
