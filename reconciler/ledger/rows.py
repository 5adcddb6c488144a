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
STEP_COLUMNS = "step_id, tenant, action, status, message, started_at, finished_at, resource_ids"
TOMBSTONE_COLUMNS = "tenant, project_id, org_id, deleted_at, recoverable_until, note"


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

    def _maybe_time(self, value: Any) -> datetime | None:
        return None if value is None else self.time_out(value)

    def assemble_tenants(
        self, tenants: Sequence[Row], branches: Sequence[Row], keys: Sequence[Row]
    ) -> dict[str, OwnedTenant]:
        """Owned tenants, keyed by name in name order, from the three tables' rows."""
        branch_ids: dict[str, dict[str, str]] = {}
        for tenant, branch_name, branch_id in branches:
            branch_ids.setdefault(tenant, {})[branch_name] = branch_id
        owned_keys: dict[str, dict[str, OwnedKey]] = {}
        for tenant, key_name, key_id, org_id, project_id in keys:
            owned_keys.setdefault(tenant, {})[key_name] = OwnedKey(
                name=key_name, key_id=int(key_id), org_id=org_id, project_id=project_id
            )
        return {
            name: OwnedTenant(
                tenant=name,
                project_id=project_id,
                org_id=org_id,
                branch_ids=dict(sorted(branch_ids.get(name, {}).items())),
                keys=dict(sorted(owned_keys.get(name, {}).items())),
                fingerprint=fingerprint,
                manifest_digest=digest,
                prevent_destroy=bool(prevent_destroy),
            )
            for name, project_id, org_id, fingerprint, digest, prevent_destroy in tenants
        }

    def intent_from(self, row: Row) -> Intent:
        """An ``Intent`` from ``INTENT_COLUMNS``."""
        intent_id, tenant, action, detail, created_at, resolved_at, outcome = row
        return Intent(
            intent_id=int(intent_id),
            tenant=tenant,
            action=action,
            detail=self.json_out(detail),
            created_at=self.time_out(created_at),
            resolved_at=self._maybe_time(resolved_at),
            outcome=outcome,
        )

    def run_from(self, row: Row, steps: tuple[StepOutcomeRecord, ...] | None) -> RunRecord:
        """A ``RunRecord`` from ``RUN_COLUMNS`` and the steps, if they were loaded."""
        run_id, who, started, plan, manifest, version, mode, finished, result, summary = row
        return RunRecord(
            run_id=int(run_id),
            info=RunInfo(
                who=who,
                started_at=self.time_out(started),
                plan_digest=plan,
                manifest_digest=manifest,
                tool_version=version,
                mode=mode,
            ),
            finished_at=self._maybe_time(finished),
            result=result,
            summary={str(k): int(v) for k, v in self.json_out(summary).items()},
            steps=steps,
        )

    def step_from(self, row: Row) -> StepOutcomeRecord:
        """A ``StepOutcomeRecord`` from ``STEP_COLUMNS``."""
        step_id, tenant, action, status, message, started, finished, resource_ids = row
        return StepOutcomeRecord(
            step_id=step_id,
            tenant=tenant,
            action=action,
            status=StepStatus(status),
            message=message,
            started_at=self.time_out(started),
            finished_at=self.time_out(finished),
            resource_ids=self.json_out(resource_ids),
        )

    def tombstone_from(self, row: Row) -> DeletedTenant:
        """A ``DeletedTenant`` from ``TOMBSTONE_COLUMNS``."""
        tenant, project_id, org_id, deleted_at, recoverable_until, note = row
        return DeletedTenant(
            tenant=tenant,
            project_id=project_id,
            org_id=org_id,
            deleted_at=self.time_out(deleted_at),
            recoverable_until=self.time_out(recoverable_until),
            note=note,
        )
