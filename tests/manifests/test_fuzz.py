"""Fuzzing ``fleet validate`` (issue 18): whatever the manifests hold, the answer is exit 0 or a
clean ``Error:`` with exit 1, never a traceback, a hang or unbounded memory.

Two halves:

* a corpus of hostile cases (alias bombs, recursive aliases, deep nesting, huge numbers,
  binary junk, byte order marks, tabs, duplicate keys, text that is not UTF-8, symlink loops…),
  each run through ``fleet validate`` in-process under ``tracemalloc`` with a stated memory cap;
* hypothesis-generated manifests (structured documents, YAML-ish text, raw bytes, and mutations
  of the example fleet), with a fixed seed and a bounded number of examples so the run is
  repeatable and takes a few seconds.

"No traceback" is checked twice: ``load_fleet`` raises nothing but ``ManifestError`` (the
project's error type), and the CLI prints no ``Traceback`` and exits 0 or 1.
"""

from __future__ import annotations

import copy
import os
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.conftest import FLEET, TIER
from tests.manifests.test_hostile_input import laughs, traced
from tests.support.cli import Result, run_in_process

#: Peak Python allocation allowed for validating any corpus case (bombs included).
MEMORY_CAP = 32 * 1024 * 1024
EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
_TENANT = "apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {name: cust-1}\nspec:\n  tier: free\n"


def _text(body: str) -> Callable[[Path], Path]:
    return _bytes(body.encode("utf-8"))


def _bytes(body: bytes) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / "case.yaml"
        path.write_bytes(body)
        return path

    return write


def _fleet_plus(extra: str) -> Callable[[Path], Path]:
    """A valid Fleet and Tier followed by ``extra`` (so the hostile part is what fails)."""
    return _text(FLEET + "---\n" + TIER + "---\n" + extra)


def _symlink_loop(directory: Path) -> Path:
    root = directory / "fleet"
    root.mkdir()
    (root / "fleet.yaml").write_text(FLEET + "---\n" + TIER)
    os.symlink(".", root / "again")
    os.symlink("missing.yaml", root / "dangling.yaml")
    return root


def _fifo(directory: Path) -> Path:
    path = directory / "fleet.yaml"
    os.mkfifo(path)  # nothing ever writes to it: reading would block for ever
    return path


def _nested(depth: int, flow: bool) -> str:
    if flow:
        return "spec: " + "[" * depth + "]" * depth + "\n"
    return "".join("  " * i + "k:\n" for i in range(depth)) + "  " * depth + "v\n"


