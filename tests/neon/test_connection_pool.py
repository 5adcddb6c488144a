"""Many threads share one client's connection pool without it closing connections under them."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from reconciler.neon import NeonClient
from tests.neon.fakes import FakeTime, fast_limiter

THREADS = 30
CALLS_PER_THREAD = 10


class _Counting(http.server.BaseHTTPRequestHandler):
    """Answers every GET with an empty endpoint list over keep-alive; counts connections."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    connections = 0
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        with _Counting.lock:
            _Counting.connections += 1

    def do_GET(self) -> None:
        body = b'{"endpoints": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.daemon_threads = True
    _Counting.connections = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v2"
    finally:
        server.shutdown()
        server.server_close()


def test_threads_reuse_their_connections_and_none_is_closed_under_them(server_url: str) -> None:
    """More threads than httpx's default 20 kept-alive connections: each connection stays open
    and is reused, so the server never sees more connections than threads (with the default
    pool, surplus connections are closed and reopened, and httpcore 1.0.9 may close one it has
    just handed to another thread: encode/httpcore#1110)."""
    fake = FakeTime()
    client = NeonClient(server_url, limiter=fast_limiter(fake), sleep=fake.sleep)
    start = threading.Barrier(THREADS, timeout=30)
    failures: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            for n in range(CALLS_PER_THREAD):
                assert client.list_endpoints("key", f"p-{n}") == []
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    client.close()
    assert failures == []
    stats = client.stats.snapshot()
    assert stats.total_requests == THREADS * CALLS_PER_THREAD
    assert stats.total_retries == 0
    assert _Counting.connections <= THREADS
