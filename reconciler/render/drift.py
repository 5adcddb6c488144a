"""Drift reports as text, Markdown or JSON, and their validation against the drift schema.

``build_document`` turns drift items into the report *document* (``schemas/drift.schema.json``,
summary counts first), which the ledger stores and the renderers read, so the three formats
always show the same facts. Text and Markdown
list one section per tenant, then the unmanaged projects; each item reads
``symbol kind path: live → desired (origin) — message [since …]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler import __version__
from reconciler.core.drift_model import DriftItem, DriftKind
from reconciler.core.model import DesiredFleet
from reconciler.core.usage import iso
from reconciler.render.common import value
from reconciler.render.json import SCHEMA_DIR, check_document

SCHEMA_PATH = SCHEMA_DIR / "drift.schema.json"
#: Version of the drift report document; readers refuse other versions.
REPORT_FORMAT_VERSION = 1

#: One symbol per kind, after the plan's: ``~`` changed, ``+`` missing, ``-`` extra, ``»`` org.
SYMBOLS: dict[str, str] = {
    "changed": "~",
    "missing_project": "+",
    "wrong_org": "»",
    "unrecorded_project": "~",
    "removed_tenant": "-",
    "missing_branch": "+",
    "undeclared_branch": "-",
    "old_branch": "-",
    "expired_branch": "-",
    "missing_key": "+",
    "undeclared_key": "-",
    "broken_key": "!",
    "missing_role": "+",
    "undeclared_role": "-",
    "missing_database": "+",
    "undeclared_database": "-",
    "missing_auth": "+",
    "undeclared_auth": "-",
    "missing_compute": "+",
    "outdated_delivery": "~",
    "unmanaged_project": "?",
    "blocker": "!",
}
#: Room kept for the note that says sections were cut.
_NOTE_ROOM = 400
_COLORS = {"+": "32", "~": "33", "»": "36", "-": "31", "!": "1;31", "?": "35"}


def render_drift_json(document: Mapping[str, Any]) -> str:
    """The report as indented JSON (summary first), ending with a newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def summary_sentence(document: Mapping[str, Any]) -> str:
    """``Drift: 5 item(s) in 4 tenant(s), 1 unmanaged project(s); 0 ignored.`` or no drift."""
    summary = document["summary"]
    ignored = f"{summary['ignored']} ignored"
    if not summary["drift"]:
        return f"No drift. The live fleet matches the manifests ({ignored})."
    return (
        f"Drift: {summary['items']} item(s) in {summary['tenants']} tenant(s), "
        f"{summary['unmanaged_projects']} unmanaged project(s), {summary['blockers']} "
        f"blocker(s); {ignored}."
    )


def item_line(item: Mapping[str, Any], *, color: bool = False) -> str:
    """One item on one line."""
    symbol = SYMBOLS.get(str(item["kind"]), "?")
    head = f"{symbol} {item['kind']} {item['path']}"
    if item.get("resource"):
        head += f" [{item['resource']}]"
    if color:
        head = f"\x1b[{_COLORS[symbol]}m{head}\x1b[0m"
    parts = [head]
    if item["kind"] == "changed" or item["kind"] == "wrong_org":
        origin = f"  ({item['origin']})" if item.get("origin") else ""
        parts.append(f": {value(item['live'])} live → {value(item['desired'])} desired{origin}")
    elif item.get("message"):
        parts.append(f": {item['message']}")
    parts.append(f"  since {item['since']}")
    return "".join(parts)


def render_drift_text(document: Mapping[str, Any], *, color: bool = False) -> str:
    """The report as text, ending with a newline."""
    lines = [f"Drift report for fleet {document['fleet']} at {document['created_at']}", ""]
    for section in document["tenants"]:
        lines.append(f"tenant {section['tenant']}:")
        lines += [f"  {item_line(item, color=color)}" for item in section["items"]]
        lines.append("")
    if document["unmanaged"]:
        lines.append("unmanaged projects (no tenant matches them):")
        lines += [f"  {item_line(item, color=color)}" for item in document["unmanaged"]]
        lines.append("")
    lines += [f"warning: {w}" for w in document["warnings"]]
    lines.append(summary_sentence(document))
    return "\n".join(lines) + "\n"


def _fenced(items: Sequence[Mapping[str, Any]]) -> str:
    body = "\n".join(item_line(i).replace("```", "'''") for i in items)
    return f"```diff\n{body}\n```"


def _details(title: str, items: Sequence[Mapping[str, Any]]) -> str:
    return f"\n<details><summary>{title}</summary>\n\n{_fenced(items)}\n\n</details>"