CORPUS: dict[str, Callable[[Path], Path]] = {
    "billion-laughs": _text(laughs(9)),
    "billion-laughs-in-a-fleet": _fleet_plus(laughs(9).replace("Tenant", "Tenant", 1)),
    "wide-alias": _text(
        "a: &a [" + ",".join(["x"] * 5000) + "]\nb: [" + ",".join(["*a"] * 500) + "]\n"
    ),
    "recursive-alias": _text("spec: &a [*a]\n"),
    "recursive-mapping-alias": _text("spec: &a {self: *a}\n"),
    "merge-bomb": _text(
        "a: &a {x: 1}\n"
        + "".join(f"b{i}: &b{i} {{<<: [*{'a' if i == 0 else f'b{i - 1}'}]}}\n" for i in range(40))
    ),
    "merge-of-a-scalar": _fleet_plus(_TENANT + "  labels: {<<: 5}\n"),
    "deep-flow-nesting": _text(_nested(900, flow=True)),
    "deeper-than-libyaml-allows": _text(_nested(5000, flow=True)),
    "deep-block-nesting": _text(_nested(900, flow=False)),
    "huge-int": _fleet_plus(_TENANT + "  quota: {compute_time_seconds: " + "9" * 5000 + "}\n"),
    "huge-negative-int": _fleet_plus(_TENANT + "  pg_version: -" + "1" * 10000 + "\n"),
    "huge-hex-int": _fleet_plus(_TENANT + "  pg_version: 0x" + "f" * 5000 + "\n"),
    "huge-sexagesimal-int": _fleet_plus(_TENANT + "  pg_version: 1" + ":59" * 3000 + "\n"),
    "huge-float": _fleet_plus(_TENANT + "  compute: {autoscaling_limit_max_cu: 1e99999}\n"),
    "nan": _fleet_plus(_TENANT + "  compute: {autoscaling_limit_max_cu: .nan}\n"),
    "huge-int-as-key": _text("? " + "7" * 5000 + "\n: x\n"),
    "binary-junk": _bytes(bytes(range(256)) * 8),
    "nul-bytes": _bytes(b"apiVersion: neon-fleet/v1\x00\x00\nkind: Fleet\n"),
    "utf8-bom": _bytes(b"\xef\xbb\xbf" + (FLEET + "---\n" + TIER).encode()),
    "utf16-bom": _bytes((FLEET + "---\n" + TIER).encode("utf-16")),
    "latin-1": _bytes("metadata: {name: caf\xe9}\n".encode("latin-1")),
    "lone-surrogate-escape": _text('spec: "\\ud800"\n'),
    "tabs": _text("apiVersion: neon-fleet/v1\nkind: Fleet\nspec:\n\torgs: {}\n"),
    "duplicate-keys": _fleet_plus(_TENANT + "  tier: free\n  tier: pro\n"),
    "complex-key": _text("? [a, b]\n: c\n? {x: 1}\n: d\n"),
    "unsafe-python-tag": _text("spec: !!python/object/apply:os.system ['true']\n"),
    "bad-binary-tag": _text("spec: !!binary '%%%'\n"),
    "unknown-tag": _text("spec: !custom {a: 1}\n"),
    "set-tag": _text("spec: !!set {a, b}\n"),
    "timestamp-everywhere": _fleet_plus(_TENANT + "  labels: {at: 2001-12-14t21:59:43.10-05:00}\n"),
    "many-empty-documents": _text("---\n" * 20000),
    "many-tiny-documents": _text("--- 1\n" * 5000),
    "one-megabyte-string": _fleet_plus(_TENANT + "  labels: {big: " + "x" * 1_000_000 + "}\n"),
    "crlf-line-endings": _text((FLEET + "---\n" + TIER).replace("\n", "\r\n")),
    "not-a-mapping": _text("- just\n- a\n- list\n"),
    "unterminated-quote": _text('apiVersion: "neon-fleet/v1\n'),
    "empty-file": _text(""),
    "comments-only": _text("# nothing here\n# at all\n"),
    "symlink-loop": _symlink_loop,
    "fifo-named-as-manifest": _fifo,
}


#: Corpus cases that are odd but valid fleets.
VALID = frozenset({"utf8-bom", "crlf-line-endings", "timestamp-everywhere"})


def _validate(target: Path) -> Result:
    result = run_in_process(["validate", str(target)])
    assert "Traceback" not in result.text, result.text[-2000:]
    assert result.code in (0, 1), result
    if result.code == 1:
        assert result.err.startswith("Error:"), result.err[:500]
    return result


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_manifest_is_a_clean_error_in_bounded_memory(name: str, tmp_path: Path) -> None:
    target = CORPUS[name](tmp_path)
    result, peak = traced(lambda: _validate(target))
    assert peak < MEMORY_CAP, f"{name}: peak {peak / 2**20:.1f} MiB"
    assert result.code == (0 if name in VALID else 1), result


def _check_load(target: Path) -> None:
    try:
        load_fleet(target)
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
    _validate(target)


