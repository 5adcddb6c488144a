"""Databases, roles, connection secrets, branch computes and Neon Auth through the whole CLI.

The example fleet, with its tiers declaring what an app connects with, is applied to the
sandbox; every sink document points at the right endpoint, database and role, a second plan is
empty, and a password rotation re-delivers exactly that tenant's secrets.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import Result, run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
# Neon's neondb/neondb_owner are kept (tenants with prevent_destroy could not lose them).
ACCESS = """\
  databases: [{name: app, owner: app_owner}, {name: neondb, owner: neondb_owner}]
  roles: [{name: app_owner}, {name: neondb_owner}]
  connection_secrets:
    - {name: app-pooled, role: app_owner, database: app, pooled: true}
    - {name: app-direct, role: app_owner, database: app}
"""

pytestmark = pytest.mark.integration


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    tiers = tmp_path / "fleet" / "tiers.yaml"
    text = tiers.read_text()
    # Both tiers declare the app's database, role and secrets; pro tenants also get Neon Auth.
    text = text.replace("  max_branches: 5\n", "  max_branches: 5\n" + ACCESS)
    text = text.replace(
        "  max_branches: 20\n",
        "  max_branches: 20\n" + ACCESS + "  auth: {provider: better_auth, database: app}\n",
    )
    tiers.write_text(text)
    policy = tmp_path / "fleet" / "fleet.yaml"
    policy.write_text(
        policy.read_text().replace(
            "    prune_branches: false\n", "    prune_branches: false\n    prune_databases: true\n"
        )
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path / "fleet"


def _ok(result: Result, code: int = 0) -> Result:
    assert result.code == code, result.text
    return result


def _sink(tmp_path: Path) -> dict[str, dict[str, object]]:
    found = {}
    for path in sorted((tmp_path / ".fleet" / "secrets").rglob("*.json")):
        found[f"{path.parent.name}/{path.stem}"] = json.loads(path.read_text())
    return found


def test_apply_delivers_then_plans_nothing_and_rotation_redelivers(fleet: Path, tmp_path: Path):
    applied = _ok(run_in_process(["--sandbox", "apply", str(fleet), "--auto-approve"]))
    assert "npg_" not in applied.text and "postgresql://" not in applied.text
    sink = _sink(tmp_path)
    secrets = {k: v for k, v in sink.items() if v.get("kind") == "connection_secret"}
    tenants = {k.split("/")[0] for k in secrets}
    assert len(secrets) == 2 * len(tenants) >= 4
    for name, doc in secrets.items():
        uri = str(doc["uri"])
        host = str(doc["host"])
        assert uri.startswith(f"postgresql://app_owner:{doc['password']}@{host}/app")
        assert host.startswith(str(doc["endpoint_id"]) + ("-pooler." if doc["pooled"] else "."))
        assert doc["pooled"] is name.endswith("pooled")
    auth = {k for k, v in sink.items() if v.get("kind") == "neon_auth"}
    assert auth and all(k.endswith("/neon-auth") for k in auth)
    replanned = run_in_process(["--sandbox", "plan", str(fleet), "--detailed-exitcode"])
    assert replanned.code == 0, replanned.text
    tenant = sorted(tenants)[0]
    before = {k: v["password"] for k, v in secrets.items()}
    rotated = _ok(run_in_process(["--sandbox", "secrets", "rotate", str(fleet), tenant]))
    assert "npg_" not in rotated.text
    after = {k: v["password"] for k, v in _sink(tmp_path).items() if "password" in v}
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {f"{tenant}/app-pooled", f"{tenant}/app-direct"}
    assert after[f"{tenant}/app-pooled"] == after[f"{tenant}/app-direct"]
    again = run_in_process(["--sandbox", "plan", str(fleet), "--detailed-exitcode"])
    assert again.code == 0, again.text
