"""What the step handlers share during one apply: client, keys, ledger, sink and bindings.

Bindings (tenant → project id, org id, branch ids) start from the plan's metadata and the
re-observed live state, and are filled in as creates, adoptions and transfers succeed, so later
steps of the same tenant find the ids that did not exist when the plan was made. Steps of one
tenant never run concurrently (the executor's lanes), so a tenant's binding has one writer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from reconciler.apply.secrets import SecretSink
from reconciler.core.model import LiveFleet, OwnedTenant
from reconciler.core.plan import PlannedBinding, Step
from reconciler.credentials import Credentials
from reconciler.errors import PlanFileError
from reconciler.ledger import Ledger
from reconciler.neon import NeonClient
from reconciler.neon.mutators import NeonWriter

P = TypeVar("P")

#: A step handler: performs one step against Neon, records it, returns the ids it touched.
Handler = Callable[["ApplyContext", Step], Mapping[str, Any]]


def payload_of(step: Step, kind: type[P]) -> P:
    """``step``'s payload, which the handler registered for its action knows the type of."""
    payload = step.payload
    if not isinstance(payload, kind):
        raise TypeError(f"step {step.id}: {type(payload).__name__} is not a {kind.__name__}")
    return payload


@dataclass
class TenantBinding:
    """The resolved identity of one tenant's project during an apply (mutable on purpose)."""

    tenant: str
    project_name: str
    org_id: str
    project_id: str | None = None
    prevent_destroy: bool = False
    digest: str = ""
    branch_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_planned(cls, tenant: str, planned: PlannedBinding) -> TenantBinding:
        """The binding a plan's contract records for ``tenant``, ready to be filled in."""
        return cls(
            tenant=tenant,
            project_name=planned.project_name,
            org_id=planned.org_id,
            project_id=planned.project_id,
            prevent_destroy=planned.prevent_destroy,
            digest=planned.digest,
        )


@dataclass(frozen=True)
class ProjectTarget:
    """What a step on an existing project needs: its binding, id, and the org key to use."""

    binding: TenantBinding
    project_id: str
    key: str = field(repr=False)


@dataclass(init=False)
class ApplyContext:
    """Shared by every handler of one apply run."""

    _reader: NeonClient = field(repr=False)
    credentials: Credentials
    ledger: Ledger
    sink: SecretSink | None
    bindings: dict[str, TenantBinding]
    now: Callable[[], datetime]
    operation_timeout: float = 300.0
    #: Transfer batch step id → (tenant → why its project did not move), read by the gates.
    transfer_failures: dict[str, dict[str, str]] = field(default_factory=dict)

    def __init__(
        self,
        client: NeonClient,
        credentials: Credentials,
        ledger: Ledger,
        sink: SecretSink | None,
        bindings: dict[str, TenantBinding],
        now: Callable[[], datetime],
        operation_timeout: float = 300.0,
    ) -> None:
        self._reader = client
        self.credentials, self.ledger, self.sink = credentials, ledger, sink
        self.bindings, self.now, self.operation_timeout = bindings, now, operation_timeout
        self.transfer_failures = {}

    @functools.cached_property
    def client(self) -> NeonWriter:
        """The only writer of Neon in the process, made from the caller's read client.

        app/ holds read clients only (an import-linter contract); the writer shares the
        reader's connection pool, limiter and call statistics.
        """
        return NeonWriter.over(self._reader)

    def binding(self, tenant: str | None) -> TenantBinding:
        if tenant is None or tenant not in self.bindings:
            raise PlanFileError(f"plan file: no binding for tenant {tenant!r} in meta.tenants")
        return self.bindings[tenant]

    def project_id(self, tenant: str | None) -> str:
        binding = self.binding(tenant)
        if not binding.project_id:
            raise PlanFileError(f"tenant {tenant}: its project id is not known yet")
        return binding.project_id

    def target(self, tenant: str | None) -> ProjectTarget:
        """The tenant's project and the key of the org it is in now (after any transfer)."""
        binding = self.binding(tenant)
        project_id = self.project_id(tenant)
        return ProjectTarget(binding, project_id, self.credentials.org_key(binding.org_id))

    def record(self, tenant: str, change: Callable[[OwnedTenant], OwnedTenant]) -> None:
        """Read-modify-write a tenant's ledger record in one transaction (no lock needed here)."""
        binding = self.binding(tenant)
        fresh = OwnedTenant(
            tenant=tenant,
            project_id=binding.project_id or "",
            org_id=binding.org_id,
            prevent_destroy=binding.prevent_destroy,
        )
        self.ledger.update_tenants({tenant: change}, defaults={tenant: fresh})

    def seed_branch_ids(self, live: LiveFleet) -> None:
        """Remember the branch ids re-observation found, so creates can name their parents."""
        for binding in self.bindings.values():
            project = live.projects.get(binding.project_id or "")
            if project is not None and project.branches is not None:
                binding.branch_ids.update({b.name: b.id for b in project.branches})
