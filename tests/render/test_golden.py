"""Golden plan files: the text and JSON renderings of every planner scenario.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/render`` and review the
diff in ``tests/fixtures/golden/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.core.plan_codec import plan_from_dict
from reconciler.render.json import render_json, validate_plan_dict
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from tests.core.scenarios import SCENARIOS, plan_for

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_text_golden(name: str) -> None:
    check(GOLDEN / f"{name}.plan.txt", render_text(plan_for(name), color=False))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_json_golden_validates_and_reads_back(name: str) -> None:
    plan = plan_for(name)
    text = render_json(plan)
    check(GOLDEN / f"{name}.plan.json", text)
    document = json.loads(text)
    validate_plan_dict(document)
    assert plan_from_dict(document) == plan


@pytest.mark.parametrize("name", ["tier_upgrade", "removed_with_prune"])
def test_markdown_golden(name: str) -> None:
    check(GOLDEN / f"{name}.plan.md", render_markdown(plan_for(name)))
