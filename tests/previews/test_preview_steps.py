"""The preview handlers against the in-process emulator, every answer checked against the
OpenAPI document: a lost create answer is read back by name (no second branch), a branch left
without compute or expiry is finished, and a delete of a branch Neon already removed is fine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply.preview_steps import (
    PreviewContext,
    PreviewRemoval,
    PreviewRequest,
    create_preview,
    delete_preview,
)
from reconciler.apply.secrets import FileSink
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.previews import PreviewStatus
from reconciler.neon import NeonClient, RateLimiter
from tests.checkpoints.conftest import ContractTransport, FakeClock

pytestmark = pytest.mark.integration

ORG, KEY, PROJECT = "org-free-1", "free-key", "p-1"
SEED: dict[str, Any] = {
    "orgs": [{"id": ORG, "plan": "agent"}],
    "keys": [{"token": KEY, "kind": "org", "org": ORG}],
    "projects": [{"id": PROJECT, "name": "t-1", "org": ORG}],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 500,
}


class LoseBranchCreateAnswer(httpx.BaseTransport):
    """Lets the next branch create run, then breaks its connection (the answer is lost)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.armed = inner, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.armed and request.method == "POST" and request.url.path.endswith("/branches"):
            self.armed = False
            raise httpx.ReadError("connection reset after the request was sent")
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(SEED), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


@pytest.fixture
def lossy(emu: Emulator) -> LoseBranchCreateAnswer:
    return LoseBranchCreateAnswer(ContractTransport(httpx.WSGITransport(app=emu)))


@pytest.fixture
def ctx(
    lossy: LoseBranchCreateAnswer, clock: FakeClock, tmp_path: Path
) -> Iterator[PreviewContext]:
    limiter = RateLimiter(
        account_per_minute=1e6, account_burst=1e6, route_per_second=1e6, route_burst=1e6
    )
    now = lambda: datetime.fromtimestamp(clock.now, UTC)  # noqa: E731
    with (
        NeonClient(
            "http://emulator.test/api/v2",
            transport=lossy,
            limiter=limiter,
            sleep=clock.advance,
            clock=clock,
        ) as client,
        open_ledger(f"sqlite:///{tmp_path}/ledger.db", clock=now) as ledger,
    ):
        yield PreviewContext(
            reader=client,
            credentials=Credentials(org_keys={ORG: KEY}),
            ledger=ledger,
            sink=FileSink(tmp_path / "secrets"),
            now=now,
        )


def request(clock: FakeClock, run_id: str = "run-1") -> PreviewRequest:
    return PreviewRequest(
        tenant="t-1",
        run_id=run_id,
        project_id=PROJECT,
        org_id=ORG,
        parent_branch="main",
        expires_at=datetime.fromtimestamp(clock.now + 7200, UTC).replace(microsecond=0),
        suspend_timeout_seconds=120,
        compute={"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 0.5},
    )


def branches(ctx: PreviewContext, name: str) -> list[Any]:
    return [b for b in ctx.client.list_branches(KEY, PROJECT) if b.name == name]


def no_open_intents(ledger: Ledger) -> bool:
    return ledger.pending_intents() == []


def test_a_lost_create_answer_is_read_back_and_never_sent_twice(
    ctx: PreviewContext, lossy: LoseBranchCreateAnswer, clock: FakeClock
) -> None:
    lossy.armed = True
    detail = create_preview(ctx, request(clock))
    [branch] = branches(ctx, "preview-run-1")
    assert detail["branch_id"] == branch.id and detail["created"] is True
    record = ctx.ledger.preview("t-1", "run-1")
    assert record is not None and record.status is PreviewStatus.READY
    assert (record.branch_id, record.endpoint_id) == (branch.id, detail["endpoint_id"])
    assert no_open_intents(ctx.ledger)


def test_a_branch_left_without_compute_or_expiry_is_finished(
    ctx: PreviewContext, clock: FakeClock
) -> None:
    # What a run killed between a snapshot restore and its follow-ups would leave.
    main = branches(ctx, "main")[0]
    created = ctx.client.create_branch(KEY, PROJECT, name="preview-run-2", parent_id=main.id)
    ctx.client.wait_for_operations(KEY, PROJECT, created.operations)
    detail = create_preview(ctx, request(clock, "run-2"))
    assert detail == {
        "project_id": PROJECT,
        "branch_id": created.branch.id,
        "endpoint_id": detail["endpoint_id"],
        "created": False,
    }
    [branch] = branches(ctx, "preview-run-2")
    assert branch.expires_at is not None
    [endpoint] = [e for e in ctx.client.list_endpoints(KEY, PROJECT) if e.branch_id == branch.id]
    assert (endpoint.suspend_timeout_seconds, endpoint.autoscaling_limit_max_cu) == (120, 0.5)


def test_deleting_a_preview_whose_branch_is_gone_just_forgets_it(
    ctx: PreviewContext, clock: FakeClock, tmp_path: Path
) -> None:
    create_preview(ctx, request(clock))
    record = ctx.ledger.preview("t-1", "run-1")
    assert record is not None and record.branch_id is not None
    ops = ctx.client.delete_branch(KEY, PROJECT, record.branch_id)
    assert ops is not None
    ctx.client.wait_for_operations(KEY, PROJECT, ops[1])
    detail = delete_preview(ctx, PreviewRemoval(record, "expired"))
    assert detail["reason"] == "expired"
    assert ctx.ledger.preview("t-1", "run-1") is None
    assert not (tmp_path / "secrets" / "t-1" / "preview-run-1.json").exists()
    assert no_open_intents(ctx.ledger)
