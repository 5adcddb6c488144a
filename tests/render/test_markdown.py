"""Markdown rendering: summary first, a section per tenant, capped with a note."""

from __future__ import annotations

from reconciler.core.model import BranchSpec
from reconciler.core.planner import build_plan
from reconciler.render.markdown import render_markdown
from tests.core.factories import desired, ledger, live, options, tenant


def test_summary_table_comes_before_sections() -> None:
    fleet = desired(tenant("cust-1", api_keys=["app"]), tenant("cust-2"))
    text = render_markdown(build_plan(fleet, live(), ledger(), options()))
    assert text.index("| `create_project` | 2 |") < text.index("<details>")
    assert text.count("<details><summary><code>cust-") == 2
    assert "```diff\n+ create_project project cust-1" in text


def test_long_plans_are_cut_below_the_limit_with_a_note() -> None:
    branches = [BranchSpec(f"feature-{i}") for i in range(5)]
    fleet = desired(*(tenant(f"cust-{i:05d}", branches=branches) for i in range(400)))
    plan = build_plan(fleet, live(), ledger(), options())
    full = render_markdown(plan, limit=10_000_000)
    assert "Output cut" not in full
    assert len(full) > 65_000
    capped = render_markdown(plan)
    assert len(capped) < 65_000
    assert "**Output cut:**" in capped
    assert capped.startswith(full[:1000])
    assert capped.count("<details>") == capped.count("</details>")
