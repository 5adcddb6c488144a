"""``fleet history --prune`` and the automatic prune after ``fleet apply`` and ``fleet drift``:
history older than ``policy.history_retention`` goes, run summaries and open intents stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.ledger import RunInfo, StepOutcomeRecord, StepStatus, open_ledger
from reconciler.manifests import load_fleet
from tests.cli.example import example_workdir
from tests.support.cli import Result, run_in_process

LONG_AGO = datetime.now(UTC) - timedelta(days=200)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


def _seed_old_run(url: str, *, steps: int = 2) -> tuple[int, int]:
    """A run finished 200 days ago with ``steps`` steps, and an intent still open as old."""
    with open_ledger(url, clock=lambda: LONG_AGO) as ledger:
        run_id = ledger.begin_run(RunInfo("ci@runner", LONG_AGO, "a" * 64, "b" * 64, "0.9"))
        for n in range(steps):
            ledger.record_step(
                run_id,
                StepOutcomeRecord(
                    f"project/t{n}/update", f"t{n}", "update_project", StepStatus.SUCCEEDED,
                    LONG_AGO, LONG_AGO,
                ),
            )  # fmt: skip
        ledger.finish_run(run_id, "succeeded", {"succeeded": steps})
        intent = ledger.record_intent("t9", "create_project", {"name": "t9"})
    return run_id, intent


def _ledger_url(workdir: Path, name: str = "ledger.db") -> str:
    return f"sqlite:///{workdir / '.fleet' / name}"


def _steps(url: str, run_id: int) -> int:
    with open_ledger(url) as ledger:
        return len(ledger.run(run_id).steps or ())


def _ok(result: Result) -> Result:
    assert result.code == 0, result.text
    return result


def _error(result: Result) -> str:
    assert result.code == 1, result.text
    assert "Traceback" not in result.err and result.out == ""
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    return line


def test_history_prune_removes_old_run_steps_and_keeps_the_run_and_open_intents(
    workdir: Path,
) -> None:
    url = _ledger_url(workdir)
    run_id, intent = _seed_old_run(url)

    out = _ok(run_in_process(["history", "--prune", "-f", "fleet"])).out.splitlines()

    assert out[0] == f"Ledger: {workdir / '.fleet' / 'ledger.db'} (the Fleet in fleet)"
    assert out[1].startswith("Pruned history older than 90d (before ")
    assert out[1].endswith("; policy.history_retention of the Fleet in fleet):")
    assert " ".join(out[2].split()) == "run steps 2 (of 1 run(s); run summaries kept)"
    assert _steps(url, run_id) == 0
    with open_ledger(url) as ledger:
        assert [r.run_id for r in ledger.runs()] == [run_id]
        assert [i.intent_id for i in ledger.pending_intents()] == [intent]
    shown = _ok(run_in_process(["history", str(run_id), "-f", "fleet"])).out
    assert "(step records pruned by history retention; summary kept)" in shown
    as_json = json.loads(_ok(run_in_process(["history", str(run_id), "--format", "json"])).out)
    assert as_json[0]["steps_pruned"] is True and as_json[0]["summary"] == {"succeeded": 2}


def test_history_prune_dry_run_counts_and_removes_nothing(workdir: Path) -> None:
    url = _ledger_url(workdir)
    run_id, _ = _seed_old_run(url, steps=3)

    result = _ok(run_in_process(["history", "--prune", "--dry-run", "--format", "json"]))

    document = json.loads(result.out)
    assert document["dry_run"] is True and document["retention_seconds"] == 90 * 86400
    assert document["removed"] == {
        "run_steps": 3, "runs": 1, "intents": 0, "drift_items": 0, "drift_reports": 0,
    }  # fmt: skip
    assert _steps(url, run_id) == 3


def test_history_prune_older_than_overrides_the_retention(workdir: Path) -> None:
    url = _ledger_url(workdir)
    run_id, _ = _seed_old_run(url)
    kept = _ok(run_in_process(["history", "--prune", "--older-than", "300d"])).out
    assert "Pruned history older than 300d" in kept and _steps(url, run_id) == 2
    _ok(run_in_process(["history", "--prune", "--older-than", "26w"]))
    assert _steps(url, run_id) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "--dry-run"], "Error: --dry-run and --older-than go with --prune"),
        (["history", "--prune", "1"], "Error: --prune applies to the whole ledger: drop RUN_ID"),
        (
            ["history", "--prune", "--older-than", "90m"],
            "Error: --older-than 90m: shorter than the minimum 1d",
        ),
        (
            ["history", "--prune", "--older-than", "soon"],
            "Error: --older-than 'soon': must be a duration such as 90d or 12w",
        ),
    ],
)
def test_history_prune_refuses_bad_options(workdir: Path, args: list[str], message: str) -> None:
    assert _error(run_in_process(args)) == message


def test_history_prune_with_no_ledger_creates_nothing(workdir: Path) -> None:
    line = _error(run_in_process(["history", "--prune", "-f", "fleet"]))
    assert line.startswith(f"Error: no ledger at {workdir / '.fleet' / 'ledger.db'}")
    assert sorted(p.name for p in workdir.iterdir()) == ["fleet"]


def _set_retention(workdir: Path, value: str) -> None:
    fleet = workdir / "fleet" / "fleet.yaml"
    text = fleet.read_text()
    fleet.write_text(text.replace("    parallelism: 8\n", f"    parallelism: 8\n{value}", 1))


def test_history_retention_never_keeps_everything(workdir: Path) -> None:
    _set_retention(workdir, "    history_retention: never\n")
    url = _ledger_url(workdir)
    run_id, _ = _seed_old_run(url)

    out = _ok(run_in_process(["history", "--prune", "-f", "fleet"])).out

    assert "History retention is never (policy.history_retention of the Fleet in fleet)" in out
    assert _steps(url, run_id) == 2
    assert load_fleet(workdir / "fleet").fleet.policy.history_retention_seconds is None


def test_history_retention_shorter_than_a_day_is_a_manifest_error(workdir: Path) -> None:
    _set_retention(workdir, "    history_retention: 90m\n")
    result = run_in_process(["validate", "fleet"])
    assert result.code == 1 and "Traceback" not in result.err, result.text
    [line] = [row for row in result.err.splitlines() if "history_retention" in row]
    assert "fleet.yaml:" in line and "shorter than the minimum 1d" in line


def test_history_retention_duration_and_default_load(workdir: Path) -> None:
    assert load_fleet(workdir / "fleet").fleet.policy.history_retention_seconds == 90 * 86400
    _set_retention(workdir, "    history_retention: 2w\n")
    assert load_fleet(workdir / "fleet").fleet.policy.history_retention_seconds == 14 * 86400


@pytest.mark.integration
def test_apply_prunes_history_older_than_the_retention_after_success(workdir: Path) -> None:
    url = _ledger_url(workdir, "sandbox-ledger.db")
    run_id, _ = _seed_old_run(url)

    _ok(run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]))

    assert _steps(url, run_id) == 0
    with open_ledger(url) as ledger:
        latest = ledger.runs(1)[0]
        assert latest.run_id != run_id and (ledger.run(latest.run_id).steps or ())
        assert [r.run_id for r in ledger.runs()][-1] == run_id  # the run summary stays


@pytest.mark.integration
def test_an_apply_with_nothing_to_do_prunes_history_too(workdir: Path) -> None:
    _ok(run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]))
    url = _ledger_url(workdir, "sandbox-ledger.db")
    run_id, _ = _seed_old_run(url)

    again = run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"])

    _ok(again)
    assert "No changes" in again.text
    assert _steps(url, run_id) == 0


@pytest.mark.integration
def test_drift_prunes_history_older_than_the_retention(workdir: Path) -> None:
    url = _ledger_url(workdir, "sandbox-ledger.db")
    run_id, _ = _seed_old_run(url)

    result = run_in_process(["--sandbox", "drift", "fleet"])

    assert result.code in (0, 2), result.text
    assert _steps(url, run_id) == 0
