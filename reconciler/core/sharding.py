"""Which shard of a fleet a tenant belongs to: ``fleet apply --shard i/n``.

A fleet that outgrows one process is applied by ``n`` runners at once (CI matrix jobs,
Kubernetes jobs), each with ``--shard i/n``. Membership must be the same in every runner, on
every machine and in every Python version, so it is a pure function of the tenant's *name*:
the first 8 bytes of its SHA-256, modulo ``n`` (``hash()`` is salted per process, and a
tenant's org can change, which would move it between shards mid-transfer). Every tenant is in
exactly one shard of ``n``; SHA-256 spreads names evenly, so shards are balanced within a few
percent at a few hundred tenants per shard.

A tenant's transfers, creates, deletes and key steps all run in the tenant's shard, whatever
its source and destination orgs: the org is never part of the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.errors import UsageError

#: How many shards a fleet may be split into (a lock and a runner each; far beyond any need).
MAX_SHARDS = 1024
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(tenant: str, count: int) -> int:
    """The shard (0 … ``count``-1) that holds ``tenant``: stable across processes and hosts."""
    digest = hashlib.sha256(tenant.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0/4`` … ``3/4``); ``0/1`` is the whole fleet."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS or not 0 <= self.index < self.count:
            raise UsageError(
                f"bad shard {self.index}/{self.count}: write I/N with 0 <= I < N <= {MAX_SHARDS}"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/4"`` → ``Shard(1, 4)``; ``UsageError`` naming the value for anything else."""
        found = _SHARD.match(text)
        if found is None:
            raise UsageError(
                f"--shard {text!r}: write I/N, e.g. 0/4 … 3/4 (shard I of N, counted from 0)"
            )
        index, count = int(found.group(1)), int(found.group(2))
        if not 1 <= count <= MAX_SHARDS or not 0 <= index < count:
            raise UsageError(
                f"--shard {text!r}: I must be 0 … N-1 and N 1 … {MAX_SHARDS} (shards count from 0)"
            )
        return cls(index, count)

    @property
    def whole(self) -> bool:
        """True for ``0/1``: the whole fleet, applied under the ordinary apply lock."""
        return self.count == 1

    def holds(self, tenant: str) -> bool:
        """Whether ``tenant`` is planned and applied by this shard."""
        return self.whole or shard_of(tenant, self.count) == self.index

    def select(self, tenants: Iterable[str]) -> tuple[str, ...]:
        """The tenants of ``tenants`` this shard holds, sorted and without repeats."""
        return tuple(sorted({name for name in tenants if self.holds(name)}))

    def describe(self) -> str:
        """``1/4``, as written on the command line and recorded in a plan's ``meta.shard``."""
        return f"{self.index}/{self.count}"
