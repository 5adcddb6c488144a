"""Use case ``drift``: a full, read-only refresh of the fleet, compared with the manifests.

Drift never writes to Neon and only needs the org keys. It observes every managed org with all
the details drift items look at (``full_needs``: branches of every tenant's project, endpoints
of those whose tenant manages compute, the API keys of every managed org, not only what the
manifests manage), lets the planner say what an apply would change, turns the
plan into drift items (``drift_items``) and drops the accepted ones (``drift_ignore``). The
report is stored in the ledger, which knows since when each item has drifted.

The report document (``schemas/drift.schema.json``, summary counts first) is built and shown
as text, Markdown or JSON by ``reconciler.render.drift``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.app.drift_ignore import is_ignored, load_ignore_rules
from reconciler.app.environment import Environment
from reconciler.core.drift_items import derive_items
from reconciler.core.drift_model import DriftItem
from reconciler.core.matching import match_tenants
from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet
from reconciler.core.options import PlanOptions
from reconciler.core.planner import build_plan
from reconciler.core.usage import iso
from reconciler.ledger.drift import Sighting
from reconciler.ledger.retention import prune_by_policy
from reconciler.observe import DetailNeeds, observe
from reconciler.render.drift import build_document, summarize


@dataclass(frozen=True)
class DriftResult:
    """A drift report: the document shown and stored, and the items behind it."""

    document: Mapping[str, Any]
    items: tuple[DriftItem, ...]
    ignored: tuple[DriftItem, ...]
    api_calls: int

    @property
    def has_drift(self) -> bool:
        return bool(self.items)


def full_needs(desired: DesiredFleet, ledger: LedgerView, live: LiveFleet) -> DetailNeeds:
    """What drift reads: the branches of every project a tenant matches, the endpoints of those
    whose tenant manages compute, and the keys of every managed org.

    Branches are read for everyone because the extra checks (``<name> (old)`` restore
    leftovers, expired branches) look at every matched project, and nothing in a project list
    item tells that its branches did not change (no branch count; ``updated_at`` is the
    project's own). Endpoints are compared only against declared compute limits, so a tenant
    whose tier and manifest set no ``compute`` needs no endpoint list (as in ``needs_for``).
    """
    managed = frozenset(org.id for org in desired.fleet.orgs.values())
    branches: set[str] = set()
    endpoints: set[str] = set()
    for name, match in match_tenants(
        desired, live, ledger, set(desired.tenants) | set(ledger.tenants)
    ).items():
        found = {p.id for p in match.candidates}
        if match.project is not None:
            found.add(match.project.id)
        branches |= found
        tenant = desired.tenants.get(name)
        if tenant is not None and tenant.compute:
            endpoints |= found
    return DetailNeeds(
        endpoints=frozenset(endpoints), branches=frozenset(branches), key_orgs=managed
    )


def run_drift(
    env: Environment,
    desired: DesiredFleet,
    manifests: Path,
    *,
    now: datetime | None = None,
) -> DriftResult:
    """Observe everything, plan, derive the items, apply ignores and record the report."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    rules = load_ignore_rules(manifests, desired.fleet.policy.drift_ignore)
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    view = ledger.view()
    before = client.stats.snapshot().total_requests
    live, _ = observe(
        client,
        credentials,
        [org.id for org in desired.fleet.orgs.values()],
        lambda listed: full_needs(desired, view, listed),
        parallelism=desired.fleet.policy.parallelism,
    )
    calls = client.stats.snapshot().total_requests - before
    options = PlanOptions(
        now=iso(moment),
        tool_version=__version__,
        # Drift asks what is wrong, not whether this job could fix it: a transfer is drift
        # even when the personal key (which drift never needs) is absent here.
        transfer_key_available=True,
    )
    plan = build_plan(desired, live, view, options)
    every = derive_items(plan, desired, live, view, moment)
    items = tuple(i for i in every if not is_ignored(i, rules))
    ignored = tuple(i for i in every if is_ignored(i, rules))
    summary = summarize(items, ignored)
    store = ledger.drift
    recorded = store.record(
        [Sighting(i.id, i.tenant, i.kind.value, i.path) for i in items],
        fleet=desired.fleet.name,
        manifest_digest=desired.digest,
        summary=summary,
        at=moment,
        document=lambda report_id, since: build_document(
            desired,
            items,
            ignored,
            since,
            summary=summary,
            report_id=report_id,
            created_at=moment,
            warnings=plan.warnings,
        ),
    )
    # Drift runs on a schedule, often more than apply: its own history is pruned here too.
    prune_by_policy(ledger, desired.fleet.policy.history_retention_seconds)
    return DriftResult(recorded.document, items, ignored, calls)
