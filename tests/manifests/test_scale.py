"""10,000 tenants load in seconds of CPU, as one multi-document file or one file each.

The budget asserted here is deliberately loose (CI machines vary); the measured figures on the
development machine are ~0.6-1.0 s for minimal tenants and ~1.4-1.7 s for tenants with quota
overrides, two branches, a key, lifecycle and labels.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from reconciler.manifests import load_fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
TENANTS = 10_000
CPU_BUDGET_SECONDS = 6.0


def _tenant(i: int) -> str:
    return f"""apiVersion: neon-fleet/v1
kind: Tenant
metadata: {{name: cust-{i:05d}}}
spec:
  tier: {"free" if i % 3 else "pro"}
  quota: {{compute_time_seconds: {18000 + i}}}
  branches:
    - {{name: staging, parent: main}}
    - {{name: preview-pr-{i}, parent: staging, expires_in: 7d}}
  api_keys: [{{name: runtime}}]
  lifecycle: {{prevent_destroy: true, ignore_changes: [quota.data_transfer_bytes]}}
  labels: {{team: t{i % 17}}}
"""


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["one-file", "file-per-tenant"])
def test_ten_thousand_tenants_load_within_the_cpu_budget(tmp_path, layout):
    shutil.copy(EXAMPLE / "fleet.yaml", tmp_path)
    shutil.copy(EXAMPLE / "tiers.yaml", tmp_path)
    if layout == "one-file":
        (tmp_path / "tenants.yaml").write_text("---\n".join(_tenant(i) for i in range(TENANTS)))
    else:
        (tmp_path / "tenants").mkdir()
        for i in range(TENANTS):
            (tmp_path / "tenants" / f"cust-{i:05d}.yaml").write_text(_tenant(i))
    started = time.process_time()
    fleet = load_fleet(tmp_path)
    spent = time.process_time() - started
    assert len(fleet.tenants) == TENANTS
    assert fleet.tenants["cust-00001"].quota["compute_time_seconds"].value == 18001
    assert spent < CPU_BUDGET_SECONDS, f"{spent:.2f} s CPU for {TENANTS} tenants"
