"""Batched transfers through the applier against the in-process emulator: 422 split, 406."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.apply.applier import Applier
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import Status
from reconciler.core.plan import Plan, Step
from reconciler.core.plan_payloads import TransferProjects, UpdateProject
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger import RunInfo, open_ledger
from reconciler.neon import NeonClient, RateLimiter

pytestmark = pytest.mark.integration

SEED = {
    "orgs": [
        {"id": "org-src", "name": "Source", "plan": "agent"},
        {"id": "org-dst", "name": "Destination", "plan": "agent"},
        {"id": "org-low", "name": "Lower plan", "plan": "free"},
    ],
    "keys": [
        {
            "token": "personal",
            "kind": "personal",
            "orgs": {"org-src": "admin", "org-dst": "admin", "org-low": "admin"},
        },
        {"token": "key-src", "kind": "org", "org": "org-src"},
        {"token": "key-dst", "kind": "org", "org": "org-dst"},
        {"token": "key-low", "kind": "org", "org": "org-low"},
    ],
    "projects": [
        {
            "id": f"proj-{n}",
            "name": f"t-{n}",
            "org": "org-src",
            **(
                {"integration": "github"} if n == 4 else {"integration": "vercel"} if n == 5 else {}
            ),
        }
        for n in range(1, 6)
    ],
    "operation_duration_ms": 0,
}
TENANTS = [f"tenant-{n}" for n in range(1, 6)]


def _context(tmp_path: Path) -> ApplyContext:
    emulator = Emulator(None, seed_from_mapping(SEED))
    client = NeonClient(
        "http://emulator/api/v2",
        transport=httpx.WSGITransport(app=emulator),
        limiter=RateLimiter(account_per_minute=100_000, route_per_second=10_000),
    )
    bindings = {
        tenant: TenantBinding(tenant, f"t-{n}", "org-src", project_id=f"proj-{n}")
        for n, tenant in enumerate(TENANTS, start=1)
    }
    return ApplyContext(
        client=client,
        credentials=Credentials(
            org_keys={"org-src": "key-src", "org-dst": "key-dst", "org-low": "key-low"},
            personal_key="personal",
        ),
        ledger=open_ledger(f"sqlite:///{tmp_path}/ledger.db"),
        sink=None,
        bindings=bindings,
        now=lambda: datetime.now(UTC),
    )


def _plan(destination: str) -> Plan:
    transfer = Step(
        id=f"transfer/org-src->{destination}/1",
        tenant=None,
        payload=TransferProjects(
            source_org_id="org-src",
            destination_org_id=destination,
            project_ids=tuple(f"proj-{n}" for n in range(1, 6)),
            tenants=tuple(TENANTS),
        ),
    )
    updates = tuple(
        Step(
            id=f"{tenant}/update_project",
            tenant=tenant,
            payload=UpdateProject(f"proj-{n}", {}, {"quota": {"compute_time_seconds": 360000}}),
            depends_on=(transfer.id,),
        )
        for n, tenant in enumerate(TENANTS, start=1)
    )
    return Plan(
        tool_version="test", manifest_digest="d", fingerprints={}, steps=(transfer, *updates)
    )


def _run(ctx: ApplyContext, plan: Plan) -> dict[str, tuple[Status, str]]:
    info = RunInfo("test@host", datetime.now(UTC), "plan", "manifest", "test")
    report = Applier(ctx, plan).run(parallelism=3, run_info=info)
    return {r.id: (r.status, r.message) for r in report.results}


def test_integration_projects_are_split_out_and_the_rest_moves(tmp_path):
    ctx = _context(tmp_path)
    results = _run(ctx, _plan("org-dst"))
    batch = "transfer/org-src->org-dst/1"
    assert results[batch][0] is Status.SUCCEEDED
    for n in (1, 2, 3):
        assert results[f"{batch}#tenant-{n}"][0] is Status.SUCCEEDED
        assert results[f"tenant-{n}/update_project"][0] is Status.SUCCEEDED
        project = ctx.client.get_project("key-dst", f"proj-{n}")
        assert project.org_id == "org-dst"
        assert project.quota == {"compute_time_seconds": 360000}
        record = ctx.ledger.tenant(f"tenant-{n}")
        assert record is not None and record.org_id == "org-dst"
    for n, integration in ((4, "github"), (5, "vercel")):
        status, message = results[f"{batch}#tenant-{n}"]
        assert status is Status.FAILED
        assert message == (
            f"project proj-{n} has the {integration} integration, which Neon cannot transfer "
            "(422); disconnect it and apply again"
        )
        assert results[f"tenant-{n}/update_project"][0] is Status.SKIPPED
        assert ctx.client.get_project("key-src", f"proj-{n}").org_id == "org-src"
    # The run is in the audit trail with every gate and step.
    run = ctx.ledger.run(ctx.ledger.runs(1)[0].run_id)
    assert run.result == "failed"
    assert {s.step_id for s in run.steps or ()} == set(results)


def test_a_406_names_each_unsatisfied_limit(tmp_path):
    ctx = _context(tmp_path)
    plan = _plan("org-low")
    # Only projects without integrations, so Neon's answer is about plan limits.
    transfer = plan.steps[0]
    assert isinstance(transfer.payload, TransferProjects)
    trimmed = replace(
        transfer.payload, project_ids=("proj-1", "proj-2"), tenants=tuple(TENANTS[:2])
    )
    plan = Plan(
        "test",
        "d",
        {},
        (replace(transfer, payload=trimmed), *plan.steps[1:3]),
    )
    results = _run(ctx, plan)
    status, message = results["transfer/org-src->org-low/1"]
    assert status is Status.FAILED
    assert message == (
        "Neon refused the transfer from org-src to org-low (406): "
        "subscription_type: expected agent, actual free"
    )
    assert results["tenant-1/update_project"][0] is Status.SKIPPED
