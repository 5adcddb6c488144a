"""SIGKILL a real CLI process at a moment chosen by observed progress, never by wall time.

A kill timed by the clock tests nothing on a busy machine: when start-up alone takes seconds,
every kill lands before the process has done anything. Here the moment is counted in events the
emulator observed: first wait until the process has started to change the fleet (its first
mutating request reaches the emulator, so its run is under way), then let a chosen number of
further API requests arrive, then kill. Whatever the machine's speed, the kill lands at the same
point of the work.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.emulator import Emulator

#: How often the emulator's counters are read while waiting for the chosen moment.
POLL_SECONDS = 0.005
#: Methods that change the fleet: the first one shows a process has started its work.
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
#: Generous bound for a process to reach the chosen moment (a busy machine is slow, not stuck).
PROGRESS_TIMEOUT = 120.0


@dataclass(frozen=True)
class Progress:
    """Counts of API requests the emulator has seen: the events kills are timed on."""

    emulator: Emulator

    def requests(self) -> int:
        """Every API request that reached the emulator (faulted ones included)."""
        return self.emulator.stats().total

    def mutations(self, methods: frozenset[str] = WRITE_METHODS) -> int:
        """Requests with one of ``methods``: those that may change the fleet by default."""
        counts = self.emulator.stats().requests
        return sum(n for (method, _), n in counts.items() if method in methods)


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: ``after`` further requests once the first mutation was seen, then a pause.

    ``pause`` (seconds, small) moves the kill off the instant a request arrives, into whatever
    the process does next (a ledger write, a sink delivery, waiting for an operation).
    """

    after: int
    pause: float = 0.0

    @classmethod
    def draw(cls, rng: random.Random, most: int, pause: float = 0.03) -> KillPoint:
        """A random point: 0..``most`` further requests, then 0..``pause`` seconds."""
        return cls(rng.randint(0, most), rng.uniform(0.0, pause))


@dataclass(frozen=True)
class KillOutcome:
    """What happened to one process: killed at the chosen point, or finished before it."""

    killed: bool
    #: The process's exit code when it finished on its own, else None.
    code: int | None
    #: API requests the emulator saw while the process ran.
    requests: int


def run_until_killed(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    progress: Progress,
    point: KillPoint,
    start_methods: frozenset[str] = WRITE_METHODS,
    timeout: float = PROGRESS_TIMEOUT,
) -> KillOutcome:
    """Run ``python -m reconciler ARGS`` and SIGKILL it at ``point``.

    The point is counted from the first request with one of ``start_methods`` (e.g. only POST,
    to skip what crash recovery does before a run begins). The process may finish before
    ``point`` (nothing left to do): that is reported, not an error. Raises ``AssertionError``
    when it neither reaches ``point`` nor ends within ``timeout``.
    """
    first_request, first_write = progress.requests(), progress.mutations(start_methods)
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout

    def started() -> bool:
        return progress.mutations(start_methods) > first_write

    try:
        if _wait_for(started, process, deadline):
            target = progress.requests() + point.after
            if _wait_for(lambda: progress.requests() >= target, process, deadline):
                time.sleep(point.pause)
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    return KillOutcome(True, None, progress.requests() - first_request)
        return KillOutcome(False, process.wait(), progress.requests() - first_request)
    finally:
        if process.poll() is None:  # only on an unexpected error: never leave a process behind
            process.kill()
            process.wait()


def _wait_for(
    reached: Callable[[], bool], process: subprocess.Popen[bytes], deadline: float
) -> bool:
    """Poll until ``reached()`` (True) or the process ended (False); fail past ``deadline``."""
    while not reached():
        if process.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError("the process neither reached its kill point nor ended in time")
        time.sleep(POLL_SECONDS)
    return True
