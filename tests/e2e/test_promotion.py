"""``fleet promote`` end to end: the CLI as a real process against the emulator on loopback.

The emulator runs no SQL, so a branch's "state" is its lineage: which snapshot a branch was
restored from, and which branch that snapshot was taken of (read from the emulator's store).
"Production carries dev's state" means production's branch was restored from a snapshot of dev.
The out-of-band change on dev is the one the checkpoint tests make: its compute is patched
behind neon-fleet's back; computes stay with their branch name, data moves.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.ledger import open_ledger
from tests.e2e.conftest import E2E_RATE_LIMITS, KEYS, Loopback, e2e_seed
from tests.support.cli import Result, run_subprocess
from tests.support.kills import KillPoint, Progress, run_until_killed

pytestmark = pytest.mark.e2e

TENANT = "cust-00043"
ORG_KEY = "NEON_FREE_ORG_KEY"


def ok(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    result = run_subprocess(args, cwd=workdir, env=env)
    assert result.code == 0, result.text
    return result


def promote(command: str, workdir: Path, env: dict[str, str], *more: str) -> Result:
    revision = [] if command == "rollback" else ["--source-rev", "4f2a9c1"]
    return run_subprocess(
        ["promote", command, TENANT, "-f", "fleet", *revision, *more], cwd=workdir, env=env
    )


def replan_is_empty(workdir: Path, env: dict[str, str]) -> None:
    replan = run_subprocess(["plan", "fleet", "--detailed-exitcode"], cwd=workdir, env=env)
    assert replan.code == 0, replan.text


def drift_items(workdir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """Every drift item ``fleet drift`` reports (it observes the fleet in full)."""
    report = run_subprocess(["drift", "fleet", "--format", "json"], cwd=workdir, env=env)
    assert report.code == 0, report.text
    document: dict[str, Any] = json.loads(report.out)
    items: list[dict[str, Any]] = [i for t in document["tenants"] for i in t["items"]]
    return items + list(document["unmanaged"])


def branches(loop: Loopback, project_id: str) -> dict[str, dict[str, Any]]:
    with loop.api(ORG_KEY) as client:
        found = client.get(f"/projects/{project_id}/branches").json()["branches"]
    return {b["name"]: b for b in found}


def endpoints(loop: Loopback, project_id: str) -> dict[str, dict[str, Any]]:
    """The project's computes by the id of the branch they are on."""
    with loop.api(ORG_KEY) as client:
        found = client.get(f"/projects/{project_id}/endpoints").json()["endpoints"]
    return {e["branch_id"]: e for e in found}


def snapshot_count(loop: Loopback, project_id: str) -> int:
    with loop.api(ORG_KEY) as client:
        return len(client.get(f"/projects/{project_id}/snapshots").json()["snapshots"])


def restored_from_branch(loop: Loopback, branch_id: str) -> str:
    """The id of the branch whose snapshot ``branch_id`` was restored from."""
    with loop.emulator.store.transaction() as conn:
        row = conn.execute(
            "SELECT s.source_branch_id FROM branch_restores r JOIN snapshots s"
            " ON s.id = r.snapshot_id WHERE r.branch_id = ?",
            (branch_id,),
        ).fetchone()
    assert row is not None, f"branch {branch_id} was not restored from a snapshot"
    return str(row[0])


def restore_requests(loop: Loopback) -> int:
    counts = loop.emulator.stats().requests
    return sum(
        n for (method, route), n in counts.items() if method == "POST" and "restore" in route
    )


def project_of(workdir: Path) -> str:
    with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
        owned = ledger.tenant(TENANT)
    assert owned is not None
    return owned.project_id


def ledger_main(workdir: Path) -> str:
    with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
        owned = ledger.tenant(TENANT)
        assert not ledger.pending_intents()
    assert owned is not None
    return owned.branch_ids["main"]


