"""Roles, databases, connection secrets, Neon Auth and branch computes, handler by handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.apply import access_steps
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import ItemFailed
from reconciler.apply.recovery import recover
from reconciler.apply.secret_steps import (
    RESET_INTENT,
    default_branch_id,
    deliver_connection_secret,
)
from reconciler.apply.secrets import FileSink
from reconciler.core.catalog import BranchCompute, ConnectionSecretSpec
from reconciler.core.model import LiveFleet
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger import open_ledger
from reconciler.neon import NeonClient, RateLimiter

pytestmark = pytest.mark.integration

SEED = {
    "orgs": [{"id": "org-1", "name": "One", "plan": "agent"}],
    "keys": [{"token": "key-1", "kind": "org", "org": "org-1"}],
    "projects": [{"id": "proj-1", "name": "t-cust", "org": "org-1"}],
    "operation_duration_ms": 0,
}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ApplyContext]:
    emulator = Emulator(None, seed_from_mapping(SEED))
    client = NeonClient(
        "http://emulator/api/v2",
        transport=httpx.WSGITransport(app=emulator),
        limiter=RateLimiter(account_per_minute=100_000, route_per_second=10_000),
    )
    context = ApplyContext(
        client=client,
        credentials=Credentials(org_keys={"org-1": "key-1"}),
        ledger=open_ledger(f"sqlite:///{tmp_path}/ledger.db"),
        sink=FileSink(tmp_path / "sink"),
        bindings={"cust": TenantBinding("cust", "t-cust", "org-1", project_id="proj-1")},
        now=lambda: datetime.now(UTC),
    )
    yield context
    context.ledger.close()
    client.close()
    emulator.close()


def _sink(ctx: ApplyContext, name: str) -> dict[str, object]:
    assert isinstance(ctx.sink, FileSink)
    path = ctx.sink.path_for("cust", name)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def test_a_role_and_database_then_a_pooled_secret_for_them(ctx: ApplyContext):
    access_steps.create_role(ctx, "cust", "app_owner")
    access_steps.create_role(ctx, "cust", "app_owner")  # a re-run after a lost answer
    access_steps.create_database(ctx, "cust", "app", "app_owner")
    access_steps.create_database(ctx, "cust", "app", "app_owner")
    spec = ConnectionSecretSpec("app-pooled", "app_owner", "app", pooled=True)
    ids = deliver_connection_secret(ctx, "cust", spec)
    doc = _sink(ctx, "app-pooled")
    branch = ctx.bindings["cust"].branch_ids["main"]
    password = ctx.client.reveal_role_password("key-1", "proj-1", branch, "app_owner").password
    assert doc["password"] == password
    assert doc["uri"] == doc["DATABASE_URL"]
    assert str(doc["uri"]).startswith(f"postgresql://app_owner:{password}@{doc['host']}/app")
    assert str(doc["host"]).startswith(f"{ids['endpoint_id']}-pooler.")
    assert password not in json.dumps(ids)
    [row] = ctx.ledger.deliveries.of_tenant("cust").values()
    assert row.shape.startswith("sha256:") and password not in row.shape + row.payload
    assert ctx.ledger.view().deliveries["cust"]["app-pooled"] == row.shape
    access_steps.update_database_owner(ctx, "cust", "app", "neondb_owner")
    access_steps.delete_database(ctx, "cust", "app")
    access_steps.delete_role(ctx, "cust", "app_owner")
    listed = ctx.client.list_roles("key-1", "proj-1", branch)
    assert "app_owner" not in {r.name for r in listed}


def test_neon_auth_keys_go_to_the_sink_once(ctx: ApplyContext):
    access_steps.enable_auth(ctx, "cust", "better_auth", "neondb")
    keys = _sink(ctx, "neon-auth")
    assert keys["kind"] == "neon_auth" and keys["secret_server_key"]
    assert "neon-auth" in ctx.ledger.view().deliveries["cust"]
    with pytest.raises(ItemFailed, match="already enabled"):
        access_steps.enable_auth(ctx, "cust", "better_auth", "neondb")
    access_steps.disable_auth(ctx, "cust")
    assert ctx.ledger.view().deliveries == {}


def test_a_branch_gets_its_compute_once(ctx: ApplyContext):
    main = default_branch_id(ctx, ctx.target("cust"))
    created = ctx.client.create_branch("key-1", "proj-1", name="dev", parent_id=main)
    ctx.client.wait_for_operations("key-1", "proj-1", created.operations)
    compute = BranchCompute(0.25, 1, 300)
    first = access_steps.create_branch_compute(ctx, "cust", "dev", compute)
    again = access_steps.create_branch_compute(ctx, "cust", "dev", compute)
    assert first == again and str(first["endpoint_id"]).startswith("ep-")
    spec = ConnectionSecretSpec("dev", "neondb_owner", "neondb", branch="dev")
    deliver_connection_secret(ctx, "cust", spec)
    assert _sink(ctx, "dev")["endpoint_id"] == first["endpoint_id"]


def test_without_a_sink_nothing_is_fetched(ctx: ApplyContext):
    ctx.sink = None
    with pytest.raises(ItemFailed, match="no secret sink"):
        deliver_connection_secret(ctx, "cust", ConnectionSecretSpec("s", "neondb_owner", "neondb"))
    assert "GET /projects/{project_id}/connection_uri" not in ctx.client.stats.snapshot().requests


def test_a_reset_that_died_before_its_deliveries_is_delivered_again(ctx: ApplyContext):
    spec = ConnectionSecretSpec("app", "neondb_owner", "neondb")
    deliver_connection_secret(ctx, "cust", spec)
    assert "app" in ctx.ledger.view().deliveries["cust"]
    # A run recorded the reset's intent and died: the sink may hold a password Neon dropped.
    ctx.ledger.record_intent("cust", RESET_INTENT, {"role": "neondb_owner", "secrets": ["app"]})
    report = recover(ctx.client, ctx.credentials, ctx.ledger, lambda: LiveFleet(projects={}))
    assert report.closed == 1 and not ctx.ledger.pending_intents()
    assert ctx.ledger.view().deliveries == {}  # so the next plan delivers it again
