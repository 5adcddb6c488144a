"""A small fleet run end to end in process: manifests on disk, the emulator, a SQLite ledger.

``FleetHarness`` drives the same use cases the CLI does (``apply PATH`` is: lock, recover,
plan, apply; ``keys rotate``) against an in-memory emulator whose faults a test can switch on,
and audits the outcome the way issue 18 asks: orphan keys (live in Neon, not in the ledger),
ledger rows pointing at revoked keys or missing projects, sink tokens that do not authenticate,
duplicate projects.

Emulator key ids are made increasing (as Neon's are), so "the lowest id" is always the oldest
key; that is what made the planner revoke a rotation's new key.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app import applying, keys, planning
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.apply.executor import ExecutionReport
from reconciler.apply.recovery import RecoveryReport
from reconciler.core.model import DesiredFleet, LedgerView
from reconciler.core.plan import Plan
from reconciler.emulator import Emulator, Faults, seed_from_mapping
from reconciler.emulator import ids as emulator_ids
from reconciler.errors import OutcomeUnknown
from reconciler.ledger import open_ledger
from reconciler.neon import NeonClient, RateLimiter, RetryPolicy
from reconciler.neon.mutators import NeonWriter

BASE_URL = "http://emulator.test/api/v2"
ORGS = {"free": "org-free", "paid": "org-paid"}
ENVIRON = {
    "NEON_FREE_KEY": "org-key-free",
    "NEON_PAID_KEY": "org-key-paid",
    "NEON_PERSONAL_KEY": "personal-key",
}
SEED = {
    "orgs": [{"id": org, "name": alias, "plan": "agent"} for alias, org in ORGS.items()],
    "keys": [
        {
            "token": ENVIRON["NEON_PERSONAL_KEY"],
            "kind": "personal",
            "orgs": {org: "admin" for org in ORGS.values()},
        },
        {"token": ENVIRON["NEON_FREE_KEY"], "kind": "org", "org": "org-free"},
        {"token": ENVIRON["NEON_PAID_KEY"], "kind": "org", "org": "org-paid"},
    ],
    "limits": {"requests_per_minute": 1_000_000, "route_requests_per_second": 1_000_000},
    "operation_duration_ms": 0,
}
#: Quick retries: the faults are what is under test, not the backoff schedule.
FAST_RETRY = RetryPolicy(backoffs=(0.001,) * 7, max_total_seconds=30.0, jitter=0.0)

FLEET = """\
apiVersion: neon-fleet/v1
kind: Fleet
metadata: {{name: faults}}
spec:
  orgs:
    free: {{id: org-free, api_key_env: NEON_FREE_KEY}}
    paid: {{id: org-paid, api_key_env: NEON_PAID_KEY}}
  personal_api_key_env: NEON_PERSONAL_KEY
  defaults: {{region: aws-us-east-2, pg_version: 17}}
  project_name: "t-{{tenant}}"
  policy: {{prune: {prune}, max_deletes: 100, parallelism: {parallelism}}}
  secrets: {{file: secrets}}
---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {{name: free}}
spec:
  org: free
  quota: {{compute_time_seconds: 9000}}
---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {{name: pro}}
spec:
  org: paid
  quota: {{compute_time_seconds: 360000}}
"""


@dataclass(frozen=True)
class TenantSpec:
    """One declared tenant: its tier and the names of its project-scoped keys."""

    tier: str = "free"
    keys: tuple[str, ...] = ("runtime",)


@dataclass
class Audit:
    """What issue 18 counts after a run; every list should be empty."""

    orphan_keys: list[int] = field(default_factory=list)
    rows_of_revoked_keys: list[str] = field(default_factory=list)
    rows_of_missing_projects: list[str] = field(default_factory=list)
    invalid_sink_tokens: list[str] = field(default_factory=list)
    duplicate_projects: list[str] = field(default_factory=list)
    open_intents: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_keys
            or self.rows_of_revoked_keys
            or self.rows_of_missing_projects
            or self.invalid_sink_tokens
            or self.duplicate_projects
            or self.open_intents
        )


class _EmulatedEnvironment(Environment):
    """The CLI's adapters, with the Neon client talking to the in-process emulator."""

    def __init__(self, harness: FleetHarness, desired: DesiredFleet) -> None:
        options = GlobalOptions(
            ledger_url=harness.ledger_url, workdir=harness.workdir, environ=dict(ENVIRON)
        )
        super().__init__(options, desired.fleet)
        self._emulator = harness.emulator

    def client(self) -> NeonClient:
        if self._client is None:
            self._client = NeonClient(
                BASE_URL,
                transport=httpx.WSGITransport(app=self._emulator),
                limiter=RateLimiter(account_per_minute=1_000_000, route_per_second=1_000_000),
                retry=FAST_RETRY,
                sleep=lambda _seconds: None,
            )
        return self._client


