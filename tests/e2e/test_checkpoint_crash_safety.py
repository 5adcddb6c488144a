"""Crash safety of ``fleet checkpoint restore``: SIGKILL it at every moment, run it again.

The restore runs as a real process against the loopback emulator. Each round kills one restore
a chosen number of API requests after Neon received its restore request (timed in observed
progress, tests/support/kills.py), then runs the same command to the end. Every round must
leave: one restore request sent to Neon (the killed run's, never a second one), the branch
under its name with a new id and no ``(old)`` branch left, the ledger pointing at that id, no
open intent, the checkpoint ``restored``, and a re-plan with no changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.ledger import open_ledger
from reconciler.ledger.checkpoints import CheckpointStatus
from tests.e2e.conftest import E2E_RATE_LIMITS, EXAMPLE, Loopback
from tests.support.cli import run_subprocess
from tests.support.kills import KillPoint, Progress, run_until_killed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANT = "ck-000"
#: Kill points, in API requests after the restore request: the operation polls, the ledger
#: write, the ``(old)`` branch's delete and its polls all fall inside this range.
KILL_POINTS = range(7)


def write_fleet(root: Path) -> None:
    root.mkdir(parents=True)
    for name in ("fleet.yaml", "tiers.yaml"):
        (root / name).write_text((EXAMPLE / name).read_text())
    (root / "tenants.yaml").write_text(
        f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: {TENANT}}}\n"
        "spec:\n  tier: free\n"
    )


def _restore_requests(progress: Progress) -> int:
    counts = progress.emulator.stats().requests
    return sum(
        n for (method, route), n in counts.items() if method == "POST" and "restore" in route
    )


def _branches(loopback: Loopback, project_id: str) -> dict[str, str]:
    with loopback.api("NEON_FREE_ORG_KEY") as client:
        listed: list[dict[str, Any]] = client.get(f"/projects/{project_id}/branches").json()[
            "branches"
        ]
    return {str(b["name"]): str(b["id"]) for b in listed}


def test_a_restore_killed_at_any_moment_finishes_once_on_rerun(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    write_fleet(workdir / "ck")
    base, run_env = ["--ledger", ledger_url], {**env, **E2E_RATE_LIMITS}
    applied = run_subprocess([*base, "apply", "ck", "--auto-approve"], cwd=workdir, env=run_env)
    assert applied.code == 0, applied.text
    created = run_subprocess(
        [*base, "checkpoint", "create", TENANT, "-f", "ck", "--source-rev", "abc",
         "--format", "json"],
        cwd=workdir, env=run_env,
    )  # fmt: skip
    assert created.code == 0, created.text
    checkpoint_id = str(json.loads(created.out)["id"])
    restore = [*base, "checkpoint", "restore", checkpoint_id, "-f", "ck"]
    progress = Progress(loopback.emulator)
    killed = 0
    for after in KILL_POINTS:
        before = _restore_requests(progress)
        outcome = run_until_killed(
            restore, cwd=workdir, env=run_env, progress=progress,
            point=KillPoint(after), start_methods=frozenset({"POST"}),
        )  # fmt: skip
        killed += outcome.killed
        finished = run_subprocess(restore, cwd=workdir, env=run_env)
        assert finished.code == 0, finished.text
        assert _restore_requests(progress) - before == (1 if outcome.killed else 2)
        with open_ledger(ledger_url, base_dir=workdir) as ledger:
            owned = ledger.tenant(TENANT)
            record = ledger.checkpoints.get(int(checkpoint_id))
            assert not ledger.pending_intents()
        assert owned is not None and record.status is CheckpointStatus.RESTORED
        assert _branches(loopback, owned.project_id) == {"main": owned.branch_ids["main"]}
        assert record.restored_branch_id == owned.branch_ids["main"]
        replan = run_subprocess(
            [*base, "plan", "ck", "--detailed-exitcode"], cwd=workdir, env=run_env
        )
        assert replan.code == 0, replan.text
    assert killed, "no restore was killed: every one finished before its kill point"
