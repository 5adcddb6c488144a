"""Fault soak (issue 18, Must show): nothing lost, nothing leaked under faults and SIGKILLs.

A fleet of 24 tenants in three orgs, each with one or two project-scoped keys, goes through four
phases — create, transfers between the free and the paid org, key rotations (``fleet keys
rotate``), prune — as real ``python -m reconciler`` processes against the loopback emulator,
which answers 5% of requests with 500/503, drops 5% of connections, loses 5% of responses after
performing them and refuses 5% in 429 storms (tests/support/fault_load.py). Each phase starts
with SIGKILLs timed on observed progress (tests/support/kills.py), then is re-run until it
converges (apply succeeds and the re-plan is empty) within a bounded number of attempts.

After a last apply with faults off, the fleet must hold up (tests/support/fleet_audit.py): no
orphan key, no ledger row at a revoked key or a missing project, every sink token valid, no
duplicate project, no open intent, an empty re-plan; and every tenant where its tier puts it,
with the keys rotated that were rotated. The figures (faults injected per kind, kills, attempts,
what the audit found before and after the last apply) are written to ``soak-figures.json`` in
the test's tmp dir and printed as one line (visible with ``-s``).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import seed_from_mapping
from tests.e2e.conftest import E2E_PER_ROUTE, KEYS, Loopback, e2e_seed, rate_limits
from tests.e2e.lifecycle_support import edit_tenant, fleet, remove_tenant, set_fleet_policy
from tests.support.cli import Result
from tests.support.fault_load import FaultMix, fault_load, injected
from tests.support.fleet_audit import FleetAudit, audit_fleet
from tests.support.kills import KillPoint, Progress, run_until_killed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANTS = [f"soak-{n:03d}" for n in range(24)]
TIERS = {"free": "org-free-1", "pro": "org-paid-1", "team": "org-team-1"}
ORG_KEY_ENVS = {
    "org-free-1": "NEON_FREE_ORG_KEY",
    "org-paid-1": "NEON_PAID_ORG_KEY",
    "org-team-1": "NEON_TEAM_ORG_KEY",
}
UPGRADED = ["soak-000", "soak-004", "soak-008", "soak-012", "soak-016"]
DOWNGRADED = ["soak-002", "soak-010"]
ROTATED = ["soak-003", "soak-010"]
PRUNED = ["soak-001", "soak-006", "soak-007", "soak-011", "soak-015", "soak-019"]
#: Requests per minute the emulator allows and the CLI paces itself to. Every storm's 429 halves
#: the CLI's pace (down to 1/16, recovering over a minute), as it should against Neon; the
#: budget is high enough that the soak's time goes to faults and kills, not to that pacing.
SOAK_RPM = 60_000
#: Runs of one phase (or of one rotation) before the soak gives up on its converging.
ATTEMPTS = 8
#: Kills at the start of each apply phase, and how many requests after the first write.
KILLS = {"create": 2, "transfer": 2, "prune": 2}
MOST_REQUESTS_BEFORE_KILL = {"create": 8, "transfer": 8, "prune": 4}


def tier_of(n: int) -> str:
    return ("free", "free", "pro", "team")[n % 4]


def write_fleet(root: Path) -> None:
    """Three orgs and tiers; every tenant has a ``runtime`` key, every third also a ``ci`` key."""
    paid = "    paid: {id: org-paid-1, api_key_env: NEON_PAID_ORG_KEY}\n"
    team = "    team: {id: org-team-1, api_key_env: NEON_TEAM_ORG_KEY}\n"
    set_fleet_policy(root.parent, paid, paid + team)
    set_fleet_policy(root.parent, "max_deletes: 2", f"max_deletes: {len(PRUNED)}")
    # One worker per tenant: a request that waits out its retries holds up no other tenant.
    set_fleet_policy(root.parent, "parallelism: 8", f"parallelism: {len(TENANTS)}")
    tiers = root / "tiers.yaml"
    free = tiers.read_text().split("\n---\n")[0]
    team_tier = free.replace("name: free", "name: team").replace("org: free", "org: team")
    tiers.write_text(tiers.read_text() + "\n---\n" + team_tier)
    for old in (root / "tenants").glob("*.yaml"):
        old.unlink()
    documents = []
    for n, tenant in enumerate(TENANTS):
        keys = "[{name: runtime}, {name: ci}]" if n % 3 == 0 else "[{name: runtime}]"
        documents.append(
            "apiVersion: neon-fleet/v1\nkind: Tenant\n"
            f"metadata:\n  name: {tenant}\n"
            f"spec:\n  tier: {tier_of(n)}\n  api_keys: {keys}\n"
        )
    (root / "tenants" / "soak.yaml").write_text("\n---\n".join(documents))


@dataclass
class Soak:
    """Drives the phases and keeps the figures."""

    loopback: Loopback
    workdir: Path
    env: dict[str, str]
    ledger_url: str
    rng: random.Random = field(default_factory=lambda: random.Random(20261130))
    kills: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    #: What did not converge within ATTEMPTS runs, with the last run's output.
    failures: list[str] = field(default_factory=list)
    #: Seconds each CLI run took, with what it was (to see where a slow soak spends its time).
    runs: list[tuple[float, str]] = field(default_factory=list)

    def cli(self, *args: str) -> Result:
        started = time.monotonic()
        result = fleet(["--ledger", self.ledger_url, *args], self.workdir, self.env)
        self.runs.append((time.monotonic() - started, f"{' '.join(args[:2])} → {result.code}"))
        return result

    def kill(self, phase: str, args: list[str], most: int) -> None:
        """Run ``args`` and SIGKILL it ``most`` requests at most after its first write."""
        started = time.monotonic()
        outcome = run_until_killed(
            ["--ledger", self.ledger_url, *args],
            cwd=self.workdir,
            env=self.env,
            progress=Progress(self.loopback.emulator),
            point=KillPoint.draw(self.rng, most),
        )
        self.kills[phase] += outcome.killed
        what = "killed" if outcome.killed else f"→ {outcome.code}"
        self.runs.append((time.monotonic() - started, f"{' '.join(args[:2])} {what}"))

    def until_ok(self, phase: str, *args: str) -> None:
        """Run ``args`` until it exits 0, at most ATTEMPTS times (else note a failure)."""
        for _ in range(ATTEMPTS):
            self.attempts[phase] += 1
            result = self.cli(*args)
            if result.code == 0:
                return
        self.failures.append(f"{phase}: {' '.join(args)} failed {ATTEMPTS} times:\n{result.text}")

    def converge(self, phase: str) -> None:
        """Apply until it succeeds and the re-plan is empty, at most ATTEMPTS applies."""
        for _ in range(ATTEMPTS):
            self.attempts[phase] += 1
            result = self.cli("apply", "fleet", "--auto-approve", "--lock-timeout", "30")
            if result.code == 0:
                result = self.cli("plan", "fleet", "--detailed-exitcode")
                if result.code == 0:
                    return
        self.failures.append(f"{phase} did not converge in {ATTEMPTS} applies:\n{result.text}")

    def apply_phase(self, phase: str) -> None:
        for _ in range(KILLS[phase]):
            args = ["apply", "fleet", "--auto-approve", "--lock-timeout", "30"]
            self.kill(phase, args, MOST_REQUESTS_BEFORE_KILL[phase])
        self.converge(phase)

    def audit(self) -> FleetAudit:
        return audit_fleet(
            api_url=self.loopback.url,
            org_tokens={org: KEYS[name] for org, name in ORG_KEY_ENVS.items()},
            ledger_url=self.ledger_url,
            base_dir=self.workdir,
            sink_dir=self.workdir / ".fleet" / "secrets",
        )


@pytest.fixture
def three_orgs(loopback: Loopback) -> Loopback:
    """The e2e emulator with a third org (``org-team-1``) whose org key is NEON_TEAM_ORG_KEY."""
    seed = e2e_seed(rpm=SOAK_RPM)
    seed["orgs"].append({"id": "org-team-1", "name": "Team", "plan": "agent"})
    seed["keys"].append({"token": KEYS["NEON_TEAM_ORG_KEY"], "kind": "org", "org": "org-team-1"})
    seed["keys"][0]["orgs"]["org-team-1"] = "admin"
    loopback.emulator.ensure_seed(seed_from_mapping(seed))
    return loopback


def test_fault_soak_loses_and_leaks_nothing(
    three_orgs: Loopback, workdir: Path, env: dict[str, str], ledger_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    write_fleet(workdir / "fleet")
    soak = Soak(three_orgs, workdir, {**env, **rate_limits(SOAK_RPM, E2E_PER_ROUTE)}, ledger_url)
    admin = three_orgs.url.removesuffix("/api/v2")
    with fault_load(three_orgs.emulator, admin, FaultMix(), seed=20261130):
        soak.apply_phase("create")

        for tenant in UPGRADED:
            edit_tenant(workdir, tenant, "tier: free", "tier: pro")
        for tenant in DOWNGRADED:
            edit_tenant(workdir, tenant, "tier: pro", "tier: free")
        soak.apply_phase("transfer")

        before_rotation = _sink_key_ids(workdir, ROTATED)
        for tenant in ROTATED:
            soak.kill("rotate", ["keys", "rotate", "fleet", tenant, "--lock-timeout", "30"], 1)
        for tenant in ROTATED:
            soak.until_ok("rotate", "keys", "rotate", "fleet", tenant, "--lock-timeout", "30")
        soak.converge("rotate")

        set_fleet_policy(workdir, "prune: false", "prune: true")
        for tenant in PRUNED:
            remove_tenant(workdir, tenant)
        soak.apply_phase("prune")
    faults = injected(three_orgs.emulator)
    before_final = soak.audit()

    final = soak.cli("apply", "fleet", "--auto-approve")
    replan = soak.cli("plan", "fleet", "--detailed-exitcode")
    after = soak.audit()
    figures = {
        "ledger": ledger_url.split(":", 1)[0],
        "tenants": len(TENANTS),
        "orgs": len(ORG_KEY_ENVS),
        "faults": faults,
        "kills": dict(soak.kills),
        "attempts": dict(soak.attempts),
        "audit_before_final_apply": before_final.figures(),
        "audit_after_final_apply": after.figures(),
        "problems_after_final_apply": after.problems(),
        "not_converged": [f.splitlines()[0] for f in soak.failures],
        "seconds": round(time.monotonic() - started, 1),
        "cli_runs": len(soak.runs),
        "slowest_runs": [f"{seconds:.1f}s {what}" for seconds, what in sorted(soak.runs)[-5:]],
    }
    report = tmp_path / "soak-figures.json"
    report.write_text(json.dumps(figures, indent=2))
    print(f"\nfault soak: {_summary(figures)}; figures in {report}")

    assert not soak.failures, "\n\n".join(soak.failures)
    assert final.code == 0, final.text
    assert replan.code == 0, replan.text
    assert after.problems() == {}, json.dumps(after.problems(), indent=1)
    kept = [t for t in TENANTS if t not in PRUNED]
    for project in (p for o, k in ORG_KEY_ENVS.items() for p in three_orgs.projects(o, k)):
        tenant = project["name"].removeprefix("t-")
        assert tenant in kept, f"project {project['name']} of a pruned tenant is live"
        assert project["org_id"] == TIERS[_declared_tier(tenant)], project["name"]
    assert after.projects == len(kept)
    rotated = _sink_key_ids(workdir, ROTATED)
    # Every rotated tenant had keys in the sink before and after, so the check below compares
    # something (an empty sink would make it pass vacuously).
    assert {k.split("/")[0] for k in before_rotation} == set(ROTATED)
    assert rotated.keys() == before_rotation.keys()
    assert all(rotated[k] != before_rotation[k] for k in before_rotation), "a rotation was lost"
    assert sum(soak.kills.values()) >= len(ROTATED), "too few kills landed"
    assert all(faults[kind] for kind in ("server_errors_500_503", "dropped_connections"))
    assert all(faults[kind] for kind in ("lost_responses", "storm_429"))


def _declared_tier(tenant: str) -> str:
    n = TENANTS.index(tenant)
    if tenant in UPGRADED:
        return "pro"
    if tenant in DOWNGRADED:
        return "free"
    return tier_of(n)


def _sink_key_ids(workdir: Path, tenants: list[str]) -> dict[str, int]:
    found = {}
    for tenant in tenants:
        for path in (workdir / ".fleet" / "secrets" / tenant).glob("*.json"):
            found[f"{tenant}/{path.stem}"] = int(json.loads(path.read_text())["key_id"])
    return found


def _summary(figures: dict[str, Any]) -> str:
    faults = figures["faults"]
    audit = figures["audit_before_final_apply"]
    final = figures["audit_after_final_apply"]
    return (
        f"{figures['ledger']} ledger, {figures['tenants']} tenants in {figures['orgs']} orgs, "
        f"{final['keys']} keys; {faults['requests']} requests, faults injected: "
        f"{faults['server_errors_500_503']} 500/503, {faults['dropped_connections']} dropped, "
        f"{faults['lost_responses']} lost responses, {faults['storm_429']} storm 429s; "
        f"kills {dict(figures['kills'])}; attempts {dict(figures['attempts'])}; "
        f"{len(figures['not_converged'])} not converged; "
        f"before the clean apply: {audit['orphan_keys']} orphan keys, "
        f"{audit['rows_at_revoked_keys']} rows at revoked keys; after it: "
        f"{final['orphan_keys']} orphan keys, {final['rows_at_revoked_keys']} rows at revoked "
        f"keys, {final['rows_at_missing_projects']} rows at missing projects, "
        f"{final['bad_sink_tokens']} bad sink tokens, {final['duplicate_projects']} duplicate "
        f"projects, {final['open_intents']} open intents; {figures['seconds']} s"
    )
