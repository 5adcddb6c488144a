"""Serve the emulator on loopback: a threaded HTTP/1.1 server (keep-alive) in front of the WSGI app.

``serve()`` runs it in a background thread for tests and ``--sandbox``; ``serve_forever()``
blocks, for ``fleet emulator serve``. The two connection faults close the socket without
writing any response, which is what a client sees when a connection drops mid-request.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from reconciler.emulator.app import API_PREFIX, Emulator
from reconciler.emulator.faults import ConnectionDropped, ResponseLost


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that disconnects mid-answer (a killed apply, a timeout) is normal for an API
        # server; anything else is still reported the standard way.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus delayed ACKs
    # add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(raw),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ["HTTP_" + key] = value
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        try:
            payload = b"".join(self.server.emulator(environ, start_response))
        except (ConnectionDropped, ResponseLost):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in answer["headers"]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request logs add nothing in tests and must never carry secrets."""


class RunningServer:
    """An emulator served on loopback in a background thread; a context manager."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        host, port = server.server_address[:2]
        self.host, self.port = str(host), int(port)
        #: The API base URL, including ``/api/v2``.
        self.url = f"http://{self.host}:{self.port}{API_PREFIX}"

    def shutdown(self) -> None:
        """Stop accepting requests, close the listening socket and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def _bind(emulator: Emulator, host: str, port: int) -> _Server:
    server = _Server((host, port), _Handler)
    server.emulator = emulator
    return server


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving ``emulator`` in a background thread; ``port=0`` picks a free port."""
    server = _bind(emulator, host, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return RunningServer(server, thread)


def serve_forever(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 8787,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted; ``on_ready`` receives the base URL once the port is bound."""
    server = _bind(emulator, host, port)
    try:
        if on_ready is not None:
            bound_host, bound_port = server.server_address[:2]
            on_ready(f"http://{bound_host!s}:{bound_port}{API_PREFIX}")
        server.serve_forever()
    finally:
        server.server_close()
