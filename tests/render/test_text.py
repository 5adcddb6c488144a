"""Text rendering: symbols, origins, colour only on request."""

from __future__ import annotations

from reconciler.render.text import render_text
from tests.core.scenarios import plan_for


def test_symbols_and_fields() -> None:
    text = render_text(plan_for("tier_upgrade"), color=False)
    assert "» transfer_projects 1 project(s) org-free-1 → org-paid-1" in text
    assert "quota.compute_time_seconds" in text
    assert ": 18000 → 360000  (tier paid)" in text
    assert "- revoke_api_key api key cust-00003:app (201)" in text
    assert "\x1b[" not in text
    assert text.endswith("0 blocker(s).\n")


def test_colour_is_ansi_when_asked() -> None:
    text = render_text(plan_for("blockers"), color=True)
    assert "\x1b[1;31m! blocked:" in text


def test_no_changes() -> None:
    text = render_text(plan_for("no_op"), color=True)
    assert "No changes. The live fleet matches the manifests." in text
    assert "\x1b[" not in text
