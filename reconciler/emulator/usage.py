"""Deterministic synthetic consumption, so tests can assert exact numbers.

Every project consumes, in each whole UTC hour ``h`` (hours since the epoch) after its usage
history starts::

    value(project, metric, h) = RATE[metric] × weight(project) × PROFILE[h mod 24]

``PROFILE`` is a day shape (1 at night, 2 from 08:00 to 20:00 UTC; 36 per full day), and
``weight(project)`` is ``usage.weights[name]`` from the seed when given, else
``1 + crc32("<usage.seed>:<project name>") mod 9`` (1…9). A timeframe's value is the sum over its
*complete* hours (an hour counts once it has ended), so a day's value is the sum of its hours
and a month's the sum of its days. A project's history starts at the seed's
``usage.history_from`` when set, else at its creation (rounded up to the next whole hour).

The counters on ``GET /projects/{id}`` (the ones Neon enforces quotas on) follow the same
formula over the current calendar month with ``COUNTER_RATE``. Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator import ids
from reconciler.emulator.seed_file import Limits

HOUR = 3600

#: The eight metrics of ``GET /consumption_history/v2/projects`` and their synthetic hourly
#: rate per unit of weight and of profile. ``private_network_transfer_bytes`` stays 0, so the
#: "zero-valued metrics are left out" rule is exercised.
RATE: Mapping[str, int] = {
    "compute_unit_seconds": 900,
    "root_branch_bytes_month": 1_000_000,
    "child_branch_bytes_month": 250_000,
    "instant_restore_bytes_month": 100_000,
    "public_network_transfer_bytes": 5_000_000,
    "private_network_transfer_bytes": 0,
    "extra_branches_month": 1,
    "snapshot_storage_bytes_month": 50_000,
}
METRICS: tuple[str, ...] = tuple(RATE)

#: Hourly rates of the period counters on the ``Project`` object (quota enforcement).
COUNTER_RATE: Mapping[str, int] = {
    "active_time_seconds": 150,
    "compute_time_seconds": 900,
    "written_data_bytes": 2_000_000,
    "data_transfer_bytes": 5_000_000,
    "data_storage_bytes_hour": 1_000_000,
}

#: Activity per hour of the UTC day: quiet nights, busy days.
PROFILE: tuple[int, ...] = (1,) * 8 + (2,) * 12 + (1,) * 4
_PREFIX = tuple(sum(PROFILE[:i]) for i in range(25))
DAY_ACTIVITY = _PREFIX[24]


@dataclass(frozen=True)
class UsageSettings:
    """The seed's ``usage`` block: the formula's seed, history start and fixed weights."""

    seed: int = 0
    history_from: float | None = None
    weights: Mapping[str, int] = field(default_factory=dict)


def weight(name: str, settings: UsageSettings) -> int:
    """The project's weight: the seed's fixed weight for ``name``, else 1…9 from a checksum."""
    fixed = settings.weights.get(name)
    if fixed is not None:
        return fixed
    return 1 + zlib.crc32(f"{settings.seed}:{name}".encode()) % 9


def activity(start_hour: int, end_hour: int) -> int:
    """Sum of ``PROFILE[h mod 24]`` for every hour ``h`` in ``[start_hour, end_hour)``."""
    if end_hour <= start_hour:
        return 0

    def upto(hour: int) -> int:  # activity of hours [0, hour)
        days, rest = divmod(hour, 24)
        return days * DAY_ACTIVITY + _PREFIX[rest]

    return upto(end_hour) - upto(start_hour)


def history_start(created_at: float, settings: UsageSettings) -> float:
    """When a project's usage begins: ``history_from``, else its creation rounded up to an hour."""
    if settings.history_from is not None:
        return settings.history_from
    return -(-created_at // HOUR) * HOUR


def complete_hours(start: float, end: float, begins: float, now: float) -> tuple[int, int]:
    """Hours ``[first, last)`` of ``[start, end)`` begun after ``begins`` and ended by ``now``."""
    first = int(-(-max(start, begins) // HOUR))
    last = int(min(end, now) // HOUR)
    return first, max(first, last)


def total(
    rate: int, name: str, settings: UsageSettings, start: float, end: float, begins: float,
    now: float,
) -> int:  # fmt: skip
    """``rate × weight × activity`` over the complete hours of ``[start, end)``."""
    first, last = complete_hours(start, end, begins, now)
    return rate * weight(name, settings) * activity(first, last)


def metric_values(
    name: str, metrics: tuple[str, ...], settings: UsageSettings, start: float, end: float,
    begins: float, now: float,
) -> dict[str, int]:  # fmt: skip
    """Each metric's value for one timeframe (zeros included; callers drop them)."""
    first, last = complete_hours(start, end, begins, now)
    base = weight(name, settings) * activity(first, last)
    return {metric: RATE[metric] * base for metric in metrics}


def month_start(at: float) -> float:
    """The first instant of the calendar month (UTC) containing ``at``."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_month(at: float) -> float:
    """The first instant of the calendar month after the one containing ``at``."""
    start = dt.datetime.fromtimestamp(month_start(at), dt.UTC)
    return (start + dt.timedelta(days=32)).replace(day=1).timestamp()


def period_counters(
    name: str, created_at: float, now: float, settings: UsageSettings
) -> dict[str, int]:
    """The current period's counters of a project (``GET /projects/{id}``)."""
    begins = history_start(created_at, settings)
    start = month_start(now)
    return {
        counter: total(rate, name, settings, start, now, begins, now)
        for counter, rate in COUNTER_RATE.items()
    }


def settings_from_limits(limits: Limits) -> UsageSettings:
    """The usage settings a request carries (the seed's ``usage`` block lives in the limits)."""
    start = limits.usage_history_from
    return UsageSettings(
        seed=limits.usage_seed,
        history_from=ids.parse_timestamp(start) if start is not None else None,
        weights=limits.usage_weights,
    )


def project_counters(project: sqlite3.Row, now: float, limits: Limits) -> dict[str, int]:
    """The period counters ``GET /projects/{id}`` reports for a project row."""
    created = ids.parse_timestamp(project["created_at"])
    return period_counters(project["name"], created, now, settings_from_limits(limits))
