"""``fleet plan f -o json`` (neonctl's ``-o`` = output format) warns that it writes a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.example import example_workdir
from tests.support.cli import run_in_process

pytestmark = pytest.mark.integration


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("out", "meant"), [("json", "json"), ("Markdown", "markdown"), ("yaml", "json")]
)
def test_plan_out_named_like_a_format_warns_that_it_writes_a_file(
    workdir: Path, out: str, meant: str
) -> None:
    result = run_in_process(["--sandbox", "plan", "fleet", "-o", out])
    assert result.code == 0, result.text
    assert (
        f"warning: writing the plan to a file named '{out}'; did you mean --format {meant}?"
        in result.err
    )
    assert json.loads((workdir / out).read_text())["steps"]  # it did save the plan there
    assert "warning: writing the plan" not in result.out  # stdout stays the plan alone


def test_plan_out_with_a_real_file_name_does_not_warn(workdir: Path) -> None:
    result = run_in_process(["--sandbox", "plan", "fleet", "-o", "json.plan", "--format", "json"])
    assert result.code == 0, result.text
    assert "did you mean" not in result.err
    assert json.loads(result.out)["steps"] and (workdir / "json.plan").is_file()


def test_drift_out_named_like_a_format_warns_that_it_writes_a_file(workdir: Path) -> None:
    assert run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]).code == 0
    result = run_in_process(["--sandbox", "drift", "fleet", "--format", "json", "-o", "json"])
    assert result.code == 0, result.text
    assert "warning: writing the report to a file named 'json'" in result.err
    assert json.loads((workdir / "json").read_text()) == json.loads(result.out)


def test_plan_out_file_as_json_builds_the_document_once(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.core import plan_codec
    from reconciler.render import json as render_json

    walks: list[int] = []
    document = plan_codec.plan_document

    def counted(plan: Any) -> Any:
        walks.append(1)
        return document(plan)

    monkeypatch.setattr(render_json, "plan_document", counted)
    result = run_in_process(["--sandbox", "plan", "fleet", "-o", "p.json", "--format", "json"])
    assert result.code == 0, result.text
    assert result.out == (workdir / "p.json").read_text(encoding="utf-8")
    assert len(walks) == 1
