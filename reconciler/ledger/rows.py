"""Rows ↔ records: column lists and the conversions between database values and ledger records.

``Codec`` is mixed into ``SqlLedger``; each backend implements its four value conversions
(time, JSON and booleans are stored natively on PostgreSQL and as text/integers on SQLite),
and the row builders here are shared.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reconciler.core.model import OwnedKey, OwnedTenant
from reconciler.errors import LedgerError
from reconciler.ledger.cells import Cells
from reconciler.ledger.records import (
    DeletedTenant,
    Intent,
    RunInfo,
    RunRecord,
    StepOutcomeRecord,
    StepStatus,
)

Row = Sequence[Any]

TENANT_COLUMNS = "tenant, project_id, org_id, fingerprint, manifest_digest, prevent_destroy"
BRANCH_COLUMNS = "tenant, branch_name, branch_id"
KEY_COLUMNS = "tenant, key_name, key_id, org_id, project_id"
INTENT_COLUMNS = "id, tenant, action, detail, created_at, resolved_at, outcome"
RUN_COLUMNS = (
    "id, who, started_at, plan_digest, manifest_digest, tool_version, mode,"
    " finished_at, result, summary"
)
STEP_COLUMNS = "id, step_id, tenant, action, status, message, started_at, finished_at, resource_ids"
TOMBSTONE_COLUMNS = "id, tenant, project_id, org_id, deleted_at, recoverable_until, note"


def dump_json(value: Any) -> str:
    """``value`` as compact JSON text; ``LedgerError`` when it is not JSON data."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"the ledger stores JSON data only: {exc}") from exc


def tenant_state(tenant: OwnedTenant) -> dict[str, Any]:
    """A JSON snapshot of an owned tenant, kept in its tombstone for the audit trail."""
    return {
        "project_id": tenant.project_id,
        "org_id": tenant.org_id,
        "branch_ids": dict(tenant.branch_ids),
        "keys": {name: {"key_id": key.key_id} for name, key in tenant.keys.items()},
        "fingerprint": tenant.fingerprint,
        "manifest_digest": tenant.manifest_digest,
        "prevent_destroy": tenant.prevent_destroy,
    }