@dataclass
class RunResult:
    """One ``apply PATH``: what recovery settled, the plan, and the executor's report."""

    recovered: RecoveryReport
    plan: Plan
    report: ExecutionReport | None


class FleetHarness:
    """A fleet in ``workdir`` against one in-memory emulator; see the module docstring."""

    def __init__(
        self, workdir: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str | None = None
    ) -> None:
        self.workdir = workdir
        self.manifests = workdir / "fleet"
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.ledger_url = ledger_url or f"sqlite:///{workdir / 'ledger.db'}"
        counter = itertools.count(1_000)
        monkeypatch.setattr(emulator_ids, "api_key_id", lambda: next(counter))
        self.emulator = Emulator(None, seed_from_mapping(SEED))
        self.write({}, prune=True)

    @classmethod
    def applied(
        cls,
        workdir: Path,
        monkeypatch: pytest.MonkeyPatch,
        ledger_url: str,
        tenants: Mapping[str, TenantSpec],
    ) -> FleetHarness:
        """A harness whose ``tenants`` were applied once, cleanly."""
        fleet = cls(workdir, monkeypatch, ledger_url)
        fleet.write(tenants)
        run = fleet.apply()
        assert run.report is not None and run.report.ok
        return fleet

    # ------------------------------------------------------------------ manifests

    def write(
        self, tenants: Mapping[str, TenantSpec], *, prune: bool = True, parallelism: int = 1
    ) -> None:
        """(Re)write the manifests: the Fleet and tiers, and exactly ``tenants``."""
        text = FLEET.format(prune=str(prune).lower(), parallelism=parallelism)
        (self.manifests / "fleet.yaml").write_text(text)
        documents = [
            "apiVersion: neon-fleet/v1\nkind: Tenant\n"
            f"metadata: {{name: {name}}}\n"
            f"spec:\n  tier: {spec.tier}\n"
            + (f"  api_keys: [{', '.join(f'{{name: {k}}}' for k in spec.keys)}]\n")
            for name, spec in sorted(tenants.items())
        ]
        (self.manifests / "tenants.yaml").write_text("---\n".join(documents) or "")

    def desired(self) -> DesiredFleet:
        return planning.validate(self.manifests)

    # ------------------------------------------------------------------ use cases

    def environment(self) -> Environment:
        return _EmulatedEnvironment(self, self.desired())

    def apply(self) -> RunResult:
        """``fleet apply fleet --auto-approve``: lock, recover, plan, apply."""
        desired = self.desired()
        with (
            _EmulatedEnvironment(self, desired) as env,
            applying.apply_session(env) as recovered,
        ):
            result = planning.make_plan(env, desired, refresh="all")
            if not result.plan.steps:
                return RunResult(recovered, result.plan, None)
            outcome = applying.apply_plan(env, result.plan, planned_from=result.live)
            return RunResult(recovered, result.plan, outcome.report)

    def apply_ok(self) -> RunResult:
        """``apply``, which must finish without a failed step."""
        run = self.apply()
        assert run.report is None or run.report.ok, run.report
        return run

    def assert_settled(self, tenants: Mapping[str, TenantSpec]) -> None:
        """Nothing left to plan, and the audit of ``tenants`` finds nothing."""
        assert self.plan().steps == ()
        audit = self.audit(tenants)
        assert audit.clean, audit

    def plan(self) -> Plan:
        """``fleet plan fleet`` (no recovery, no writes)."""
        desired = self.desired()
        with _EmulatedEnvironment(self, desired) as env:
            return planning.make_plan(env, desired, refresh="all").plan

    def rotate(self, tenant: str) -> ExecutionReport:
        """``fleet keys rotate fleet TENANT``."""
        desired = self.desired()
        with _EmulatedEnvironment(self, desired) as env:
            return keys.rotate(env, desired, tenant, ()).report

    # ------------------------------------------------------------------ looking

    def faults(self, faults: Faults | None) -> None:
        self.emulator.set_faults(faults or Faults())

    @property
    def client(self) -> NeonWriter:
        """A writer: tests change Neon behind the fleet's back with it."""
        return NeonWriter(
            BASE_URL,
            transport=httpx.WSGITransport(app=self.emulator),
            limiter=RateLimiter(account_per_minute=1_000_000, route_per_second=1_000_000),
        )

    def live_keys(self) -> dict[int, tuple[str, str | None]]:
        """Every live project-scoped key: id → (name, project id)."""
        with self.client as client:
            return {
                k.id: (k.name, k.project_id)
                for org in ORGS.values()
                for k in client.list_org_api_keys(ENVIRON[_env_of(org)], org)
                if k.project_id
            }

    def live_projects(self) -> dict[str, str]:
        """Every live project: id → name."""
        return {project_id: name for project_id, (name, _) in self._listed().items()}

    def live_orgs(self) -> dict[str, str | None]:
        """Every live project: id → the org it is in."""
        return {project_id: org for project_id, (_, org) in self._listed().items()}

    def _listed(self) -> dict[str, tuple[str, str | None]]:
        with self.client as client:
            return {
                p.id: (p.name, p.org_id)
                for org in ORGS.values()
                for p in client.list_projects(ENVIRON[_env_of(org)], org_id=org).projects
            }

    def view(self) -> LedgerView:
        with open_ledger(self.ledger_url) as ledger:
            return ledger.view()

    def open_intents(self) -> int:
        with open_ledger(self.ledger_url) as ledger:
            return len(ledger.pending_intents())

    def sink_document(self, tenant: str, key: str) -> dict[str, object]:
        path = self.workdir / "secrets" / tenant / f"{key}.json"
        document: dict[str, object] = json.loads(path.read_text())
        return document

    def token_works(self, document: Mapping[str, object]) -> bool:
        """Whether the sink's token authenticates against its own project."""
        transport = httpx.WSGITransport(app=self.emulator)
        with httpx.Client(transport=transport, base_url=BASE_URL) as http:
            answer = http.get(
                f"/projects/{document['project_id']}",
                headers={"Authorization": f"Bearer {document['token']}"},
            )
        return answer.status_code == 200

    def audit(self, tenants: Mapping[str, TenantSpec]) -> Audit:
        """Count what issue 18 counts; ``tenants`` are the ones declared now."""
        self.faults(None)
        live_keys, projects, view = self.live_keys(), self.live_projects(), self.view()
        recorded = {k.key_id: name for name, t in view.tenants.items() for k in t.keys.values()}
        audit = Audit(open_intents=self.open_intents())
        audit.orphan_keys = sorted(set(live_keys) - set(recorded))
        audit.rows_of_revoked_keys = sorted(
            f"{tenant}:{key_id}" for key_id, tenant in recorded.items() if key_id not in live_keys
        )
        audit.rows_of_missing_projects = sorted(
            name for name, t in view.tenants.items() if t.project_id not in projects
        )
        for name, spec in sorted(tenants.items()):
            for key in spec.keys:
                path = f"{name}/{key}"
                try:
                    document = self.sink_document(name, key)
                except FileNotFoundError:
                    audit.invalid_sink_tokens.append(f"{path} (missing)")
                    continue
                owned = view.tenants.get(name)
                ids = {k.key_id for k in owned.keys.values()} if owned else set()
                if not self.token_works(document) or document["key_id"] not in ids:
                    audit.invalid_sink_tokens.append(path)
        counts = Counter(projects.values())
        audit.duplicate_projects = sorted(n for n, c in counts.items() if c > 1)
        return audit


