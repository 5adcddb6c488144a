"""Helpers for writing small fleets into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FLEET = """\
apiVersion: neon-fleet/v1
kind: Fleet
metadata: {name: acme}
spec:
  orgs:
    free: {id: org-free-1, api_key_env: NEON_FREE_ORG_KEY}
  defaults: {region: aws-us-east-2}
"""
TIER = """\
apiVersion: neon-fleet/v1
kind: Tier
metadata: {name: free}
spec:
  org: free
  compute: {autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 2}
  max_branches: 3
"""


def tenant_yaml(spec: str, name: str = "cust-1") -> str:
    """A Tenant document whose spec is the given (2-space indented) YAML lines."""
    return f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: {name}}}\nspec:\n{spec}"


@pytest.fixture
def write_fleet(tmp_path: Path) -> Callable[..., Path]:
    """Write ``fleet.yaml`` (FLEET + TIER unless given), ``tenants.yaml`` and other files."""

    def write(
        *tenants: str, fleet: str = FLEET, tier: str = TIER, files: dict[str, str] | None = None
    ) -> Path:
        (tmp_path / "fleet.yaml").write_text(fleet + "---\n" + tier)
        if tenants:
            (tmp_path / "tenants.yaml").write_text("---\n".join(tenants))
        for name, text in (files or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return write
