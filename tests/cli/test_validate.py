"""``fleet validate``: every broken manifest of the corpus exits 1 with its exact messages."""

from __future__ import annotations

import pytest

from tests.manifests.invalid_cases import INVALID_DIR, invalid_cases
from tests.support.cli import run_in_process

CASES = invalid_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_manifest_exits_1_with_exact_messages(case, monkeypatch):
    monkeypatch.chdir(INVALID_DIR)
    result = run_in_process(["validate", case.target])
    assert result.code == 1
    assert result.out == ""
    assert "Traceback" not in result.err
    problems = [line for line in result.err.splitlines() if not line.startswith("Error:")]
    assert problems == list(case.expected)


def test_example_fleet_is_valid(monkeypatch):
    result = run_in_process(["validate", "fleet.example"])
    assert result.code == 0, result.err
    assert result.out.startswith("fleet.example: valid — ")


def test_bad_flag_exits_1_without_traceback():
    result = run_in_process(["plan", "--no-such-flag", "fleet.example"])
    assert result.code == 1
    assert "Error: No such option '--no-such-flag'." in result.err
    assert "Traceback" not in result.err
