"""Corrupted plan files: ``fleet apply PLANFILE`` gives exit 1 and one ``Error:`` line.

A real plan of fleet.example is made once (sandbox), then corrupted: a corpus of the
corruptions seen in the wild (truncated, wrong types, huge numbers, deep nesting, cycles, bad
seals) and hypothesis-driven random edits. No run may print a traceback, hang, or get as far as
building a Neon client: the environment is replaced by one that fails the test when built.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.app import environment, plan_file, planning
from reconciler.core.plan_codec import seal_of
from reconciler.render.json import validate_plan_dict
from tests.support.cli import run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory with fleet.example and a sealed plan of it (``plan.json``)."""
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLE, work / "fleet", ignore=shutil.ignore_patterns("ci"))
    before = Path.cwd()
    os.chdir(work)
    try:
        made = run_in_process(["--sandbox", "plan", "fleet", "-o", "plan.json"])
        assert made.code == 0, made.text
        yield work
    finally:
        os.chdir(before)


@pytest.fixture
def original(plan_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The sealed plan document; the cwd is the plan's and Neon must never be reached."""
    monkeypatch.chdir(plan_dir)
    monkeypatch.setenv("NEON_API_HOST", "http://127.0.0.1:9")
    for name in ("NEON_FREE_ORG_KEY", "NEON_PAID_ORG_KEY", "NEON_PERSONAL_KEY"):
        monkeypatch.setenv(name, "not-a-real-key")

    def contacted(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a corrupted plan file got as far as building the Neon client")

    monkeypatch.setattr(environment.Environment, "__init__", contacted)
    document: dict[str, Any] = json.loads((plan_dir / "plan.json").read_text())
    return document


def _refused(plan_dir: Path, content: str | bytes) -> str:
    path = plan_dir / "corrupt.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = run_in_process(["apply", str(path.name)])
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.err
    return errors[0]


def _sealed(document: dict[str, Any]) -> str:
    document["seal"] = seal_of(document)
    return json.dumps(document)


def _cycle(d: dict[str, Any]) -> str:
    first, second = d["steps"][0], d["steps"][1]
    first["depends_on"], second["depends_on"] = [second["id"]], [first["id"]]
    return _sealed(d)


Corruption = Callable[[dict[str, Any]], str | bytes]

CORPUS: dict[str, Corruption] = {
    "empty": lambda d: "",
    "truncated": lambda d: json.dumps(d)[: len(json.dumps(d)) // 2],
    "not utf-8": lambda d: b"{\xff\xfe}",
    "top level array": lambda d: "[]",
    "steps an object": lambda d: _sealed({**d, "steps": {}}),
    "step id a number": lambda d: _sealed({**d, "steps": [{**d["steps"][0], "id": 5}]}),
    "huge integer": lambda d: json.dumps(d).replace(
        '"format_version": 1', '"format_version": ' + "9" * 5000
    ),
    "huge float": lambda d: json.dumps(d).replace('"format_version": 1', '"format_version": 1e400'),
    "deep nesting": lambda d: '{"meta": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "cycle": _cycle,
    "unknown dependency": lambda d: _sealed(
        {**d, "steps": [{**d["steps"][-1], "depends_on": ["x"]}]}
    ),
    "seal missing": lambda d: json.dumps({k: v for k, v in d.items() if k != "seal"}),
    "seal wrong": lambda d: json.dumps({**d, "seal": "sha256:" + "0" * 64}),
    "seal not text": lambda d: json.dumps({**d, "seal": 5}),
    "meta.tenants a list": lambda d: _sealed({**d, "meta": {**d["meta"], "tenants": [1]}}),
    "meta a string": lambda d: _sealed({**d, "meta": "x"}),
    "manifests elsewhere": lambda d: _sealed({**d, "meta": {**d["meta"], "manifests": "nowhere"}}),
    "created_at not a time": lambda d: _sealed({**d, "created_at": "yesterday"}),
    "manifests digest": lambda d: _sealed({**d, "manifest_digest": "sha256:" + "1" * 64}),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corrupted_plan_files_give_one_error_and_contact_nothing(
    name: str, plan_dir: Path, original: dict[str, Any]
) -> None:
    _refused(plan_dir, CORPUS[name](copy.deepcopy(original)))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI's verdict never depends on luck
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_random_edits_of_a_plan_file_give_one_error_and_contact_nothing(
    data: st.DataObject, plan_dir: Path, original: dict[str, Any]
) -> None:
    document = copy.deepcopy(original)
    # Walk to a random container, then replace, delete or add one entry.
    node: Any = document
    for _ in range(data.draw(st.integers(0, 4), label="depth")):
        children = list(node.values()) if isinstance(node, dict) else list(node)
        containers = [c for c in children if isinstance(c, dict | list) and c]
        if not containers:
            break
        node = data.draw(st.sampled_from(containers), label="descend")
    value = data.draw(JSON_VALUES, label="value")
    if isinstance(node, dict):
        key = data.draw(st.sampled_from(sorted(node)) | st.text(max_size=5), label="key")
        if data.draw(st.booleans(), label="delete") and key in node:
            del node[key]
        else:
            node[key] = value
    elif node:
        node[data.draw(st.integers(0, len(node) - 1), label="index")] = value
    assume(document != original)
    text = json.dumps(document)
    if data.draw(st.booleans(), label="truncate"):
        text = text[: data.draw(st.integers(0, len(text) - 1), label="cut")]
    _refused(plan_dir, text)


def test_jsonschema_only_explains_a_failing_plan_file(
    plan_dir: Path, original: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(plan_file, "validate_plan_dict", lambda data: calls.append(data))
    assert planning.load_plan_file(plan_dir / "plan.json").steps  # the success path skips it
    assert calls == []
    monkeypatch.setattr(plan_file, "validate_plan_dict", validate_plan_dict)
    bad = copy.deepcopy(original)
    bad["steps"][0]["action"] = "explode"
    line = _refused(plan_dir, _sealed(bad))
    assert "steps[0].action: 'explode' is not one of" in line  # the schema's wording
