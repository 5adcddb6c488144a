"""Which live project belongs to a tenant.

In order of precedence:

1. the ledger's record (``OwnedTenant.project_id``) when live still has that project;
2. an explicit binding (``DesiredTenant.project_id``, from ``fleet import``);
3. the live project(s) carrying the tenant's deterministic ``project_name`` in a managed org.

Name matching only happens for declared tenants: a project is deleted only when the ledger
owns it, never because its name looks like ours. Two projects with the same name are reported
as ``candidates`` and the planner turns them into a blocker instead of guessing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.model import (
    DesiredFleet,
    DesiredTenant,
    LedgerView,
    LiveFleet,
    LiveProject,
    OwnedTenant,
)


class MatchKind(enum.StrEnum):
    """How the project was found."""

    LEDGER = "ledger"
    BINDING = "binding"
    NAME = "name"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ProjectMatch:
    """The outcome of matching one tenant against live state."""

    kind: MatchKind
    project: LiveProject | None
    #: Every live project that matched by name (more than one means ambiguous).
    candidates: tuple[LiveProject, ...]
    record: OwnedTenant | None
    #: The ledger names a project that live does not have (deleted behind our back?).
    ledger_project_missing: bool = False
    #: The manifest binds a project id that live does not have.
    binding_missing: bool = False
    #: Another tenant's ledger record owns the matched project (a project has one tenant).
    owned_by: str | None = None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def match_project(
    name: str,
    tenant: DesiredTenant | None,
    live: LiveFleet,
    ledger: LedgerView,
    *,
    by_name: Mapping[str, Sequence[LiveProject]],
    managed_orgs: frozenset[str],
    owners: Mapping[str, str] | None = None,
) -> ProjectMatch:
    """Match tenant ``name`` (declared as ``tenant``, or None when removed) to a live project.

    ``by_name`` is ``live.by_name()`` and ``owners`` is ``project_owners(ledger)``, passed in so
    a fleet-wide plan computes them only once. A project found by binding or name that another
    tenant's record owns is reported in ``owned_by``; the planner decides what that means.
    """
    record = ledger.tenants.get(name)
    missing = record is not None and record.project_id not in live.projects
    if record is not None and not missing:
        project = live.projects[record.project_id]
        return ProjectMatch(MatchKind.LEDGER, project, (project,), record)
    if tenant is None:
        return ProjectMatch(MatchKind.NONE, None, (), record, ledger_project_missing=missing)
    owner_of = owners if owners is not None else project_owners(ledger)
    if tenant.project_id is not None:
        bound = live.projects.get(tenant.project_id)
        if bound is not None:
            owner = _other(owner_of.get(bound.id), name)
            return ProjectMatch(MatchKind.BINDING, bound, (bound,), record, missing, owned_by=owner)
        return ProjectMatch(MatchKind.NONE, None, (), record, missing, binding_missing=True)
    candidates = tuple(
        sorted(
            (p for p in by_name.get(tenant.project_name, ()) if p.org_id in managed_orgs),
            key=lambda p: p.id,
        )
    )
    if len(candidates) == 1:
        owner = _other(owner_of.get(candidates[0].id), name)
        return ProjectMatch(
            MatchKind.NAME, candidates[0], candidates, record, missing, owned_by=owner
        )
    return ProjectMatch(MatchKind.NONE, None, candidates, record, missing)


def match_tenants(
    desired: DesiredFleet, live: LiveFleet, ledger: LedgerView, names: Iterable[str]
) -> dict[str, ProjectMatch]:
    """``match_project`` for each of ``names`` (declared or only recorded), indexing once."""
    by_name = live.by_name()
    managed = frozenset(org.id for org in desired.fleet.orgs.values())
    owners = project_owners(ledger)
    return {
        name: match_project(
            name,
            desired.tenants.get(name),
            live,
            ledger,
            by_name=by_name,
            managed_orgs=managed,
            owners=owners,
        )
        for name in names
    }


def project_owners(ledger: LedgerView) -> dict[str, str]:
    """Project id → the tenant whose ledger record owns it."""
    return {record.project_id: name for name, record in ledger.tenants.items()}


def _other(owner: str | None, name: str) -> str | None:
    return owner if owner is not None and owner != name else None
