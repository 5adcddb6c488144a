"""A pure dependency graph: topological order with deterministic ties and cycle detection.

Used by the planner to order steps and by the applier's executor to know what may run. Nodes
are strings (step ids); ``deps[n]`` lists the nodes ``n`` depends on (which must come first).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from reconciler.errors import PlanError


def dependents_of(deps: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Invert ``deps``: for every node, the nodes that depend on it (in input order)."""
    result: dict[str, list[str]] = {node: [] for node in deps}
    for node, needs in deps.items():
        for need in needs:
            result.setdefault(need, []).append(node)
    return result


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One dependency cycle as a closed path ``[a, b, ..., a]``, or None when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in sorted(deps):
        if root in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(deps.get(root, ())))]
        state[root] = 1
        path.append(root)
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            seen = state.get(child)
            if seen == 1:
                return [*path[path.index(child) :], child]
            if seen is None:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(deps.get(child, ()))))
    return None


def topological_order(
    deps: Mapping[str, Sequence[str]],
    *,
    key: Callable[[str], Any] | None = None,
) -> list[str]:
    """Every node of ``deps`` after all of its dependencies.

    Among nodes that are ready at the same time the smallest by ``key`` (default: the node
    itself) comes first, so the order is fully deterministic. Raises ``PlanError`` when a
    dependency names an unknown node or the dependencies form a cycle (the cycle is named).
    """
    sort_key: Callable[[str], Any] = key if key is not None else _identity
    missing = sorted({need for needs in deps.values() for need in needs if need not in deps})
    if missing:
        raise PlanError(f"steps depend on unknown step(s): {', '.join(missing)}")
    waiting = {node: len(set(needs)) for node, needs in deps.items()}
    dependents: dict[str, list[str]] = {node: [] for node in deps}
    for node, needs in deps.items():
        for need in set(needs):
            dependents[need].append(node)
    ready: list[tuple[Any, str]] = [(sort_key(n), n) for n, count in waiting.items() if not count]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents[node]:
            waiting[dependent] -= 1
            if not waiting[dependent]:
                heapq.heappush(ready, (sort_key(dependent), dependent))
    if len(order) != len(deps):
        cycle = find_cycle(deps) or sorted(n for n, count in waiting.items() if count)
        raise PlanError(f"steps depend on each other in a cycle: {' -> '.join(cycle)}")
    return order


def _identity(node: str) -> Hashable:
    return node
