"""An empty ``FLEET_LEDGER`` (a CI secret that is not defined) is an error, not the default.

Falling back to ``sqlite:///.fleet/ledger.db`` would run against a fresh ledger that owns
nothing: apply would adopt every project again and re-mint every key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.example import example_workdir
from tests.support.cli import run_in_process

pytestmark = pytest.mark.integration


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


@pytest.mark.parametrize("command", [["plan", "fleet"], ["apply", "fleet", "--auto-approve"],
                                     ["drift", "fleet"], ["history", "-f", "fleet"]])  # fmt: skip
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_fleet_ledger_variable_is_an_error_not_a_fresh_default_ledger(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], value: str
) -> None:
    monkeypatch.setenv("FLEET_LEDGER", value)
    monkeypatch.setenv("NEON_API_HOST", "http://127.0.0.1:9")  # nothing may be contacted
    result = run_in_process(command)
    assert result.code == 1, result.text
    assert "Error: FLEET_LEDGER is set but empty" in result.err
    assert "Traceback" not in result.text
    assert not (workdir / ".fleet" / "ledger.db").exists()


def test_an_empty_ledger_option_is_an_error(workdir: Path) -> None:
    result = run_in_process(["--ledger", "", "history"])
    assert result.code == 1 and "Error: --ledger is empty" in result.err, result.text
