"""Helpers for lifecycle e2e tests: edit tenant manifests, read the sink, call the emulator."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Loopback
from tests.support.cli import Result, run_subprocess

TRANSFER_ROUTE = ("POST", "/organizations/{source_org_id}/projects/transfer")


def fleet(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    # -vv: debug logging (HTTP requests included) so the secret scan covers the logs too.
    return run_subprocess(["-vv", *args], cwd=workdir, env=env)


def ok(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    result = fleet(args, workdir, env)
    assert result.code == 0, result.text
    return result


def tenant_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "fleet" / "tenants").glob("*.yaml"))


def edit_tenant(workdir: Path, tenant: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` inside the YAML document of ``tenant`` only."""
    for path in tenant_files(workdir):
        documents = path.read_text().split("\n---\n")
        for index, document in enumerate(documents):
            if re.search(rf"^\s*name: {re.escape(tenant)}\s*$", document, re.MULTILINE):
                assert old in document, f"{old!r} not in {tenant}'s manifest"
                documents[index] = document.replace(old, new, 1)
                path.write_text("\n---\n".join(documents))
                return
    raise AssertionError(f"tenant {tenant} not found")


def remove_tenant(workdir: Path, tenant: str) -> None:
    for path in tenant_files(workdir):
        documents = path.read_text().split("\n---\n")
        kept = [
            d
            for d in documents
            if not re.search(rf"^\s*name: {re.escape(tenant)}\s*$", d, re.MULTILINE)
        ]
        if len(kept) != len(documents):
            if kept and any("kind: Tenant" in d for d in kept):
                path.write_text("\n---\n".join(kept))
            else:
                path.unlink()
            return
    raise AssertionError(f"tenant {tenant} not found")


def set_fleet_policy(workdir: Path, old: str, new: str) -> None:
    path = workdir / "fleet" / "fleet.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def sink_document(workdir: Path, tenant: str, key: str) -> dict[str, Any]:
    path = workdir / ".fleet" / "secrets" / tenant / f"{key}.json"
    return dict(json.loads(path.read_text()))


def project_named(loopback: Loopback, name: str) -> dict[str, Any]:
    found = [
        p
        for org, env in (("org-free-1", "NEON_FREE_ORG_KEY"), ("org-paid-1", "NEON_PAID_ORG_KEY"))
        for p in loopback.projects(org, env)
        if p["name"] == name
    ]
    assert len(found) == 1, found
    return found[0]


def branches_of(loopback: Loopback, project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    env = "NEON_FREE_ORG_KEY" if project["org_id"] == "org-free-1" else "NEON_PAID_ORG_KEY"
    with loopback.api(env) as client:
        body = client.get(f"/projects/{project['id']}/branches").json()
    return {b["name"]: b for b in body["branches"]}


def create_branch_out_of_band(loopback: Loopback, project: dict[str, Any], name: str) -> None:
    """Create a branch with the org key, as someone in the console would; waits out 423s."""
    env = "NEON_FREE_ORG_KEY" if project["org_id"] == "org-free-1" else "NEON_PAID_ORG_KEY"
    with loopback.api(env) as client:
        for _ in range(50):
            answer = client.post(
                f"/projects/{project['id']}/branches", json={"branch": {"name": name}}
            )
            if answer.status_code != 423:
                break
            time.sleep(0.05)
    assert answer.status_code == 201, answer.text