class Codec(abc.ABC):
    """Value conversions of one backend, and the row builders that use them."""

    @abc.abstractmethod
    def time_in(self, value: datetime) -> Any:
        """A timezone-aware datetime as this backend stores it."""

    @abc.abstractmethod
    def time_out(self, value: Any) -> datetime:
        """A stored time back as a UTC datetime."""

    @abc.abstractmethod
    def json_in(self, value: Any) -> Any:
        """A JSON-able value as this backend stores it."""

    @abc.abstractmethod
    def json_out(self, value: Any) -> Any:
        """A stored JSON value back as Python data."""

    @abc.abstractmethod
    def bool_in(self, value: bool) -> Any:
        """A boolean as this backend stores it."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this ledger lives, for messages."""

    def cells(self, table: str, row: str) -> Cells:
        """Checked decoders for one stored row (``row`` names it for messages)."""
        return Cells(self.describe(), table, row, self.time_out, self.json_out)

    def assemble_tenants(
        self, tenants: Sequence[Row], branches: Sequence[Row], keys: Sequence[Row]
    ) -> dict[str, OwnedTenant]:
        """Owned tenants, keyed by name in name order, from the three tables' rows."""
        branch_ids: dict[str, dict[str, str]] = {}
        for tenant, branch_name, branch_id in branches:
            cell = self.cells("tenant_branches", f"tenant {tenant!r} branch {branch_name!r}")
            branch_ids.setdefault(tenant, {})[cell.text("branch_name", branch_name)] = cell.text(
                "branch_id", branch_id, empty=False
            )
        owned_keys: dict[str, dict[str, OwnedKey]] = {}
        for tenant, key_name, key_id, org_id, project_id in keys:
            cell = self.cells("tenant_keys", f"tenant {tenant!r} key {key_name!r}")
            owned_keys.setdefault(tenant, {})[key_name] = OwnedKey(
                name=cell.text("key_name", key_name, empty=False),
                key_id=cell.integer("key_id", key_id, minimum=0),
                org_id=cell.text("org_id", org_id, empty=False),
                project_id=cell.text("project_id", project_id),
            )
        # A tenant's project id is "" between its first record and its project's create.
        owned: dict[str, OwnedTenant] = {}
        for name, project_id, org_id, fingerprint, digest, prevent_destroy in tenants:
            cell = self.cells("tenants", f"tenant {name!r}")
            owned[cell.text("tenant", name, empty=False)] = OwnedTenant(
                tenant=name,
                project_id=cell.text("project_id", project_id),
                org_id=cell.text("org_id", org_id, empty=False),
                branch_ids=dict(sorted(branch_ids.get(name, {}).items())),
                keys=dict(sorted(owned_keys.get(name, {}).items())),
                fingerprint=cell.text("fingerprint", fingerprint),
                manifest_digest=cell.text("manifest_digest", digest),
                prevent_destroy=cell.flag("prevent_destroy", prevent_destroy),
            )
        return owned

    def intent_from(self, row: Row) -> Intent:
        """An ``Intent`` from ``INTENT_COLUMNS``."""
        intent_id, tenant, action, detail, created_at, resolved_at, outcome = row
        cell = self.cells("intents", f"id {intent_id}")
        return Intent(
            intent_id=cell.integer("id", intent_id),
            tenant=cell.text("tenant", tenant),
            action=cell.text("action", action, empty=False),
            detail=cell.json_object("detail", detail),
            created_at=cell.time("created_at", created_at),
            resolved_at=cell.optional_time("resolved_at", resolved_at),
            outcome=cell.optional_text("outcome", outcome),
        )

    def run_from(self, row: Row, steps: tuple[StepOutcomeRecord, ...] | None) -> RunRecord:
        """A ``RunRecord`` from ``RUN_COLUMNS`` and the steps, if they were loaded."""
        run_id, who, started, plan, manifest, version, mode, finished, result, summary = row
        cell = self.cells("runs", f"id {run_id}")
        return RunRecord(
            run_id=cell.integer("id", run_id),
            info=RunInfo(
                who=cell.text("who", who),
                started_at=cell.time("started_at", started),
                plan_digest=cell.text("plan_digest", plan),
                manifest_digest=cell.text("manifest_digest", manifest),
                tool_version=cell.text("tool_version", version),
                mode=cell.text("mode", mode),
            ),
            finished_at=cell.optional_time("finished_at", finished),
            result=cell.optional_text("result", result),
            summary=cell.counts("summary", summary),
            steps=steps,
        )

    def step_from(self, row: Row, run_id: int) -> StepOutcomeRecord:
        """A ``StepOutcomeRecord`` from ``STEP_COLUMNS`` (of run ``run_id``)."""
        row_id, step_id, tenant, action, status, message, started, finished, resource_ids = row
        cell = self.cells("run_steps", f"id {row_id} (run {run_id})")
        return StepOutcomeRecord(
            step_id=cell.text("step_id", step_id),
            tenant=cell.optional_text("tenant", tenant),
            action=cell.text("action", action),
            status=cell.choice("status", status, StepStatus),
            message=cell.text("message", message),
            started_at=cell.time("started_at", started),
            finished_at=cell.time("finished_at", finished),
            resource_ids=cell.json_object("resource_ids", resource_ids),
        )

    def tombstone_from(self, row: Row) -> DeletedTenant:
        """A ``DeletedTenant`` from ``TOMBSTONE_COLUMNS``."""
        row_id, tenant, project_id, org_id, deleted_at, recoverable_until, note = row
        cell = self.cells("deleted_tenants", f"id {row_id}")
        return DeletedTenant(
            tenant=cell.text("tenant", tenant),
            project_id=cell.text("project_id", project_id),
            org_id=cell.text("org_id", org_id),
            deleted_at=cell.time("deleted_at", deleted_at),
            recoverable_until=cell.time("recoverable_until", recoverable_until),
            note=cell.text("note", note),
        )
