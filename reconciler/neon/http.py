"""The request pipeline under ``NeonClient``: limiter, send, translate, retry, count.

One ``call`` is one logical API request: it waits for the shared rate limiter before *every*
attempt, sends with a fresh ``Authorization`` header built from the key the caller chose, tags
the request with an ``X-Request-ID`` (kept across retries so Neon support can correlate them),
turns httpx exceptions and error answers into ``reconciler.errors`` at this edge, and lets the
retry policy decide what happens next. Keys are never logged: they live only in the header.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from reconciler import errors
from reconciler.neon import errors as neon_errors
from reconciler.neon.ratelimit import RateLimiter
from reconciler.neon.retry import Failure, RetryPolicy, call_with_retries, parse_retry_after
from reconciler.neon.stats import CallStats

QueryValue = str | int | float | bool | None


def render_path(template: str, params: Mapping[str, str | int]) -> str:
    """Fill ``{name}`` placeholders of a route template with URL-quoted values."""
    return template.format_map({name: quote(str(value), safe="") for name, value in params.items()})


class ApiHttp:
    """Sends requests to the Neon API with retries, rate limiting and error translation."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None,
        limiter: RateLimiter,
        retry: RetryPolicy,
        timeout: float,
        sleep: Callable[[float], None],
        user_agent: str,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise errors.UsageError(
                f"the API base URL must start with http(s)://, got {base_url!r}"
            )
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        self.limiter, self.retry = limiter, retry
        self.stats = CallStats()
        self._sleep, self._clock, self._wall_clock = sleep, clock, wall_clock
        self._rng = rng or random.Random()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def call(
        self,
        key: str,
        method: str,
        template: str,
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Perform one API call and return its decoded JSON body (``None`` for no body).

        Raises an ``ApiError`` subclass: the status-mapped error once retries are spent,
        ``ApiUnavailable`` when the API cannot be reached, ``OutcomeUnknown`` when a write was
        sent and its answer lost.
        """
        if not isinstance(key, str) or not key:
            raise errors.UsageError("no API key was given for this call")
        method = method.upper()
        route_key = f"{method} {template}"
        query = {name: _query_text(v) for name, v in (params or {}).items() if v is not None}
        request = self._client.build_request(
            method,
            render_path(template, path or {}),
            params=query,
            content=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {key}",
                "X-Request-ID": str(uuid.uuid4()),
                **({"Content-Type": "application/json"} if body is not None else {}),
            },
        )

        def attempt() -> _Decoded | Failure:
            self.limiter.acquire(route_key)
            self.stats.record_request(route_key)
            return self._attempt(request, method, template, route_key)

        decoded = call_with_retries(
            attempt,
            policy=self.retry,
            method=method,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            on_retry=lambda _failure: self.stats.record_retry(route_key),
        )
        return decoded.body

    def _attempt(
        self, request: httpx.Request, method: str, template: str, route_key: str
    ) -> _Decoded | Failure:
        try:
            response = self._client.send(request)
            response.read()
        except (httpx.HTTPError, OSError) as exc:
            return Failure(neon_errors.error_for_transport(exc, method=method, route=template))
        if response.is_success:
            return _decode(response, method, template)
        if response.status_code == 429:
            self.stats.record_rate_limited(route_key)
            self.limiter.penalize()
        error = neon_errors.error_for_response(response, method=method, route=template)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        return Failure(error, retry_after)


class _Decoded:
    """A successful answer's JSON body (a class, not a bare value, so it differs from Failure)."""

    __slots__ = ("body",)

    def __init__(self, body: Any) -> None:
        self.body = body


def _decode(response: httpx.Response, method: str, template: str) -> _Decoded | Failure:
    if not response.content:
        return _Decoded(None)
    try:
        return _Decoded(json.loads(response.content))
    except ValueError as exc:
        if method in neon_errors.SAFE_METHODS:
            error: errors.ApiError = errors.ApiServerError(
                "the answer was not valid JSON",
                status=response.status_code,
                method=method,
                route=template,
            )
        else:
            # The write succeeded (2xx) but we cannot tell what it created: read back first.
            error = errors.OutcomeUnknown(
                "the write succeeded but its answer was not valid JSON; read back first",
                status=response.status_code,
                method=method,
                route=template,
            )
        error.__cause__ = exc
        return Failure(error)


def _query_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
