"""Run a list of direct steps (no plan file) on the executor and record them as one ledger run.

Checkpoint commands (create, restore, gc, schedule) change Neon without a plan: each is a short
list of steps built by its use case. They still run the way a plan's steps do: on the executor
(one lane per tenant, dependencies, ``parallelism`` at a time), each outcome recorded in the
ledger's run history as it happens (``fleet history`` shows the run), the run finished with its
counts. The caller holds the apply lock where the command needs one.

A step's handler may raise any error; the executor records its message, and the original
exception is kept (``StepRun.errors``) so a use case can re-raise it with its own exit code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.apply.executor import ExecutionReport, ItemResult, Status, WorkItem, execute
from reconciler.ledger import Ledger, RunInfo, StepOutcomeRecord, StepStatus

#: ``RunInfo.mode`` of the runs recorded here (an apply's is ``apply``).
CHECKPOINT_MODE = "checkpoint"


@dataclass(frozen=True)
class DirectStep:
    """One step: its id, tenant (its lane), action name, handler and what it waits for."""

    id: str
    tenant: str | None
    action: str
    work: Callable[[], Mapping[str, Any] | None]
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepRun:
    """What a run did: the executor's report, the run's id and the errors steps raised."""

    report: ExecutionReport
    run_id: int
    errors: Mapping[str, Exception] = field(default_factory=dict)

    def raise_first_error(self) -> None:
        """Re-raise the error of the first step that failed (in finishing order), if any."""
        for result in self.report.results:
            if result.id in self.errors:
                raise self.errors[result.id]


def run_info(
    manifest_digest: str, who: str, tool_version: str, mode: str = CHECKPOINT_MODE
) -> RunInfo:
    """The ledger's record of a checkpoint run (or of a promotion's rollback: ``mode``). No plan
    file stands behind it, so ``fleet history`` shows ``plan <mode>``; the step ids say what
    was done."""
    return RunInfo(
        who=who,
        started_at=datetime.now(UTC),
        plan_digest=mode,
        manifest_digest=manifest_digest,
        tool_version=tool_version,
        mode=mode,
    )


def run_steps(
    ledger: Ledger,
    steps: Sequence[DirectStep],
    *,
    info: RunInfo,
    parallelism: int = 1,
    on_result: Callable[[ItemResult], None] | None = None,
) -> StepRun:
    """Run ``steps`` on the executor inside one recorded ledger run."""
    by_id = {step.id: step for step in steps}
    caught: dict[str, Exception] = {}
    guard = threading.Lock()
    run_id = ledger.begin_run(info)

    def work(item_id: str) -> Mapping[str, Any] | None:
        try:
            return by_id[item_id].work()
        except Exception as exc:
            with guard:
                caught[item_id] = exc
            raise

    def record(result: ItemResult) -> None:
        step = by_id[result.id]
        with guard:
            ledger.record_step(
                run_id,
                StepOutcomeRecord(
                    step_id=result.id,
                    tenant=step.tenant,
                    action=step.action,
                    status=StepStatus(result.status.value),
                    started_at=_utc(result.started_at or result.finished_at),
                    finished_at=_utc(result.finished_at or result.started_at),
                    message=result.message,
                    resource_ids=dict(result.detail),
                ),
            )
        if on_result is not None:
            on_result(result)

    items = [
        WorkItem(s.id, s.depends_on, frozenset({s.tenant}) if s.tenant else frozenset())
        for s in steps
    ]
    # A process killed here leaves the run unfinished: history shows it as interrupted.
    report = execute(items, work, parallelism=parallelism, on_result=record)
    counts = {status.value: report.count(status) for status in Status}
    ledger.finish_run(run_id, "succeeded" if report.ok else "failed", counts)
    return StepRun(report, run_id, dict(caught))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
