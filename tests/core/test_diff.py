"""Field-level changes: leaves, numeric equality, server-managed fields, origins."""

from __future__ import annotations

from reconciler.core.diff import field_changes
from reconciler.core.plan import FieldChange


def test_equal_views_have_no_changes_even_across_int_and_float() -> None:
    assert field_changes({"a": 1, "q": {"x": 2}}, {"a": 1.0, "q": {"x": 2}}, {}) == ()


def test_nested_changes_are_reported_per_leaf_with_origins() -> None:
    before = {"quota": {"x": 1, "y": 2}, "name": "a"}
    after = {"quota": {"x": 1, "y": 3, "z": 4}, "name": "b"}
    origins = {"quota.y": "tier free", "quota": "tier default", "name": "fleet"}
    assert field_changes(before, after, origins) == (
        FieldChange("name", "a", "b", "fleet"),
        FieldChange("quota.y", 2, 3, "tier free"),
        FieldChange("quota.z", None, 4, "tier default"),
    )


def test_a_dict_replacing_none_expands_into_leaves() -> None:
    changes = field_changes({"quota": None}, {"quota": {"x": 1}}, {}, default_origin="t")
    assert changes == (FieldChange("quota.x", None, 1, "t"),)


def test_server_managed_fields_are_never_changes() -> None:
    before = {"id": "a", "created_at": "x", "protected": False}
    after = {"id": "b", "created_at": "y", "protected": True}
    assert [c.path for c in field_changes(before, after, {})] == ["protected"]
    assert field_changes({"id": "a"}, {"id": "b"}, {}) == ()


def test_creation_lists_every_leaf_with_a_prefix() -> None:
    changes = field_changes(None, {"name": "dev", "q": {"a": 1}}, {}, prefix="branches.dev.")
    assert [c.path for c in changes] == ["branches.dev.name", "branches.dev.q.a"]
