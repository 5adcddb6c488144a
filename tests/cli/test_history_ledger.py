"""``fleet history`` only reads: it names the ledger it read and never creates one."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from reconciler.ledger import open_ledger
from tests.cli.example import example_workdir
from tests.ledger.conftest import postgres_dsn
from tests.support.cli import Result, run_in_process


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


def _error(result: Result) -> str:
    assert result.code == 1, result.text
    assert "Traceback" not in result.err and result.out == ""
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    return line


@pytest.mark.parametrize(
    ("args", "path", "source"),
    [
        (["history"], ".fleet/ledger.db", "(the default; name the ledger with -f MANIFESTS"),
        (
            ["history", "-f", "fleet", "--format", "json"],
            ".fleet/ledger.db",
            "(the Fleet in fleet)",
        ),
        (["--ledger", "sqlite:///elsewhere/l.db", "history"], "elsewhere/l.db", "(--ledger)"),
        (["--sandbox", "history"], ".fleet/sandbox-ledger.db", "(the sandbox)"),
    ],
)
def test_history_with_no_ledger_names_the_path_and_creates_nothing(
    workdir: Path, args: list[str], path: str, source: str
) -> None:
    line = _error(run_in_process(args))
    assert line.startswith(f"Error: no ledger at {workdir / path} {source}")
    assert line.endswith("nothing was created")
    assert sorted(p.name for p in workdir.iterdir()) == ["fleet"]  # no ledger, no directory


def test_history_with_no_ledger_from_the_environment_names_the_variable(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_LEDGER", "sqlite:///ci.db")
    line = _error(run_in_process(["history", "-f", "fleet"]))
    assert line == f"Error: no ledger at {workdir / 'ci.db'} (FLEET_LEDGER); nothing was created"
    assert sorted(p.name for p in workdir.iterdir()) == ["fleet"]


def test_history_says_which_ledger_it_read(workdir: Path) -> None:
    open_ledger(f"sqlite:///{workdir / '.fleet' / 'ledger.db'}").close()  # an empty ledger
    text = run_in_process(["history", "-f", "fleet"])
    assert text.code == 0, text.text
    assert text.out.splitlines() == [
        f"Ledger: {workdir / '.fleet' / 'ledger.db'} (the Fleet in fleet)",
        "No apply runs recorded yet.",
    ]
    as_json = run_in_process(["history", "--format", "json"])
    assert as_json.code == 0, as_json.text
    assert json.loads(as_json.out) == []  # stdout stays one JSON document
    assert f"ledger: {workdir / '.fleet' / 'ledger.db'} (the default;" in as_json.err


@pytest.mark.postgres
def test_history_of_a_postgresql_ledger_that_does_not_exist_is_an_error_and_creates_nothing(
    workdir: Path,
) -> None:
    dsn = postgres_dsn()
    schema = f"fleet_test_{uuid.uuid4().hex[:16]}"
    url = f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        try:
            line = _error(run_in_process(["--ledger", url, "history"]))
            assert "no ledger in" in line and "(--ledger); nothing was created" in line
            found = admin.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            assert found == (0,), "fleet history created the ledger's schema"
            # Once a ledger exists there, history reads it.
            open_ledger(url).close()
            result = run_in_process(["--ledger", url, "history"])
            assert result.code == 0 and "No apply runs recorded yet." in result.out, result.text
        finally:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            admin.execute(drop)
