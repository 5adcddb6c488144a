"""Bad input on the command line: one clear error, exit 1, no traceback, nothing changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import Result, run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "fleet"


def _error(result: Result) -> str:
    assert result.code == 1, result.text
    assert "Traceback" not in result.err
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    return line


@pytest.mark.integration
def test_an_unknown_target_tenant_is_an_error_not_no_changes(fleet: Path):
    line = _error(run_in_process(["--sandbox", "plan", "fleet", "--tenant", "cust-0043"]))
    assert line == "Error: --tenant names no declared or recorded tenant: cust-0043"


@pytest.mark.integration
def test_a_saved_plan_cannot_be_narrowed_at_apply(fleet: Path):
    assert run_in_process(["--sandbox", "plan", "fleet", "-o", "p.json"]).code == 0
    line = _error(run_in_process(["--sandbox", "apply", "p.json", "--tenant", "cust-00043"]))
    assert "only go with a manifests PATH" in line
    assert (
        not (fleet.parent / ".fleet" / "sandbox-ledger.db").exists()
        or json.loads(run_in_process(["--sandbox", "history", "--format", "json"]).out) == []
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "http://127.0.0.1:abc",
            "Error: --api-host/NEON_API_HOST: 'http://127.0.0.1:abc' is not a valid URL",
        ),
        (
            "ftp://example.invalid",
            "Error: --api-host/NEON_API_HOST: 'ftp://example.invalid' is not an http",
        ),
    ],
)
def test_a_malformed_api_host_names_the_variable(fleet: Path, monkeypatch, value, expected):
    monkeypatch.setenv("NEON_API_HOST", value)
    for name in ("NEON_FREE_ORG_KEY", "NEON_PAID_ORG_KEY"):
        monkeypatch.setenv(name, "k")
    line = _error(run_in_process(["plan", "fleet"]))
    assert line.startswith(expected)
    assert not (fleet.parent / ".fleet").exists()  # nothing written before the error


def test_a_bad_rate_limit_names_its_variable(fleet: Path, monkeypatch):
    monkeypatch.setenv("NEON_FLEET_ROUTE_RATE_LIMIT", "10/hour")
    line = _error(run_in_process(["--sandbox", "plan", "fleet"]))
    assert line.startswith("Error: NEON_FLEET_ROUTE_RATE_LIMIT: bad rate limit '10/hour'")


@pytest.mark.integration
def test_an_exec_sink_command_that_cannot_be_split_is_an_error(fleet: Path):
    text = (fleet / "fleet.yaml").read_text()
    (fleet / "fleet.yaml").write_text(text.replace("file: .fleet/secrets", 'exec: "put \'x"'))
    line = _error(run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]))
    assert line.startswith("Error: spec.secrets.exec: cannot split the command line")


@pytest.mark.integration
def test_a_corrupt_sandbox_state_is_one_clear_error(fleet: Path):
    (fleet.parent / ".fleet").mkdir()
    (fleet.parent / ".fleet" / "sandbox.db").write_text("not a database")
    line = _error(run_in_process(["--sandbox", "plan", "fleet"]))
    assert "the sandbox state" in line and "delete" in line
