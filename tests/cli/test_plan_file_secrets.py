"""Plan files and ``plan --format json`` carry no ledger URL (and so no ledger password)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tests.support.cli import run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
PASSWORD = "s3cret-ledger-pw"


@pytest.mark.integration
def test_a_ledger_password_never_reaches_plan_files_which_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "fleet" / "fleet.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "ledger: sqlite:///.fleet/ledger.db",
            f"ledger: postgresql://fleet:{PASSWORD}@db.invalid:5432/fleet",
        )
    )
    (tmp_path / "old.json").write_text("{}")
    (tmp_path / "old.json").chmod(0o644)
    result = run_in_process(["--sandbox", "plan", "fleet", "--format", "json", "-o", "old.json"])
    assert result.code == 0, result.text
    saved = (tmp_path / "old.json").read_text()
    assert '"seal"' in saved
    assert PASSWORD not in result.text and PASSWORD not in saved
    assert "db.invalid" not in saved
    # Written 0600 (also over an existing, more open file) with no temporary left behind.
    assert stat.S_IMODE((tmp_path / "old.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".old")) == []
