"""One order chooses the ledger for every command (``Environment`` and ``fleet history``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.app.environment import Environment, GlobalOptions, LedgerChoice, choose_ledger
from reconciler.core.model import FleetConfig
from reconciler.errors import UsageError
from reconciler.ledger import DEFAULT_LEDGER_URL


def _fleet() -> LedgerChoice:
    return LedgerChoice("sqlite:///m.db", "the Fleet")


def _not_asked() -> LedgerChoice:
    raise AssertionError("the manifest was read although an earlier source chose the ledger")


def test_flag_then_sandbox_then_environment_then_manifest(tmp_path: Path) -> None:
    env = {"FLEET_LEDGER": "sqlite:///env.db"}
    flag = GlobalOptions(ledger_url="sqlite:///flag.db", sandbox=True, environ=env)
    assert choose_ledger(flag, _not_asked) == LedgerChoice("sqlite:///flag.db", "--ledger")
    sandbox = GlobalOptions(sandbox=True, workdir=tmp_path, environ=env)
    assert choose_ledger(sandbox, _not_asked) == LedgerChoice(
        f"sqlite:///{tmp_path / '.fleet' / 'sandbox-ledger.db'}", "the sandbox"
    )
    from_env = GlobalOptions(environ=env)
    assert choose_ledger(from_env, _not_asked) == LedgerChoice("sqlite:///env.db", "FLEET_LEDGER")
    assert choose_ledger(GlobalOptions(environ={}), _fleet).url == "sqlite:///m.db"


def test_a_command_uses_the_fleets_ledger_else_the_default(tmp_path: Path) -> None:
    def fleet(ledger_url: str | None) -> FleetConfig:
        return FleetConfig("f", {}, None, "aws-us-east-2", 17, ledger_url=ledger_url)

    options = GlobalOptions(workdir=tmp_path, environ={})
    assert Environment(options, fleet("sqlite:///m.db")).ledger_url() == "sqlite:///m.db"
    assert Environment(options, fleet(None)).ledger_url() == DEFAULT_LEDGER_URL
    flag = GlobalOptions(ledger_url="sqlite:///flag.db", workdir=tmp_path, environ={})
    assert Environment(flag, fleet("sqlite:///m.db")).ledger_url() == "sqlite:///flag.db"


def test_an_empty_environment_variable_is_refused_outside_the_sandbox(tmp_path: Path) -> None:
    empty = {"FLEET_LEDGER": " "}
    with pytest.raises(UsageError, match="FLEET_LEDGER is set but empty"):
        choose_ledger(GlobalOptions(environ=empty), _fleet)
    sandbox = GlobalOptions(sandbox=True, workdir=tmp_path, environ=empty)
    assert choose_ledger(sandbox, _not_asked).source == "the sandbox"