def test_bad_input_is_one_message_and_no_api_call(
    loopback: Loopback, workdir: Path, env: dict[str, str]
) -> None:
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    before = loopback.emulator.stats().total
    cases = [
        (["promote", "run", "cust-99999", "-f", "fleet", "--source-rev", "a"],
         "unknown tenant 'cust-99999'"),
        (["promote", "run", TENANT, "-f", "fleet", "--source-rev", "a"],
         "run `fleet promote bootstrap cust-00043 --branch dev` first"),
        (["promote", "refresh", TENANT, "-f", "fleet", "--source-rev", "a"],
         "made by `fleet promote bootstrap`"),
        (["promote", "bootstrap", TENANT, "-f", "fleet", "--branch", "main", "--source-rev", "a"],
         "--branch and --to both name 'main'"),
        (["promote", "rollback", TENANT, "-f", "fleet"],
         "has no finished promotion to roll back"),
    ]  # fmt: skip
    for args, message in cases:
        refused = run_subprocess(args, cwd=workdir, env=env)
        assert refused.code == 1, refused.text
        assert message in refused.err and "Traceback" not in refused.err
        assert refused.err.count("Error:") == 1
    assert loopback.emulator.stats().total == before


def test_bootstrap_run_rollback_refresh_keep_the_fleet_planned(
    loopback: Loopback, workdir: Path, env: dict[str, str]
) -> None:
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    project = project_of(workdir)
    original = branches(loopback, project)["main"]["id"]

    booted = promote("bootstrap", workdir, env, "--format", "json")
    assert booted.code == 0, booted.text
    live = branches(loopback, project)
    dev = live["dev"]
    assert dev.get("parent_id") is None and restored_from_branch(loopback, dev["id"]) == original
    dev_compute = endpoints(loopback, project)[dev["id"]]
    assert (dev_compute["autoscaling_limit_min_cu"], dev_compute["autoscaling_limit_max_cu"],
            dev_compute["suspend_timeout_seconds"]) == (0.25, 1, 300)  # fmt: skip
    replan_is_empty(workdir, env)
    assert drift_items(workdir, env) == []  # the undeclared dev branch is not drift
    again = promote("bootstrap", workdir, env, "--format", "json")
    assert again.code == 0 and branches(loopback, project)["dev"]["id"] == dev["id"]

    with loopback.api(ORG_KEY) as client:  # the out-of-band change on dev
        patched = client.patch(
            f"/projects/{project}/endpoints/{dev_compute['id']}",
            json={"endpoint": {"suspend_timeout_seconds": 900}},
        )
        assert patched.status_code == 200, patched.text

    snapshots, restores = snapshot_count(loopback, project), restore_requests(loopback)
    failing = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    refused = promote("run", workdir, env, "--hook", failing)
    assert refused.code == 1 and "failed with exit code 3" in refused.err
    assert "nothing was changed" in refused.err
    assert snapshot_count(loopback, project) == snapshots
    assert branches(loopback, project)["main"]["id"] == original
    with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
        assert [p.kind.value for p in ledger.promotions.list(TENANT)] == ["bootstrap"] * 2

    seen = workdir / "hook-stdin.json"
    hook = (
        f"{sys.executable} -c 'import sys; open(sys.argv[1], \"w\").write(sys.stdin.read())' {seen}"
    )
    ran = promote("run", workdir, env, "--hook", hook, "--run-id", "run-42", "--format", "json")
    assert ran.code == 0, ran.text
    steps = [json.loads(line) for line in ran.out.splitlines()]
    assert [s["step"] for s in steps] == [
        "hook", "promotion", "checkpoint", "snapshot", "restore", "ledger", "cleanup", "record",
    ]  # fmt: skip
    assert json.loads(seen.read_text())["target_branch"] == "main"
    record = steps[-1]["promotion"]
    live = branches(loopback, project)
    promoted = live["main"]["id"]
    assert promoted not in (original, dev["id"]) and record["new_branch_id"] == promoted
    assert restored_from_branch(loopback, promoted) == dev["id"]  # production carries dev's state
    assert sorted(live) == ["dev", "main"]  # no (old) branch left
    computes = endpoints(loopback, project)
    assert computes[promoted]["suspend_timeout_seconds"] == 300  # production kept its compute
    assert computes[dev["id"]]["suspend_timeout_seconds"] == 900
    assert restore_requests(loopback) == restores + 1
    assert snapshot_count(loopback, project) == snapshots + 2  # rollback point + dev
    assert ledger_main(workdir) == promoted
    assert record["run_id"] == "run-42" and record["status"] == "done"
    replan_is_empty(workdir, env)
    # Production's new branch id is the ledger's, and dev (with the change made on its compute)
    # belongs to fleet promote, not to the manifests: no drift.
    assert drift_items(workdir, env) == []

    rolled = promote("rollback", workdir, env, "--format", "json")
    assert rolled.code == 0, rolled.text
    back = branches(loopback, project)["main"]["id"]
    assert back not in (promoted, original)
    assert restored_from_branch(loopback, back) == original  # the pre-promotion state
    assert ledger_main(workdir) == back
    assert sorted(branches(loopback, project)) == ["dev", "main"]
    assert json.loads(rolled.out.splitlines()[-1])["promotion"]["status"] == "rolled_back"
    replan_is_empty(workdir, env)
    restores = restore_requests(loopback)
    assert promote("rollback", workdir, env).code == 0  # already rolled back: nothing sent
    assert restore_requests(loopback) == restores

    refreshed = promote("refresh", workdir, env)
    assert refreshed.code == 0, refreshed.text
    live = branches(loopback, project)
    new_dev = live["dev"]["id"]
    assert new_dev != dev["id"] and sorted(live) == ["dev", "main"]
    assert restored_from_branch(loopback, new_dev) == back  # dev matches production
    assert endpoints(loopback, project)[new_dev]["id"] == dev_compute["id"]  # compute kept
    assert live["main"]["id"] == back
    replan_is_empty(workdir, env)

    with loopback.api(ORG_KEY) as client:  # dev deleted behind neon-fleet's back
        assert client.delete(f"/projects/{project}/branches/{new_dev}").status_code == 200
    writes = Progress(loopback.emulator).mutations()
    missing = promote("run", workdir, env)
    assert missing.code == 1 and "no branch dev in project" in missing.err
    assert Progress(loopback.emulator).mutations() == writes  # refused before any change

    runs = json.loads(ok(["history", "-f", "fleet", "--format", "json"], workdir, env).out)
    promotions = [r for r in runs if r["plan_digest"] == "promotion"]
    # bootstrap, run, rollback (a checkpoint restore, listed as the promotion's), refresh
    assert len(promotions) == 5 and all(r["result"] == "succeeded" for r in promotions)
    # Newest first: refresh, rollback, run, bootstrap.
    rollback_shown = ok(["history", str(promotions[1]["run_id"]), "-f", "fleet"], workdir, env).out
    assert "plan promotion" in rollback_shown and f"checkpoint/{TENANT}/restore/" in rollback_shown
    shown = ok(["history", str(promotions[2]["run_id"]), "-f", "fleet"], workdir, env).out
    assert "plan promotion" in shown
    for step in ("checkpoint", "snapshot", "restore", "ledger", "cleanup"):
        assert f"succeeded promote/{TENANT}/run/" in shown and f"/{step}" in shown


