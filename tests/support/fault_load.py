"""Keep a share of every fault kind the emulator injects, 429 storms included, while tests run.

The rates of 500/503 answers, dropped connections and lost responses are emulator settings (set
here through the ``/_emulator/faults`` admin API, as a CI job would). A 429 storm is one burst of
``storm_429_requests`` refused requests, so to keep storms coming at a steady share a thread
re-arms a burst of ``storm_length`` every ``storm_every`` API requests the emulator observes
(progress, not time: on a busy machine storms come no more and no less often per request).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.emulator import Emulator

#: How often the storm thread reads the emulator's request count.
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class FaultMix:
    """A share of each fault kind: rates per request, and storms of ``storm_length`` requests."""

    server_error_rate: float = 0.05
    drop_rate: float = 0.05
    lost_response_rate: float = 0.05
    #: Short storms: a request refused more than twice in a row already waits 3.5 s (Neon's
    #: backoff), and the soak must stay bounded in time.
    storm_length: int = 2
    #: One storm per this many requests: 2 in 40 is 5% of requests answered 429 by storms.
    storm_every: int = 40


def set_faults(admin_url: str, **settings: Any) -> None:
    """``PUT /_emulator/faults`` with ``settings`` (merged into the current ones)."""
    with httpx.Client(base_url=admin_url, timeout=30) as client:
        answer = client.put("/_emulator/faults", json=settings)
    assert answer.status_code == 200, answer.text


@contextmanager
def fault_load(emulator: Emulator, admin_url: str, mix: FaultMix, seed: int) -> Iterator[None]:
    """Inject ``mix`` for the block; every fault is off again afterwards."""
    rng = random.Random(seed)
    set_faults(
        admin_url,
        server_error_rate=mix.server_error_rate,
        drop_rate=mix.drop_rate,
        lost_response_rate=mix.lost_response_rate,
        random_seed=rng.randrange(2**31),
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def storms() -> None:
        next_storm = emulator.stats().total + rng.randint(1, mix.storm_every)
        try:
            while not stop.wait(POLL_SECONDS):
                if emulator.stats().total >= next_storm:
                    # A new random_seed too: setting faults restarts the emulator's random
                    # sequence, which must not replay the same faults after every storm.
                    set_faults(
                        admin_url,
                        storm_429_requests=mix.storm_length,
                        random_seed=rng.randrange(2**31),
                    )
                    next_storm += mix.storm_every
        except BaseException as exc:  # handed to the test's thread below
            failures.append(exc)

    thread = threading.Thread(target=storms, name="storm-429", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        set_faults(
            admin_url,
            server_error_rate=0.0,
            drop_rate=0.0,
            lost_response_rate=0.0,
            storm_429_requests=0,
        )
    if failures:
        raise failures[0]


def injected(emulator: Emulator) -> dict[str, int]:
    """The faults the emulator injected so far, per kind (from its own counters)."""
    stats = emulator.stats()
    storms = emulator.faults.storm_answers
    return {
        "server_errors_500_503": stats.server_errors,
        "dropped_connections": stats.dropped,
        "lost_responses": stats.lost_responses,
        "storm_429": storms,
        "rate_limited_429": stats.rate_limited - storms,
        "requests": stats.total,
    }
