"""When and how long to wait before sending a failed request again.

The policy is data (a backoff schedule, two time budgets, a jitter fraction) plus one pure
decision, ``RetryPolicy.should_retry(error, method)``, made by error *class* and HTTP method:

* 423 ``Locked`` and 429 ``RateLimited``: the server refused the request without performing
  it, so every method is retried;
* ``ApiUnavailable``: the request never left the client, so every method is retried, except
  ``HostUnreachable`` (the name does not resolve, TLS fails, nothing ever listened there),
  which no retry can fix and fails at once;
* ``ApiServerError``: retried for reads; for writes only on 503, where the server says it did
  nothing (any other 5xx after a write may hide a performed change);
* ``OutcomeUnknown`` and every other 4xx: never retried.

Two budgets bound the waiting, both in seconds and set from the environment
(``RetryPolicy.from_env``):

* the *retry budget* (``NEON_FLEET_RETRY_BUDGET``, default 90): the time one request may spend
  on attempts and backoff waits for transient failures, at most ``max_attempts`` attempts. Each
  attempt's connect and read timeouts are cut to what is left of it, so a server that accepts
  connections but never answers fails within the budget too;
* the *rate-limit wait* (``NEON_FLEET_RATE_LIMIT_WAIT``, default 300): how long reads (GET)
  wait out a 429 storm, however many attempts that takes, measured from the storm's first 429
  (a ``StormClock`` shared by every call of one client, reset by any success). Progress is
  reported as a warning at most every ``StormClock.report_every`` seconds. Writes keep their
  bounded attempts, so an apply never hangs on one mutation.

Only retries that will happen are logged, as warnings (``attempt #n/N failed: ...; will retry
in Xs``; routine 423 waits at info level); a final error is raised with how many attempts were
made, and never announced as a retry.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from reconciler import errors
from reconciler.core.durations import parse_duration

logger = logging.getLogger("reconciler.neon")

T = TypeVar("T")

#: Methods that do not change server state, so a lost answer may be asked for again.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Environment variables for the two budgets (seconds; ``90``, ``90s`` or ``5m``).
RETRY_BUDGET_ENV = "NEON_FLEET_RETRY_BUDGET"
RATE_LIMIT_WAIT_ENV = "NEON_FLEET_RATE_LIMIT_WAIT"
DEFAULT_RETRY_BUDGET = 90.0
DEFAULT_RATE_LIMIT_WAIT = 300.0

_BARE_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


def parse_seconds(variable: str, text: str) -> float:
    """Seconds from a bare number (``"90"``, ``"7.5"``) or a duration in the manifests' one
    grammar (``"90s"``, ``"5m"``, ``"1h"``: ``manifests.timing.parse_duration``); a
    ``UsageError`` naming ``variable`` otherwise."""
    stripped = text.strip()
    value = float(stripped) if _BARE_SECONDS.match(stripped) else parse_duration(stripped)
    if value is None or value <= 0:
        raise errors.UsageError(
            f"{variable}: bad time budget {text!r}: write a positive number of seconds "
            "like 90 or 90s, or a duration like 5m or 1h"
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a request is retried: at most ``len(backoffs) + 1`` attempts within a time budget."""

    #: Seconds to wait before the 2nd, 3rd, ... attempt (exponential, as Neon recommends for
    #: 423/429: start at 0.5 s and double).
    backoffs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
    #: The retry budget: attempts and waits of one request end within this many seconds.
    max_total_seconds: float = DEFAULT_RETRY_BUDGET
    #: Reads refused with 429 keep waiting until the storm has lasted this many seconds.
    rate_limit_wait_seconds: float = DEFAULT_RATE_LIMIT_WAIT
    #: Each wait is stretched by a random fraction in ``[-jitter, +jitter]`` so that threads
    #: refused together do not come back together.
    jitter: float = 0.2

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RetryPolicy:
        """The default policy with the budgets ``NEON_FLEET_RETRY_BUDGET`` and
        ``NEON_FLEET_RATE_LIMIT_WAIT`` set (unset or empty ones keep their defaults)."""
        retry = environ.get(RETRY_BUDGET_ENV, "").strip()
        wait = environ.get(RATE_LIMIT_WAIT_ENV, "").strip()
        return cls(
            max_total_seconds=parse_seconds(RETRY_BUDGET_ENV, retry)
            if retry
            else cls().max_total_seconds,
            rate_limit_wait_seconds=(
                parse_seconds(RATE_LIMIT_WAIT_ENV, wait) if wait else cls().rate_limit_wait_seconds
            ),
        )

    @property
    def max_attempts(self) -> int:
        """The number of attempts, first one included."""
        return len(self.backoffs) + 1

    def should_retry(self, error: errors.ApiError, method: str) -> bool:
        """Whether a request that failed with ``error`` may be sent again, by class and method."""
        if isinstance(error, errors.OutcomeUnknown | errors.HostUnreachable):
            return False
        if isinstance(error, errors.Locked | errors.RateLimited | errors.ApiUnavailable):
            return True
        if isinstance(error, errors.ApiServerError):
            return method.upper() in READ_METHODS or error.status == 503
        return False

    def waits_out_storms(self, error: errors.ApiError, method: str) -> bool:
        """Whether ``error`` is a 429 to a read, retried within the rate-limit wait budget."""
        return isinstance(error, errors.RateLimited) and method.upper() in READ_METHODS

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


