"""Wait for Neon operations to settle.

Every mutation answers with ``operations[]``; the resource is not ready (and the project answers
new mutations with 423) until each reaches a terminal status. ``finished``, ``skipped`` and
``cancelled`` are accepted (nothing more will happen); ``failed`` and ``error`` raise
``OperationFailed`` with the operation's own error text. Only the operations still running are
polled, at an interval that grows from ``first_interval`` to ``max_interval``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler import errors
from reconciler.neon.wire import Operation


def _raise_if_failed(operation: Operation) -> None:
    if operation.has_failed:
        detail = operation.error or "no error text"
        raise errors.OperationFailed(
            f"operation {operation.id} ({operation.action}) on project "
            f"{operation.project_id} ended {operation.status}: {detail}",
            route="/projects/{project_id}/operations/{operation_id}",
        )


def wait_for_operations(
    fetch: Callable[[str], Operation],
    operations: Iterable[Operation],
    *,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    first_interval: float = 0.5,
    max_interval: float = 5.0,
) -> list[Operation]:
    """Poll ``fetch(operation_id)`` until every operation is terminal; return their last state.

    Raises ``OperationFailed`` as soon as one ends ``failed``/``error``, or when ``timeout``
    seconds pass with some still running (the message lists them).
    """
    latest: dict[str, Operation] = {}
    for operation in operations:
        _raise_if_failed(operation)
        latest[operation.id] = operation
    deadline = clock() + timeout
    interval = first_interval
    while True:
        pending = [op for op in latest.values() if not op.is_terminal]
        if not pending:
            return list(latest.values())
        remaining = deadline - clock()
        if remaining <= 0:
            names = ", ".join(f"{op.id} ({op.action}: {op.status})" for op in pending)
            raise errors.OperationFailed(
                f"operations did not finish within {timeout:g}s: {names}",
                route="/projects/{project_id}/operations/{operation_id}",
            )
        sleep(min(interval, remaining))
        interval = min(max_interval, interval * 2)
        for operation in pending:
            current = fetch(operation.id)
            _raise_if_failed(current)
            latest[operation.id] = current