_WORDS = [
    "apiVersion", "kind", "metadata", "name", "spec", "tier", "org", "orgs", "quota", "compute",
    "region", "pg_version", "branches", "parent", "api_keys", "lifecycle", "labels", "defaults",
    "id", "api_key_env", "max_branches", "project_name", "policy", "secrets", "hipaa",
    "compute_time_seconds", "autoscaling_limit_max_cu", "expires_in", "protected", "<<",
]  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["neon-fleet/v1", "Fleet", "Tier", "Tenant", "free", "aws-us-east-2", "7d"]),
    st.text(max_size=20),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_WORDS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=25,
)
_DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.one_of(st.just("neon-fleet/v1"), _SCALARS),
        "kind": st.sampled_from(["Fleet", "Tier", "Tenant", "Other", ""]),
        "metadata": st.one_of(st.fixed_dictionaries({"name": st.text(max_size=10)}), _VALUES),
        "spec": _VALUES,
    },
)
_YAML_CHARACTERS = string.ascii_letters[:6] + string.digits[:4] + "-:{}[]&*!|>'\"#%@,?<.\n\t \\"
_YAMLISH = st.text(
    alphabet=st.sampled_from([*_YAML_CHARACTERS, "\ufeff", "é", "\x00", "\x85"]),
    max_size=200,
)
_FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.timeout(120)
@seed(18)
@_FUZZ
@given(documents=st.lists(_DOCUMENTS, min_size=1, max_size=4))
def test_generated_documents_never_raise_a_traceback(documents: list[Any], tmp_path: Path) -> None:
    text = FLEET + "---\n" + TIER + "---\n" + yaml.safe_dump_all(documents, allow_unicode=True)
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    _check_load(path)


@pytest.mark.timeout(120)
@seed(18)
@_FUZZ
@given(text=_YAMLISH)
def test_generated_yaml_text_never_raises_a_traceback(text: str, tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _check_load(path)


@pytest.mark.timeout(120)
@seed(18)
@_FUZZ
@given(junk=st.binary(max_size=300))
def test_generated_bytes_never_raise_a_traceback(junk: bytes, tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(junk)
    _check_load(path)


_EXAMPLE_TEXT = "\n---\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted(EXAMPLE.rglob("*.yaml"))
    # Relative parts: the checkout itself may sit below a directory named ``ci``.
    if "ci" not in p.relative_to(EXAMPLE).parts
)


@pytest.mark.timeout(120)
@seed(18)
@_FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(_EXAMPLE_TEXT)),
            st.integers(min_value=0, max_value=8),
            st.text(alphabet="-:{}[]&*!|>'\"#\n\t 0123456789ab", max_size=6),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_example_fleet_never_raises_a_traceback(
    edits: list[tuple[int, int, str]], tmp_path: Path
) -> None:
    text = _EXAMPLE_TEXT
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut :]
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    _check_load(path)


def _field_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        found.extend(_field_paths(item, (*prefix, key)))
    return found


_EXAMPLE_DOCUMENTS = [doc for doc in yaml.safe_load_all(_EXAMPLE_TEXT) if doc]
_EXAMPLE_FIELDS = [
    (index, path) for index, doc in enumerate(_EXAMPLE_DOCUMENTS) for path in _field_paths(doc)
]
_ODD_VALUES = st.one_of(
    _SCALARS,
    st.integers(min_value=10**100, max_value=10**300),
    st.sampled_from(
        [
            *("9999999999999999999999d", "-1d", "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"),
            *(
                "{tenant}{tenant}",
                "{",
                "{0}",
                "{tenant.x}",
                "{tenant[0]}",
                "main",
                "pro",
                "a" * 300,
            ),
            *(0, -1, 0.1, 1e308, 2**63, "sqlite:///", "postgresql://x", "", "aws-us-east-9"),
        ]
    ),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@pytest.mark.timeout(120)
@seed(18)
@_FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(_EXAMPLE_FIELDS), _ODD_VALUES), max_size=3))
def test_example_fleet_with_odd_field_values_never_raises_a_traceback(
    changes: list[tuple[tuple[int, tuple[str | int, ...]], Any]], tmp_path: Path
) -> None:
    # Close to valid on purpose: the odd value reaches semantic checks, templates, durations
    # and timestamps, which random documents rarely get past the schema to.
    documents = copy.deepcopy(_EXAMPLE_DOCUMENTS)
    for (index, field), value in changes:
        target: Any = documents[index]
        try:
            for part in field[:-1]:
                target = target[part]
            target[field[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change replaced a parent of this field: nothing to change

    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump_all(documents, allow_unicode=True), encoding="utf-8")
    _check_load(path)