class StormClock:
    """When the current run of 429s began, shared by every call of one client (thread-safe).

    A storm begins with a 429 and ends with any successful answer. Reads are charged from
    the storm's start, so a storm longer than the budget fails the run once, not once per
    read; progress notes are spaced ``report_every`` seconds apart across all threads.
    """

    def __init__(self, report_every: float = 10.0) -> None:
        self.report_every = report_every
        self._lock = threading.Lock()
        self._began: float | None = None
        self._reported = float("-inf")

    def refused(self, now: float) -> tuple[float, bool]:
        """Record a 429 at ``now``; return when the storm began and whether to report now."""
        with self._lock:
            if self._began is None:
                self._began = now
            report = now - self._reported >= self.report_every
            if report:
                self._reported = now
            return self._began, report

    def calm(self) -> None:
        """An answer came through: the storm, if any, is over."""
        if self._began is not None:
            with self._lock:
                self._began = None


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
    attempt: Callable[[float], T | Failure],
    *,
    policy: RetryPolicy,
    method: str,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    rng: random.Random,
    on_retry: Callable[[Failure], None] | None = None,
    storm: StormClock | None = None,
) -> T:
    """Call ``attempt`` until it succeeds, the policy gives up, or a time budget is spent.

    ``attempt`` gets the seconds left of the retry budget (to cut its timeouts to) and returns
    a value or a ``Failure`` (it never raises for API errors); on giving up the last failure's
    error is raised, saying how many attempts were made and which budget ran out.
    """
    storm = storm if storm is not None else StormClock()
    started = clock()
    storm_waited = 0.0  # sleeps on 429s of a read: charged to the rate-limit wait, not here
    counted = 0  # attempts charged to ``max_attempts``
    refusals = 0  # 429s of a read waited out
    first_refusal: float | None = None
    while True:
        result = attempt(policy.max_total_seconds - (clock() - started - storm_waited))
        if not isinstance(result, Failure):
            storm.calm()
            return result
        error, now = result.error, clock()
        storm_refusal = policy.waits_out_storms(error, method)
        if storm_refusal:
            refusals += 1
            first_refusal = now if first_refusal is None else first_refusal
            began, report = storm.refused(now)
            wait = _storm_wait(
                policy, result, refusals, now - min(began, first_refusal), report, rng
            )
        else:
            counted += 1
            wait = _backoff_wait(policy, result, method, counted, now - started - storm_waited, rng)
        if on_retry is not None:
            on_retry(result)
        sleep(wait)
        if storm_refusal:
            storm_waited += wait


def _backoff_wait(
    policy: RetryPolicy,
    failure: Failure,
    method: str,
    counted: int,
    spent: float,
    rng: random.Random,
) -> float:
    """The wait before retrying a failure charged to the retry budget; raises to give up."""
    error = failure.error
    if not policy.should_retry(error, method):
        logger.debug("%s; not retried", error)
        raise _gave_up(error, counted, spent, "")
    wait = policy.delay(counted, failure.retry_after, rng)
    if counted >= policy.max_attempts:
        raise _gave_up(error, counted, spent, "")
    if spent + wait > policy.max_total_seconds:
        raise _gave_up(
            error,
            counted,
            spent,
            f"a {wait:.1f} s wait would exceed the {policy.max_total_seconds:g} s retry budget, "
            f"{RETRY_BUDGET_ENV}",
        )
    total = policy.max_attempts
    # A 423 is routine (the project's operations are still running), not worth a warning.
    level = logging.INFO if isinstance(error, errors.Locked) else logging.WARNING
    logger.log(level, "attempt #%d/%d failed: %s; will retry in %.2fs", counted, total, error, wait)
    return wait


def _storm_wait(
    policy: RetryPolicy,
    failure: Failure,
    refusals: int,
    used: float,
    report: bool,
    rng: random.Random,
) -> float:
    """The wait before retrying a read refused with 429; raises once the storm outlasts the
    rate-limit wait budget (or the server asks for a longer wait than is left of it)."""
    error, budget = failure.error, policy.rate_limit_wait_seconds
    left, host = budget - used, error.host or "the API"
    limit = f"the budget for waiting out 429s on reads is {budget:g} s ({RATE_LIMIT_WAIT_ENV})"
    if left <= 0:
        raise error.with_detail(
            f"; still rate limited by {host} after waiting {used:.0f} s: {limit}"
        )
    if failure.retry_after is not None and failure.retry_after > left:
        raise error.with_detail(
            f"; {host} asks to wait {failure.retry_after:.0f} s (Retry-After), more than the "
            f"{left:.0f} s left: {limit}"
        )
    wait = min(policy.delay(refusals, failure.retry_after, rng), left)
    log = logger.warning if report else logger.info
    log(
        "rate limited by Neon (429) on %s %s at %s; waiting, %.0f s of %g s budget used (%s)",
        error.method,
        error.route,
        error.host or "the API",
        used,
        budget,
        RATE_LIMIT_WAIT_ENV,
    )
    return wait


def _gave_up(error: errors.ApiError, attempts: int, spent: float, reason: str) -> errors.ApiError:
    """``error``, saying how many attempts were made when there was more than one."""
    if attempts <= 1 and not reason:
        return error
    tried = (
        f"gave up after {attempts} attempt(s) in {spent:.0f} s" if attempts > 1 else "not retried"
    )
    return error.with_detail(f" ({tried}{': ' + reason if reason else ''})")
