"""Hostile manifests (issue 18): alias bombs, huge integers and symlink loops are one clear
problem each, located in the file, with bounded time and memory and never a traceback."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from reconciler.manifests.yaml_data import MAX_ALIAS_USES, MAX_ALIAS_VALUES
from tests.manifests.conftest import FLEET, TIER
from tests.support.cli import run_in_process

T = TypeVar("T")
#: Peak Python allocation allowed while rejecting a bomb (the caps keep it to a few MB).
BOMB_MEMORY_CAP = 20 * 1024 * 1024


def laughs(levels: int) -> str:
    """The classic "billion laughs": each level is nine aliases of the level before."""
    lines = ["apiVersion: neon-fleet/v1", "kind: Tenant", "metadata: {name: lol}", "spec:"]
    lines.append('  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for n in range(1, levels):
        lines.append(f"  l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def traced(call: Callable[[], T]) -> tuple[T, int]:
    """``call()``'s result and the peak of Python allocations (bytes) while it ran."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_fleet(path)
    return [str(p) for p in caught.value.problems]


def test_alias_bomb_is_capped_and_reported_with_file_and_line(tmp_path):
    # Six levels are 531,441 values: small enough that loading them used to *succeed* (the
    # regression this guards), big enough to pass both caps.
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(6))
    problems, peak = traced(lambda: problems_of(bomb))
    [problem] = [p for p in problems if "alias" in p]
    assert problem.startswith(f"{bomb}:")
    line = int(problem.split(":")[1])
    assert 5 < line <= 11, problem  # the line of a key whose value is an alias
    assert f"more than {MAX_ALIAS_USES:,} times" in problem
    assert "its anchor is on line" in problem
    assert peak < BOMB_MEMORY_CAP


def test_alias_expansion_is_capped_by_total_size_too(tmp_path):
    # Few aliases, each expanding to many values: the size cap answers, not the count cap.
    items = ",".join(["1"] * 1000)
    uses = ",".join(["*big"] * (MAX_ALIAS_VALUES // 1000 + 1))
    text = f"apiVersion: neon-fleet/v1\nkind: Tenant\nspec:\n  big: &big [{items}]\n  x: [{uses}]\n"
    (tmp_path / "wide.yaml").write_text(text)
    [problem] = [p for p in problems_of(tmp_path / "wide.yaml") if "alias" in p]
    where = "wide.yaml:5:3: spec.x[100]"
    assert f"{where}: YAML aliases expand to more than {MAX_ALIAS_VALUES:,}" in problem


@pytest.mark.timeout(60)
def test_a_342_byte_alias_bomb_fails_validate_quickly_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(9))
    result, peak = traced(lambda: run_in_process(["validate", str(bomb)]))
    assert result.code == 1
    assert "Traceback" not in result.text
    assert result.err.startswith("Error:")
    assert f"{bomb}:" in result.err and "alias bomb" in result.err
    assert peak < BOMB_MEMORY_CAP


def test_integer_over_4300_digits_is_an_error_not_a_traceback(tmp_path):
    tenant = "apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {name: cust-1}\nspec:\n"
    tenant += "  tier: free\n  quota:\n    compute_time_seconds: " + "9" * 5000 + "\n"
    (tmp_path / "fleet.yaml").write_text(FLEET + "---\n" + TIER + "---\n" + tenant)
    result = run_in_process(["validate", str(tmp_path)])
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    lines = result.err.splitlines()
    assert lines[0].startswith("Error:")
    where = f"{tmp_path / 'fleet.yaml'}:23:27: spec.quota.compute_time_seconds:"
    # One problem: the unreadable value is not also reported as "got null" by the schema.
    assert [line for line in lines if line.startswith(where)] == [
        f"{where} a number of 5,000 digits is too long"
    ], result.err


def test_symlink_loop_in_manifest_directory_is_an_error_not_a_traceback(tmp_path):
    fleet = tmp_path / "fleet"
    (fleet / "tiers").mkdir(parents=True)
    (fleet / "fleet.yaml").write_text(FLEET + "---\n" + TIER)
    os.symlink("..", fleet / "tiers" / "back")  # tiers/back -> fleet/ : a loop
    os.symlink("self.yaml", fleet / "self.yaml")  # a link to itself
    result = run_in_process(["validate", str(fleet)])
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and result.err.startswith("Error:")
    assert f"{fleet / 'tiers' / 'back'}:1:1: symlink loop:" in result.err
    assert f"{fleet / 'self.yaml'}:1:1: symlink leads nowhere" in result.err
    # The loop is reported once; the real files are still read once (no duplicate Fleet).
    assert "second Fleet" not in result.err


def test_a_symlink_loop_named_on_the_command_line_is_an_error(tmp_path):
    os.symlink("loop.yaml", tmp_path / "loop.yaml")
    result = run_in_process(["validate", str(tmp_path / "loop.yaml")])
    assert result.code == 1 and "Traceback" not in result.text
    assert f"{tmp_path / 'loop.yaml'}:1:1: symlink leads nowhere" in result.err


def test_integer_over_4300_digits_written_in_hex_is_an_error_not_a_traceback(tmp_path):
    # Readable as hex, but every message or digest would show it in decimal (found by fuzzing).
    tenant = "apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {name: cust-1}\nspec:\n"
    tenant += "  tier: free\n  pg_version: 0x" + "f" * 5000 + "\n"
    (tmp_path / "fleet.yaml").write_text(FLEET + "---\n" + TIER + "---\n" + tenant)
    result = run_in_process(["validate", str(tmp_path)])
    assert result.code == 1 and "Traceback" not in result.text
    where = f"{tmp_path / 'fleet.yaml'}:22:15: spec.pg_version:"
    assert f"{where} a number of about 6,021 digits is too long" in result.err.splitlines()


@pytest.mark.timeout(30)
def test_symlink_to_an_ancestor_directory_is_a_loop_reported_before_it_is_searched(tmp_path):
    fleet = tmp_path / "fleet"
    (fleet / "tiers").mkdir(parents=True)
    (fleet / "fleet.yaml").write_text(FLEET + "---\n" + TIER)
    # A manifest beside the fleet, outside it: following the link would read it (a second Fleet).
    (tmp_path / "elsewhere.yaml").write_text(FLEET)
    os.symlink(str(tmp_path), fleet / "tiers" / "up")  # up -> the fleet's parent
    os.symlink("/", fleet / "root")  # searching it would walk the whole filesystem
    result = run_in_process(["validate", str(fleet)])
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and result.err.startswith("Error:")
    assert f"{fleet / 'tiers' / 'up'}:1:1: symlink loop:" in result.err
    assert f"{fleet / 'root'}:1:1: symlink loop:" in result.err
    assert "second Fleet" not in result.err
