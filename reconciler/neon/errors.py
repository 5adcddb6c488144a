"""Translate HTTP answers and httpx failures into ``reconciler.errors`` — in one place each.

``error_for_response`` picks the class from one status table and parses Neon's ``GeneralError``
body (``{code, message, request_id}``); 406 and 422 keep their special bodies (transfer limits,
integration projects) on the error, and 401/403 name the key's label (never the key).
``error_for_transport`` classifies every httpx transport failure by whether the request can have
reached the server: if it certainly did not (``ApiUnavailable``) any method may be re-sent; if it
may have (``OutcomeUnknown`` for writes) the caller must read back before trying again. Among
the unsent ones, those no retry can fix (DNS, TLS, nothing ever listening) are
``HostUnreachable``. Every transport message names the host as ``scheme://host:port``.
"""

from __future__ import annotations

import enum
import json
import socket
import ssl
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx

from reconciler import errors

E = TypeVar("E", bound=BaseException)

#: The error class for each status neon-fleet distinguishes; others fall back by range.
STATUS_ERRORS: Mapping[int, type[errors.ApiError]] = {
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    406: errors.NotAcceptable,
    422: errors.UnprocessableEntity,
    423: errors.Locked,
    429: errors.RateLimited,
    503: errors.ApiServerError,
}

#: Statuses whose message names the request's key (and, for 401, the host) instead.
_KEY_STATUSES = frozenset({401, 403})

#: Statuses whose body is not a GeneralError but data the caller needs (kept as ``body``).
SPECIAL_BODY_STATUSES = frozenset({406, 422})


