"""Terminal output: colour rules, progress on stderr, plan and apply summaries.

Colour only on a TTY and never with ``NO_COLOR`` or ``--no-color``. Progress goes to stderr
(a one-line counter on a TTY, plain lines otherwise, JSON lines with ``--format json``) so that
stdout stays clean for the plan or the summary a CI job captures.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from reconciler.core.plan import Blocker, Plan
from reconciler.core.step_status import StepStatus as Status
from reconciler.errors import ApplyError, BlockedTenantsError
from reconciler.render.json import json_chunks
from reconciler.render.markdown import render_markdown
from reconciler.render.text import text_chunks

_MARK = {"succeeded": "✓", "failed": "✗", "skipped": "-"}


# What the summaries read of an apply, declared here because render sits below apply and app:
# ``ApplyOutcome``, ``ExecutionReport``, ``ItemResult`` and ``StepEvent`` have these shapes.
class StepResult(Protocol):
    """One step's result (``apply.executor.ItemResult``)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def message(self) -> str: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


class StepResults(Protocol):
    """Every step's result (``apply.executor.ExecutionReport``)."""

    @property
    def results(self) -> Sequence[StepResult]: ...
    @property
    def ok(self) -> bool: ...
    def count(self, status: Status) -> int: ...


class ApplyResult(Protocol):
    """What an apply did (``app.applying.ApplyOutcome``)."""

    @property
    def report(self) -> StepResults: ...
    @property
    def api_calls(self) -> int: ...


class StepProgress(Protocol):
    """One finished step, as progress reports it (``apply.applier.StepEvent``)."""

    @property
    def step_id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def message(self) -> str: ...


def plan_text(plan: Plan, fmt: str, *, color: bool) -> str:
    """The plan in the chosen format, ending with a newline."""
    return "".join(plan_chunks(plan, fmt, color=color))


def plan_chunks(plan: Plan, fmt: str, *, color: bool) -> Iterator[str]:
    """``plan_text`` in pieces, so a large plan is printed without holding its whole text."""
    if fmt == "json":
        yield from json_chunks(plan)
    elif fmt == "markdown":
        text = render_markdown(plan)
        yield text if text.endswith("\n") else text + "\n"
    else:
        yield from text_chunks(plan, color=color)  # every piece ends with a newline


def apply_summary(outcome: ApplyResult, fmt: str, blockers: Sequence[Blocker] = ()) -> str:
    """What an apply did, for stdout: counts, failed steps, and the tenants blockers held back.

    JSON mode always has the same shape (also when nothing ran), so ``| jq`` never breaks.
    Blocked tenants are named in both formats; the text never claims the fleet matches the
    manifests while a tenant is blocked.
    """
    report = outcome.report
    counts = {s.value: report.count(s) for s in Status}
    blocked = blocked_by_tenant(blockers)
    if fmt == "json":
        failed = [
            {"step": r.id, "message": r.message}
            for r in report.results
            if r.status is Status.FAILED
        ]
        return json.dumps(
            {
                "summary": {**counts, "blocked_tenants": len(blocked)},
                "api_calls": outcome.api_calls,
                "failed": failed,
                "blocked": [{"tenant": t, "messages": m} for t, m in blocked.items()],
            }
        )
    lines = []
    if report.results:
        lines.append(
            f"Apply complete: {counts['succeeded']} succeeded, {counts['failed']} failed, "
            f"{counts['skipped']} skipped ({outcome.api_calls} API calls)."
        )
    elif not blocked:
        return "No changes. The fleet matches the manifests."
    else:
        lines.append(f"Nothing to apply ({outcome.api_calls} API calls).")
    for result in report.results:
        if result.status is Status.FAILED:
            lines.append(f"  ✗ {result.id}: {result.message}")
        recoverable = result.detail.get("recoverable_until")
        if recoverable:
            lines.append(
                f"  - {result.id}: project {result.detail.get('project_id')} can be recovered "
                f"until {recoverable} (POST /projects/{{id}}/recover)"
            )
    if blocked:
        lines.append(
            f"{len(blocked)} tenant(s) blocked and left unchanged; the fleet does not match "
            "the manifests:"
        )
        lines.extend(f"  ! {tenant}: {'; '.join(m)}" for tenant, m in blocked.items())
    return "\n".join(lines)


def apply_exit_error(
    outcome: ApplyResult, blockers: Sequence[Blocker]
) -> ApplyError | BlockedTenantsError | None:
    """The error an apply ends with: failed steps (exit 4) win over blocked tenants (exit 5)."""
    report, blocked = outcome.report, sorted(blocked_by_tenant(blockers))
    if not report.ok:
        return ApplyError(
            report.count(Status.FAILED),
            report.count(Status.SKIPPED),
            report.count(Status.SUCCEEDED),
            blocked,
        )
    return BlockedTenantsError(blocked) if blocked else None


def blocked_by_tenant(blockers: Sequence[Blocker]) -> dict[str, list[str]]:
    """Blocker messages per blocked tenant, tenants sorted."""
    grouped: dict[str, list[str]] = {}
    for blocker in sorted(blockers, key=lambda b: b.tenant):
        grouped.setdefault(blocker.tenant, []).append(blocker.message)
    return grouped


@dataclass
class Output:
    """Where human-facing notes and progress go."""

    color: bool
    tty: bool
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    _progress_open: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_terminal(cls, *, no_color: bool) -> Output:
        tty = sys.stderr.isatty()
        color = tty and sys.stdout.isatty() and not no_color and "NO_COLOR" not in os.environ
        return cls(color=color, tty=tty)

    def note(self, message: str) -> None:
        self.stream.write(message + "\n")
        self.stream.flush()

    def progress(self, total: int, *, json_lines: bool) -> Callable[[StepProgress], None]:
        done = 0

        def listen(event: StepProgress) -> None:
            nonlocal done
            with self._lock:
                done += 1
                if json_lines:
                    self.stream.write(
                        json.dumps(
                            {
                                "step": event.step_id,
                                "tenant": event.tenant,
                                "action": event.action,
                                "status": event.status,
                                "message": event.message,
                            }
                        )
                        + "\n"
                    )
                elif self.tty:
                    self._progress_open = True
                    width = 30
                    filled = min(width, width * done // max(total, 1))
                    bar = "#" * filled + "." * (width - filled)
                    self.stream.write(f"\r[{bar}] {done}/{total} {event.step_id[:50]:<50}")
                else:
                    mark = _MARK.get(event.status, "?")
                    tail = f": {event.message}" if event.message else ""
                    self.stream.write(f"{mark} {event.step_id}{tail}\n")
                self.stream.flush()

        return listen

    def finish_progress(self) -> None:
        if self._progress_open:
            self.stream.write("\n")
            self._progress_open = False
