"""The plan: a frozen, ordered list of steps that the applier executes and renderers explain.

A plan is data. ``reconciler.core.planner.build_plan`` makes one without I/O; the plan codec
(``reconciler.core.plan_codec``) turns it into the JSON plan file (``schemas/plan.schema.json``)
and back; ``reconciler.apply`` executes the steps; ``reconciler.render`` explains them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.plan_contract import ApplyContract, PlannedBinding
from reconciler.core.plan_payloads import (
    ALWAYS_COUNTED,
    PAYLOAD_TYPES,
    Action,
    JsonObject,
    Payload,
    TransferProjects,
)

__all__ = [
    "FORMAT_VERSION",
    "PAYLOAD_TYPES",
    "Action",
    "ApplyContract",
    "Blocker",
    "FieldChange",
    "JsonObject",
    "Payload",
    "Plan",
    "PlannedBinding",
    "Step",
]

#: The plan file format; readers refuse any other version (``plan_codec``).
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: dotted ``path``, live ``old``, desired ``new`` and its origin."""

    path: str
    old: Any
    new: Any
    origin: str = ""


@dataclass(frozen=True)
class Step:
    """One unit of work: what it acts on is its typed ``payload`` (``plan_payloads``).

    ``tenant`` is None only for batched steps (``transfer_projects``), whose payload lists the
    tenants and project ids moved. Payloads never hold secrets.
    """

    id: str
    tenant: str | None
    payload: Payload
    depends_on: tuple[str, ...] = ()
    reason: str = ""
    changes: tuple[FieldChange, ...] = ()

    @property
    def action(self) -> Action:
        return self.payload.ACTION

    @property
    def before(self) -> JsonObject | None:
        """The plan file's ``before`` object (for display and comparison, not for acting)."""
        return self.payload.before_json()

    @property
    def after(self) -> JsonObject | None:
        """The plan file's ``after`` object (for display and comparison, not for acting)."""
        return self.payload.after_json()

    @property
    def tenants(self) -> tuple[str, ...]:
        """The tenants the step acts for: its own, or every tenant a transfer batch moves."""
        if isinstance(self.payload, TransferProjects):
            return self.payload.tenants
        return () if self.tenant is None else (self.tenant,)


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
    #: What apply needs besides the steps (the plan file's ``meta``).
    contract: ApplyContract = field(default_factory=ApplyContract)
    #: The seal a plan file carried, verified when it was read (``plan_codec``); empty for a
    #: plan made in this process. Not part of equality: it is derived from the rest.
    seal: str = field(default="", compare=False)

    @property
    def summary(self) -> dict[str, int]:
        """Counts per action plus ``blockers`` and ``total``; stable key order."""
        counts = {action.value: 0 for action in ALWAYS_COUNTED}
        present = {step.action for step in self.steps}
        # Later actions are counted only where they occur (see ``ALWAYS_COUNTED``).
        counts.update({a.value: 0 for a in Action if a in present and a.value not in counts})
        for step in self.steps:
            counts[step.action.value] += 1
        counts["blockers"] = len(self.blockers)
        counts["total"] = len(self.steps)
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.steps) or bool(self.blockers)
