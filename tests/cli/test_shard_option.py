"""``fleet plan/apply --shard I/N``: selection, usage errors, plan files that keep their shard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.model import OwnedTenant
from reconciler.core.sharding import Shard
from reconciler.ledger import open_ledger
from reconciler.manifests import load_fleet
from tests.cli.example import example_workdir
from tests.ledger.conftest import postgres_dsn
from tests.support.cli import Result, run_in_process
from tests.support.pg_schemas import private_schema_url


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


@pytest.fixture
def pg_ledger() -> Iterator[str]:
    with private_schema_url(postgres_dsn(), "fleet_cli") as url:
        yield url


def error_line(result: Result) -> str:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    return line


def summary(result: Result) -> str:
    [line] = [row for row in result.out.splitlines() if row.startswith("Plan: ")]
    return line


@pytest.mark.parametrize("value", ["4/4", "1", "x/2", "-1/2", "0/0"])
@pytest.mark.usefixtures("workdir")
def test_bad_shard_values_are_one_usage_error_before_anything_is_read(value: str) -> None:
    for command in (["plan", "fleet"], ["apply", "fleet", "--auto-approve"]):
        line = error_line(run_in_process(["--sandbox", *command, "--shard", value]))
        assert line.startswith(f"Error: --shard {value!r}: ")


def test_shard_refuses_a_sqlite_ledger_without_changing_anything(workdir: Path) -> None:
    before = run_in_process(["--sandbox", "plan", "fleet", "--detailed-exitcode"])
    assert before.code == 2, before.text
    (workdir / ".fleet" / "sandbox-ledger.db").unlink()
    for command in (["plan", "fleet"], ["apply", "fleet", "--auto-approve"]):
        line = error_line(run_in_process(["--sandbox", *command, "--shard", "1/2"]))
        assert "--shard 1/2 needs a PostgreSQL ledger" in line
    assert not (workdir / ".fleet" / "sandbox-ledger.db").exists()  # not even created
    after = run_in_process(["--sandbox", "plan", "fleet", "--detailed-exitcode"])
    assert after.code == 2 and summary(after) == summary(before)  # nothing was applied


@pytest.mark.usefixtures("workdir")
def test_shard_does_not_go_with_tenant_or_a_plan_file(tmp_path: Path) -> None:
    line = error_line(
        run_in_process(["--sandbox", "plan", "fleet", "--shard", "0/2", "--tenant", "cust-00042"])
    )
    assert "--shard and --tenant" in line
    saved = run_in_process(["--sandbox", "plan", "fleet", "-o", "plan.json"])
    assert saved.code == 0, saved.text
    line = error_line(run_in_process(["--sandbox", "apply", "plan.json", "--shard", "0/2"]))
    assert "a saved plan applies the shard it was made for" in line


@pytest.mark.postgres
@pytest.mark.usefixtures("workdir")
def test_a_shard_plan_file_is_applied_under_its_shard_lock_only(pg_ledger: str) -> None:
    tenants = load_fleet("fleet").tenants
    shards = [Shard(index, 2) for index in range(2)]
    for shard in shards:
        out = f"plan-{shard.index}.json"
        result = run_in_process(
            [
                "--ledger",
                pg_ledger,
                "--sandbox",
                "plan",
                "fleet",
                "--shard",
                shard.describe(),
                "-o",
                out,
            ]
        )
        assert result.code == 0, result.text
        mine = shard.select(tenants)
        assert f"shard {shard.describe()}: {len(mine)} tenant(s) planned" in result.err
        assert "from list pages only" not in result.err  # a new fleet: all of mine read in full
        saved = json.loads(Path(f"plan-{shard.index}.json").read_text())
        assert saved["meta"]["shard"] == shard.describe()
        assert saved["targets"] == list(shard.select(tenants))
        assert {step["tenant"] for step in saved["steps"]} == set(shard.select(tenants))

    with open_ledger(pg_ledger) as ledger, ledger.shard_lock("the other runner", shards[0]):
        # Shard 0's lock is held elsewhere: its plan waits (refused here), shard 1's runs.
        refused = run_in_process(["--ledger", pg_ledger, "--sandbox", "apply", "plan-0.json"])
        assert refused.code == 1 and "the other runner" in refused.err, refused.text
        applied = run_in_process(["--ledger", pg_ledger, "--sandbox", "apply", "plan-1.json"])
        assert applied.code == 0, applied.text
        assert sorted(ledger.view().tenants) == list(shards[1].select(tenants))
    applied = run_in_process(["--ledger", pg_ledger, "--sandbox", "apply", "plan-0.json"])
    assert applied.code == 0, applied.text
    replan = run_in_process(
        ["--ledger", pg_ledger, "--sandbox", "plan", "fleet", "--detailed-exitcode"]
    )
    assert replan.code == 0, replan.text


@pytest.mark.postgres
@pytest.mark.usefixtures("workdir")
def test_a_shard_plan_is_refused_when_its_shard_holds_other_tenants_now(pg_ledger: str) -> None:
    result = run_in_process(
        ["--ledger", pg_ledger, "--sandbox", "plan", "fleet", "--shard", "1/2", "-o", "p.json"]
    )
    assert result.code == 0, result.text
    # Since the plan, the ledger came to record a tenant of shard 1/2 (another runner adopted
    # it, say): the saved selection is not the shard's any more, and applying it under the
    # shard's lock could leave that tenant to nobody.
    extra = next(name for name in ("old-1", "old-2", "old-3") if Shard(1, 2).holds(name))
    with open_ledger(pg_ledger) as ledger:
        ledger.upsert_tenant(OwnedTenant(extra, "proj-gone", "org-free-1"))
    line = error_line(run_in_process(["--ledger", pg_ledger, "--sandbox", "apply", "p.json"]))
    assert "the plan's tenants are not those of shard 1/2 now" in line


@pytest.mark.postgres
@pytest.mark.usefixtures("workdir")
def test_a_transfer_runs_in_the_shard_of_its_tenant_whatever_the_orgs(pg_ledger: str) -> None:
    base = ["--ledger", pg_ledger, "--sandbox"]
    first = run_in_process([*base, "apply", "fleet", "--auto-approve"])
    assert first.code == 0, first.text
    assert Shard(0, 2).holds("cust-00042")
    manifest = Path("fleet/tenants/cust-00042.yaml")
    manifest.write_text(manifest.read_text().replace("tier: free", "tier: pro"))  # org free→paid

    other = run_in_process([*base, "apply", "fleet", "--auto-approve", "--shard", "1/2"])
    assert other.code == 0 and "transfer" not in other.out.lower(), other.text
    own = run_in_process([*base, "apply", "fleet", "--auto-approve", "--shard", "0/2"])
    assert own.code == 0 and "transfer_projects" in own.out, own.text
    with open_ledger(pg_ledger) as ledger:
        assert ledger.view().tenants["cust-00042"].org_id == "org-paid-1"
    replan = run_in_process([*base, "plan", "fleet", "--detailed-exitcode"])
    assert replan.code == 0, replan.text


@pytest.mark.postgres
@pytest.mark.usefixtures("workdir")
def test_a_shard_without_tenants_plans_and_applies_nothing(pg_ledger: str) -> None:
    tenants = load_fleet("fleet").tenants
    empty = next(Shard(i, 16) for i in range(16) if not Shard(i, 16).select(tenants))
    base = ["--ledger", pg_ledger, "--sandbox"]
    plan = run_in_process(
        [
            *base,
            "plan",
            "fleet",
            "--shard",
            empty.describe(),
            "-o",
            "empty.json",
            "--detailed-exitcode",
        ]
    )
    assert plan.code == 0 and "0 API call(s)" in plan.err, plan.text  # nothing to read either
    saved = json.loads(Path("empty.json").read_text())
    assert (saved["meta"]["shard"], saved["targets"], saved["steps"]) == (empty.describe(), [], [])
    applied = run_in_process([*base, "apply", "empty.json"])
    assert applied.code == 0 and "No changes" in applied.text, applied.text
    with open_ledger(pg_ledger) as ledger:
        assert ledger.view().tenants == {}
