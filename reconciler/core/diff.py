"""Field-level changes between a live view and a desired view, computed with deepdiff.

Views are plain JSON dicts (see ``views``). Comparing equal views is the common case at fleet
scale, so :func:`field_changes` first compares with ``==`` (which also treats ``1 == 1.0``) and
only calls DeepDiff when something differs. Server-managed fields are excluded through the
declared :data:`SERVER_MANAGED_FIELDS` list rather than ad-hoc conditions: they may sit in a
``before`` view for the reader, but are never something neon-fleet changes.

Nested dict changes are reported per leaf (``quota.compute_time_seconds``), so ``ignore_changes``
and renderers work on the same dotted paths.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from reconciler.core.plan import FieldChange

#: Fields Neon manages on its own or that the planner handles outside plain updates (identity,
#: timestamps, state, placement). They never become a ``FieldChange`` of an update step.
SERVER_MANAGED_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "updated_at",
    "current_state",
    "branch_id",
    "type",
    "default",
    "parent_id",
    "integrations",
    "hipaa",
    "org_id",
    "region_id",
    "pg_version",
)
_EXCLUDED = [f"root['{name}']" for name in SERVER_MANAGED_FIELDS]
_REPORTS = (
    "values_changed",
    "type_changes",
    "dictionary_item_added",
    "dictionary_item_removed",
)


def field_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    origins: Mapping[str, str],
    *,
    prefix: str = "",
    default_origin: str = "",
) -> tuple[FieldChange, ...]:
    """The leaf fields that differ from ``before`` to ``after``, in path order.

    ``before=None`` means the resource does not exist yet: every field of ``after`` is a change
    from ``None``. ``origins`` maps a dotted path, or its first segment, to where the desired
    value came from (``default_origin`` when neither is listed). ``prefix`` is prepended to every
    path (e.g. ``branches.dev.``).
    """
    if before is None:
        # Nothing to compare with: every leaf of ``after`` is new (no diff needed).
        return _created(after, origins, prefix, default_origin)
    if _equal_ignoring_managed(before, after):
        return ()
    # Imported here: a plan of creates and unchanged tenants never needs it (~40 ms to load).
    from deepdiff import DeepDiff

    diff = DeepDiff(
        dict(before),
        dict(after),
        ignore_numeric_type_changes=True,
        exclude_paths=_EXCLUDED,
        view="tree",
    )
    found: list[tuple[list[str], Any, Any]] = []
    for report in _REPORTS:
        for level in diff.get(report, ()):
            path = [str(part) for part in level.path(output_format="list")]
            old = None if _missing(level.t1) else level.t1
            new = None if _missing(level.t2) else level.t2
            found.extend(_leaves(path, old, new))
    return _as_changes(found, origins, prefix, default_origin)


def _as_changes(
    found: list[tuple[list[str], Any, Any]],
    origins: Mapping[str, str],
    prefix: str,
    default_origin: str,
) -> tuple[FieldChange, ...]:
    changes: dict[str, FieldChange] = {}
    for leaf_path, old, new in found:
        dotted = ".".join(leaf_path)
        changes[dotted] = FieldChange(
            path=prefix + dotted,
            old=old,
            new=new,
            origin=origins.get(dotted, origins.get(leaf_path[0], default_origin)),
        )
    return tuple(changes[p] for p in sorted(changes))


def _created(
    after: Mapping[str, Any], origins: Mapping[str, str], prefix: str, default_origin: str
) -> tuple[FieldChange, ...]:
    """Every leaf of ``after`` as a change from ``None``: what ``_leaves`` gives from nothing.

    Creates are most of a new fleet's plan, so this walks ``after`` once, without the
    comparisons and intermediate lists of the general path. Leaves are visited in the same
    order as ``_leaves`` visits them, so a later leaf with the same dotted path (a key holding
    a dot) replaces an earlier one exactly as in ``_as_changes``.
    """
    changes: dict[str, FieldChange] = {}

    def visit(mapping: Mapping[str, Any], dotted_prefix: str, head: str | None) -> None:
        for key in sorted(mapping):
            new = mapping[key]
            dotted = dotted_prefix + str(key)
            first = str(key) if head is None else head
            if _is_mapping(new):
                visit(new, dotted + ".", first)
                continue
            origin = origins.get(dotted)
            if origin is None:
                origin = origins.get(first, default_origin)
            # Interned: every tenant's create repeats the same few paths (~35 MB at 100,000).
            changes[dotted] = FieldChange(sys.intern(prefix + dotted), None, new, origin)

    visit(after, "", None)
    return tuple(changes[p] for p in sorted(changes))


#: JSON leaf types: never a Mapping, and checked by type first because ``isinstance`` against
#: the ``Mapping`` ABC costs more than the rest of a create's diff.
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def _is_mapping(value: Any) -> bool:
    kind = type(value)
    return kind is dict or (kind not in _LEAF_TYPES and isinstance(value, Mapping))


def _equal_ignoring_managed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    keys = (set(before) | set(after)) - set(SERVER_MANAGED_FIELDS)
    return all(before.get(k) == after.get(k) for k in keys)


def _missing(value: Any) -> bool:
    # DeepDiff marks the absent side of an added/removed item with its ``NotPresent`` sentinel.
    return type(value).__name__ == "NotPresent"


def _leaves(path: list[str], old: Any, new: Any) -> list[tuple[list[str], Any, Any]]:
    """Expand a change of (or to/from) a dict into one change per differing leaf."""
    if _is_mapping(old) or _is_mapping(new):
        old_map: Mapping[str, Any] = old if _is_mapping(old) else {}
        new_map: Mapping[str, Any] = new if _is_mapping(new) else {}
        result: list[tuple[list[str], Any, Any]] = []
        for key in sorted(set(old_map) | set(new_map)):
            o, n = old_map.get(key), new_map.get(key)
            if o != n or (key in old_map) != (key in new_map):
                result.extend(_leaves([*path, str(key)], o, n))
        return result
    return [(path, old, new)]
