"""When and how long to wait before sending a failed request again.

The policy is data (a backoff schedule, a total time budget, a jitter fraction) plus one pure
decision, ``RetryPolicy.should_retry(error, method)``, made by error *class* and HTTP method:

* 423 ``Locked`` and 429 ``RateLimited``: the server refused the request without performing
  it, so every method is retried;
* ``ApiUnavailable``: the request never left the client, so every method is retried;
* ``ApiServerError``: retried for reads; for writes only on 503, where the server says it did
  nothing (any other 5xx after a write may hide a performed change);
* ``OutcomeUnknown`` and every other 4xx: never retried.

``call_with_retries`` runs the loop, honours ``Retry-After`` when the answer carries one, and
logs each failed attempt as ``attempt #n/N failed: ...; will retry in Xs`` or ``...; escalating``
on the ``reconciler.neon`` logger.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler import errors

logger = logging.getLogger("reconciler.neon")

T = TypeVar("T")

#: Methods that do not change server state, so a lost answer may be asked for again.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a request is retried: at most ``len(backoffs) + 1`` attempts within a time budget."""

    #: Seconds to wait before the 2nd, 3rd, ... attempt (exponential, as Neon recommends for
    #: 423/429: start at 0.5 s and double).
    backoffs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
    #: No retry is started once this much time (from the first attempt) would be exceeded.
    max_total_seconds: float = 120.0
    #: Each wait is stretched by a random fraction in ``[-jitter, +jitter]`` so that threads
    #: refused together do not come back together.
    jitter: float = 0.2

    @property
    def max_attempts(self) -> int:
        """The number of attempts, first one included."""
        return len(self.backoffs) + 1

    def should_retry(self, error: errors.ApiError, method: str) -> bool:
        """Whether a request that failed with ``error`` may be sent again, by class and method."""
        if isinstance(error, errors.OutcomeUnknown):
            return False
        if isinstance(error, errors.Locked | errors.RateLimited | errors.ApiUnavailable):
            return True
        if isinstance(error, errors.ApiServerError):
            return method.upper() in READ_METHODS or error.status == 503
        return False

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A server-given ``Retry-After`` wins over the schedule and is never shortened (jitter
        only lengthens it).
        """
        if retry_after is not None:
            return max(0.0, retry_after) * (1.0 + rng.uniform(0.0, self.jitter))
        base = self.backoffs[min(attempt, len(self.backoffs)) - 1]
        return max(0.0, base * (1.0 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt: the error it maps to and the server's ``Retry-After``, if any."""

    error: errors.ApiError
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP-date).

    ``now`` is the current wall-clock time (epoch seconds), used for the HTTP-date form. An
    unparseable value is ignored (``None``) rather than trusted.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def call_with_retries(
    attempt: Callable[[], T | Failure],
    *,
    policy: RetryPolicy,
    method: str,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    rng: random.Random,
    on_retry: Callable[[Failure], None] | None = None,
) -> T:
    """Call ``attempt`` until it succeeds, the policy gives up, or the time budget is spent.

    ``attempt`` returns a value or a ``Failure`` (it never raises for API errors); on giving up
    the last failure's error is raised.
    """
    started = clock()
    total = policy.max_attempts
    number = 0
    while True:
        number += 1
        result = attempt()
        if not isinstance(result, Failure):
            return result
        error = result.error
        wait = policy.delay(number, result.retry_after, rng)
        out_of_time = clock() - started + wait > policy.max_total_seconds
        if number >= total or out_of_time or not policy.should_retry(error, method):
            reason = "; escalating"
            if out_of_time and number < total and policy.should_retry(error, method):
                reason = f"; escalating (a {wait:.2f}s wait would exceed the time budget)"
            logger.warning("attempt #%d/%d failed: %s%s", number, total, error, reason)
            raise error
        logger.info("attempt #%d/%d failed: %s; will retry in %.2fs", number, total, error, wait)
        if on_retry is not None:
            on_retry(result)
        sleep(wait)