def _env_of(org: str) -> str:
    return "NEON_FREE_KEY" if org == "org-free" else "NEON_PAID_KEY"


def step_ids(plan: Plan) -> list[str]:
    return [step.id for step in plan.steps]


def reasons(plan: Plan) -> dict[str, str]:
    return {step.id: step.reason for step in plan.steps}


def fleet_of(count: int, **overrides: TenantSpec) -> dict[str, TenantSpec]:
    """``count`` free tenants ``t00``… with one key each, with some replaced by ``overrides``."""
    tenants = {f"t{n:02d}": TenantSpec() for n in range(count)}
    tenants.update(overrides)
    return tenants


class Killed(BaseException):
    """Stands in for SIGKILL: not an ``Exception``, so no handler catches it."""


def performed_then(
    patch: pytest.MonkeyPatch, owner: type, method: str, error: Callable[[], BaseException]
) -> None:
    """Patch ``owner.method`` to do its work and then raise ``error()``: a lost answer when
    that is ``OutcomeUnknown``, a kill at exactly that point when it is ``Killed``."""
    original = getattr(owner, method)

    def patched(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise error()

    patch.setattr(owner, method, patched)


def lost(method: str) -> Callable[[], BaseException]:
    """A lost answer to a ``method`` request."""
    return lambda: OutcomeUnknown("emulated: the answer was lost", method=method)
