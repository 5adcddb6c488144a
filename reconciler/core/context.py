"""Read-only inputs shared by the planner modules for one ``build_plan`` call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.core.fingerprint import KeyIndex, index_keys
from reconciler.core.matching import project_owners
from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet, LiveProject
from reconciler.core.options import PlanOptions
from reconciler.errors import PlanError


@dataclass(frozen=True, slots=True)
class PlanContext:
    """Everything a tenant planner may read; built once per plan."""

    desired: DesiredFleet
    live: LiveFleet
    ledger: LedgerView
    options: PlanOptions
    by_name: Mapping[str, Sequence[LiveProject]]
    managed_orgs: frozenset[str]
    now: datetime
    #: Observed project-scoped keys per (org id, project id).
    keys: KeyIndex
    #: Project id → the tenant whose ledger record owns it.
    owners: Mapping[str, str]
    #: Project ids and names declared tenants claim by binding or by their project name.
    claimed_ids: Mapping[str, str]
    claimed_names: Mapping[str, str]


def parse_instant(text: str) -> datetime:
    """An RFC 3339 timestamp as an aware datetime (naive input is taken as UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def same_instant(left: str | None, right: str | None) -> bool:
    """True when two optional RFC 3339 timestamps name the same instant."""
    if left is None or right is None:
        return left is right
    try:
        return parse_instant(left) == parse_instant(right)
    except ValueError:
        return left == right


def make_context(
    desired: DesiredFleet, live: LiveFleet, ledger: LedgerView, options: PlanOptions
) -> PlanContext:
    """Build the context, parsing ``options.now`` once (a bad value is a ``PlanError``)."""
    try:
        now = parse_instant(options.now)
    except ValueError as exc:
        raise PlanError(f"PlanOptions.now is not an RFC 3339 timestamp: {options.now!r}") from exc
    return PlanContext(
        desired=desired,
        live=live,
        ledger=ledger,
        options=options,
        by_name=live.by_name(),
        managed_orgs=frozenset(org.id for org in desired.fleet.orgs.values()),
        now=now,
        keys=index_keys(live),
        owners=project_owners(ledger),
        claimed_ids={t.project_id: t.name for t in desired.tenants.values() if t.project_id},
        claimed_names={t.project_name: t.name for t in desired.tenants.values()},
    )


def is_ignored(path: str, ignore_changes: Sequence[str]) -> bool:
    """True when ``path`` (a manifest-level dotted path) is covered by ``ignore_changes``.

    An entry covers itself and everything below it: ``quota`` covers ``quota.written_data_bytes``.
    """
    return any(path == entry or path.startswith(entry + ".") for entry in ignore_changes)
