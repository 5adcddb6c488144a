"""The fast validity predicate agrees with jsonschema, and refuses keywords it does not know."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.manifests import SCHEMA_FILES, load_schema
from reconciler.manifests.fastcheck import UnsupportedSchema, compile_schema
from tests.manifests.invalid_cases import INVALID_DIR

ROOT = Path(__file__).resolve().parents[2]


def _corpus_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(
        [*ROOT.joinpath("fleet.example").rglob("*.yaml"), *INVALID_DIR.rglob("*.y*ml")]
    ):
        try:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict))
        except yaml.YAMLError:
            continue
    return docs


DOCS = _corpus_documents()
KINDS = sorted(SCHEMA_FILES)


FAST = {kind: compile_schema(load_schema(kind)) for kind in KINDS}
SLOW = {kind: Draft202012Validator(load_schema(kind)) for kind in KINDS}


def _agree(kind: str, doc: Any) -> None:
    assert FAST[kind](doc) == SLOW[kind].is_valid(doc), (kind, doc)


@pytest.mark.parametrize("kind", KINDS)
def test_agrees_with_jsonschema_on_every_example_and_corpus_document(kind):
    assert len(DOCS) > 100
    for doc in DOCS:
        _agree(kind, doc)


# Values that sit on and around the schema's boundaries and type confusions.
_ODD = st.sampled_from(
    [None, True, False, 0, -1, 1, 0.25, 0.3, 1.0, 16, 16.25, 17, 20, 604800, 604801, -2,
     2592000, 2592001, "", "x", "7d", "7days", "X", "a" * 70, "aws-us-east-2", "Bad Name",
     "sqlite:///x", "mysql://x", [], {}, ["x"], {"x": 1}, {"name": "a"}, [{"name": "a"}]]
)  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_agrees_with_jsonschema_on_mutated_documents(data):
    base = data.draw(st.sampled_from(DOCS))
    doc = copy.deepcopy(base)
    paths = [p for p in _paths(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict | list):
            with contextlib.suppress(IndexError, KeyError, TypeError):
                parent[path[-1]] = copy.deepcopy(data.draw(_ODD))
        if isinstance(parent, dict) and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(["extra", "name", "tier", "quota", "expires_at"]))
            parent[key] = copy.deepcopy(data.draw(_ODD))
        paths = [p for p in _paths(doc) if p]
    for kind in KINDS:
        _agree(kind, doc)


def test_unknown_keywords_are_refused_at_compile_time():
    with pytest.raises(UnsupportedSchema):
        compile_schema({"type": "object", "oneOf": [{"required": ["a"]}]})
    with pytest.raises(UnsupportedSchema):
        compile_schema({"$ref": "other.json#/x"})


def test_integers_may_be_floats_without_fraction_and_booleans_are_not_numbers():
    check = compile_schema({"type": "integer", "minimum": 0})
    assert check(1) and check(1.0) and not check(1.5) and not check(True) and not check(-1)
    assert compile_schema({"enum": [14, 15]})(14.0) and not compile_schema({"enum": [1]})(True)
