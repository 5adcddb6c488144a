"""Run a list of jobs on the applier's executor and record them as one run in the ledger.

For changes that are not plan steps (runtime previews): each job is one item of the executor,
in its tenant's lane (Neon locks a project while its operations run), and each outcome becomes a
step of the run ``fleet history`` shows, written as it happens so a crash loses nothing done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.apply.applier import StepEvent
from reconciler.apply.executor import ExecutionReport, ItemResult, WorkItem, execute
from reconciler.ledger import Ledger, RunInfo, StepOutcomeRecord, StepStatus

#: The work of one job: it returns the resource ids to record, or raises to fail the job.
JobWork = Callable[[], Mapping[str, Any]]
#: ``(item id, tenant, action, work)``.
Job = tuple[str, str, str, JobWork]


def run_jobs(
    ledger: Ledger,
    jobs: Sequence[Job],
    *,
    info: RunInfo,
    parallelism: int,
    on_event: Callable[[StepEvent], None] | None = None,
) -> ExecutionReport:
    """Run ``(item id, tenant, action, work)`` jobs on the executor, one lane per tenant,
    recording the run and every outcome in the ledger's history as it happens."""
    run_id = ledger.begin_run(info)
    by_id = {job[0]: job for job in jobs}

    def record(result: ItemResult) -> None:
        _, tenant, action, _ = by_id[result.id]
        ledger.record_step(
            run_id,
            StepOutcomeRecord(
                step_id=result.id,
                tenant=tenant,
                action=action,
                status=StepStatus(result.status.value),
                started_at=_utc(result.started_at or result.finished_at),
                finished_at=_utc(result.finished_at or result.started_at),
                message=result.message,
                resource_ids=dict(result.detail),
            ),
        )
        if on_event is not None:
            event = StepEvent(
                result.id, tenant, action, result.status.value, result.message, result.detail
            )
            on_event(event)

    items = [WorkItem(job_id, (), frozenset({tenant})) for job_id, tenant, _, _ in jobs]
    report = execute(
        items, lambda item_id: by_id[item_id][3](), parallelism=parallelism, on_result=record
    )
    summary = {status.value: 0 for status in StepStatus}
    for result in report.results:
        summary[result.status.value] += 1
    ledger.finish_run(run_id, "succeeded" if report.ok else "failed", summary)
    return report


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
