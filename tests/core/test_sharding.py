"""Shard membership for ``--shard i/n``: stable, balanced, every tenant in exactly one shard."""

from __future__ import annotations

import pytest

from reconciler.core.sharding import MAX_SHARDS, Shard, shard_of
from reconciler.errors import UsageError

NAMES = [f"cust-{n:05d}" for n in range(8000)]


def test_shard_membership_is_a_fixed_function_of_the_name() -> None:
    # Literal values: every runner, host and Python version must put a tenant in the same
    # shard, so membership may never come to depend on hash() salting or anything but the name.
    assert [shard_of(name, 4) for name in ("acme", "globex", "initech", "cust-00042")] == [
        0,
        3,
        3,
        2,
    ]
    assert [shard_of(name, 1000) for name in ("acme", "globex")] == [872, 599]
    assert shard_of("acme", 1) == 0


def test_every_tenant_is_in_exactly_one_shard() -> None:
    for count in (1, 2, 3, 4, 16):
        shards = [Shard(index, count) for index in range(count)]
        selections = [set(shard.select(NAMES)) for shard in shards]
        assert sum(len(s) for s in selections) == len(NAMES)
        assert set().union(*selections) == set(NAMES)
        for name in NAMES[:200]:
            assert [shard.holds(name) for shard in shards].count(True) == 1


def test_shards_are_balanced_within_five_percent() -> None:
    for count in (2, 4, 8):
        sizes = [len(Shard(index, count).select(NAMES)) for index in range(count)]
        expected = len(NAMES) / count
        assert all(abs(size - expected) <= 0.05 * expected for size in sizes), sizes


def test_select_sorts_and_drops_repeats() -> None:
    shard = Shard(0, 1)
    assert shard.whole
    assert shard.select(["b", "a", "b"]) == ("a", "b")


@pytest.mark.parametrize(
    "text", ["", "4", "4/4", "-1/4", "1/0", "a/b", "1/2/3", f"0/{MAX_SHARDS + 1}", "1 of 4"]
)
def test_bad_shard_values_are_one_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


def test_shard_parses_and_describes_itself() -> None:
    assert Shard.parse(" 3 / 4 ") == Shard(3, 4)
    assert Shard.parse("3/4").describe() == "3/4"
    with pytest.raises(UsageError, match="bad shard 5/4"):
        Shard(5, 4)
