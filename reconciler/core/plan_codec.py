"""The plan file codec: ``Plan`` ⇄ plain JSON-ready dicts (``schemas/plan.schema.json``).

``plan_from_dict(plan_to_dict(p)) == p`` and ``plan_to_dict(plan_from_dict(d)) == d`` for any
``d`` this module wrote. ``summary`` is written for readers (CI, humans) and recomputed on
reading. This codec checks the shape it relies on and raises ``PlanFileError`` naming the field,
so a hand-edited file fails clearly, not with a ``KeyError``; jsonschema (which core may not
import) is only used by callers to explain a failure.

**The seal.** Every document carries ``seal``: ``sha256:`` over ``canonical_json`` of the
document without ``seal`` (sorted keys, no whitespace, UTF-8). ``plan_from_dict`` refuses a
document whose seal is missing or does not match, so an edit made after ``fleet plan`` wrote the
file is caught before anything is contacted. ``plan_digest`` is the same value for a ``Plan``;
the ledger records it as the run's plan digest. A seal catches accidents, not attackers (anyone
can recompute it): ``fleet apply PLANFILE`` also re-plans from the manifests and refuses steps
they would not produce (``reconciler.app.plan_trust``).

**One pass.** ``plan_document`` gives the sealed document entry by entry, its steps one at a
time, and hashes each piece's canonical JSON as it goes: a 100,000-tenant plan is never held
as one dict or one canonical string, and saving it renders each step once for the file and
once (compact, by the C encoder) for the seal. ``plan_to_dict`` and ``plan_digest`` are the
same walk, so the file, the dict and the digest cannot disagree.

**Bounded reading.** ``plan_from_text`` refuses JSON nested deeper than ``MAX_NESTING`` before
parsing (so no ``RecursionError`` can happen), numbers that are not finite, and a step graph
with unknown ``depends_on`` ids or a cycle.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.context import parse_instant
from reconciler.core.graph import topological_order
from reconciler.core.json_text import compact_sorted
from reconciler.core.plan import (
    FORMAT_VERSION,
    Action,
    ApplyContract,
    Blocker,
    FieldChange,
    Plan,
    Step,
)
from reconciler.core.plan_payloads import payload_from_json
from reconciler.errors import PlanError, PlanFileError

#: How deep a plan file may nest arrays and objects. Plans the tool writes stay under 10; the
#: bound keeps ``json`` and every later walk of the document far from the recursion limit.
MAX_NESTING = 64
SEAL_PREFIX = "sha256:"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")

#: One encoder for every canonical text (see ``json_text``).
_CANONICAL = compact_sorted(allow_nan=False)
#: The document entry whose value ``plan_document`` yields as an iterator of step dicts.
STEPS = "steps"


def canonical_json(document: Any) -> str:
    """The canonical text the seal is computed over: sorted keys, no whitespace, UTF-8."""
    return _CANONICAL(document)


def seal_of(document: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of ``document`` without its ``seal``."""
    unsealed = {k: v for k, v in document.items() if k != "seal"}
    return SEAL_PREFIX + hashlib.sha256(canonical_json(unsealed).encode("utf-8")).hexdigest()


