"""Key minting through the applier: a sink that fails leaves no untracked key behind."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.apply.applier import Applier
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import Status
from reconciler.apply.secrets import ExecSink, SecretSink
from reconciler.core.plan import Plan, Step
from reconciler.core.plan_payloads import CreateApiKey
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger import RunInfo, open_ledger
from reconciler.neon import NeonClient, RateLimiter

pytestmark = pytest.mark.integration

SEED = {
    "orgs": [{"id": "org-1", "name": "One", "plan": "agent"}],
    "keys": [{"token": "key-1", "kind": "org", "org": "org-1"}],
    "projects": [{"id": "proj-1", "name": "t-cust", "org": "org-1"}],
    "operation_duration_ms": 0,
}
CREATE = Step(
    id="cust/create_api_key/runtime",
    tenant="cust",
    payload=CreateApiKey("runtime", "t-cust:runtime", "org-1", None),
)


def _apply(tmp_path: Path, sink: SecretSink | None) -> tuple[ApplyContext, dict[str, str]]:
    emulator = Emulator(None, seed_from_mapping(SEED))
    client = NeonClient(
        "http://emulator/api/v2",
        transport=httpx.WSGITransport(app=emulator),
        limiter=RateLimiter(account_per_minute=100_000, route_per_second=10_000),
    )
    ctx = ApplyContext(
        client=client,
        credentials=Credentials(org_keys={"org-1": "key-1"}),
        ledger=open_ledger(f"sqlite:///{tmp_path}/ledger.db"),
        sink=sink,
        bindings={"cust": TenantBinding("cust", "t-cust", "org-1", project_id="proj-1")},
        now=lambda: datetime.now(UTC),
    )
    plan = Plan("test", "d", {}, (CREATE,))
    info = RunInfo("test@host", datetime.now(UTC), "plan", "manifest", "test")
    report = Applier(ctx, plan).run(parallelism=1, run_info=info)
    [result] = report.results
    assert result.status is Status.FAILED
    return ctx, {"message": result.message}


def test_a_failing_exec_sink_revokes_the_new_key(tmp_path):
    ctx, result = _apply(tmp_path, ExecSink(f"{sys.executable} -c 'import sys; sys.exit(7)'"))
    assert "exited 7" in result["message"]
    sent = ctx.client.stats.snapshot().requests
    assert sent["POST /organizations/{org_id}/api_keys"] == 1  # minted ...
    assert sent["DELETE /organizations/{org_id}/api_keys/{key_id}"] == 1  # ... and revoked
    assert result["message"].endswith("was revoked")
    assert [k for k in ctx.client.list_org_api_keys("key-1", "org-1") if k.project_id] == []
    record = ctx.ledger.tenant("cust")
    assert record is None or not record.keys
    assert not ctx.ledger.pending_intents()


def test_no_sink_means_no_key_is_minted(tmp_path):
    ctx, result = _apply(tmp_path, None)
    assert "no secret sink is configured" in result["message"]
    assert "POST /organizations/{org_id}/api_keys" not in ctx.client.stats.snapshot().requests
    assert [k for k in ctx.client.list_org_api_keys("key-1", "org-1") if k.project_id] == []
