"""E2E over loopback: 40 tenants get databases, roles, connection secrets, a branch compute and
(on the pro tier) Neon Auth; the sink's URIs point at the right endpoints; a re-plan is empty;
a password rotation re-delivers exactly that tenant's secrets, with the password Neon now has.

The autouse secret scan (``secret_scan.py``) then checks that no URI, role password or Neon
Auth key from the sink appears in any output, plan file or ledger the runs produced.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import E2E_RATE_LIMITS, Loopback
from tests.support.cli import Result, run_subprocess

pytestmark = pytest.mark.e2e

TENANTS = 40
PRO = 10
ACCESS = """\
  databases: [{name: app, owner: app_owner}, {name: neondb, owner: neondb_owner}]
  roles: [{name: app_owner}, {name: neondb_owner}]
  connection_secrets:
    - {name: app-pooled, role: app_owner, database: app, pooled: true}
    - {name: app-direct, role: app_owner, database: app}
"""
TENANT = """\
apiVersion: neon-fleet/v1
kind: Tenant
metadata: {{name: {name}}}
spec:
  tier: {tier}
  branches:
    - {{name: staging, compute: {{min_cu: 0.25, max_cu: 1, suspend_timeout: 300}}}}
"""


def _fleet(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    return run_subprocess(args, cwd=workdir, env=env, timeout=600)


@pytest.fixture
def handoff_fleet(workdir: Path) -> list[str]:
    """fleet.example's Fleet and tiers, with 40 tenants that use databases and secrets."""
    fleet = workdir / "fleet"
    shutil.rmtree(fleet / "tenants")
    (fleet / "tenants").mkdir()
    tiers = fleet / "tiers.yaml"
    text = tiers.read_text().replace("  max_branches: 5\n", "  max_branches: 5\n" + ACCESS)
    auth = "  auth: {provider: better_auth, database: app}\n"
    tiers.write_text(text.replace("  max_branches: 20\n", "  max_branches: 20\n" + ACCESS + auth))
    names = []
    for n in range(TENANTS):
        name, tier = f"app-{n:04d}", "pro" if n < PRO else "free"
        (fleet / "tenants" / f"{name}.yaml").write_text(TENANT.format(name=name, tier=tier))
        names.append(name)
    return names


def _sink(workdir: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((workdir / ".fleet" / "secrets").rglob("*.json")):
        found[f"{path.parent.name}/{path.stem}"] = json.loads(path.read_text())
    return found


def _endpoints(loopback: Loopback, key_env: str, project_id: str) -> dict[str, dict[str, Any]]:
    with loopback.api(key_env) as api:
        listed = api.get(f"/projects/{project_id}/endpoints").json()["endpoints"]
    return {e["id"]: e for e in listed}


def _key_env(doc: dict[str, Any], loopback: Loopback) -> str:
    free = {p["id"] for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")}
    return "NEON_FREE_ORG_KEY" if doc["project_id"] in free else "NEON_PAID_ORG_KEY"


def test_forty_tenants_get_their_database_url_and_a_rotation_redelivers_one(
    loopback: Loopback, workdir: Path, env: dict[str, str], handoff_fleet: list[str]
) -> None:
    env = {**env, **E2E_RATE_LIMITS}
    applied = _fleet(["apply", "fleet", "--auto-approve"], workdir, env)
    assert applied.code == 0, applied.text
    sink = _sink(workdir)
    secrets = {k: v for k, v in sink.items() if v["kind"] == "connection_secret"}
    assert len(secrets) == 2 * TENANTS
    auth = sorted(k.split("/")[0] for k, v in sink.items() if v["kind"] == "neon_auth")
    assert auth == handoff_fleet[:PRO]
    for name, doc in secrets.items():
        endpoints = _endpoints(loopback, _key_env(doc, loopback), doc["project_id"])
        endpoint = endpoints[doc["endpoint_id"]]
        assert endpoint["branch_id"] == doc["branch_id"] and endpoint["type"] == "read_write"
        host = endpoint["host"]
        if doc["pooled"]:
            host = host.replace(doc["endpoint_id"], doc["endpoint_id"] + "-pooler", 1)
        uri = urlsplit(doc["uri"])
        assert (uri.hostname, uri.username, uri.path) == (host, "app_owner", "/app"), name
        assert uri.password == doc["password"]
    # Every tenant's staging branch got its compute.
    staging = [
        e
        for doc in secrets.values()
        if doc["name"] == "app-direct"
        for e in _endpoints(loopback, _key_env(doc, loopback), doc["project_id"]).values()
        if e["branch_id"] != doc["branch_id"]
    ]
    assert len(staging) == TENANTS and all(e["autoscaling_limit_max_cu"] == 1 for e in staging)

    replan = _fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert replan.code == 0, replan.text

    tenant = handoff_fleet[PRO]  # a free-tier tenant
    old = secrets[f"{tenant}/app-direct"]
    rotated = _fleet(["secrets", "rotate", "fleet", tenant, "--role", "app_owner"], workdir, env)
    assert rotated.code == 0, rotated.text
    after = {k: v for k, v in _sink(workdir).items() if v["kind"] == "connection_secret"}
    changed = sorted(k for k in after if after[k]["password"] != secrets[k]["password"])
    assert changed == [f"{tenant}/app-direct", f"{tenant}/app-pooled"]
    with loopback.api("NEON_FREE_ORG_KEY") as api:
        path = f"/projects/{old['project_id']}/branches/{old['branch_id']}/roles/app_owner"
        revealed = api.get(path + "/reveal_password").json()["password"]
    assert revealed == after[f"{tenant}/app-direct"]["password"] != old["password"]
    again = _fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert again.code == 0, again.text