def test_a_run_killed_at_a_random_moment_converges_on_rerun(
    loopback: Loopback, workdir: Path, env: dict[str, str]
) -> None:
    run_env = {**env, **E2E_RATE_LIMITS}
    ok(["apply", "fleet", "--auto-approve"], workdir, run_env)
    project = project_of(workdir)
    assert promote("bootstrap", workdir, run_env).code == 0
    progress = Progress(loopback.emulator)
    rng = random.Random(19)
    killed = 0
    for _ in range(4):
        snapshots, restores = snapshot_count(loopback, project), restore_requests(loopback)
        outcome = run_until_killed(
            ["promote", "run", TENANT, "-f", "fleet", "--source-rev", "abc"],
            cwd=workdir, env=run_env, progress=progress, point=KillPoint.draw(rng, 14),
            start_methods=frozenset({"POST"}),
        )  # fmt: skip
        killed += outcome.killed
        finished = promote("run", workdir, run_env)
        assert finished.code == 0, finished.text
        with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
            newest = ledger.promotions.list(TENANT)[0]
        if outcome.killed:
            # The rerun resumed the killed promotion: one rollback point, one dev snapshot, one
            # restore, whatever moment the kill hit.
            assert snapshot_count(loopback, project) == snapshots + 2
            assert restore_requests(loopback) == restores + 1
        assert newest.status.value == "done"
        live = branches(loopback, project)
        assert sorted(live) == ["dev", "main"]
        assert ledger_main(workdir) == live["main"]["id"] == newest.new_branch_id
        assert restored_from_branch(loopback, live["main"]["id"]) == live["dev"]["id"]
        replan_is_empty(workdir, run_env)
    assert killed, "no run was killed: every one finished before its kill point"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Loopback]:
    """The e2e emulator with the free org capped at 2 root branches."""
    seed = e2e_seed()
    seed["orgs"][0].update(root_branch_limit=2)
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(seed))
    with serve(emulator) as server:
        yield Loopback(emulator, server)
    emulator.close()


