"""PostgreSQL support is the optional extra ``neon-fleet[postgres]``; SQLite needs no psycopg."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from tests.cli.example import ROOT, example_workdir
from tests.support.cli import run_in_process


class _NoPsycopg:
    """A meta path finder that refuses psycopg, as a plain ``neon-fleet`` install would, and
    records every attempt to import it."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "psycopg" or name.startswith("psycopg."):
            self.attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@pytest.fixture
def without_psycopg(monkeypatch: pytest.MonkeyPatch) -> _NoPsycopg:
    """Imports of psycopg fail here as on a machine that installed plain ``neon-fleet``."""
    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "reconciler.ledger.postgres", raising=False)
    finder = _NoPsycopg()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    return finder


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


@pytest.mark.usefixtures("without_psycopg")
def test_postgres_ledger_without_psycopg_is_an_error_naming_the_extra(workdir: Path) -> None:
    url = "postgresql://fleet:hunter2@127.0.0.1:9/fleet"
    for args in (["--ledger", url, "history"], ["--ledger", url, "--sandbox", "plan", "fleet"]):
        result = run_in_process(args)
        assert result.code == 1, result.text
        assert "Traceback" not in result.err and "hunter2" not in result.err
        [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
        assert line == (
            "Error: the ledger postgresql://fleet:***@127.0.0.1:9/fleet is PostgreSQL, and "
            "PostgreSQL support is not installed: pip install 'neon-fleet[postgres]'"
        )


@pytest.mark.integration
def test_postgres_extra_is_not_needed_for_the_default_sqlite_ledger(
    workdir: Path, without_psycopg: _NoPsycopg
) -> None:
    result = run_in_process(["--sandbox", "plan", "fleet", "--detailed-exitcode"])
    assert result.code == 2, result.text  # planned (changes) on the SQLite sandbox ledger
    assert (workdir / ".fleet" / "sandbox-ledger.db").is_file()
    assert without_psycopg.attempts == []  # and nothing even tried to import psycopg
    assert "psycopg" not in sys.modules


def test_postgres_extra_and_dev_dependencies_are_declared_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [setuptools] = project["build-system"]["requires"]
    # PEP 639's `license = "Apache-2.0"` string needs setuptools 77.
    assert isinstance(project["project"]["license"], str)
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert minimum is not None and int(minimum.group(1)) >= 77
    assert not any(d.startswith("psycopg") for d in project["project"]["dependencies"])
    extras = project["project"]["optional-dependencies"]
    assert extras["postgres"] == ["psycopg[binary]>=3.1"]
    assert "neon-fleet[postgres]" in extras["dev"]  # .ci/run installs .[dev] and tests PostgreSQL
    assert any(re.match(r"referencing\b", d) for d in extras["dev"])  # tests/support imports it