def render_drift_markdown(document: Mapping[str, Any], *, limit: int = 65000) -> str:
    """The report as Markdown for an issue or a job summary, ending with a newline.

    GitHub refuses issue bodies and comments of 65,536 characters or more: whole sections are
    kept while they fit in ``limit`` and a note says how many were cut.
    """
    summary = document["summary"]
    head = [f"### neon-fleet drift report: `{document['fleet']}`", "", summary_sentence(document)]
    if summary["drift"]:
        head += ["", "| Kind | Count |", "|---|---:|"]
        head += [f"| `{kind}` | {n} |" for kind, n in summary["by_kind"].items() if n]
    sections = [
        _details(f"<code>{s['tenant']}</code>: {len(s['items'])} item(s)", s["items"])
        for s in document["tenants"]
    ]
    if document["unmanaged"]:
        title = f"Unmanaged projects ({len(document['unmanaged'])})"
        sections.append(_details(title, document["unmanaged"]))
    if document["warnings"]:
        sections.append("\n**Warnings**\n\n" + "\n".join(f"- {w}" for w in document["warnings"]))
    footer = f"\n\n_Report #{document['report_id']} at {document['created_at']}._\n"
    output = "\n".join(head) + "\n"
    budget = limit - len(footer) - _NOTE_ROOM
    for shown, section in enumerate(sections):
        if len(output) + len(section) > budget:
            cut = len(sections) - shown
            output += (
                f"\n\n> **Output cut:** {cut} of {len(sections)} section(s) not shown to stay "
                f"under {limit} characters; run `fleet drift --format json` for the full report."
            )
            break
        output += section
    return output + footer


def render_drift(document: Mapping[str, Any], fmt: str, *, color: bool = False) -> str:
    """The report in ``fmt`` (``text``, ``json`` or ``markdown``)."""
    if fmt == "json":
        return render_drift_json(document)
    if fmt == "markdown":
        return render_drift_markdown(document)
    return render_drift_text(document, color=color)


def validate_drift_dict(data: Any) -> None:
    """Raise ``PlanFileError`` naming the field path unless ``data`` matches the drift schema."""
    check_document(data, SCHEMA_PATH.name, "drift report")


# ----------------------------------------------------------------------------- the document


def summarize(items: Sequence[DriftItem], ignored: Sequence[DriftItem]) -> dict[str, Any]:
    """Counts first: items, tenants affected, unmanaged projects, ignored, then per kind."""
    kinds = {kind.value: 0 for kind in DriftKind}
    for item in items:
        kinds[item.kind.value] += 1
    return {
        "drift": bool(items),
        "items": len(items),
        "tenants": len({i.tenant for i in items if i.tenant is not None}),
        "unmanaged_projects": kinds[DriftKind.UNMANAGED_PROJECT.value],
        "blockers": kinds[DriftKind.BLOCKER.value],
        "ignored": len(ignored),
        "by_kind": kinds,
    }


def build_document(
    desired: DesiredFleet,
    items: Sequence[DriftItem],
    ignored: Sequence[DriftItem],
    since: Mapping[str, datetime],
    *,
    summary: Mapping[str, Any],
    report_id: int | None,
    created_at: datetime,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The report document (``schemas/drift.schema.json``): summary first, then per tenant."""
    tenants: dict[str, list[dict[str, Any]]] = {}
    fleet_items: list[dict[str, Any]] = []
    for item in items:
        entry = item_dict(item, since.get(item.id, created_at))
        if item.tenant is None:
            fleet_items.append(entry)
        else:
            tenants.setdefault(item.tenant, []).append(entry)
    return {
        "summary": dict(summary),
        "format_version": REPORT_FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": iso(created_at),
        "report_id": report_id,
        "fleet": desired.fleet.name,
        "manifest_digest": desired.digest,
        "tenants": [
            {"tenant": name, "items": entries} for name, entries in sorted(tenants.items())
        ],
        "unmanaged": fleet_items,
        "ignored": [i.id for i in ignored],
        "warnings": list(warnings),
    }


def item_dict(item: DriftItem, since: datetime) -> dict[str, Any]:
    """One item as the report shows it."""
    return {
        "id": item.id,
        "kind": item.kind.value,
        "tenant": item.tenant,
        "path": item.path,
        "resource": item.resource,
        "live": item.live,
        "desired": item.desired,
        "origin": item.origin,
        "message": item.message,
        "since": iso(since),
    }
