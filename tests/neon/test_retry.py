"""Retries: which failures are retried for which methods, how long, and what is logged.

The sleep is stubbed (a fake clock), so no test waits; each asserts the number of requests the
server saw and the exact log lines.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from reconciler import errors
from reconciler.neon.retry import Failure, RetryPolicy, call_with_retries, parse_retry_after
from tests.neon.fakes import FakeTime, make_client

OK_PROJECT = {
    "project": {
        "id": "p-1",
        "name": "t",
        "region_id": "aws-us-east-2",
        "pg_version": 17,
        "created_at": "2025-01-01T00:00:00Z",
    }
}
POLICY = RetryPolicy(backoffs=(0.5, 1.0, 2.0), max_total_seconds=100.0, jitter=0.0)

# (status, method) -> retried?
RETRIED = {423: "all", 429: "all", 503: "all", 500: "reads", 502: "reads", 504: "reads"}
NOT_RETRIED = [400, 401, 403, 404, 406, 409, 422]
METHODS = ["GET", "POST", "PATCH", "DELETE"]


def _call(client, method: str) -> object:
    key = "k"
    if method == "GET":
        return client.get_project(key, "p-1")
    if method == "POST":
        return client.create_project(key, name="t")
    if method == "PATCH":
        return client.update_project(key, "p-1", name="t")
    return client.delete_project(key, "p-1")


def _always(status: int, seen: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"code": "", "message": f"status {status}"})

    return handler


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "reconciler.neon"]


@pytest.mark.parametrize(
    ("method", "status"),
    # Reads wait out 429 storms within their own budget instead (test_storms.py).
    [(m, s) for m in METHODS for s in sorted(RETRIED) if (m, s) != ("GET", 429)],
)
def test_retryable_statuses(method: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.neon")
    seen: list[httpx.Request] = []
    client, fake = make_client(_always(status, seen), retry=POLICY)
    retried = RETRIED[status] == "all" or method == "GET"
    with pytest.raises(errors.ApiError) as info:
        _call(client, method)
    assert info.value.status == status
    if retried:
        assert len(seen) == 4
        assert fake.sleeps == [0.5, 1.0, 2.0]
        # Only retries that happen are logged; a busy project (423) is routine, not a warning.
        level = logging.INFO if status == 423 else logging.WARNING
        warnings = [r for r in caplog.records if r.levelno == level]
        assert [r.getMessage().split(": ", 1)[0] for r in warnings] == [
            "attempt #1/4 failed",
            "attempt #2/4 failed",
            "attempt #3/4 failed",
        ]
        assert warnings[0].getMessage().endswith("; will retry in 0.50s")
        assert "(gave up after 4 attempt(s) in 4 s)" in str(info.value)
        assert client.stats.snapshot().total_retries == 3
    else:
        assert len(seen) == 1
        assert fake.sleeps == []
        assert _messages(caplog) == []
    # One logical call keeps its X-Request-ID across attempts.
    assert len({r.headers["X-Request-ID"] for r in seen}) == 1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", NOT_RETRIED)
def test_client_errors_are_not_retried(method: str, status: int) -> None:
    seen: list[httpx.Request] = []
    client, fake = make_client(_always(status, seen), retry=POLICY)
    with pytest.raises(errors.ApiClientError):
        _call(client, method)
    assert len(seen) == 1 and fake.sleeps == []


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", [423, 429, 503])
def test_success_after_refusals(method: str, status: int) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(status, json={"code": "", "message": "later"})
        code = 201 if request.method == "POST" else 200
        return httpx.Response(code, json={**OK_PROJECT, "operations": []})

    client, fake = make_client(handler, retry=POLICY)
    _call(client, method)
    assert len(seen) == 3 and fake.sleeps == [0.5, 1.0]
    snapshot = client.stats.snapshot()
    assert snapshot.total_requests == 3 and snapshot.total_retries == 2
    assert snapshot.total_rate_limited == (2 if status == 429 else 0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("p")]
)
def test_not_sent_connection_errors_are_retried_for_all_methods(
    method: str, exc: Exception
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise exc

    client, _ = make_client(handler, retry=POLICY)
    with pytest.raises(errors.ApiUnavailable) as info:
        _call(client, method)
    assert len(seen) == 4
    assert info.value.__cause__ is exc


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "exc",
    [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
def test_lost_answer_to_a_write_is_never_resent(
    method: str, exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise exc

    client, fake = make_client(handler, retry=POLICY)
    with pytest.raises(errors.OutcomeUnknown) as info:
        _call(client, method)
    assert len(seen) == 1 and fake.sleeps == []
    assert "read the resource back" in str(info.value)
    assert _messages(caplog) == []  # a final error is not announced as a retry


@pytest.mark.parametrize("exc", [httpx.ReadError("reset"), httpx.ReadTimeout("slow")])
def test_lost_answer_to_a_read_is_retried(exc: Exception) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise exc
        return httpx.Response(200, json=OK_PROJECT)

    client, _ = make_client(handler, retry=POLICY)
    assert client.get_project("k", "p-1").id == "p-1"
    assert len(seen) == 2


def test_write_with_unreadable_success_body_is_outcome_unknown() -> None:
    client, _ = make_client(lambda r: httpx.Response(201, content=b"{not json"), retry=POLICY)
    with pytest.raises(errors.OutcomeUnknown):
        client.create_project("k", name="t")


@pytest.mark.parametrize("header", ["7", "HTTP-DATE"])
def test_retry_after_is_honoured(header: str) -> None:
    fake = FakeTime(now=1000.0)
    seen: list[httpx.Request] = []
    now = datetime(2030, 1, 1, tzinfo=UTC)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            value = header
            if header == "HTTP-DATE":
                value = format_datetime(datetime.fromtimestamp(now.timestamp() + 7, UTC), True)
            return httpx.Response(429, headers={"Retry-After": value}, json={"message": "slow"})
        return httpx.Response(200, json=OK_PROJECT)

    client, _ = make_client(handler, fake=fake, retry=POLICY)
    client._http._wall_clock = now.timestamp  # the HTTP-date is read against wall time
    client.get_project("k", "p-1")
    assert fake.sleeps == [pytest.approx(7.0)]


def test_retry_after_beyond_the_budget_escalates(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "500"}, json={"message": "slow"})

    client, fake = make_client(handler, retry=POLICY)
    with pytest.raises(errors.RateLimited) as write:
        client.delete_project("k", "p-1")
    assert "would exceed the 100 s retry budget, NEON_FLEET_RETRY_BUDGET" in str(write.value)
    with pytest.raises(errors.RateLimited) as read:
        client.get_project("k", "p-1")
    assert "budget for waiting out 429s on reads is 300 s" in str(read.value)
    assert fake.sleeps == []
    assert _messages(caplog) == []


def test_total_time_budget_stops_retries() -> None:
    policy = RetryPolicy(backoffs=(10.0, 10.0, 10.0, 10.0), max_total_seconds=25.0, jitter=0.0)
    seen: list[httpx.Request] = []
    client, fake = make_client(_always(503, seen), retry=policy)
    with pytest.raises(errors.ApiServerError):
        client.get_project("k", "p-1")
    assert fake.sleeps == [10.0, 10.0]
    assert len(seen) == 3


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(backoffs=(1.0, 2.0), jitter=0.25)
    rng = random.Random(7)
    for attempt in (1, 2, 3):
        base = (1.0, 2.0, 2.0)[attempt - 1]
        delay = policy.delay(attempt, None, rng)
        assert base * 0.75 <= delay <= base * 1.25
    assert policy.delay(1, 3.0, rng) >= 3.0  # Retry-After is never shortened


def test_call_with_retries_returns_first_success() -> None:
    outcomes: list[object] = [Failure(errors.Locked("busy", status=423)), "done"]
    fake = FakeTime()
    result = call_with_retries(
        lambda _budget_left: outcomes.pop(0),
        policy=POLICY,
        method="POST",
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(0),
    )
    assert result == "done" and fake.sleeps == [0.5]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("soon", None),
        ("Wed, 01 Jan 2030 00:00:10 GMT", 10.0),
        ("Wed, 01 Jan 2020 00:00:10 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now) == expected
