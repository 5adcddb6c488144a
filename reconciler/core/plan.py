"""The plan: a frozen, ordered list of steps that the applier executes and renderers explain.

A plan is data. ``reconciler.core.planner.build_plan`` makes one without I/O; the plan codec
(``reconciler.core.plan_codec``) turns it into the JSON plan file (``schemas/plan.schema.json``)
and back; ``reconciler.apply`` executes the steps; ``reconciler.render`` explains them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1


class Action(enum.StrEnum):
    """What a step does. The values are the plan file's ``action`` strings."""

    CREATE_PROJECT = "create_project"
    ADOPT_PROJECT = "adopt_project"
    UPDATE_PROJECT = "update_project"
    UPDATE_ENDPOINT = "update_endpoint"
    TRANSFER_PROJECTS = "transfer_projects"
    CREATE_BRANCH = "create_branch"
    UPDATE_BRANCH = "update_branch"
    DELETE_BRANCH = "delete_branch"
    CREATE_API_KEY = "create_api_key"
    REVOKE_API_KEY = "revoke_api_key"
    DELETE_PROJECT = "delete_project"


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: dotted ``path``, live ``old``, desired ``new`` and its origin."""

    path: str
    old: Any
    new: Any
    origin: str = ""


@dataclass(frozen=True)
class Step:
    """One unit of work.

    ``tenant`` is None only for batched steps (``transfer_projects``), whose ``after`` lists
    the tenants and project ids moved. ``before``/``after`` hold plain JSON values describing the
    resource; they never hold secrets.
    """

    id: str
    tenant: str | None
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    depends_on: tuple[str, ...] = ()
    reason: str = ""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class Blocker:
    """Something that stops a tenant's changes from being applied, and why."""

    tenant: str
    message: str


@dataclass(frozen=True)
class Plan:
    """A complete plan, ready to be saved, rendered or applied."""

    tool_version: str
    manifest_digest: str
    #: Live-state fingerprint per tenant the plan was built from (apply compares them).
    fingerprints: Mapping[str, str]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    created_at: str = ""
    format_version: int = FORMAT_VERSION
    #: Names of tenants the plan was restricted to (``--tenant``); empty means all.
    targets: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: The seal a plan file carried, verified when it was read (``plan_codec``); empty for a
    #: plan made in this process. Not part of equality: it is derived from the rest.
    seal: str = field(default="", compare=False)

    @property
    def summary(self) -> dict[str, int]:
        """Counts per action plus ``blockers`` and ``total``; stable key order."""
        counts = {action.value: 0 for action in Action}
        for step in self.steps:
            counts[step.action.value] += 1
        counts["blockers"] = len(self.blockers)
        counts["total"] = len(self.steps)
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.steps) or bool(self.blockers)
