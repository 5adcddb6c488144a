"""``load_fleet``: files → YAML documents → schema → semantic checks → ``DesiredFleet``.

All problems from every stage are collected and raised together as one ``ManifestError``,
sorted by file, line and column, so a user fixes everything in one pass.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from reconciler.core.model import DesiredFleet
from reconciler.errors import ManifestError, Problem
from reconciler.manifests.catalog import build_catalog
from reconciler.manifests.checks import semantic_problems
from reconciler.manifests.discovery import discover
from reconciler.manifests.effective import build_desired
from reconciler.manifests.yaml_source import SourceDocument, parse_file


def load_fleet(path: str | Path, *, now: datetime | None = None) -> DesiredFleet:
    """Load, validate and resolve the manifests at ``path`` (a file or a directory).

    In a directory, YAML files none of whose documents has an ``apiVersion``, ``kind``,
    ``metadata`` or ``spec`` key (in any letter case) are not manifests (CI pipelines kept next
    to the fleet, say) and are skipped.

    ``now`` (default: the current time) is what ``expires_at`` values are checked against.
    Raises ``ManifestError`` carrying every problem found.
    """
    root = Path(path)
    moment = _as_utc(now) if now is not None else datetime.now(UTC)
    with _gc_paused():
        files, problems = discover(root)
        documents: list[SourceDocument] = []
        #: Where YAML values could not be read (see ParsedFile.unreadable).
        unreadable: set[tuple[str, int, int]] = set()
        complete = True
        for file in files:
            parsed = parse_file(file)
            if root.is_dir() and parsed.complete and not _declares_kind(parsed.documents):
                # Not a manifest (a CI pipeline, a values file) found while walking a directory:
                # skip it. A file named explicitly is always read.
                continue
            documents.extend(parsed.documents)
            problems.extend(parsed.problems)
            unreadable.update((str(file), line, column) for line, column in parsed.unreadable)
            complete = complete and parsed.complete
        if files:
            catalog, catalog_problems = build_catalog(documents, complete=complete)
            problems.extend(_outside(catalog_problems, unreadable))
            if not catalog.fleet_documents and complete:
                message = "no Fleet manifest found; exactly one kind: Fleet is required"
                problems.append(Problem(str(root), 1, 1, "", message))
            problems.extend(_outside(semantic_problems(catalog, moment), unreadable))
        if problems:
            raise ManifestError(_ordered(problems))
        return build_desired(catalog)


#: Top-level keys that make a document a manifest (compared case-insensitively, so a misspelt
#: ``Kind`` or ``apiversion`` is reported instead of silently skipping the file).
_MANIFEST_KEYS = frozenset({"apiversion", "kind", "metadata", "spec"})


def _declares_kind(documents: list[SourceDocument]) -> bool:
    return any(
        isinstance(d.data, dict) and any(str(k).lower() in _MANIFEST_KEYS for k in d.data)
        for d in documents
    )


def _outside(problems: list[Problem], places: set[tuple[str, int, int]]) -> list[Problem]:
    return [p for p in problems if (p.path, p.line, p.column) not in places]


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime is taken to be UTC, the only zone manifests speak.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ordered(problems: list[Problem]) -> list[Problem]:
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.path, p.line, p.column, p.field, p.message))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading allocates hundreds of thousands of small, long-lived objects (YAML nodes, dicts);
    each collection then rescans all of them, which made a 10,000-tenant load several times
    slower. Nothing built here has reference cycles worth collecting mid-load.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
