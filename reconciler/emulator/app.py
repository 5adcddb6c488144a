"""The emulator's WSGI application: routing, faults, auth, rate limits, GeneralError bodies.

Request flow for ``/api/v2/...``: match the route (404/405) → latency → drawn fault (dropped
connection, 429 storm, 500/503) → parse JSON (400) → in one transaction: authenticate (401),
rate-limit (429), run the handler → if the drawn fault is "lost response", raise after the
commit. Every error body is a GeneralError ``{code, message, request_id}``; ``X-Request-ID``
is echoed in the body and in the response header. ``/_emulator/...`` is the admin API, for
loopback clients or holders of the admin token (see ``admin.py``).
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

from reconciler.emulator import (
    admin,
    routes_account,
    routes_auth,
    routes_branch_actions,
    routes_branches,
    routes_connection,
    routes_consumption,
    routes_databases,
    routes_endpoints,
    routes_keys,
    routes_orgs,
    routes_projects,
    routes_snapshots,
)
from reconciler.emulator.auth import authenticate
from reconciler.emulator.faults import ConnectionDropped, Fault, FaultInjector, ResponseLost
from reconciler.emulator.ratelimit import RateLimiter
from reconciler.emulator.seed_apply import apply_seed
from reconciler.emulator.seed_file import Faults, Limits, Seed
from reconciler.emulator.store import Store, get_meta, set_meta
from reconciler.emulator.web import HttpError, Request, Response, Route

API_PREFIX = "/api/v2"
ADMIN_PREFIX = "/_emulator"


# Every API area's routes, listed rather than discovered, so the import graph shows them all.
# Module-name order, as discovery had it; ``Emulator`` then sorts literal segments first.
ROUTES: tuple[Route, ...] = (
    *routes_account.ROUTES,
    *routes_auth.ROUTES,
    *routes_branch_actions.ROUTES,
    *routes_branches.ROUTES,
    *routes_connection.ROUTES,
    *routes_consumption.ROUTES,
    *routes_databases.ROUTES,
    *routes_endpoints.ROUTES,
    *routes_keys.ROUTES,
    *routes_orgs.ROUTES,
    *routes_projects.ROUTES,
    *routes_snapshots.ROUTES,
)
_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    409: "Conflict", 422: "Unprocessable Entity", 423: "Locked", 429: "Too Many Requests",
    500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class EmulatorStats:
    """Request counts per (method, route template), and how many answers were faults."""

    requests: Mapping[tuple[str, str], int]
    rate_limited: int
    server_errors: int
    dropped: int
    lost_responses: int

    @property
    def total(self) -> int:
        """All API requests counted (admin calls excluded)."""
        return sum(self.requests.values())

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``GET /_emulator/stats``."""
        body = asdict(self)
        body["requests"] = {f"{m} {t}": n for (m, t), n in sorted(self.requests.items())}
        body["total"] = self.total
        return body


