"""What planning one tenant produces, before fleet-wide batching and ordering.

A small mutable accumulator used only inside the planner; ``build_plan`` turns the collected
outcomes into the frozen ``Plan``. Step ids are built here so that every module names steps the
same way: ``<tenant>/<action>`` for project-level steps, ``<tenant>/<action>/<name>`` for
branches, keys and endpoints, and ``transfer/<source>-><destination>/<n>`` for batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.plan import Action, Step

#: Stands in for the id of the (not yet batched) transfer step a tenant's steps depend on;
#: ``build_plan`` replaces it once transfers are grouped into batches.
TRANSFER_PLACEHOLDER = "\x00transfer"


def step_id(tenant: str, action: Action, name: str | None = None) -> str:
    """The deterministic id of a tenant's step, e.g. ``cust-1/create_branch/dev``."""
    return f"{tenant}/{action.value}" if name is None else f"{tenant}/{action.value}/{name}"


def transfer_step_id(source: str, destination: str, batch: int) -> str:
    """The id of the ``batch``-th (1-based) transfer batch from ``source`` to ``destination``."""
    return f"transfer/{source}->{destination}/{batch}"


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A tenant's project has to move between organisations."""

    tenant: str
    project_id: str
    source_org_id: str
    destination_org_id: str
    #: Steps the transfer must wait for (the tenant's ``adopt_project``).
    depends_on: tuple[str, ...] = ()
    #: Where the destination came from, e.g. ``tier paid``.
    origin: str = ""


@dataclass
class TenantOutcome:
    """Steps, blockers and warnings collected for one tenant."""

    tenant: str
    fingerprint: str
    steps: list[Step] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    transfer: TransferRequest | None = None
