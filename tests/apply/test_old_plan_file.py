"""A plan file written before the typed payloads still applies.

``tests/fixtures/golden/new_tenant.plan.json`` was written by the code whose steps carried
untyped ``before``/``after`` dicts (the golden files have not changed since). Read through
today's codec, its steps run against the emulator and create what they always did: the
project, both branches (one expiring), and a key delivered to the sink.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.apply.applier import Applier
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import Status
from reconciler.apply.secrets import Deliverable
from reconciler.core.plan_codec import plan_from_text
from reconciler.core.plan_payloads import CreateProject
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger import RunInfo, open_ledger
from reconciler.neon import NeonClient, RateLimiter

pytestmark = pytest.mark.integration

OLD_PLAN = Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "new_tenant.plan.json"
SEED = {
    "orgs": [{"id": "org-free-1", "name": "Free", "plan": "agent"}],
    "keys": [{"token": "key-free", "kind": "org", "org": "org-free-1"}],
    "operation_duration_ms": 0,
}


class _Sink:
    """Remembers which keys were delivered (names only)."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    def deliver(self, key: Deliverable) -> None:
        self.delivered.append((key.tenant, key.name))


def test_a_plan_file_written_before_the_typed_payloads_applies(tmp_path: Path) -> None:
    plan = plan_from_text(OLD_PLAN.read_text(encoding="utf-8"))
    [tenant] = {step.tenant for step in plan.steps}
    assert tenant is not None
    create = plan.steps[0].payload
    assert isinstance(create, CreateProject)
    emulator = Emulator(None, seed_from_mapping(SEED))
    client = NeonClient(
        "http://emulator/api/v2",
        transport=httpx.WSGITransport(app=emulator),
        limiter=RateLimiter(account_per_minute=100_000, route_per_second=10_000),
    )
    sink = _Sink()
    ctx = ApplyContext(
        client=client,
        credentials=Credentials(org_keys={"org-free-1": "key-free"}),
        ledger=open_ledger(f"sqlite:///{tmp_path}/ledger.db"),
        sink=sink,
        bindings={tenant: TenantBinding(tenant, create.name, create.org_id)},
        now=lambda: datetime.now(UTC),
    )
    info = RunInfo("test@host", datetime.now(UTC), "plan", "manifest", "test")
    report = Applier(ctx, plan).run(parallelism=2, run_info=info)
    assert [(r.id, r.status) for r in report.results if r.status is not Status.SUCCEEDED] == []
    project_id = ctx.project_id(tenant)
    branches = {b.name: b for b in client.list_branches("key-free", project_id)}
    assert {"main", "dev", "preview"} <= set(branches)
    assert branches["preview"].expires_at is not None
    assert sink.delivered == [(tenant, "app")]
    record = ctx.ledger.tenant(tenant)
    assert record is not None and list(record.keys) == ["cust-00001:app"]
