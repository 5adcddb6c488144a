"""A wrong or unreachable API host fails fast, or within the retry budget, and is named.

Real sockets on 127.0.0.1: a closed port, a listening socket that never answers, a plain HTTP
server contacted with ``https://``, and a name under ``.invalid`` (never resolvable, RFC 2606).
Waits between attempts go to a fake clock, so the tests assert on attempts and messages, not
on how fast the machine is; only the never-answering host spends real time (its 1 s budget).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from reconciler import errors
from reconciler.neon import NeonClient, RetryPolicy
from reconciler.neon.http import origin_of
from tests.neon.fakes import FakeTime, fast_limiter
from tests.neon.test_retry import OK_PROJECT
from tests.support.ports import closed_port

BUDGET = 5.0
POLICY = RetryPolicy(backoffs=(0.5, 1.0, 2.0), max_total_seconds=BUDGET, jitter=0.0)


def _client(url: str, fake: FakeTime, policy: RetryPolicy = POLICY) -> NeonClient:
    return NeonClient(
        url, limiter=fast_limiter(fake), retry=policy, sleep=fake.sleep, clock=fake.clock
    )


def _real_clock_client(url: str, fake: FakeTime, policy: RetryPolicy) -> NeonClient:
    """Sleeps are recorded, not slept; the clock is real, so a timed-out attempt counts."""
    return NeonClient(
        url, limiter=fast_limiter(fake), retry=policy, sleep=fake.sleep, clock=time.monotonic
    )


@pytest.fixture
def silent_socket() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(OK_PROJECT).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean (TLS probes get a 400 logged here otherwise)


@pytest.fixture
def http_server() -> Iterator[http.server.ThreadingHTTPServer]:
    """A plain-HTTP server answering every GET with a project."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _port(server: http.server.ThreadingHTTPServer) -> int:
    return int(server.server_address[1])


def _fails_at_once(url: str, expected_host: str, words: str) -> None:
    fake = FakeTime()
    with _client(url, fake) as client, pytest.raises(errors.HostUnreachable) as info:
        client.get_project("k", "p-1")
    message = str(info.value)
    assert expected_host in message and words in message
    assert "check --api-host / NEON_API_HOST" in message
    assert client.stats.snapshot().total_requests == 1 and fake.sleeps == []
    assert info.value.host == expected_host


def test_wrong_api_host_fails_fast_and_names_the_host_when_nothing_listens() -> None:
    with closed_port() as port:
        _fails_at_once(
            f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}", "nothing is listening at"
        )


def test_wrong_api_host_fails_fast_and_names_the_host_when_the_name_does_not_resolve() -> None:
    _fails_at_once(
        "https://nonexistent.invalid/api/v2",
        "https://nonexistent.invalid:443",
        "cannot resolve the host name of",
    )


def test_wrong_api_host_fails_fast_and_names_the_host_on_https_to_an_http_server(
    http_server: http.server.ThreadingHTTPServer,
) -> None:
    port = _port(http_server)
    _fails_at_once(f"https://127.0.0.1:{port}", f"https://127.0.0.1:{port}", "TLS handshake")


