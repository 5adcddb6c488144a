"""The request pipeline under ``NeonClient``: limiter, send, translate, retry, count.

One ``call`` is one logical API request: it waits for the shared rate limiter before *every*
attempt, sends with the ``Authorization`` header of the key the caller chose, tags
the request with an ``X-Request-ID`` (kept across retries so Neon support can correlate them),
turns httpx exceptions and error answers into ``reconciler.errors`` at this edge, and lets the
retry policy decide what happens next. Keys are never logged: they live only in the header
(httpx masks it in reprs) and in the per-key header cache of ``prepared.RequestBuilder``;
errors name the host (``scheme://host:port``) and, for 401/403, the key's label (``ApiKey``).

Each attempt's connect and read timeouts are cut to what is left of the retry budget, so a
host that accepts connections but never answers fails within the budget. The client remembers
whether the host ever answered: a refused connection before that is a wrong host, not a blip.

Requests are built by ``prepared.RequestBuilder`` (one URL parse, headers encoded once per
key) and sent through an ``httpx.Client`` that keeps no cookies, so proxies, TLS settings and
httpx's own logging work as with any httpx client.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from reconciler import errors
from reconciler.neon import errors as neon_errors
from reconciler.neon.apikey import key_account, key_label
from reconciler.neon.prepared import QueryValue, RequestBuilder
from reconciler.neon.ratelimit import RateLimiter
from reconciler.neon.retry import (
    Failure,
    RetryPolicy,
    StormClock,
    call_with_retries,
    parse_retry_after,
)
from reconciler.neon.stats import CallStats

#: Seconds a TCP (and TLS) connection may take before the attempt fails: Neon answers far
#: faster, and a wrong host should not keep a user waiting for the read timeout.
CONNECT_TIMEOUT = 10.0
#: No attempt gets less than this, even when the retry budget is nearly spent.
MIN_ATTEMPT_SECONDS = 1.0


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
        self._client = _CookielessClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            # Every idle connection is kept and none is waited for (threads bound how many are
            # open): httpcore 1.0.9 may close a connection it has just handed to a waiting
            # thread (encode/httpcore#1110), which 32 reading threads met as EBADF read errors;
            # a pool of 20 connections, all kept alive, still met it in tests/neon.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        )
        self.host = origin_of(self._client.base_url)
        self._requests = RequestBuilder(self._client.base_url, self._client.headers)
        self.limiter, self.retry = limiter, retry
        self.stats = CallStats()
        self._timeout = timeout
        #: The timeouts of an attempt with the whole retry budget ahead (most attempts).
        self._full_timeout = _timeouts(timeout)
        self._sleep, self._clock, self._wall_clock = sleep, clock, wall_clock
        self._rng = rng or random.Random()
        #: One storm clock per Neon account: a 429 storm is an account's, and an answer for
        #: another account's key says nothing about it.
        self._storms: dict[str, StormClock] = {}
        self._storms_lock = threading.Lock()
        #: Whether the host has answered anything yet (see the module docstring).
        self._ever_answered = False

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
        request = self._requests.build(
            key,
            method,
            template,
            path=path,
            params=params,
            body=body,
            request_id=str(uuid.uuid4()),
            timeout=self._full_timeout,
        )

        label, account = key_label(key), key_account(key)

        def attempt(budget_left: float) -> _Decoded | Failure:
            self.limiter.acquire(route_key, account)
            self.stats.record_request(route_key)
            limit = max(MIN_ATTEMPT_SECONDS, min(self._timeout, budget_left))
            request.extensions["timeout"] = (
                self._full_timeout if limit == self._timeout else _timeouts(limit)
            )
            return self._attempt(request, (method, template, route_key), (label, account), limit)

        decoded = call_with_retries(
            attempt,
            policy=self.retry,
            method=method,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
            on_retry=lambda _failure: self.stats.record_retry(route_key),
            storm=self._storm_of(account),
        )
        return decoded.body

    def _storm_of(self, account: str) -> StormClock:
        found = self._storms.get(account)  # the common case: no lock once the clock exists
        if found is not None:
            return found
        with self._storms_lock:
            return self._storms.setdefault(account, StormClock())

    def _attempt(
        self,
        request: httpx.Request,
        route: tuple[str, str, str],
        key: tuple[str, str],
        limit: float,
    ) -> _Decoded | Failure:
        """One attempt; ``route`` is (method, template, route key), ``key`` (label, account)."""
        method, template, route_key = route
        label, account = key
        try:
            response = self._client.send(request)
            response.read()
        except (httpx.HTTPError, OSError) as exc:
            error = neon_errors.error_for_transport(
                exc,
                method=method,
                route=template,
                host=self.host,
                ever_answered=self._ever_answered,
                timeout=limit,
            )
            return Failure(error)
        self._ever_answered = True
        if response.is_success:
            return _decode(response, method, template, self.host)
        if response.status_code == 429:
            self.stats.record_rate_limited(route_key)
            self.limiter.penalize(account=account)
        error = neon_errors.error_for_response(
            response, method=method, route=template, host=self.host, key_label=label
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        return Failure(error, retry_after)


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing (see ``_CookielessClient``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore ``Set-Cookie``: the API authenticates each request by its key alone."""


class _CookielessClient(httpx.Client):
    """An ``httpx.Client`` that keeps no cookies.

    One client serves every key of a run, so a cookie set in answer to one key's request
    would ride along with other keys' requests; and reading each answer's headers into
    ``http.cookiejar`` was a quarter of the client's CPU per call.
    """

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("this client keeps no cookies")


def origin_of(url: httpx.URL) -> str:
    """``scheme://host:port`` of ``url``, with the default port spelled out and no userinfo."""
    port = url.port or (443 if url.scheme == "https" else 80)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{port}"


class _Decoded:
    """A successful answer's JSON body (a class, not a bare value, so it differs from Failure)."""

    __slots__ = ("body",)

    def __init__(self, body: Any) -> None:
        self.body = body


def _decode(response: httpx.Response, method: str, template: str, host: str) -> _Decoded | Failure:
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
                host=host,
            )
        else:
            # The write succeeded (2xx) but we cannot tell what it created: read back first.
            error = errors.OutcomeUnknown(
                "the write succeeded but its answer was not valid JSON; read back first",
                status=response.status_code,
                method=method,
                route=template,
                host=host,
            )
        error.__cause__ = exc
        return Failure(error)


def _timeouts(limit: float) -> dict[str, float | None]:
    """The request extension for an attempt of at most ``limit`` seconds per phase."""
    return httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT)).as_dict()