def error_class_for_status(status: int) -> type[errors.ApiError]:
    """Return the ``ApiError`` subclass for an HTTP error status."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if 400 <= status < 500:
        return errors.ApiClientError
    if status >= 500:
        return errors.ApiServerError
    # A 1xx/3xx the client did not expect is a protocol problem, not a client mistake.
    return errors.ApiError


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def error_for_response(
    response: httpx.Response,
    *,
    method: str = "",
    route: str = "",
    host: str = "",
    key_label: str = "",
) -> errors.ApiError:
    """Return (not raise) the ``ApiError`` describing a non-success ``response``.

    ``route`` is the route template (``/projects/{project_id}``), so messages never carry ids
    of other tenants or query strings. ``key_label`` says where the request's API key came
    from (``the org key in NEON_ORG_KEY (org acme, org-…)``, never the key): a 401 or 403
    names it, so a user knows which key to fix.
    """
    status = response.status_code
    body = _json_body(response)
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    message = data.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {status}"
        if status in SPECIAL_BODY_STATUSES and data:
            message = f"{message}: {json.dumps(data, sort_keys=True)[:500]}"
        elif host and 400 <= status < 500 and status not in _KEY_STATUSES | {429}:
            # Neon answers every client error with a GeneralError body; a bare 4xx (an HTML
            # "404 File not found") comes from something else at --api-host: say which host.
            # (A bare 429 may be Neon's edge rate limiting: it is retried, not blamed.)
            message = (
                f"{message}; {host} answered without a Neon error body, so it may not be "
                "the Neon API: check --api-host / NEON_API_HOST"
            )
    if status == 401 and key_label:
        message = f"{message}; {host or 'the API'} rejected {key_label}"
    elif status == 403 and key_label:
        message = f"{message}; {key_label} may not do this"
    code = data.get("code")
    request_id = data.get("request_id") or response.headers.get("x-neon-ret-request-id")
    return error_class_for_status(status)(
        message,
        status=status,
        code=code if isinstance(code, str) else "",
        request_id=str(request_id) if request_id else None,
        method=method,
        route=route,
        body=data,
        host=host,
    )


class Reach(enum.Enum):
    """How far a failed request may have got, which decides whether it may be sent again."""

    #: The request never left the client (no connection, pool exhausted): always safe to resend.
    NOT_SENT = "not sent"
    #: The request may have been received and performed; only reads may be resent.
    MAYBE_SENT = "maybe sent"
    #: The client cannot send this request at all (bad URL scheme, invalid request).
    UNSENDABLE = "unsendable"


#: Every concrete httpx transport error, classified. A completeness test checks the table
#: against httpx's class tree, so an httpx upgrade adding a class fails loudly.
TRANSPORT_REACH: Mapping[type[httpx.TransportError], Reach] = {
    httpx.ConnectError: Reach.NOT_SENT,
    httpx.ConnectTimeout: Reach.NOT_SENT,
    httpx.PoolTimeout: Reach.NOT_SENT,
    httpx.ProxyError: Reach.NOT_SENT,
    httpx.ReadError: Reach.MAYBE_SENT,
    httpx.ReadTimeout: Reach.MAYBE_SENT,
    httpx.WriteError: Reach.MAYBE_SENT,
    httpx.WriteTimeout: Reach.MAYBE_SENT,
    httpx.CloseError: Reach.MAYBE_SENT,
    httpx.RemoteProtocolError: Reach.MAYBE_SENT,
    httpx.LocalProtocolError: Reach.UNSENDABLE,
    httpx.UnsupportedProtocol: Reach.UNSENDABLE,
    # Abstract bases, for subclasses httpx may add before the table learns about them: a
    # timeout or network error of unknown kind may have reached the server.
    httpx.TimeoutException: Reach.MAYBE_SENT,
    httpx.NetworkError: Reach.MAYBE_SENT,
    httpx.ProtocolError: Reach.MAYBE_SENT,
    httpx.TransportError: Reach.MAYBE_SENT,
}

#: Methods whose repetition cannot change server state.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def reach_of(exc: httpx.HTTPError | OSError) -> Reach:
    """Classify a send failure by the most specific class in ``TRANSPORT_REACH``.

    A bare ``OSError`` can escape a custom or in-process transport (``httpx.WSGITransport``
    does not translate them): a refused connection was never sent; any other may have been.
    """
    if isinstance(exc, OSError):
        return Reach.NOT_SENT if isinstance(exc, ConnectionRefusedError) else Reach.MAYBE_SENT
    for cls in type(exc).__mro__:
        if cls in TRANSPORT_REACH:
            return TRANSPORT_REACH[cls]
    # Non-transport httpx errors (decoding, too many redirects, stream) happen after the
    # server answered, so the request was received.
    return Reach.MAYBE_SENT


def error_for_transport(
    exc: httpx.HTTPError | OSError,
    *,
    method: str = "",
    route: str = "",
    host: str = "",
    ever_answered: bool = True,
    timeout: float | None = None,
) -> errors.ApiError:
    """Return the ``ApiError`` for an httpx exception raised while sending a request.

    The message names ``host`` (``scheme://host:port``) and says what went wrong in words, with
    the exception text (it names the failure, never the Authorization header). Failures that
    retrying cannot fix become ``HostUnreachable``: a name that does not resolve, a failed TLS
    handshake, and a refused connection to a host that never answered (``ever_answered``).
    ``timeout`` is the limit the attempt ran under, for "did not answer within N s".
    """
    error = _transport_error(exc, method, route, host, ever_answered, timeout)
    # The same as ``raise error from exc`` at the caller: keep the httpx cause for ``-v``.
    error.__cause__ = exc
    return error


#: Said after errors that mean the configured API host is probably wrong.
CHECK_HOST = "check --api-host / NEON_API_HOST"


def _transport_error(
    exc: httpx.HTTPError | OSError,
    method: str,
    route: str,
    host: str,
    ever_answered: bool,
    timeout: float | None,
) -> errors.ApiError:
    where = host or "the API host"
    reach = reach_of(exc)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    within = f" within {timeout:g} s" if timeout is not None else ""
    common: dict[str, Any] = {"method": method, "route": route, "host": host}
    if reach is Reach.NOT_SENT:
        return _not_sent_error(exc, detail, where, within, ever_answered, common)
    if reach is Reach.UNSENDABLE:
        return errors.ApiError(f"the request to {where} could not be sent ({detail})", **common)
    lost = (
        f"{where} did not answer{within} ({detail})"
        if _is_timeout(exc)
        else f"the answer from {where} was lost ({detail})"
    )
    if method.upper() in SAFE_METHODS:
        # A read that lost its answer is safe to repeat: the retry policy treats it as 5xx-like.
        return errors.ApiServerError(lost, **common)
    return errors.OutcomeUnknown(
        f"the request was sent but {lost}; read the resource back before trying again", **common
    )


def _not_sent_error(
    exc: BaseException,
    detail: str,
    where: str,
    within: str,
    ever_answered: bool,
    common: dict[str, Any],
) -> errors.ApiError:
    if _cause_of(exc, socket.gaierror) is not None:
        return errors.HostUnreachable(
            f"cannot resolve the host name of {where} ({detail}); {CHECK_HOST}", **common
        )
    tls = _cause_of(exc, ssl.SSLError)
    # EOF/zero-return/syscall "SSL errors" are a dropped connection, not a TLS disagreement.
    if tls is not None and not isinstance(tls, _TLS_CONNECTION_LOSS):
        return errors.HostUnreachable(
            f"the TLS handshake with {where} failed ({detail}); an http:// server contacted "
            f"with https:// fails like this; {CHECK_HOST}",
            **common,
        )
    if _is_timeout(exc):
        return errors.ApiUnavailable(
            f"{where} did not answer: no connection was completed{within} ({detail})", **common
        )
    if _cause_of(exc, ConnectionRefusedError) is not None:
        if not ever_answered:
            return errors.HostUnreachable(
                f"nothing is listening at {where}: connection refused ({detail}); {CHECK_HOST}",
                **common,
            )
        return errors.ApiUnavailable(f"{where} refused the connection ({detail})", **common)
    return errors.ApiUnavailable(f"{where} could not be reached ({detail})", **common)


_TLS_CONNECTION_LOSS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TimeoutException) or _cause_of(exc, TimeoutError) is not None


def _cause_of(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` in ``exc``'s cause chain (httpx wraps httpcore wraps
    the socket error), or ``None``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
