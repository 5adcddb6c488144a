"""Crash safety: SIGKILL the apply at random moments, re-run it, and the fleet converges.

The apply runs as a real process against the loopback emulator, whose operations take time, so
kills land between a create and its ledger record, during operation waits, while a key is being
delivered, and so on. Each moment is chosen in observed progress, not in wall time (see
tests/support/kills.py): once the run's first create reached the emulator, a random number of
further API requests, so a slow start-up on a busy machine cannot make every kill land before
the run began. After the kills, one more apply must finish cleanly and leave: exactly one
project per tenant, a ledger record for every tenant pointing at its live project, every live
neon-fleet key recorded (no untracked key), and a re-plan with no changes. Runs on both ledger
backends.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path

import pytest

from reconciler.ledger import open_ledger
from tests.e2e.conftest import E2E_RATE_LIMITS, EXAMPLE, Loopback
from tests.support.cli import run_subprocess
from tests.support.kills import KillPoint, Progress, run_until_killed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANTS = 24
KILLS = 20
#: A kill lands 0..this many API requests after the run's first create. A full apply of the
#: fleet makes about 150, so each killed run gets a little further and the kills spread over
#: creates, operation waits, keys and the recovery of what the previous kill interrupted.
MOST_REQUESTS_BEFORE_KILL = 8


def write_fleet(root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "fleet.yaml", root / "fleet.yaml")
    shutil.copy(EXAMPLE / "tiers.yaml", root / "tiers.yaml")
    documents = []
    for n in range(TENANTS):
        tier = "pro" if n % 3 == 0 else "free"
        documents.append(
            "apiVersion: neon-fleet/v1\nkind: Tenant\n"
            f"metadata: {{name: crash-{n:03d}}}\n"
            f"spec:\n  tier: {tier}\n"
            "  branches: [{name: staging, parent: main}]\n"
            "  api_keys: [{name: runtime}]\n"
        )
    (root / "tenants.yaml").write_text("---\n".join(documents))


def test_sigkill_at_random_moments_converges(loopback: Loopback, workdir, env, ledger_url):
    write_fleet(workdir / "crash")
    args = ["--ledger", ledger_url, "apply", "crash", "--auto-approve", "--lock-timeout", "30"]
    rng = random.Random(20261126)
    progress = Progress(loopback.emulator)
    killed = 0
    for _ in range(KILLS):
        outcome = run_until_killed(
            args,
            cwd=workdir,
            env={**env, **E2E_RATE_LIMITS},
            progress=progress,
            point=KillPoint.draw(rng, MOST_REQUESTS_BEFORE_KILL),
            # Only the applier POSTs (recovery only reads and revokes), so a kill counted from
            # the first POST always hits a run that has begun.
            start_methods=frozenset({"POST"}),
        )
        if not outcome.killed:
            # It finished before its kill point: the fleet converged, later kills would hit
            # nothing but no-op runs.
            assert outcome.code == 0, "an apply that was not killed failed"
            break
        killed += 1
    assert killed, "no apply was killed: the fleet converged before the first kill"

    final = run_subprocess(
        ["--ledger", ledger_url, "apply", "crash", "--auto-approve"], cwd=workdir, env=env
    )
    assert final.code == 0, final.text
    replan = run_subprocess(
        ["--ledger", ledger_url, "plan", "crash", "--detailed-exitcode"], cwd=workdir, env=env
    )
    assert replan.code == 0, replan.text

    live = loopback.projects("org-free-1", "NEON_FREE_ORG_KEY") + loopback.projects(
        "org-paid-1", "NEON_PAID_ORG_KEY"
    )
    names = Counter(p["name"] for p in live)
    assert sorted(names) == sorted(f"t-crash-{n:03d}" for n in range(TENANTS))
    assert set(names.values()) == {1}, "a project was created twice"

    by_id = {p["id"]: p for p in live}
    with open_ledger(ledger_url, base_dir=workdir) as ledger:
        view = ledger.view()
        assert not ledger.pending_intents()
        runs = ledger.runs(limit=100)
    assert sorted(view.tenants) == sorted(f"crash-{n:03d}" for n in range(TENANTS))
    for name, owned in view.tenants.items():
        assert by_id[owned.project_id]["name"] == f"t-{name}"
        assert set(owned.keys) == {f"t-{name}:runtime"}
    recorded_keys = {k.key_id for t in view.tenants.values() for k in t.keys.values()}
    for org, key_env in (("org-free-1", "NEON_FREE_ORG_KEY"), ("org-paid-1", "NEON_PAID_ORG_KEY")):
        with loopback.api(key_env) as client:
            listed = client.get(f"/organizations/{org}/api_keys").json()
        ours = {k["id"] for k in listed if str(k["name"]).startswith("t-crash-")}
        assert ours <= recorded_keys, "a key minted by a killed run was left untracked"
    # The final apply recorded a succeeded run, unless the last killed run had already done
    # every step (killed while closing its record): then there was nothing left to run.
    if "No changes" not in final.text:
        assert runs[0].result == "succeeded"
    # Every run that started left its record; the killed ones show as interrupted.
    assert any(run.interrupted for run in runs)
