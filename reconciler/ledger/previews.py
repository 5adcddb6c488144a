"""Runtime preview records (migration 0007): what ``fleet preview`` created for an agent run.

One row per ``(tenant, run_id)``: the run id is the idempotency key of ``fleet preview create``.
The row is saved ``creating`` before the branch is requested (with its deterministic name, so a
crash or a lost answer is settled by reading the branch back by name) and ``ready`` once the
branch, its compute and the delivered connection secret exist. Only a fingerprint of the
delivered secret is kept; the ledger's secret guard refuses anything that looks like a secret.

The SQL lives here, written once for both backends; ``SqlLedger`` calls these functions.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import LedgerError
from reconciler.ledger.cells import Cells
from reconciler.ledger.guard import reject_secrets


class PreviewStatus(enum.StrEnum):
    """Where a preview is in its life; a deleted preview has no row."""

    CREATING = "creating"
    READY = "ready"


#: A fingerprint is ``sha256:`` and 64 hex digits: it identifies, never reveals, a secret.
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class PreviewRecord:
    """One runtime preview of a tenant, created for one agent run."""

    tenant: str
    run_id: str
    project_id: str
    org_id: str
    #: The deterministic branch name (``preview-<run id>``): how a lost create is found again.
    branch_name: str
    status: PreviewStatus
    branch_id: str | None = None
    endpoint_id: str | None = None
    #: The parent branch's name, or None when the preview was branched from a checkpoint.
    parent_branch: str | None = None
    checkpoint_id: int | None = None
    #: ``sha256:…`` of the delivered connection URI; None until it was delivered.
    secret_fingerprint: str | None = None
    #: Neon's ``expires_at`` of the branch (Neon deletes the branch then).
    expires_at: datetime | None = None
    #: Set by the ledger on save; ``created_at`` keeps its first value across updates.
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON for ``fleet preview list --format json`` (no secret in it)."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

        return {
            "tenant": self.tenant,
            "run_id": self.run_id,
            "project_id": self.project_id,
            "org_id": self.org_id,
            "branch": {"name": self.branch_name, "id": self.branch_id},
            "endpoint_id": self.endpoint_id,
            "parent_branch": self.parent_branch,
            "checkpoint_id": self.checkpoint_id,
            "status": self.status.value,
            "secret_fingerprint": self.secret_fingerprint,
            "expires_at": when(self.expires_at),
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
        }


COLUMNS = (
    "tenant, run_id, project_id, org_id, branch_name, branch_id, endpoint_id, parent_branch,"
    " checkpoint_id, status, secret_fingerprint, expires_at, created_at, updated_at"
)


def check_record(record: PreviewRecord) -> None:
    """Refuse a record that could carry a secret, or whose fingerprint is not one."""
    fingerprint = record.secret_fingerprint
    if fingerprint is not None and not _FINGERPRINT.match(fingerprint):
        raise LedgerError("a preview's secret_fingerprint must be sha256:<64 hex digits>")
    reject_secrets(
        {
            "tenant": record.tenant,
            "run_id": record.run_id,
            "branch_name": record.branch_name,
            "parent_branch": record.parent_branch or "",
        },
        f"preview {record.tenant}/{record.run_id}",
    )


def upsert_statement() -> str:
    """Insert a preview or replace it, keeping the ``created_at`` it was first saved with."""
    return (
        f"INSERT INTO previews ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant, run_id) DO UPDATE SET project_id = excluded.project_id,"
        " org_id = excluded.org_id, branch_name = excluded.branch_name,"
        " branch_id = excluded.branch_id, endpoint_id = excluded.endpoint_id,"
        " parent_branch = excluded.parent_branch, checkpoint_id = excluded.checkpoint_id,"
        " status = excluded.status, secret_fingerprint = excluded.secret_fingerprint,"
        " expires_at = excluded.expires_at, updated_at = excluded.updated_at"
    )


def record_from(row: Sequence[Any], cells: Cells) -> PreviewRecord:
    """A stored row, every cell checked (a corrupted value names its table, row and column)."""
    (
        tenant, run_id, project_id, org_id, branch_name, branch_id, endpoint_id, parent_branch,
        checkpoint_id, status, fingerprint, expires_at, created_at, updated_at,
    ) = row  # fmt: skip
    return PreviewRecord(
        tenant=cells.text("tenant", tenant, empty=False),
        run_id=cells.text("run_id", run_id, empty=False),
        project_id=cells.text("project_id", project_id, empty=False),
        org_id=cells.text("org_id", org_id, empty=False),
        branch_name=cells.text("branch_name", branch_name, empty=False),
        status=cells.choice("status", status, PreviewStatus),
        branch_id=cells.optional_text("branch_id", branch_id),
        endpoint_id=cells.optional_text("endpoint_id", endpoint_id),
        parent_branch=cells.optional_text("parent_branch", parent_branch),
        checkpoint_id=cells.optional_integer("checkpoint_id", checkpoint_id),
        secret_fingerprint=cells.optional_text("secret_fingerprint", fingerprint),
        expires_at=cells.optional_time("expires_at", expires_at),
        created_at=cells.time("created_at", created_at),
        updated_at=cells.time("updated_at", updated_at),
    )