def test_the_root_branch_limit_names_the_tenant_and_the_limit_and_changes_nothing(
    limited: Loopback, workdir: Path
) -> None:
    env = {**KEYS, "NEON_API_HOST": limited.url, "NO_COLOR": "1"}
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    project = project_of(workdir)
    assert promote("bootstrap", workdir, env).code == 0  # main and dev: the limit is reached
    before = branches(limited, project)
    refused = promote("run", workdir, env)
    assert refused.code == 1
    assert "cannot promote tenant cust-00043" in refused.err
    assert "limit of 2 root branches" in refused.err and "Traceback" not in refused.err
    assert {n: b["id"] for n, b in branches(limited, project).items()} == {
        n: b["id"] for n, b in before.items()
    }
    assert ledger_main(workdir) == before["main"]["id"]
    replan_is_empty(workdir, env)


def _killed_then_rerun(
    command: str, workdir: Path, env: dict[str, str], progress: Progress, point: KillPoint
) -> bool:
    """Kill ``fleet promote COMMAND`` at ``point``, run it again to the end; was it killed?"""
    revision = [] if command == "rollback" else ["--source-rev", "abc"]
    outcome = run_until_killed(
        ["promote", command, TENANT, "-f", "fleet", *revision],
        cwd=workdir, env=env, progress=progress, point=point,
        start_methods=frozenset({"POST"}),
    )  # fmt: skip
    finished = promote(command, workdir, env)
    assert finished.code == 0, finished.text
    return outcome.killed


def test_bootstrap_refresh_and_rollback_killed_converge_on_rerun(
    loopback: Loopback, workdir: Path, env: dict[str, str]
) -> None:
    run_env = {**env, **E2E_RATE_LIMITS}
    ok(["apply", "fleet", "--auto-approve"], workdir, run_env)
    project = project_of(workdir)
    original = branches(loopback, project)["main"]["id"]
    progress = Progress(loopback.emulator)
    rng = random.Random(1919)

    killed = 0
    killed += _killed_then_rerun("bootstrap", workdir, run_env, progress, KillPoint.draw(rng, 6))
    live = branches(loopback, project)
    assert sorted(live) == ["dev", "main"] and snapshot_count(loopback, project) == 1
    assert restore_requests(loopback) == 1  # one dev branch, whatever the kill hit
    assert endpoints(loopback, project)[live["dev"]["id"]]["suspend_timeout_seconds"] == 300
    replan_is_empty(workdir, run_env)

    before = live["dev"]["id"]
    restores = restore_requests(loopback)
    refresh_killed = _killed_then_rerun(
        "refresh", workdir, run_env, progress, KillPoint.draw(rng, 10)
    )
    killed += refresh_killed
    live = branches(loopback, project)
    assert sorted(live) == ["dev", "main"] and live["dev"]["id"] != before
    # A killed refresh is resumed (one restore); one that finished is followed by a second.
    assert restore_requests(loopback) == restores + (1 if refresh_killed else 2)
    assert restored_from_branch(loopback, live["dev"]["id"]) == original
    replan_is_empty(workdir, run_env)

    assert promote("run", workdir, run_env).code == 0
    restores = restore_requests(loopback)
    killed += _killed_then_rerun("rollback", workdir, run_env, progress, KillPoint.draw(rng, 6))
    live = branches(loopback, project)
    assert restore_requests(loopback) == restores + 1
    assert sorted(live) == ["dev", "main"]
    assert restored_from_branch(loopback, live["main"]["id"]) == original
    assert ledger_main(workdir) == live["main"]["id"]
    with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
        assert ledger.promotions.list(TENANT)[0].status.value == "rolled_back"
    replan_is_empty(workdir, run_env)
    assert killed, "no command was killed: every one finished before its kill point"
