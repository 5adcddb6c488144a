"""Fault injection: latency, 500/503 answers, 429 storms, dropped connections, lost responses.

Every request draws the same four numbers from one ``random.Random(random_seed)``, so a given
seed and request sequence always produce the same faults. Drops happen before the request is
performed; a lost response happens after it was performed and committed.

What a client sees for the two connection faults:
- over loopback (``serve``): the server closes the socket without writing a response, which
  httpx raises as ``httpx.RemoteProtocolError`` (a ``httpx.TransportError``);
- in process through ``httpx.WSGITransport``: the transport does not translate exceptions, so
  ``ConnectionDropped`` / ``ResponseLost`` (both ``ConnectionResetError``, an ``OSError``)
  propagate out of ``httpx.Client.send`` unchanged. Clients should treat ``OSError`` from the
  transport like ``httpx.TransportError``.
"""

from __future__ import annotations

import enum
import random
import threading
from dataclasses import asdict
from typing import Any

from reconciler.emulator.seed_file import Faults


class ConnectionDropped(ConnectionResetError):
    """The emulator dropped the connection before performing the request."""


class ResponseLost(ConnectionResetError):
    """The emulator performed the request, then dropped the connection instead of answering."""


class Fault(enum.Enum):
    """What happens to one request."""

    NONE = "none"
    DROP = "drop"
    STORM_429 = "storm_429"
    SERVER_ERROR = "server_error"
    LOST_RESPONSE = "lost_response"


class FaultInjector:
    """Holds the current fault settings and draws each request's fate."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        #: 429 answers of storms since start (the rate limiter's own 429s are not counted);
        #: kept across ``configure`` so that re-armed storms add up.
        self._storm_answers = 0
        self.configure(faults)

    def configure(self, faults: Faults) -> None:
        """Replace the settings; the random sequence restarts from ``faults.random_seed``."""
        with self._lock:
            self._faults = faults
            self._storm_left = faults.storm_429_requests
            self._random = random.Random(faults.random_seed)

    @property
    def latency_seconds(self) -> float:
        """How long to wait before answering each API request."""
        return self._faults.latency_ms / 1000

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON, with the 429 storm's remaining requests."""
        with self._lock:
            return {**asdict(self._faults), "storm_429_requests": self._storm_left}

    @property
    def storm_answers(self) -> int:
        """How many requests were answered 429 by a storm since the emulator started."""
        with self._lock:
            return self._storm_answers

    def current(self) -> Faults:
        """The settings, with the storm's remaining count."""
        with self._lock:
            values = {**asdict(self._faults), "storm_429_requests": self._storm_left}
        return Faults(**values)

    def draw(self) -> tuple[Fault, int]:
        """Decide one request's fate; the int is the status for ``SERVER_ERROR`` (500 or 503)."""
        with self._lock:
            faults = self._faults
            drop, error, lost, which = (self._random.random() for _ in range(4))
            if drop < faults.drop_rate:
                return Fault.DROP, 0
            if self._storm_left > 0:
                self._storm_left -= 1
                self._storm_answers += 1
                return Fault.STORM_429, 429
            if error < faults.server_error_rate:
                return Fault.SERVER_ERROR, 503 if which < 0.5 else 500
            if lost < faults.lost_response_rate:
                return Fault.LOST_RESPONSE, 0
            return Fault.NONE, 0
