"""What ``fleet checkpoint`` says and refuses, run in-process against the sandbox emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.ledger import open_ledger
from tests.support.cli import Result, run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example manifests in a directory outside any git repository."""
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "fleet"


def ok(args: list[str]) -> Result:
    result = run_in_process(["--sandbox", *args])
    assert result.code == 0, result.text
    return result


@pytest.mark.integration
def test_restore_preview_names_the_preview_branch_and_leaves_main_unchanged(fleet: Path) -> None:
    ok(["apply", "fleet", "--auto-approve"])
    created = ok(["checkpoint", "create", "cust-00043", "-f", "fleet", "--source-rev", "abc",
                  "--format", "json"])  # fmt: skip
    record = json.loads(created.out)
    main_id = record["branch"]["id"]
    previewed = ok(["checkpoint", "restore", str(record["id"]), "-f", "fleet", "--preview"])
    shown = json.loads(ok(["checkpoint", "show", str(record["id"]), "-f", "fleet"]).out)
    preview_id = shown["restored_branch_id"]
    assert preview_id and preview_id != main_id
    [note] = [line for line in previewed.err.splitlines() if line.startswith("checkpoint #")]
    assert note == (
        f"checkpoint #{record['id']} previewed: cust-00043 preview branch {preview_id} created "
        f"from snapshot {record['snapshot']['id']}; branch main is unchanged"
    )
    assert "is now" not in previewed.text
    with open_ledger(f"sqlite:///{fleet.parent}/.fleet/sandbox-ledger.db") as ledger:
        owned = ledger.tenant("cust-00043")
    assert owned is not None and owned.branch_ids["main"] == main_id


@pytest.mark.integration
def test_schedule_refuses_an_empty_source_revision_like_create(fleet: Path) -> None:
    refusals = [
        run_in_process(["--sandbox", *args])
        for args in (
            ["checkpoint", "create", "cust-00043", "-f", "fleet"],
            ["checkpoint", "schedule", "-f", "fleet"],
        )
    ]
    expected = (
        "Error: --source-rev is required: the manifests are not in a git repository with a commit"
    )
    for refused in refusals:
        assert refused.code == 1, refused.text
        assert "Traceback" not in refused.err
        assert [line for line in refused.err.splitlines() if line.startswith("Error:")] == [
            expected
        ]
    scheduled = ok(["checkpoint", "schedule", "-f", "fleet", "--source-rev", "abc",
                    "--format", "json"])  # fmt: skip
    assert json.loads(scheduled.out)["failed"] == {}


@pytest.mark.integration
def test_fleet_history_shows_checkpoint_runs(fleet: Path) -> None:
    ok(["apply", "fleet", "--auto-approve"])
    created = ok(["checkpoint", "create", "cust-00043", "-f", "fleet", "--source-rev", "abc",
                  "--format", "json"])  # fmt: skip
    record = json.loads(created.out)
    ok(["checkpoint", "restore", str(record["id"]), "-f", "fleet"])
    restored, taken = json.loads(ok(["history", "-f", "fleet", "--format", "json"]).out)[:2]
    assert restored["plan_digest"] == taken["plan_digest"] == "checkpoint"
    assert restored["result"] == taken["result"] == "succeeded"

    def steps(run: dict[str, Any]) -> list[dict[str, Any]]:
        shown = ok(["history", str(run["run_id"]), "-f", "fleet", "--format", "json"]).out
        return list(json.loads(shown)[0]["steps"])

    assert [(s["step_id"], s["action"], s["status"]) for s in steps(taken)] == [
        (f"checkpoint/cust-00043/create/{record['id']}", "create_snapshot", "succeeded")
    ]
    assert [s["action"] for s in steps(restored)] == [
        "restore_snapshot", "record_branch", "delete_old_branch",
    ]  # fmt: skip
    text = ok(["history", str(taken["run_id"]), "-f", "fleet"]).out
    assert f"succeeded checkpoint/cust-00043/create/{record['id']}" in " ".join(text.split())
