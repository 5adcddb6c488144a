"""Fingerprints of the live state a tenant's steps were planned from.

``fingerprint(project, keys)`` is the sha256 of the canonical JSON (sorted keys, no spaces) of
everything the planner reads for one tenant: the project's fields (name, org, region,
pg_version, quota, default endpoint settings, history retention, integrations), its branches and
endpoints when they were observed, its default branch's databases, roles and Neon Auth when
they were observed (the key is absent otherwise), and that project's project-scoped API keys
when the org's keys were observed. "Not observed" and "empty" fingerprint differently, and an
absent project has its own fingerprint (``ABSENT``), so "someone created it meanwhile" is
detected too.

The applier re-observes the planned tenants (the project ids recorded in the plan) and compares
``fingerprint`` per tenant, so a plan goes stale per tenant, not as a whole;
:func:`live_fingerprints` reproduces the planner's own matching for callers that have the
manifests. The format is a
contract recorded in plan files: change it only together with ``FORMAT_VERSION``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.core.json_text import compact_sorted
from reconciler.core.matching import ProjectMatch, match_tenants
from reconciler.core.model import (
    DesiredFleet,
    LedgerView,
    LiveApiKey,
    LiveFleet,
    LiveProject,
)
from reconciler.core.views import (
    branch_view,
    catalog_view,
    endpoint_view,
    key_view,
    project_view,
)

_PREFIX = "sha256:"


#: ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` with its encoder
#: made once: apply checks one fingerprint per planned tenant.
_ENCODE = compact_sorted(allow_nan=True)


def _digest(document: Any) -> str:
    text = _ENCODE(document)
    return _PREFIX + hashlib.sha256(text.encode()).hexdigest()


#: The fingerprint of "no project": a tenant that has nothing live yet.
ABSENT = _digest({"absent": True})


def fingerprint(project: LiveProject | None, keys: Sequence[LiveApiKey] | None) -> str:
    """The fingerprint of one tenant's live state; ``keys=None`` means keys were not observed.

    ``keys`` may contain keys of other projects; only ``project``'s own keys count, in id order.
    """
    if project is None:
        return ABSENT
    document: dict[str, Any] = project_view(project)
    document["branches"] = (
        None
        if project.branches is None
        else [branch_view(b) for b in sorted(project.branches, key=lambda b: b.id)]
    )
    document["endpoints"] = (
        None
        if project.endpoints is None
        else [endpoint_view(e) for e in sorted(project.endpoints, key=lambda e: e.id)]
    )
    document["api_keys"] = (
        None
        if keys is None
        else [key_view(k) for k in sorted(keys, key=lambda k: k.id) if k.project_id == project.id]
    )
    if project.catalog is not None:
        # Only when observed, so the fingerprints of tenants that declare no databases, roles,
        # connection secrets or auth stay what they were before these existed.
        document["catalog"] = catalog_view(project.catalog)
    return _digest(document)


#: Observed project-scoped keys per (org id, project id); see :func:`index_keys`.
KeyIndex = dict[tuple[str, str], tuple[LiveApiKey, ...]]


def index_keys(live: LiveFleet) -> KeyIndex:
    """Group observed keys by (org, project) once, so per-tenant lookups are O(1)."""
    grouped: dict[tuple[str, str], list[LiveApiKey]] = {}
    for org_id, keys in live.api_keys.items():
        for key in keys:
            if key.project_id is not None:
                grouped.setdefault((org_id, key.project_id), []).append(key)
    return {k: tuple(v) for k, v in grouped.items()}


def project_keys(
    live: LiveFleet, project: LiveProject | None, index: KeyIndex | None = None
) -> tuple[LiveApiKey, ...] | None:
    """The observed project-scoped keys of ``project``; None when its org's keys were not read.

    Pass ``index`` (from :func:`index_keys`) when looking up many projects.
    """
    if project is None:
        return ()
    if project.org_id not in live.api_keys:
        return None
    if index is not None:
        return index.get((project.org_id, project.id), ())
    return tuple(k for k in live.api_keys[project.org_id] if k.project_id == project.id)


def live_fingerprints(
    desired: DesiredFleet,
    live: LiveFleet,
    ledger: LedgerView,
    tenants: Iterable[str],
) -> dict[str, str]:
    """Fingerprints of ``tenants`` in ``live``, matched to projects exactly as the planner does.

    A tenant that is no longer declared is matched through its ledger record (that is how the
    planner finds projects to delete). Ambiguous matches fingerprint every candidate together.
    """
    index = index_keys(live)
    matches = match_tenants(desired, live, ledger, tenants)
    return {name: match_fingerprint(live, match, index) for name, match in matches.items()}


def match_fingerprint(live: LiveFleet, match: ProjectMatch, index: KeyIndex | None = None) -> str:
    """The fingerprint of a tenant's match; an ambiguous match covers every candidate."""
    if match.ambiguous:
        parts = sorted(fingerprint(p, project_keys(live, p, index)) for p in match.candidates)
        return _digest(parts)
    return fingerprint(match.project, project_keys(live, match.project, index))
