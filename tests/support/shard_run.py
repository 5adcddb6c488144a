"""Helpers for running ``fleet apply --shard i/n`` as real processes against one emulator.

Used by the sharded-apply e2e test and ``bench/shard_apply.py``: a fleet of tenants in one org,
the shard processes started side by side, and a sampler of the emulator's request count that
gives the most requests seen in any window of a given length (the aggregate rate the account
actually saw, whatever each process believed it sent).
"""

from __future__ import annotations

import bisect
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.emulator import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
#: How often the sampler reads the emulator's request count.
SAMPLE_SECONDS = 0.01


def write_one_org_fleet(root: Path, tenants: int, prefix: str = "shard") -> list[str]:
    """fleet.example's Fleet and tiers, and ``tenants`` free-tier tenants (all in one org)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "fleet.yaml", root / "fleet.yaml")
    shutil.copy(EXAMPLE / "tiers.yaml", root / "tiers.yaml")
    names = [f"{prefix}-{n:04d}" for n in range(tenants)]
    documents = [
        "apiVersion: neon-fleet/v1\nkind: Tenant\n"
        f"metadata: {{name: {name}}}\nspec:\n  tier: free\n"
        for name in names
    ]
    (root / "tenants.yaml").write_text("---\n".join(documents))
    return names


def start_shards(
    args: Sequence[str], count: int, *, cwd: Path, env: Mapping[str, str], only: Sequence[int] = ()
) -> dict[int, subprocess.Popen[str]]:
    """Start ``python -m reconciler ARGS --shard i/count`` for each shard (or each in ``only``)."""
    return {
        index: subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args, "--shard", f"{index}/{count}"],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (only or range(count))
    }


class RequestSampler:
    """Samples the emulator's total request count in a thread while the block runs."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RequestSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._emulator.stats().total))
            time.sleep(SAMPLE_SECONDS)
        self.samples.append((time.monotonic(), self._emulator.stats().total))

    @property
    def requests(self) -> int:
        """Requests seen between the first and the last sample."""
        return self.samples[-1][1] - self.samples[0][1] if self.samples else 0

    @property
    def seconds(self) -> float:
        return self.samples[-1][0] - self.samples[0][0] if self.samples else 0.0

    def windows(self, window: float) -> list[tuple[int, float]]:
        """(requests, seconds) of every stretch of at least ``window`` seconds starting at a
        sample: from the sample before it to the first sample past its end, so a window never
        under-counts, and its length is what the samples say (a stalled sampler widens it)."""
        times = [moment for moment, _ in self.samples]
        found = []
        for start, (moment, count) in enumerate(self.samples):
            end = min(bisect.bisect_right(times, moment + window), len(times) - 1)
            before_time, before_count = self.samples[start - 1] if start else (moment, count)
            found.append((self.samples[end][1] - before_count, times[end] - before_time))
        return found

    def most_in_window(self, window: float) -> int:
        """The most requests seen in any stretch of ``window`` seconds (see ``windows``)."""
        return max((count for count, _ in self.windows(window)), default=0)
