"""Nothing lost, nothing leaked: hold the ledger and the secret sink against the live fleet.

After an apply converged, every figure of ``FleetAudit`` but ``projects`` and ``keys`` must be
zero (empty):

* an *orphan key* is a live project-scoped key of a managed org that the ledger does not record
  (nobody will ever revoke it; a key of a deleted project counts too);
* a ledger row *at a revoked key* records a key id that is not live, or live for another project;
* a ledger row *at a missing project* records a project that is not live in the recorded org;
* a *bad sink token* is a token the sink holds for an owned tenant that does not authenticate
  for the tenant's project, or an owned key whose token the sink does not hold;
* a *duplicate project* is a project name that is live more than once across the orgs;
* an *open intent* is a write-ahead record nobody resolved.

The audit reads the fleet with the org keys over HTTP, as anyone checking Neon by hand would.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx

from reconciler.core.model import OwnedTenant
from reconciler.ledger import open_ledger


@dataclass(frozen=True)
class FleetAudit:
    """What the audit found; see the module docstring for each kind of problem."""

    projects: int
    keys: int
    orphan_keys: tuple[str, ...]
    rows_at_revoked_keys: tuple[str, ...]
    rows_at_missing_projects: tuple[str, ...]
    bad_sink_tokens: tuple[str, ...]
    duplicate_projects: tuple[str, ...]
    open_intents: tuple[str, ...]

    def problems(self) -> dict[str, tuple[str, ...]]:
        """Every non-empty kind of problem, with what was found."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in found.items() if isinstance(v, tuple) and v}

    def figures(self) -> dict[str, int]:
        """How many of each were found (for a report)."""
        return {
            f.name: (len(v) if isinstance(v := getattr(self, f.name), tuple) else int(v))
            for f in fields(self)
        }


def audit_fleet(
    *,
    api_url: str,
    org_tokens: Mapping[str, str],
    ledger_url: str,
    base_dir: Path,
    sink_dir: Path,
) -> FleetAudit:
    """Audit the orgs of ``org_tokens`` (org id → org API key) against ledger and sink."""
    projects: list[dict[str, Any]] = []
    keys: dict[int, dict[str, Any]] = {}
    for org_id, token in org_tokens.items():
        with _client(api_url, token) as client:
            listed = client.get("/projects", params={"org_id": org_id, "limit": 400})
            projects.extend(_ok(listed)["projects"])
            for item in _ok(client.get(f"/organizations/{org_id}/api_keys")):
                if item.get("project_id"):
                    keys[int(item["id"])] = {**item, "org_id": org_id}
    live = {p["id"]: p for p in projects}
    with open_ledger(ledger_url, base_dir=base_dir) as ledger:
        tenants = dict(ledger.view().tenants)
        intents = tuple(f"{i.action} of {i.tenant}" for i in ledger.pending_intents())
    recorded = {k.key_id for t in tenants.values() for k in t.keys.values()}
    names = Counter(p["name"] for p in projects)
    return FleetAudit(
        projects=len(projects),
        keys=len(keys),
        orphan_keys=tuple(
            f"{k['name']} (id {key_id}, project {k['project_id']}"
            f"{'' if k['project_id'] in live else ', deleted'})"
            for key_id, k in sorted(keys.items())
            if key_id not in recorded
        ),
        rows_at_revoked_keys=tuple(
            f"{t.tenant}: {owned.name} (id {owned.key_id})"
            for t in tenants.values()
            for owned in t.keys.values()
            if keys.get(owned.key_id, {}).get("project_id") != t.project_id
        ),
        rows_at_missing_projects=tuple(
            f"{t.tenant}: {t.project_id} in {t.org_id}"
            for t in tenants.values()
            if live.get(t.project_id, {}).get("org_id") != t.org_id
        ),
        bad_sink_tokens=tuple(
            problem for t in tenants.values() for problem in _sink_problems(api_url, sink_dir, t)
        ),
        duplicate_projects=tuple(sorted(name for name, n in names.items() if n > 1)),
        open_intents=intents,
    )


def _sink_problems(api_url: str, sink_dir: Path, tenant: OwnedTenant) -> list[str]:
    """Tokens of ``tenant`` in the sink that do not work, and owned keys the sink lacks."""
    problems: list[str] = []
    delivered: set[int] = set()
    for path in sorted((sink_dir / tenant.tenant).glob("*.json")):
        document = json.loads(path.read_text())
        delivered.add(int(document["key_id"]))
        with _client(api_url, str(document["token"])) as client:
            status = client.get(f"/projects/{tenant.project_id}").status_code
        if status != 200:
            problems.append(
                f"{tenant.tenant}/{path.name}: key {document['key_id']} answers {status} "
                f"for project {tenant.project_id}"
            )
    problems.extend(
        f"{tenant.tenant}: the sink holds no token of {owned.name} (id {owned.key_id})"
        for owned in tenant.keys.values()
        if owned.key_id not in delivered
    )
    return problems


def _client(api_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, f"{answer.request.url}: {answer.status_code} {answer.text}"
    return answer.json()
