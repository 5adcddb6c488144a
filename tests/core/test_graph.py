"""The pure dependency graph: order, deterministic ties, unknown nodes and cycles."""

from __future__ import annotations

import pytest

from reconciler.core.graph import dependents_of, find_cycle, topological_order
from reconciler.errors import PlanError


def test_dependencies_come_first_and_ties_follow_the_key() -> None:
    deps = {"c": ["a"], "b": [], "a": [], "d": ["c", "b"]}
    assert topological_order(deps) == ["a", "b", "c", "d"]
    assert topological_order(deps, key=lambda n: -ord(n)) == ["b", "a", "c", "d"]


def test_repeated_dependencies_count_once() -> None:
    assert topological_order({"a": [], "b": ["a", "a"]}) == ["a", "b"]


def test_unknown_dependency_is_named() -> None:
    with pytest.raises(PlanError, match=r"unknown step.*ghost"):
        topological_order({"a": ["ghost"]})


def test_cycle_is_named_as_a_path() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert find_cycle(deps) == ["a", "b", "c", "a"]
    with pytest.raises(PlanError, match="a -> b -> c -> a"):
        topological_order(deps)


def test_acyclic_graph_has_no_cycle_and_inverts() -> None:
    deps = {"a": [], "b": ["a"], "c": ["a", "b"]}
    assert find_cycle(deps) is None
    assert dependents_of(deps) == {"a": ["b", "c"], "b": ["c"], "c": []}
