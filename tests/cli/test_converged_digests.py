"""A manifest edit that needs no change is remembered, so the next plan stays incremental."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


def _full_reads(stderr: str) -> str:
    [note] = [line for line in stderr.splitlines() if line.startswith("incremental refresh")]
    return note.split(":", 1)[1].split(",", 1)[0].strip()


@pytest.mark.integration
def test_converged_tenant_digest_is_recorded_by_apply(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    assert run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]).code == 0
    tenant = tmp_path / "fleet" / "tenants" / "cust-00043.yaml"
    tenant.write_text(tenant.read_text().replace("tier: free", "tier: free\n  labels: {x: y}", 1))

    first = run_in_process(["--sandbox", "plan", "fleet", "--detailed-exitcode"])
    assert first.code == 0, first.text  # a label change needs nothing from Neon ...
    assert _full_reads(first.err) == "1 tenant(s) read in full"  # ... but was read in full
    assert run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]).code == 0

    again = run_in_process(["--sandbox", "plan", "fleet", "--detailed-exitcode"])
    assert again.code == 0, again.text
    assert _full_reads(again.err) == "0 tenant(s) read in full"
