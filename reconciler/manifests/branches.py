"""Semantic checks of a tenant's declared branches, and their conversion to ``BranchSpec``.

Rules (Neon's, see neon-api-notes §5): every project has the default branch ``main``; a branch's
parent is ``main`` or another declared branch, and parents form no cycle; expiry is relative
(``expires_in``) or absolute (``expires_at``, RFC 3339 UTC), never both, at most 30 days ahead,
and never on ``main``, on a protected branch, or on a branch that other branches are created
from. The number of branches besides ``main`` stays within the tier's ``max_branches`` (the
planner counts the same way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.catalog import DEFAULT_BRANCH, BranchCompute
from reconciler.core.model import BranchSpec
from reconciler.errors import Problem
from reconciler.manifests.timing import (
    MAX_EXPIRY_SECONDS,
    format_utc,
    parse_duration,
    parse_utc_timestamp,
)
from reconciler.manifests.wording import unknown
from reconciler.manifests.yaml_source import SourceDocument

_BRANCHES = ("spec", "branches")


def branch_problems(
    doc: SourceDocument,
    branches: Sequence[Mapping[str, Any]],
    *,
    tier: str,
    max_branches: int | None,
    now: datetime,
) -> list[Problem]:
    """Every problem with one tenant's ``spec.branches`` (already schema-valid)."""
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for i, branch in enumerate(branches):
        name = branch["name"]
        if name in first_index:
            message = f"duplicate branch name {name!r}; already declared at spec.branches"
            problems.append(doc.problem((*_BRANCHES, i, "name"), f"{message}[{first_index[name]}]"))
        else:
            first_index[name] = i
    names = set(first_index)
    children = {b.get("parent", DEFAULT_BRANCH) for b in branches if b["name"] != DEFAULT_BRANCH}
    for i, branch in enumerate(branches):
        problems.extend(_one_branch(doc, i, branch, names, children, now))
    problems.extend(_cycles(doc, branches))
    total = len(names - {DEFAULT_BRANCH})
    if max_branches is not None and total > max_branches:
        message = (
            f"{total} branches (besides {DEFAULT_BRANCH}) exceed tier {tier}'s "
            f"max_branches of {max_branches}"
        )
        problems.append(doc.problem(_BRANCHES, message))
    return problems


def _one_branch(
    doc: SourceDocument,
    i: int,
    branch: Mapping[str, Any],
    names: set[str],
    children: set[str],
    now: datetime,
) -> list[Problem]:
    here = (*_BRANCHES, i)
    name = branch["name"]
    problems: list[Problem] = []
    is_default = name == DEFAULT_BRANCH
    parent = branch.get("parent")
    if is_default and parent is not None:
        problems.append(doc.problem((*here, "parent"), f"the default branch {name} has no parent"))
    elif parent is not None and parent != DEFAULT_BRANCH and parent not in names:
        options = names | {DEFAULT_BRANCH}
        problems.append(doc.problem((*here, "parent"), unknown("parent branch", parent, options)))
    compute = branch.get("compute", {})
    low, high = compute.get("min_cu"), compute.get("max_cu")
    if low is not None and high is not None and low > high:
        message = f"min_cu {low} is greater than max_cu {high}"
        problems.append(doc.problem((*here, "compute"), message))
    if is_default and "compute" in branch:
        message = f"the default branch {name}'s compute is the tenant's compute setting"
        problems.append(doc.problem((*here, "compute"), message))
    expiry_keys = [k for k in ("expires_in", "expires_at") if k in branch]
    if len(expiry_keys) == 2:
        message = "set expires_in or expires_at, not both"
        return [*problems, doc.problem((*here, "expires_at"), message)]
    if not expiry_keys:
        return problems
    key = expiry_keys[0]
    reason = _expiry_problem(branch[key], key, now)
    if reason is None and is_default:
        reason = f"the default branch {name} cannot expire"
    if reason is None and branch.get("protected", False):
        reason = "a protected branch cannot expire"
    if reason is None and name in children:
        reason = f"branch {name!r} cannot expire because other branches are created from it"
    if reason is not None:
        problems.append(doc.problem((*here, key), reason))
    return problems


def _expiry_problem(value: str, key: str, now: datetime) -> str | None:
    if key == "expires_in":
        seconds = parse_duration(value)
        if seconds is not None and seconds > MAX_EXPIRY_SECONDS:
            return f"{value} is more than 30 days; Neon allows branch expiry at most 30d ahead"
        return None
    moment, reason = parse_utc_timestamp(value)
    if moment is None:
        return f"{reason}, got {value!r}"
    if moment <= now:
        return f"{value} is in the past (now is {format_utc(now)})"
    if moment > now + timedelta(seconds=MAX_EXPIRY_SECONDS):
        return f"{value} is more than 30 days ahead (now is {format_utc(now)})"
    return None


def _cycles(doc: SourceDocument, branches: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """One problem per parent cycle, reported at the earliest declared branch of the cycle."""
    parent_of = {
        b["name"]: b.get("parent", DEFAULT_BRANCH) for b in branches if b["name"] != DEFAULT_BRANCH
    }
    index_of = {b["name"]: i for i, b in reversed(list(enumerate(branches)))}
    reported: set[str] = set()
    problems: list[Problem] = []
    for start in parent_of:
        trail: list[str] = []
        node = start
        while node in parent_of and node not in trail and node not in reported:
            trail.append(node)
            node = parent_of[node]
        if node in trail:  # the walk came back to itself: a cycle
            cycle = trail[trail.index(node) :]
            reported.update(cycle)
            first = min(cycle, key=index_of.__getitem__)
            order = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
            shown = " -> ".join([*order, first])
            field = (*_BRANCHES, index_of[first], "parent")
            problems.append(doc.problem(field, f"branch parents form a cycle: {shown}"))
        reported.update(trail)
    return problems


def to_branch_specs(branches: Sequence[Mapping[str, Any]]) -> tuple[BranchSpec, ...]:
    """Schema- and semantics-valid branch mappings as ``BranchSpec``s, in declared order."""
    specs: list[BranchSpec] = []
    for branch in branches:
        expires_in = branch.get("expires_in")
        expires_at = branch.get("expires_at")
        moment = parse_utc_timestamp(expires_at)[0] if expires_at is not None else None
        specs.append(
            BranchSpec(
                name=branch["name"],
                # main is the root: its parent is "" (the schema default would say "main")
                parent=""
                if branch["name"] == DEFAULT_BRANCH
                else branch.get("parent", DEFAULT_BRANCH),
                protected=bool(branch.get("protected", False)),
                expires_in_seconds=parse_duration(expires_in) if expires_in else None,
                expires_at=format_utc(moment) if moment is not None else None,
                compute=_compute(branch.get("compute")),
            )
        )
    return tuple(specs)


def _compute(block: Mapping[str, Any] | None) -> BranchCompute | None:
    if block is None:
        return None
    timeout = block.get("suspend_timeout")
    return BranchCompute(
        min_cu=block.get("min_cu"),
        max_cu=block.get("max_cu"),
        suspend_timeout=int(timeout) if timeout is not None else None,
    )
