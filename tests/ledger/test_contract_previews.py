"""The ledger contract for runtime previews (migration 0007), on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler.errors import LedgerError
from reconciler.ledger import Ledger
from reconciler.ledger.previews import PreviewRecord, PreviewStatus
from tests.ledger.conftest import FakeClock

FINGERPRINT = "sha256:" + "ab" * 32


def make_preview(
    tenant: str = "cust-1", run_id: str = "run-1", **overrides: object
) -> PreviewRecord:
    values: dict[str, object] = {
        "tenant": tenant,
        "run_id": run_id,
        "project_id": f"proj-{tenant}",
        "org_id": "org-free",
        "branch_name": f"preview-{run_id}",
        "status": PreviewStatus.CREATING,
        "parent_branch": "main",
    }
    values.update(overrides)
    return PreviewRecord(**values)  # type: ignore[arg-type]


def test_a_preview_is_saved_updated_and_dropped(ledger: Ledger, clock: FakeClock) -> None:
    created = clock.now
    first = ledger.save_preview(make_preview())
    assert first.status is PreviewStatus.CREATING
    assert first.created_at == created and first.updated_at == created
    assert ledger.preview("cust-1", "run-1") == first

    clock.advance(30)
    expires = (clock.now + timedelta(hours=2)).replace(microsecond=0)
    ready = ledger.save_preview(
        replace(
            first,
            status=PreviewStatus.READY,
            branch_id="br-1",
            endpoint_id="ep-1",
            secret_fingerprint=FINGERPRINT,
            expires_at=expires,
        )
    )
    # One row per (tenant, run): the update keeps when it was first saved.
    assert ready.created_at == created and ready.updated_at == clock.now
    assert (ready.branch_id, ready.endpoint_id, ready.expires_at) == ("br-1", "ep-1", expires)
    assert ready.secret_fingerprint == FINGERPRINT
    assert ledger.previews() == [ready]

    assert ledger.drop_preview("cust-1", "run-1") is True
    assert ledger.drop_preview("cust-1", "run-1") is False  # a re-run is harmless
    assert ledger.preview("cust-1", "run-1") is None and ledger.previews() == []


def test_previews_list_oldest_first_and_by_tenant(ledger: Ledger, clock: FakeClock) -> None:
    ledger.save_preview(make_preview("cust-2", "r1"))
    clock.advance(1)
    ledger.save_preview(make_preview("cust-1", "r2", checkpoint_id=7, parent_branch=None))
    clock.advance(1)
    ledger.save_preview(make_preview("cust-2", "r3"))
    assert [(p.tenant, p.run_id) for p in ledger.previews()] == [
        ("cust-2", "r1"),
        ("cust-1", "r2"),
        ("cust-2", "r3"),
    ]
    assert [p.run_id for p in ledger.previews("cust-2")] == ["r1", "r3"]
    from_checkpoint = ledger.preview("cust-1", "r2")
    assert from_checkpoint is not None
    assert (from_checkpoint.checkpoint_id, from_checkpoint.parent_branch) == (7, None)
    # The same run id of another tenant is another preview.
    assert ledger.preview("cust-1", "r1") is None


def test_a_preview_never_stores_a_secret(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="sha256"):
        ledger.save_preview(make_preview(secret_fingerprint="postgresql://u:hunter2@h/db"))
    with pytest.raises(LedgerError, match="refusing to store a secret"):
        ledger.save_preview(make_preview(run_id="postgresql://u:hunter2@h/db"))
    assert ledger.previews() == []


def test_preview_records_round_trip_as_json(ledger: Ledger) -> None:
    saved = ledger.save_preview(make_preview(branch_id="br-9", secret_fingerprint=FINGERPRINT))
    data = saved.to_json()
    assert data["branch"] == {"name": "preview-run-1", "id": "br-9"}
    assert data["status"] == "creating" and data["secret_fingerprint"] == FINGERPRINT
