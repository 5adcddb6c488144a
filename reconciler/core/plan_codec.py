"""The plan file codec: ``Plan`` ⇄ plain JSON-ready dicts (``schemas/plan.schema.json``).

``plan_from_dict(plan_to_dict(p)) == p`` and ``plan_to_dict(plan_from_dict(d)) == d`` for any
``d`` this module wrote. ``summary`` is written for readers (CI, humans) and recomputed on
reading, never trusted. Schema validation is the caller's job (``reconciler.render.json``
uses jsonschema, which core may not import); this codec still checks the shape it relies on and
raises ``PlanFileError`` naming the field, so a hand-edited file fails clearly, not with a
``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.plan import FORMAT_VERSION, Action, Blocker, FieldChange, Plan, Step
from reconciler.errors import PlanFileError


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan file document for ``plan`` (keys in a stable, readable order)."""
    return {
        "format_version": plan.format_version,
        "tool_version": plan.tool_version,
        "created_at": plan.created_at,
        "manifest_digest": plan.manifest_digest,
        "targets": list(plan.targets),
        "fingerprints": {t: plan.fingerprints[t] for t in sorted(plan.fingerprints)},
        "summary": plan.summary,
        "steps": [_step_to_dict(step) for step in plan.steps],
        "warnings": list(plan.warnings),
        "blockers": [{"tenant": b.tenant, "message": b.message} for b in plan.blockers],
        "meta": dict(plan.meta),
    }


def _step_to_dict(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "tenant": step.tenant,
        "action": step.action.value,
        "before": None if step.before is None else dict(step.before),
        "after": None if step.after is None else dict(step.after),
        "depends_on": list(step.depends_on),
        "reason": step.reason,
        "changes": [
            {"path": c.path, "old": c.old, "new": c.new, "origin": c.origin} for c in step.changes
        ],
    }


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """The ``Plan`` in a plan file document; ``PlanFileError`` names the first bad field."""
    version = _get(data, "format_version", int, "")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"plan file: format_version {version} is not supported (this tool reads "
            f"{FORMAT_VERSION}); make the plan again with this version of neon-fleet"
        )
    steps = _get(data, "steps", list, "")
    blockers = _get(data, "blockers", list, "")
    fingerprints = _get(data, "fingerprints", dict, "")
    return Plan(
        tool_version=_get(data, "tool_version", str, ""),
        manifest_digest=_get(data, "manifest_digest", str, ""),
        fingerprints={str(k): _text(v, f"fingerprints.{k}") for k, v in fingerprints.items()},
        steps=tuple(_step_from_dict(s, f"steps[{i}]") for i, s in enumerate(steps)),
        warnings=tuple(
            _text(w, f"warnings[{i}]") for i, w in enumerate(_get(data, "warnings", list, ""))
        ),
        blockers=tuple(
            Blocker(
                tenant=_get(_obj(b, f"blockers[{i}]"), "tenant", str, f"blockers[{i}]."),
                message=_get(_obj(b, f"blockers[{i}]"), "message", str, f"blockers[{i}]."),
            )
            for i, b in enumerate(blockers)
        ),
        created_at=_get(data, "created_at", str, ""),
        format_version=version,
        targets=tuple(
            _text(t, f"targets[{i}]") for i, t in enumerate(_get(data, "targets", list, ""))
        ),
        meta=dict(_get(data, "meta", dict, "")),
    )


def _step_from_dict(raw: Any, where: str) -> Step:
    data = _obj(raw, where)
    prefix = where + "."
    action_text = _get(data, "action", str, prefix)
    try:
        action = Action(action_text)
    except ValueError as exc:
        raise PlanFileError(f"plan file: {prefix}action: unknown action {action_text!r}") from exc
    tenant = data.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise PlanFileError(f"plan file: {prefix}tenant: expected a string or null")
    return Step(
        id=_get(data, "id", str, prefix),
        tenant=tenant,
        action=action,
        before=_optional_obj(data, "before", prefix),
        after=_optional_obj(data, "after", prefix),
        depends_on=tuple(
            _text(d, f"{prefix}depends_on[{i}]")
            for i, d in enumerate(_get(data, "depends_on", list, prefix))
        ),
        reason=_get(data, "reason", str, prefix),
        changes=tuple(
            _change_from_dict(c, f"{prefix}changes[{i}]")
            for i, c in enumerate(_get(data, "changes", list, prefix))
        ),
    )


def _change_from_dict(raw: Any, where: str) -> FieldChange:
    data = _obj(raw, where)
    for name in ("old", "new"):
        if name not in data:
            raise PlanFileError(f"plan file: {where}.{name}: missing")
    return FieldChange(
        path=_get(data, "path", str, where + "."),
        old=data["old"],
        new=data["new"],
        origin=_get(data, "origin", str, where + "."),
    )


def _get(data: Mapping[str, Any], name: str, kind: type, prefix: str) -> Any:
    if name not in data:
        raise PlanFileError(f"plan file: {prefix}{name}: missing")
    value = data[name]
    # bool is an int subclass; a boolean format_version is still wrong.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlanFileError(f"plan file: {prefix}{name}: expected {kind.__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PlanFileError(f"plan file: {where}: expected str")
    return value


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PlanFileError(f"plan file: {where}: expected an object")
    return value


def _optional_obj(data: Mapping[str, Any], name: str, prefix: str) -> dict[str, Any] | None:
    if name not in data:
        raise PlanFileError(f"plan file: {prefix}{name}: missing")
    value = data[name]
    if value is None:
        return None
    return dict(_obj(value, prefix + name))
