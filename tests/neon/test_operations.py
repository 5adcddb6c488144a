"""Waiting for operations: terminal statuses, failures with Neon's text, and the timeout."""

from __future__ import annotations

import pytest

from reconciler import errors
from reconciler.neon.operations import wait_for_operations
from reconciler.neon.wire import Operation
from tests.neon.fakes import FakeTime


def _op(op_id: str, status: str, error: str | None = None) -> Operation:
    return Operation(
        id=op_id, project_id="p-1", action="create_timeline", status=status, error=error
    )


def _fetcher(script: dict[str, list[str]], errors_: dict[str, str] | None = None):
    calls: list[str] = []

    def fetch(op_id: str) -> Operation:
        calls.append(op_id)
        statuses = script[op_id]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return _op(op_id, status, (errors_ or {}).get(op_id))

    return fetch, calls


@pytest.mark.parametrize("final", ["finished", "skipped", "cancelled"])
def test_waits_until_every_operation_is_terminal(final: str) -> None:
    fake = FakeTime()
    fetch, calls = _fetcher({"a": ["running", final], "b": [final]})
    done = wait_for_operations(
        fetch,
        [_op("a", "scheduling"), _op("b", "running")],
        timeout=60,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert {op.id: op.status for op in done} == {"a": final, "b": final}
    assert calls == ["a", "b", "a"]  # a settled op is not polled again
    assert fake.sleeps == [0.5, 1.0]


def test_terminal_operations_need_no_request() -> None:
    fake = FakeTime()
    fetch, calls = _fetcher({})
    done = wait_for_operations(
        fetch, [_op("a", "finished")], timeout=1, sleep=fake.sleep, clock=fake.clock
    )
    assert [op.status for op in done] == ["finished"] and calls == [] and fake.sleeps == []


@pytest.mark.parametrize("status", ["failed", "error"])
def test_failure_raises_with_the_operations_error_text(status: str) -> None:
    fake = FakeTime()
    fetch, _ = _fetcher({"a": ["running", status]}, {"a": "disk full"})
    with pytest.raises(errors.OperationFailed, match=f"ended {status}: disk full"):
        wait_for_operations(
            fetch, [_op("a", "running")], timeout=60, sleep=fake.sleep, clock=fake.clock
        )


def test_timeout_names_the_pending_operations() -> None:
    fake = FakeTime()
    fetch, _ = _fetcher({"a": ["running"]})
    with pytest.raises(errors.OperationFailed, match=r"within 10s: a \(create_timeline: running\)"):
        wait_for_operations(
            fetch,
            [_op("a", "running")],
            timeout=10,
            sleep=fake.sleep,
            clock=fake.clock,
            max_interval=4,
        )
    assert sum(fake.sleeps) == pytest.approx(10.0)
    assert max(fake.sleeps) <= 4
