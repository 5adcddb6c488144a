"""Drift reports: the document's shape and schema, and the text and Markdown renderings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.core.drift_model import DriftItem, DriftKind
from reconciler.errors import PlanFileError
from reconciler.render.drift import (
    build_document,
    render_drift,
    render_drift_markdown,
    render_drift_text,
    summarize,
    validate_drift_dict,
)
from tests.core.factories import desired, tenant

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 20, 6, 17, tzinfo=UTC)
ITEMS = (
    DriftItem(DriftKind.CHANGED, "cust-1", "quota.compute_time_seconds", 99, 18000, "tier free"),
    DriftItem(DriftKind.MISSING_BRANCH, "cust-1", "branches.dev", message="declared and missing"),
    DriftItem(DriftKind.WRONG_ORG, "cust-2", "org", "org-paid-1", "org-free-1", "tier free"),
    DriftItem(
        DriftKind.UNMANAGED_PROJECT,
        None,
        "projects.legacy",
        live={"id": "p-1"},
        message="no tenant describes it",
        resource="p-1",
    ),
)
IGNORED = (DriftItem(DriftKind.CHANGED, "cust-3", "compute.suspend_timeout_seconds", 1, 2),)


def document(items: tuple[DriftItem, ...] = ITEMS) -> dict[str, Any]:
    since = {ITEMS[0].id: EARLIER}
    return build_document(
        desired(tenant("cust-1"), tenant("cust-2")),
        items,
        IGNORED,
        since,
        summary=summarize(items, IGNORED),
        report_id=7,
        created_at=AT,
        warnings=("cust-9: endpoints were not observed",),
    )


def test_the_document_starts_with_summary_counts_and_matches_the_schema():
    doc = document()
    validate_drift_dict(doc)
    validate_drift_dict(json.loads(render_drift(doc, "json")))
    assert next(iter(doc)) == "summary"
    summary = doc["summary"]
    assert (summary["drift"], summary["items"], summary["tenants"]) == (True, 4, 2)
    assert (summary["unmanaged_projects"], summary["ignored"]) == (1, 1)
    assert summary["by_kind"]["changed"] == 1 and summary["by_kind"]["blocker"] == 0
    assert [s["tenant"] for s in doc["tenants"]] == ["cust-1", "cust-2"]
    first = doc["tenants"][0]["items"][0]
    assert first["since"] == "2026-11-20T06:17:00Z"  # seen before: since the first sighting
    assert doc["tenants"][0]["items"][1]["since"] == "2026-11-26T12:00:00Z"
    assert doc["unmanaged"][0]["id"] == "-/unmanaged_project/projects.legacy/p-1"
    assert doc["ignored"] == ["cust-3/changed/compute.suspend_timeout_seconds"]


def test_a_document_off_the_schema_is_refused_with_its_path():
    doc = document()
    doc["tenants"][0]["items"][0]["kind"] = "mystery"
    with pytest.raises(PlanFileError, match=r"tenants\[0\]\.items\[0\]\.kind"):
        validate_drift_dict(doc)


def test_text_shows_each_item_with_values_origin_and_since():
    text = render_drift_text(document())
    assert text.startswith("Drift report for fleet acme at 2026-11-26T12:00:00Z\n")
    assert (
        "  ~ changed quota.compute_time_seconds: 99 live → 18000 desired  (tier free)"
        "  since 2026-11-20T06:17:00Z" in text
    )
    assert '  » wrong_org org: "org-paid-1" live → "org-free-1" desired  (tier free)' in text
    assert "  + missing_branch branches.dev: declared and missing" in text
    assert "unmanaged projects (no tenant matches them):" in text
    assert "? unmanaged_project projects.legacy [p-1]: no tenant describes it" in text
    assert "warning: cust-9: endpoints were not observed" in text
    assert text.endswith(
        "Drift: 4 item(s) in 2 tenant(s), 1 unmanaged project(s), 0 blocker(s); 1 ignored.\n"
    )
    assert "\x1b[" not in text
    assert "\x1b[33m~ changed" in render_drift_text(document(), color=True)


def test_markdown_has_a_table_and_one_section_per_tenant():
    markdown = render_drift_markdown(document())
    assert markdown.startswith("### neon-fleet drift report: `acme`\n")
    assert "| `changed` | 1 |" in markdown and "| `blocker`" not in markdown
    assert "<summary><code>cust-1</code>: 2 item(s)</summary>" in markdown
    assert "<summary>Unmanaged projects (1)</summary>" in markdown
    assert "_Report #7 at 2026-11-26T12:00:00Z._" in markdown


def test_a_clean_report_says_so_in_every_format():
    clean = document(())
    validate_drift_dict(clean)
    assert clean["summary"]["drift"] is False
    sentence = "No drift. The live fleet matches the manifests (1 ignored)."
    assert sentence in render_drift(clean, "text")
    assert sentence in render_drift(clean, "markdown")
    assert "| Kind |" not in render_drift(clean, "markdown")


def test_markdown_stays_under_the_limit_and_says_what_was_cut():
    many = tuple(
        DriftItem(
            DriftKind.CHANGED, f"cust-{n:04d}", "quota.compute_time_seconds", n, 18000, "tier"
        )
        for n in range(400)
    )
    markdown = render_drift_markdown(document(many), limit=5000)
    assert len(markdown) < 5000
    assert "> **Output cut:**" in markdown and "of 401 section(s) not shown" in markdown
    assert markdown.endswith("_Report #7 at 2026-11-26T12:00:00Z._\n")
    assert "<code>cust-0000</code>" in markdown
