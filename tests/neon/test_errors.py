"""The status → error table and the httpx → error translation are complete and correct."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.neon.errors import (
    STATUS_ERRORS,
    TRANSPORT_REACH,
    Reach,
    error_class_for_status,
    error_for_response,
    error_for_transport,
)


def _all_subclasses(cls: type[Any]) -> set[type[Any]]:
    found: set[type[Any]] = set()
    sub: type[Any]
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_every_status_specific_error_class_has_a_status() -> None:
    # Each leaf of ApiClientError stands for one HTTP status; none may be unreachable.
    leaves = {
        cls
        for cls in _all_subclasses(errors.ApiClientError)
        if cls.__module__ == "reconciler.errors"
    }
    assert leaves <= set(STATUS_ERRORS.values())


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.ApiClientError),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (406, errors.NotAcceptable),
        (409, errors.ApiClientError),
        (412, errors.ApiClientError),
        (422, errors.UnprocessableEntity),
        (423, errors.Locked),
        (429, errors.RateLimited),
        (500, errors.ApiServerError),
        (502, errors.ApiServerError),
        (503, errors.ApiServerError),
        (504, errors.ApiServerError),
        (302, errors.ApiError),
    ],
)
def test_status_maps_to_class(status: int, expected: type[errors.ApiError]) -> None:
    assert error_class_for_status(status) is expected


def test_every_error_status_maps_to_an_api_error() -> None:
    for status in range(400, 600):
        cls = error_class_for_status(status)
        assert issubclass(cls, errors.ApiClientError if status < 500 else errors.ApiServerError)


def test_general_error_body_is_parsed() -> None:
    body = {"code": "PROJECTS_LIMIT_EXCEEDED", "message": "too many", "request_id": "rid-1"}
    response = httpx.Response(404, json=body)
    error = error_for_response(response, method="GET", route="/projects/{project_id}")
    assert isinstance(error, errors.NotFound)
    assert (error.status, error.code, error.request_id, error.detail) == (
        404,
        "PROJECTS_LIMIT_EXCEEDED",
        "rid-1",
        "too many",
    )
    assert str(error) == "GET /projects/{project_id}: HTTP 404: too many (request_id rid-1)"


def test_transfer_406_and_422_keep_their_bodies() -> None:
    limits = {"limits": [{"name": "projects_count", "expected": "1", "actual": "2"}]}
    error = error_for_response(httpx.Response(406, json=limits))
    assert isinstance(error, errors.NotAcceptable)
    assert error.limits == limits["limits"]
    assert "projects_count" in str(error)
    projects = {"projects": [{"id": "p-1", "integration": "vercel"}]}
    error = error_for_response(httpx.Response(422, json=projects))
    assert isinstance(error, errors.UnprocessableEntity)
    assert error.projects == projects["projects"]


def test_non_json_error_body_uses_reason_phrase() -> None:
    error = error_for_response(httpx.Response(502, content=b"<html>bad gateway</html>"))
    assert isinstance(error, errors.ApiServerError)
    assert error.detail == "Bad Gateway"
    assert error.body == {}


def test_request_id_falls_back_to_response_header() -> None:
    response = httpx.Response(
        500, content=json.dumps({"message": "x"}).encode(), headers={"x-neon-ret-request-id": "h1"}
    )
    assert error_for_response(response).request_id == "h1"


def _transport_error_classes() -> set[type[httpx.TransportError]]:
    public = {
        obj
        for _, obj in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(obj, httpx.TransportError)
    }
    return public | _all_subclasses(httpx.TransportError) | {httpx.TransportError}


def test_every_httpx_transport_error_is_classified() -> None:
    # Like httpx's own test_httpcore_all_exceptions_mapped: a new httpx class must be placed.
    missing = _transport_error_classes() - set(TRANSPORT_REACH)
    assert not missing, f"classify these in TRANSPORT_REACH: {sorted(str(c) for c in missing)}"


@pytest.mark.parametrize("cls", sorted(_transport_error_classes(), key=str))
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_transport_errors_translate_by_reach(cls: type[httpx.TransportError], method: str) -> None:
    exc = cls("boom")
    error = error_for_transport(exc, method=method, route="/projects")
    assert error.__cause__ is exc
    reach = TRANSPORT_REACH[cls]
    if reach is Reach.NOT_SENT:
        assert isinstance(error, errors.ApiUnavailable)
    elif reach is Reach.UNSENDABLE:
        assert type(error) is errors.ApiError
    elif method == "GET":
        assert isinstance(error, errors.ApiServerError)
    else:
        assert isinstance(error, errors.OutcomeUnknown)
    assert "boom" in str(error)


def test_errors_after_the_answer_are_maybe_sent() -> None:
    error = error_for_transport(httpx.DecodingError("bad gzip"), method="POST", route="/projects")
    assert isinstance(error, errors.OutcomeUnknown)


@pytest.mark.parametrize(
    ("exc", "get_class", "post_class"),
    [
        (ConnectionRefusedError("refused"), errors.ApiUnavailable, errors.ApiUnavailable),
        (ConnectionResetError("reset"), errors.ApiServerError, errors.OutcomeUnknown),
        (OSError("broken"), errors.ApiServerError, errors.OutcomeUnknown),
    ],
)
def test_bare_os_errors_from_a_transport_are_translated(
    exc: OSError, get_class: type[errors.ApiError], post_class: type[errors.ApiError]
) -> None:
    assert type(error_for_transport(exc, method="GET")) is get_class
    assert type(error_for_transport(exc, method="POST")) is post_class


def test_a_neon_error_body_or_a_key_status_gets_no_wrong_host_hint() -> None:
    host = "https://console.neon.tech:443"
    neon_404 = httpx.Response(404, json={"code": "", "message": "project not found"})
    assert "api-host" not in str(error_for_response(neon_404, host=host))
    for status in (401, 403, 429):
        bare = error_for_response(httpx.Response(status, content=b"<html></html>"), host=host)
        assert "api-host" not in str(bare), status
    bare_400 = error_for_response(httpx.Response(400, content=b"<html></html>"), host=host)
    assert f"{host} answered without a Neon error body" in str(bare_400)
