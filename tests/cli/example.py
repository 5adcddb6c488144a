"""A working directory holding a copy of ``fleet.example`` (without its CI pipelines)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def example_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` with ``fleet/`` copied from the example, as the working directory, and no
    ledger or API host chosen by the environment the tests run in."""
    shutil.copytree(ROOT / "fleet.example", tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    for name in ("FLEET_LEDGER", "NEON_API_HOST"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