def test_refused_after_the_host_answered_is_retried_within_the_budget(
    http_server: http.server.ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = _port(http_server)
    fake = FakeTime()
    with _client(f"http://127.0.0.1:{port}", fake) as client:
        assert client.get_project("k", "p-1").id == "p-1"
        http_server.shutdown()
        http_server.server_close()  # now the port refuses: a blip of a host that did answer
        with pytest.raises(errors.ApiUnavailable) as info:
            client.get_project("k", "p-1")
    assert not isinstance(info.value, errors.HostUnreachable)
    assert f"http://127.0.0.1:{port} refused the connection" in str(info.value)
    # 0.5 + 1 + 2 s of waits fit the 5 s budget; the next 2 s would not.
    assert fake.sleeps == [0.5, 1.0, 2.0]
    assert "gave up after 4 attempt(s)" in str(info.value)
    retries = [r.getMessage() for r in caplog.records if r.name == "reconciler.neon"]
    assert len(retries) == 3 and all("will retry" in m for m in retries)


@pytest.mark.parametrize(
    ("scheme", "words"),
    [
        ("http", "did not answer within 1 s"),
        ("https", "did not answer: no connection was completed within 1 s"),
    ],
)
def test_a_host_that_never_answers_fails_within_the_retry_budget(
    silent_socket: int, scheme: str, words: str
) -> None:
    # The attempt's timeouts are cut to the 1 s budget (not the 30 s read timeout), and no
    # retry fits after it.
    fake = FakeTime()
    policy = RetryPolicy(max_total_seconds=1.0, jitter=0.0)
    host = f"{scheme}://127.0.0.1:{silent_socket}"
    with (
        _real_clock_client(host, fake, policy) as client,
        pytest.raises(errors.ApiError) as info,
    ):
        client.get_project("k", "p-1")
    assert f"{host} {words}" in str(info.value)
    assert "retry budget, NEON_FLEET_RETRY_BUDGET" in str(info.value)
    assert client.stats.snapshot().total_requests == 1 and fake.sleeps == []


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://console.neon.tech/api/v2", "https://console.neon.tech:443"),
        ("http://user:secret@127.0.0.1:8787/api/v2", "http://127.0.0.1:8787"),
        ("http://[::1]/api/v2", "http://[::1]:80"),
    ],
)
def test_the_host_is_named_as_scheme_host_port_without_userinfo(url: str, origin: str) -> None:
    assert origin_of(httpx.URL(url)) == origin


@pytest.mark.parametrize(
    ("environ", "retry", "wait"),
    [
        ({}, 90.0, 300.0),
        ({"NEON_FLEET_RETRY_BUDGET": "5", "NEON_FLEET_RATE_LIMIT_WAIT": "2m"}, 5.0, 120.0),
        ({"NEON_FLEET_RETRY_BUDGET": " 7.5 ", "NEON_FLEET_RATE_LIMIT_WAIT": ""}, 7.5, 300.0),
        # Durations with a unit follow the manifests' one grammar (``manifests.timing``).
        ({"NEON_FLEET_RETRY_BUDGET": "90s", "NEON_FLEET_RATE_LIMIT_WAIT": "1h"}, 90.0, 3600.0),
    ],
)
def test_retry_budgets_come_from_the_environment(
    environ: dict[str, str], retry: float, wait: float
) -> None:
    policy = RetryPolicy.from_env(environ)
    assert (policy.max_total_seconds, policy.rate_limit_wait_seconds) == (retry, wait)


@pytest.mark.parametrize("value", ["soon", "0", "-3", "0s", "7.5s", "5min"])
def test_a_bad_retry_budget_is_a_usage_error_naming_the_variable(value: str) -> None:
    with pytest.raises(errors.UsageError, match="NEON_FLEET_RETRY_BUDGET: bad time budget"):
        RetryPolicy.from_env({"NEON_FLEET_RETRY_BUDGET": value})


class _NotNeonHandler(http.server.BaseHTTPRequestHandler):
    """A web server that is not the Neon API: every path is an HTML 404."""

    def do_GET(self) -> None:
        self.send_error(404, "File not found")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_wrong_api_host_answering_404_without_a_neon_error_body_is_named() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotNeonHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = _port(server)
        fake = FakeTime()
        with (
            _client(f"http://127.0.0.1:{port}", fake) as client,
            pytest.raises(errors.NotFound) as info,
        ):
            client.get_project("k", "p-1")
        message = str(info.value)
        assert f"http://127.0.0.1:{port} answered without a Neon error body" in message
        assert "check --api-host / NEON_API_HOST" in message
        assert client.stats.snapshot().total_requests == 1 and fake.sleeps == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
