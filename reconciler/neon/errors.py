"""Translate HTTP answers and httpx failures into ``reconciler.errors`` — in one place each.

``error_for_response`` picks the class from one status table and parses Neon's ``GeneralError``
body (``{code, message, request_id}``); 406 and 422 keep their special bodies (transfer limits,
integration projects) on the error. ``error_for_transport`` classifies every httpx transport
failure by whether the request can have reached the server: if it certainly did not
(``ApiUnavailable``) any method may be re-sent; if it may have (``OutcomeUnknown`` for writes) the
caller must read back before trying again.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import httpx

from reconciler import errors

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
    response: httpx.Response, *, method: str = "", route: str = ""
) -> errors.ApiError:
    """Return (not raise) the ``ApiError`` describing a non-success ``response``.

    ``route`` is the route template (``/projects/{project_id}``), so messages never carry ids
    of other tenants or query strings.
    """
    status = response.status_code
    body = _json_body(response)
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    message = data.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {status}"
        if status in SPECIAL_BODY_STATUSES and data:
            message = f"{message}: {json.dumps(data, sort_keys=True)[:500]}"
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
    exc: httpx.HTTPError | OSError, *, method: str = "", route: str = ""
) -> errors.ApiError:
    """Return the ``ApiError`` for an httpx exception raised while sending a request.

    The exception text is included (it names the failure, never the Authorization header).
    """
    error = _transport_error(exc, method, route)
    # The same as ``raise error from exc`` at the caller: keep the httpx cause for ``-v``.
    error.__cause__ = exc
    return error


def _transport_error(exc: httpx.HTTPError | OSError, method: str, route: str) -> errors.ApiError:
    reach = reach_of(exc)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    common: dict[str, Any] = {"method": method, "route": route}
    if reach is Reach.NOT_SENT:
        return errors.ApiUnavailable(f"the API could not be reached ({detail})", **common)
    if reach is Reach.UNSENDABLE:
        return errors.ApiError(f"the request could not be sent ({detail})", **common)
    if method.upper() in SAFE_METHODS:
        # A read that lost its answer is safe to repeat: the retry policy treats it as 5xx-like.
        return errors.ApiServerError(f"the answer was lost ({detail})", **common)
    return errors.OutcomeUnknown(
        f"the request was sent but its answer was lost ({detail}); "
        "read the resource back before trying again",
        **common,
    )
