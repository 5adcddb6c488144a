"""Recovery at the start of a shard's apply settles that shard's intents only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from reconciler.apply.recovery import recover
from reconciler.core.model import LiveFleet
from reconciler.core.sharding import Shard
from reconciler.ledger import open_ledger


def test_recovery_of_a_shard_leaves_other_shards_intents_open(tmp_path: Path) -> None:
    shard = Shard(0, 2)
    mine = next(name for name in (f"t-{n}" for n in range(50)) if shard.holds(name))
    theirs = next(name for name in (f"t-{n}" for n in range(50)) if not shard.holds(name))
    with open_ledger(f"sqlite:///{tmp_path}/ledger.db") as ledger:
        for tenant in (mine, theirs):
            ledger.record_intent(tenant, "create_project", {"name": tenant, "org_id": "org-1"})
        listed: list[bool] = []

        def nothing_listed() -> LiveFleet:
            listed.append(True)
            return LiveFleet(projects={}, observed_orgs=frozenset({"org-1"}))

        # Only create intents are open: the client and credentials are never used.
        unused = cast(Any, None)
        report = recover(unused, unused, ledger, nothing_listed, owns=shard.holds)

        assert report.closed == 1 and listed == [True]
        # The other shard's intent may belong to a run that is alive and holds its lock.
        assert [intent.tenant for intent in ledger.pending_intents()] == [theirs]
        assert recover(unused, unused, ledger, nothing_listed).closed == 1  # a whole-fleet run
        assert ledger.pending_intents() == []
