"""Issue 18 "must show", in process: a small fleet through every phase under injected faults.

12 tenants in 2 orgs with keys go through create → transfer (both ways) → key rotation →
prune, each phase with 5% of every fault kind (500/503, dropped connections, lost responses)
and a short 429 storm, from fixed random seeds and one worker, so the run is deterministic.
Phases may fail part-way; that is the point. One clean apply afterwards must leave: 0 orphan
keys (live in Neon, not in the ledger), 0 ledger rows pointing at revoked keys or missing
projects, every sink token valid for its project, 0 duplicate projects, 0 open intents, and
nothing left to plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reconciler.emulator import Faults
from reconciler.errors import ReconcilerError
from tests.apply.fleet_harness import FleetHarness, TenantSpec, fleet_of

pytestmark = pytest.mark.integration

RATE = 0.05
STORM = 3


def _faults(seed: int) -> Faults:
    return Faults(
        server_error_rate=RATE,
        drop_rate=RATE,
        lost_response_rate=RATE,
        storm_429_requests=STORM,
        random_seed=seed,
    )


def _under_faults(harness: FleetHarness, seed: int, work: Callable[[], Any]) -> bool:
    """Run one phase with faults on; True when it finished without an error."""
    harness.faults(_faults(seed))
    try:
        work()
    except ReconcilerError:
        return False  # e.g. recovery or planning gave up on a read: the next run goes on
    finally:
        harness.faults(None)
    return True


#: Fault seeds per run (one per phase: seed, seed+1, …); each left orphan keys, revoked sink
#: tokens or rows of missing projects behind before issue 18 was fixed.
SEEDS = (100, 1000, 1300, 1500, 1700)


@pytest.mark.parametrize("seed", SEEDS)
def test_fleet_converges_after_faults_in_every_phase(tmp_path, monkeypatch, seed: int) -> None:
    harness = FleetHarness(tmp_path, monkeypatch)
    two_keys = TenantSpec(keys=("runtime", "ci"))
    pro = TenantSpec(tier="pro")
    pro_two = TenantSpec("pro", ("runtime", "ci"))
    tenants = fleet_of(
        12, t00=two_keys, t01=two_keys, t03=two_keys, t05=two_keys, t08=pro, t09=pro, t10=pro_two
    )

    harness.write(tenants)
    _under_faults(harness, seed + 1, harness.apply)

    # Upgrades and downgrades: projects move both ways, their keys are re-issued.
    tenants.update(t01=pro_two, t02=pro, t03=pro_two, t08=TenantSpec(), t10=two_keys)
    harness.write(tenants)
    _under_faults(harness, seed + 2, harness.apply)

    def rotate_some() -> None:
        for name in sorted(tenants):
            try:
                harness.rotate(name)
            except ReconcilerError:
                continue

    _under_faults(harness, seed + 3, rotate_some)

    # Offboarding: four tenants go (two of them in the paid org).
    for name in ("t00", "t03", "t04", "t09"):
        del tenants[name]
    harness.write(tenants)
    _under_faults(harness, seed + 4, harness.apply)

    seen = harness.emulator.stats()
    final = harness.apply()
    assert final.report is None or final.report.ok, final.report
    audit = harness.audit(tenants)
    assert audit.clean, audit
    assert harness.plan().steps == ()
    assert set(harness.live_projects().values()) == {f"t-{name}" for name in tenants}
    # The faults really happened, in every kind.
    assert seen.server_errors and seen.dropped and seen.lost_responses and seen.rate_limited
