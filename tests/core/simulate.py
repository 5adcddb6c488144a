"""A pure in-memory model of Neon + ledger that carries out a plan, for convergence tests.

``apply_plan`` executes every step of a plan, in order, against a copy of the live fleet and
the ledger, the way the applier is meant to: ids are resolved at run time through the ledger
(steps name tenants and branches, not future ids), relative expiries become ``now + seconds``,
and the ledger records adoptions, creations, transfers, keys and deletions.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from typing import Any

from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.context import parse_instant
from reconciler.core.model import (
    QUOTA_KEYS,
    LedgerView,
    LiveApiKey,
    LiveBranch,
    LiveEndpoint,
    LiveFleet,
    LiveProject,
    OwnedKey,
    OwnedTenant,
)
from reconciler.core.plan import Action, Plan, Step


class Simulator:
    """Mutable copies of live and ledger state, changed one step at a time."""

    def __init__(self, live: LiveFleet, ledger: LedgerView, now: str) -> None:
        self.projects: dict[str, LiveProject] = dict(live.projects)
        self.keys: dict[str, list[LiveApiKey]] = {o: list(k) for o, k in live.api_keys.items()}
        self.observed = live.observed_orgs
        self.records: dict[str, OwnedTenant] = dict(ledger.tenants)
        self.pending = set(ledger.pending_creates)
        self.now = parse_instant(now)
        self.now_text = now
        self.ids = itertools.count(1)

    def result(self) -> tuple[LiveFleet, LedgerView]:
        live = LiveFleet(
            projects=dict(self.projects),
            api_keys={o: tuple(k) for o, k in self.keys.items()},
            observed_orgs=self.observed,
        )
        return live, LedgerView(tenants=dict(self.records), pending_creates=frozenset(self.pending))

    def project_of(self, tenant: str) -> LiveProject:
        return self.projects[self.records[tenant].project_id]

    def put(self, project: LiveProject) -> None:
        self.projects[project.id] = project

    def run(self, step: Step) -> None:
        after: dict[str, Any] = dict(step.after or {})
        before: dict[str, Any] = dict(step.before or {})
        tenant = step.tenant or ""
        match step.action:
            case Action.CREATE_PROJECT:
                self.create_project(tenant, after)
            case Action.ADOPT_PROJECT:
                self.records[tenant] = OwnedTenant(tenant, after["project_id"], after["org_id"])
                self.pending.discard(tenant)
            case Action.TRANSFER_PROJECTS:
                for name, pid in zip(after["tenants"], after["project_ids"], strict=True):
                    self.put(replace(self.projects[pid], org_id=after["destination_org_id"]))
                    self.records[name] = replace(
                        self.records[name], org_id=after["destination_org_id"]
                    )
            case Action.UPDATE_PROJECT:
                fields = {k: v for k, v in after.items() if k != "project_id"}
                self.put(replace(self.projects[after["project_id"]], **fields))
            case Action.UPDATE_ENDPOINT:
                self.update_endpoint(tenant, after)
            case Action.CREATE_BRANCH | Action.UPDATE_BRANCH:
                self.upsert_branch(tenant, after)
            case Action.DELETE_BRANCH:
                project = self.project_of(tenant)
                kept = tuple(b for b in project.branches or () if b.id != before["id"])
                self.put(replace(project, branches=kept))
            case Action.CREATE_API_KEY:
                self.create_key(tenant, after)
            case Action.REVOKE_API_KEY:
                org = before["org_id"]
                if org in self.keys:
                    self.keys[org] = [k for k in self.keys[org] if k.id != before["key_id"]]
                record = self.records.get(tenant)
                if record is not None:
                    keys = {n: k for n, k in record.keys.items() if k.key_id != before["key_id"]}
                    self.records[tenant] = replace(record, keys=keys)
            case Action.DELETE_PROJECT:
                del self.projects[before["id"]]
                del self.records[tenant]

    def create_project(self, tenant: str, after: dict[str, Any]) -> None:
        n = next(self.ids)
        pid = f"prj-sim-{n}"
        settings = dict(after["default_endpoint_settings"])
        main = LiveBranch(f"br-sim-{n}", DEFAULT_BRANCH, None, False, True, self.now_text)
        endpoint = LiveEndpoint(
            id=f"ep-sim-{n}",
            branch_id=main.id,
            type="read_write",
            autoscaling_limit_min_cu=settings.get("autoscaling_limit_min_cu", 0.25),
            autoscaling_limit_max_cu=settings.get("autoscaling_limit_max_cu", 0.25),
            suspend_timeout_seconds=settings.get("suspend_timeout_seconds", 300),
        )
        self.put(
            LiveProject(
                id=pid,
                name=after["name"],
                org_id=after["org_id"],
                region_id=after["region_id"],
                pg_version=after["pg_version"],
                created_at=self.now_text,
                quota={k: after["quota"].get(k, 0) for k in QUOTA_KEYS},
                default_endpoint_settings=settings,
                history_retention_seconds=after.get("history_retention_seconds", 86400),
                branches=(main,),
                endpoints=(endpoint,),
            )
        )
        self.records[tenant] = OwnedTenant(tenant, pid, after["org_id"])
        self.pending.discard(tenant)

    def update_endpoint(self, tenant: str, after: dict[str, Any]) -> None:
        project = self.project_of(tenant)
        fields = {k: v for k, v in after.items() if k not in ("endpoint_id", "branch_id")}
        endpoints = tuple(
            replace(e, **fields) if e.id == after["endpoint_id"] else e
            for e in project.endpoints or ()
        )
        self.put(replace(project, endpoints=endpoints))

    def expiry(self, after: dict[str, Any], current: str | None) -> str | None:
        if "expires_in_seconds" in after:
            at = self.now + timedelta(seconds=after["expires_in_seconds"])
            return at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return after.get("expires_at", current)

    def upsert_branch(self, tenant: str, after: dict[str, Any]) -> None:
        project = self.project_of(tenant)
        branches = list(project.branches or ())
        by_name = {b.name: b for b in branches}
        existing = by_name.get(after["name"])
        if existing is None:
            branch = LiveBranch(
                id=f"br-sim-{next(self.ids)}",
                name=after["name"],
                parent_id=by_name[after["parent"]].id,
                protected=after.get("protected", False),
                default=False,
                created_at=self.now_text,
                expires_at=self.expiry(after, None),
            )
            branches.append(branch)
        else:
            updated = replace(
                existing,
                protected=after.get("protected", existing.protected),
                expires_at=self.expiry(after, existing.expires_at),
            )
            branches = [updated if b.id == existing.id else b for b in branches]
        self.put(replace(project, branches=tuple(branches)))

    def create_key(self, tenant: str, after: dict[str, Any]) -> None:
        project = self.project_of(tenant)
        key = LiveApiKey(next(self.ids) + 100000, after["key_name"], after["org_id"], project.id)
        self.keys.setdefault(after["org_id"], []).append(key)
        record = self.records[tenant]
        owned = OwnedKey(key.name, key.id, key.org_id, project.id)
        self.records[tenant] = replace(record, keys={**record.keys, key.name: owned})


def apply_plan(plan: Plan, live: LiveFleet, ledger: LedgerView) -> tuple[LiveFleet, LedgerView]:
    """The live fleet and ledger after every step of ``plan`` succeeded."""
    simulator = Simulator(live, ledger, plan.created_at)
    for step in plan.steps:
        simulator.run(step)
    return simulator.result()