def plan_digest(plan: Plan) -> str:
    """The plan's seal: what the plan file carries and the ledger records for its run."""
    seal = ""
    for name, value in plan_document(plan):
        if name == "seal":
            seal = value
    return seal


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The sealed plan file document for ``plan`` (keys in a stable, readable order)."""
    return {name: list(value) if name == STEPS else value for name, value in plan_document(plan)}


def plan_document(plan: Plan) -> Iterator[tuple[str, Any]]:
    """The sealed document's (name, value) entries in file order, ``seal`` last.

    The value of ``steps`` is an iterator of step dicts made one at a time; each is hashed as
    it is handed out, and whatever the caller did not take is hashed before the next entry.
    The seal is the same ``sha256`` over the canonical JSON of the unsealed document that
    ``seal_of`` computes on a whole dict: sorted keys, the steps array in place.
    """
    head: dict[str, Any] = {
        "format_version": plan.format_version,
        "tool_version": plan.tool_version,
        "created_at": plan.created_at,
        "manifest_digest": plan.manifest_digest,
        "targets": list(plan.targets),
        "fingerprints": {t: plan.fingerprints[t] for t in sorted(plan.fingerprints)},
        "summary": plan.summary,
    }
    tail: dict[str, Any] = {
        "warnings": list(plan.warnings),
        "blockers": [{"tenant": b.tenant, "message": b.message} for b in plan.blockers],
        "meta": plan.contract.to_json(),
    }
    small = {**head, **tail}
    names = sorted([*small, STEPS])
    at = names.index(STEPS)
    members = [canonical_json(n) + ":" + canonical_json(small[n]) for n in names if n in small]
    hasher = hashlib.sha256()
    opening = ",".join([*members[:at], canonical_json(STEPS) + ":["])
    hasher.update(("{" + opening).encode("utf-8"))

    def steps() -> Iterator[dict[str, Any]]:
        for index, step in enumerate(plan.steps):
            document = _step_to_dict(step)
            text = canonical_json(document)
            hasher.update(("," + text if index else text).encode("utf-8"))
            yield document

    yield from head.items()
    pending = steps()
    yield STEPS, pending
    for _ in pending:  # steps the caller left: the seal covers every one
        pass
    closing = "".join("," + member for member in members[at:])
    hasher.update(("]" + closing + "}").encode("utf-8"))
    yield from tail.items()
    yield "seal", SEAL_PREFIX + hasher.hexdigest()


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


def plan_from_text(text: str) -> Plan:
    """The ``Plan`` in a plan file's text: bounded parse, shape, step graph, then the seal."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise PlanFileError(
            f"plan file: nested {depth} levels deep (at most {MAX_NESTING}); not a plan file"
        )
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # RecursionError: belt and braces
        raise PlanFileError(f"not a JSON plan file: {exc}") from None
    return plan_from_dict(_obj(data, "plan file: (top level)"))


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (strings are skipped)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a plan file may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large for a plan file")
    return value


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """The ``Plan`` in a sealed plan file document; ``PlanFileError`` names the first problem.

    Shape first (naming the field), then the step graph (unique ids, known ``depends_on``,
    no cycle), then the seal.
    """
    plan = _plan_shape(data)
    _check_graph(plan.steps)
    return replace(plan, seal=_check_seal(data))


def _check_graph(steps: tuple[Step, ...]) -> None:
    deps: dict[str, tuple[str, ...]] = {}
    for step in steps:
        if step.id in deps:
            raise PlanFileError(f"plan file: two steps share the id {step.id!r}")
        deps[step.id] = step.depends_on
    try:
        topological_order(deps)
    except PlanError as exc:
        raise PlanFileError(f"plan file: {exc}") from None


def _check_seal(data: Mapping[str, Any]) -> str:
    """The document's seal, once it is known to match its content."""
    seal = data.get("seal")
    if not isinstance(seal, str) or not seal.startswith(SEAL_PREFIX):
        raise PlanFileError(
            "plan file: seal: missing (made by an older neon-fleet, or modified after it was "
            "made): make the plan again with fleet plan"
        )
    try:
        expected = seal_of(data)
    except (ValueError, RecursionError) as exc:
        raise PlanFileError(f"plan file: cannot compute the seal: {exc}") from None
    if seal != expected:
        raise PlanFileError(
            "plan file: the plan file was modified after it was made (its seal does not match "
            "its content); make the plan again with fleet plan"
        )
    return seal


def _plan_shape(data: Mapping[str, Any]) -> Plan:
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
        created_at=_instant(_get(data, "created_at", str, ""), "created_at"),
        format_version=version,
        targets=tuple(
            _text(t, f"targets[{i}]") for i, t in enumerate(_get(data, "targets", list, ""))
        ),
        contract=ApplyContract.from_json(_get(data, "meta", dict, "")),
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
    before = _optional_obj(data, "before", prefix)
    after = _optional_obj(data, "after", prefix)
    return Step(
        id=_get(data, "id", str, prefix),
        tenant=tenant,
        payload=payload_from_json(action, before, after, where),
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


def _instant(value: str, where: str) -> str:
    # Apply re-plans with this as "now": a bad value must fail here, before anything is read.
    try:
        parse_instant(value)
    except ValueError:
        raise PlanFileError(
            f"plan file: {where}: not an RFC 3339 timestamp: {value[:40]!r}"
        ) from None
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
