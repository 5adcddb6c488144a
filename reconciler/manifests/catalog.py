"""Sort parsed documents by kind, validate each against its schema, and apply identity rules.

Identity rules: exactly one Fleet, unique Tier names, unique Tenant names. A document that fails
its schema takes part in the semantic checks with its readable part only (the keys holding a
violation left out, see ``schema_check.schema_report``), so one run reports both kinds of
problems; when nothing readable is left it is kept out, but its name is still remembered so a
typo in a Tier does not also produce an "unknown tier" problem for every tenant using it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from reconciler.errors import Problem
from reconciler.manifests.schema_check import envelope, schema_report
from reconciler.manifests.yaml_source import SourceDocument


@dataclass
class Catalog:
    """Readable documents by kind (schema-valid, or their valid part), and what is known about
    the others."""

    #: Every Fleet document, valid or not (for the exactly-one rule).
    fleet_documents: list[SourceDocument] = field(default_factory=list)
    #: The single Fleet when there is exactly one and it is readable.
    fleet: SourceDocument | None = None
    tiers: dict[str, SourceDocument] = field(default_factory=dict)
    tenants: dict[str, SourceDocument] = field(default_factory=dict)
    #: Tier names declared anywhere, including by schema-invalid Tier documents.
    tier_names: set[str] = field(default_factory=set)
    #: False when a file could not be read to its end, so references may point into it.
    complete: bool = True


def build_catalog(
    documents: Sequence[SourceDocument], *, complete: bool
) -> tuple[Catalog, list[Problem]]:
    """Validate every document and index the valid ones by kind and name."""
    catalog = Catalog(complete=complete)
    problems: list[Problem] = []
    first_seen: dict[tuple[str, str], SourceDocument] = {}
    valid_fleets: list[SourceDocument] = []
    for doc in documents:
        kind, envelope_problems = envelope(doc)
        if kind is None:
            problems.extend(envelope_problems)
            continue
        own, readable = schema_report(doc, kind)
        problems.extend(own)
        usable = None if readable is None else replace(doc, data=readable)
        if kind == "Fleet":
            catalog.fleet_documents.append(doc)
            if usable is not None:
                valid_fleets.append(usable)
            continue
        name = _name(doc)
        if name is None:  # the schema problems already say why
            continue
        if kind == "Tier":
            catalog.tier_names.add(name)
        earlier = first_seen.get((kind, name))
        if earlier is not None:
            line, _ = earlier.locate(("metadata", "name"))
            where = f"{earlier.path}:{line}"
            message = f"duplicate {kind.lower()} {name!r}; first declared at {where}"
            problems.append(doc.problem(("metadata", "name"), message))
            continue
        first_seen[kind, name] = doc
        if usable is not None:
            (catalog.tiers if kind == "Tier" else catalog.tenants)[name] = usable
    problems.extend(_fleet_count(catalog.fleet_documents))
    if len(catalog.fleet_documents) == 1 and valid_fleets:
        catalog.fleet = valid_fleets[0]
    return catalog, problems


def _name(doc: SourceDocument) -> str | None:
    metadata = doc.data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _fleet_count(fleets: Sequence[SourceDocument]) -> list[Problem]:
    """Problems for every Fleet after the first (the no-Fleet case is the loader's)."""
    if len(fleets) < 2:
        return []
    first = fleets[0]
    message = f"a second Fleet manifest; exactly one is allowed (the first is at {first.path}:"
    return [doc.problem(("kind",), f"{message}{first.line})") for doc in fleets[1:]]