class Emulator:
    """The Neon API emulator as a WSGI callable. ``state_path=None`` keeps state in memory.

    ``admin_token`` lets clients beyond loopback use the ``/_emulator/`` admin API when they
    send it; without it, the admin API answers loopback clients only.
    """

    def __init__(
        self,
        state_path: str | pathlib.Path | None,
        seed: Seed | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        admin_token: str | None = None,
    ) -> None:
        self.store = Store(state_path)
        self.admin_token = admin_token or None
        self.clock, self._sleep = clock, sleep
        # Fewest parameters first: a literal segment (``/projects/shared``) wins over a
        # parameter (``/projects/{project_id}``) whatever module either route lives in.
        by_literalness = sorted(ROUTES, key=lambda route: route.template.count("{"))
        self._routes = [(route, route.pattern()) for route in by_literalness]
        self._limiter = RateLimiter()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._faults_seen: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        with self.store.transaction() as conn:
            self.limits = Limits(**(get_meta(conn, "limits") or {}))
            self.faults = FaultInjector(Faults(**(get_meta(conn, "faults") or {})))
        if seed is not None:
            self.ensure_seed(seed)

    def ensure_seed(self, seed: Seed) -> None:
        """Add the seed's missing orgs, keys and projects; adopt its limits and faults."""
        with self.store.transaction() as conn:
            apply_seed(conn, seed, self.clock())
        self.set_limits(seed.limits)
        self.faults.configure(seed.faults)

    def set_limits(self, limits: Limits) -> None:
        """Change rate limits and operation duration at run time (buckets start full)."""
        with self.store.transaction() as conn:
            set_meta(conn, "limits", asdict(limits))
        self.limits = limits
        self._limiter.reset()

    def set_faults(self, faults: Faults) -> None:
        """Change fault injection at run time (the random sequence restarts from its seed)."""
        with self.store.transaction() as conn:
            set_meta(conn, "faults", asdict(faults))
        self.faults.configure(faults)

    def stats(self) -> EmulatorStats:
        """Counts of API requests per (method, route template) and of injected faults."""
        with self._stats_lock:
            return EmulatorStats(
                requests=dict(self._counts),
                rate_limited=self._faults_seen["429"],
                server_errors=self._faults_seen["5xx"],
                dropped=self._faults_seen["drop"],
                lost_responses=self._faults_seen["lost"],
            )

    def close(self) -> None:
        """Close the state database."""
        self.store.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        request_id = environ.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
        path: str = environ.get("PATH_INFO") or "/"
        method: str = environ["REQUEST_METHOD"].upper()
        try:
            if path.startswith(ADMIN_PREFIX + "/"):
                admin.check_access(environ, self.admin_token)
                response = admin.handle(
                    self, method, path.removeprefix(ADMIN_PREFIX), _body(environ)
                )
            else:
                response = self._api(environ, method, path)
        except HttpError as exc:
            body = exc.body if exc.body is not None else {
                "code": exc.code, "message": exc.message, "request_id": request_id,
            }  # fmt: skip
            response = Response(exc.status, body)
        except (ConnectionDropped, ResponseLost):
            raise
        except Exception as exc:  # an emulator bug must still answer like a server would
            traceback.print_exc(file=environ.get("wsgi.errors", sys.stderr))
            response = Response(
                500,
                {"code": "", "message": f"internal emulator error: {type(exc).__name__}",
                 "request_id": request_id},
            )  # fmt: skip
        return _respond(start_response, response, request_id)

    def _api(self, environ: dict[str, Any], method: str, path: str) -> Response:
        if not path.startswith(API_PREFIX + "/"):
            raise HttpError(404, f"no route for {path}; the API lives under {API_PREFIX}")
        route, params = self._match(method, path.removeprefix(API_PREFIX))
        with self._stats_lock:
            self._counts[(method, route.template)] += 1
        if self.faults.latency_seconds > 0:
            self._sleep(self.faults.latency_seconds)
        fault, status = self.faults.draw()
        if fault is Fault.DROP:
            self._note("drop")
            raise ConnectionDropped("emulated fault: connection dropped before the request ran")
        if fault is Fault.STORM_429:
            self._note("429")
            raise HttpError(429, "too many requests (emulated 429 storm)")
        if fault is Fault.SERVER_ERROR:
            self._note("5xx")
            raise HttpError(status, "emulated server error")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        body = _body(environ)
        with self.store.transaction() as conn:
            now = self.clock()
            principal = authenticate(conn, environ.get("HTTP_AUTHORIZATION"), now)
            limits = self.limits
            allowed = self._limiter.allow(
                principal.account_id, f"{method} {route.template}",
                limits.requests_per_minute, limits.route_requests_per_second, now,
            )  # fmt: skip
            if not allowed:
                self._note("429")
                raise HttpError(429, "rate limit exceeded; retry with backoff")
            request = Request(method, route.template, params, query, body, principal, now, limits)
            response = route.handler(conn, request)
        if fault is Fault.LOST_RESPONSE:
            self._note("lost")
            raise ResponseLost("emulated fault: the request ran but its response was lost")
        return response

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed = True
        if allowed:
            raise HttpError(405, f"method {method} is not allowed on {path}")
        raise HttpError(404, f"no route for {path}")

    def _note(self, kind: str) -> None:
        with self._stats_lock:
            self._faults_seen[kind] += 1


def _body(environ: Mapping[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, "invalid Content-Length") from None
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "request body is not valid JSON") from None


_TEMPLATE_SAFE = re.compile(r"^[\x20-\x7e]*$")


def _respond(start_response: StartResponse, response: Response, request_id: str) -> list[bytes]:
    payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
    rid = request_id if _TEMPLATE_SAFE.match(request_id) else uuid.uuid4().hex
    headers = [("X-Request-ID", rid), ("Content-Length", str(len(payload)))]
    if response.body is not None:
        headers.append(("Content-Type", "application/json"))
    headers.extend(response.headers.items())
    reason = _REASONS.get(response.status, "Unknown")
    start_response(f"{response.status} {reason}", headers)
    return [payload]
