"""The SQL promotion store behind ``Ledger.promotions`` (table of migration 0009).

See ``reconciler.ledger.promotions`` for a record's life.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.errors import LedgerError
from reconciler.ledger.guard import reject_secrets
from reconciler.ledger.promotions import (
    NewPromotion,
    Promotion,
    PromotionKind,
    PromotionStatus,
    PromotionStore,
)
from reconciler.ledger.sql_access import SqlAccess

_COLUMNS = (
    "id, tenant, kind, project_id, source_branch, target_branch, source_rev, agent_run_id,"
    " meta, status, rollback_checkpoint_id, source_checkpoint_id, from_branch_id,"
    " new_branch_id, created_at, updated_at, finished_at, rollback_started_at, rolled_back_at"
)
#: The columns ``attach`` may set.
_ATTACHABLE = frozenset(
    {"rollback_checkpoint_id", "source_checkpoint_id", "from_branch_id", "new_branch_id"}
)


class SqlPromotionStore(PromotionStore):
    """Promotion records in a SQL ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: SqlAccess) -> None:
        self._ledger = ledger

    def begin(self, new: NewPromotion) -> Promotion:
        reject_secrets(
            {"source_rev": new.source_rev, "run_id": new.agent_run_id, "meta": dict(new.meta)},
            "promotion",
        )
        ledger = self._ledger
        now = ledger.time_in(ledger.now())
        with ledger.transaction(write=True) as tx:
            row = tx.one(
                "INSERT INTO promotions (tenant, kind, project_id, source_branch, target_branch,"
                " source_rev, agent_run_id, meta, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.tenant, new.kind.value, new.project_id, new.source_branch,
                    new.target_branch, new.source_rev, new.agent_run_id,
                    ledger.json_in(dict(new.meta)), PromotionStatus.RUNNING.value, now, now,
                ),
            )  # fmt: skip
        assert row is not None  # RETURNING always yields the new row
        return self.get(int(row[0]))

    def attach(self, promotion_id: int, **ids: int | str | None) -> None:
        unknown = set(ids) - _ATTACHABLE
        if unknown:
            raise LedgerError(f"promotions have no column {sorted(unknown)[0]!r} to attach")
        self._update(promotion_id, **{k: v for k, v in ids.items() if v is not None})

    def finish(self, promotion_id: int, status: PromotionStatus) -> None:
        moment = self._ledger.time_in(self._ledger.now())
        column = "rolled_back_at" if status is PromotionStatus.ROLLED_BACK else "finished_at"
        self._update(promotion_id, status=status.value, **{column: moment})

    def begin_rollback(self, promotion_id: int) -> None:
        self._update(
            promotion_id,
            status=PromotionStatus.ROLLING_BACK.value,
            rollback_started_at=self._ledger.time_in(self._ledger.now()),
        )

    def _update(self, promotion_id: int, **values: Any) -> None:
        ledger = self._ledger
        values["updated_at"] = ledger.time_in(ledger.now())
        assignments = ", ".join(f"{column} = ?" for column in values)
        with ledger.transaction(write=True) as tx:
            changed = tx.execute(
                f"UPDATE promotions SET {assignments} WHERE id = ?",
                (*values.values(), promotion_id),
            )
        if not changed:
            raise LedgerError(f"the ledger has no promotion #{promotion_id}")

    def get(self, promotion_id: int) -> Promotion:
        with self._ledger.transaction() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM promotions WHERE id = ?", (promotion_id,))
        if row is None:
            raise LedgerError(f"the ledger has no promotion #{promotion_id}")
        return self._row(row)

    def list(self, tenant: str | None = None) -> list[Promotion]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self._ledger.transaction() as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM promotions {where} ORDER BY id DESC", params)
        return [self._row(row) for row in rows]

    def _row(self, row: Sequence[Any]) -> Promotion:
        (
            pid, tenant, kind, project_id, source_branch, target_branch, source_rev, run_id,
            meta, status, rollback_id, source_id, from_id, new_id, created_at,
            updated_at, finished_at, rollback_started_at, rolled_back_at,
        ) = row  # fmt: skip
        cell = self._ledger.cells("promotions", f"id {pid}")
        return Promotion(
            id=cell.integer("id", pid),
            tenant=cell.text("tenant", tenant, empty=False),
            kind=cell.choice("kind", kind, PromotionKind),
            project_id=cell.text("project_id", project_id, empty=False),
            source_branch=cell.text("source_branch", source_branch, empty=False),
            target_branch=cell.text("target_branch", target_branch, empty=False),
            source_rev=cell.text("source_rev", source_rev),
            agent_run_id=cell.optional_text("agent_run_id", run_id),
            meta=cell.strings("meta", meta),
            status=cell.choice("status", status, PromotionStatus),
            rollback_checkpoint_id=cell.optional_integer("rollback_checkpoint_id", rollback_id),
            source_checkpoint_id=cell.optional_integer("source_checkpoint_id", source_id),
            from_branch_id=cell.optional_text("from_branch_id", from_id),
            new_branch_id=cell.optional_text("new_branch_id", new_id),
            created_at=cell.time("created_at", created_at),
            updated_at=cell.time("updated_at", updated_at),
            finished_at=cell.optional_time("finished_at", finished_at),
            rollback_started_at=cell.optional_time("rollback_started_at", rollback_started_at),
            rolled_back_at=cell.optional_time("rolled_back_at", rolled_back_at),
        )
