"""The lean request path: what is prepared once, and that requests still say what they mean."""

from __future__ import annotations

import httpx
import pytest

from reconciler import errors
from reconciler.neon.prepared import (
    QueryValue,
    RequestBuilder,
    encode_query,
    query_text,
    render_path,
)
from tests.neon import samples as s
from tests.neon.fakes import BASE_URL, KEY, make_client

TIMEOUT = httpx.Timeout(30.0, connect=10.0).as_dict()


def _builder(base_url: str = BASE_URL) -> RequestBuilder:
    headers = httpx.Headers({"Accept": "application/json", "User-Agent": "neon-fleet/test"})
    return RequestBuilder(httpx.URL(base_url), headers)


def _build(builder: RequestBuilder, key: str = KEY, **parts: object) -> httpx.Request:
    return builder.build(
        key,
        str(parts.get("method", "GET")),
        str(parts.get("template", "/projects")),
        path=parts.get("path"),  # type: ignore[arg-type]
        params=parts.get("params"),  # type: ignore[arg-type]
        body=parts.get("body"),  # type: ignore[arg-type]
        request_id="rid-1",
        timeout=TIMEOUT,
    )


def test_auth_header_mapping_is_built_once_per_key() -> None:
    builder = _builder()
    first = builder.headers_for("key-one")
    assert builder.headers_for("key-one") is first
    assert builder.headers_for("key-two") is not first
    assert (b"Authorization", b"Bearer key-one") in first
    # Every request of that key carries exactly those prepared headers, plus its own id.
    request = _build(builder, "key-one")
    assert request.headers["Authorization"] == "Bearer key-one"
    assert request.headers["Host"] == "neon.test"
    assert request.headers["X-Request-ID"] == "rid-1"
    assert "key-one" not in repr(request.headers)  # httpx still masks it in reprs


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("/projects", None, {"org_id": "org-1", "limit": 400, "cursor": None}),
        ("/projects", None, {"search": "tenant a/b+c=d&e", "limit": 10}),
        ("/projects/{project_id}", {"project_id": "proj-1"}, None),
        ("/projects/{project_id}/branches", {"project_id": "a b/c"}, {"cursor": "x=="}),
        ("/organizations/{org_id}/api_keys/{key_id}", {"org_id": "org-é", "key_id": 7}, None),
        ("/consumption_history/v2/projects", None, {"flag": True, "off": False, "n": 1.5}),
    ],
)
def test_built_urls_match_what_httpx_client_builds(
    template: str, path: dict[str, str | int] | None, params: dict[str, QueryValue] | None
) -> None:
    """The prepared path gives the same URL as ``httpx.Client.build_request`` did before."""
    built = _build(_builder(), template=template, path=path, params=params)
    query = {k: query_text(v) for k, v in (params or {}).items() if v is not None}
    with httpx.Client(base_url=BASE_URL) as reference:
        expected = reference.build_request("GET", render_path(template, path or {}), params=query)
    assert str(built.url) == str(expected.url)
    assert built.url.params == expected.url.params


def test_search_text_with_a_percent_sign_still_reaches_the_server_verbatim() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"projects": [], "pagination": {"cursor": ""}})

    client, _ = make_client(handler)
    client.find_projects_by_name(KEY, "tenant-100%41")
    assert seen[0].url.params["search"] == "tenant-100%41"
    assert encode_query({"search": "100%"}) == "search=100%25"


@pytest.mark.parametrize("bad_key", ["napi_secret\nX-Evil: 1", "napi_sécret", "napi_\x7fsecret"])
def test_key_that_cannot_be_a_header_is_refused_without_showing_it(bad_key: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"project": s.project()})

    client, _ = make_client(handler)
    with pytest.raises(errors.UsageError) as caught:
        client.get_project(bad_key, s.PID)
    assert "secret" not in str(caught.value) and "cannot be sent in an HTTP header" in str(
        caught.value
    )
    assert sent == []


def test_cookies_set_by_one_answer_are_not_sent_with_later_requests() -> None:
    """One client serves every key, so no key's answer may set state for the others."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Set-Cookie": "session=for-key-one; Path=/; Domain=neon.test"}
        return httpx.Response(200, json={"project": s.project()}, headers=headers)

    client, _ = make_client(handler)
    client.get_project("key-one", s.PID)
    client.get_project("key-two", s.PID)
    assert "Cookie" not in seen[1].headers


def test_requests_with_a_body_say_it_is_json_and_reads_do_not() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"project": s.project(), "operations": []})

    client, _ = make_client(handler)
    client.update_project(KEY, s.PID, name="renamed")
    client.get_project(KEY, s.PID)
    patch, get = seen
    assert patch.headers["Content-Type"] == "application/json"
    assert patch.headers["Content-Length"] == str(len(patch.content))
    assert "Content-Type" not in get.headers and get.content == b""
    for request in seen:
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"].startswith("neon-fleet/")
        assert "Accept-Encoding" in request.headers  # httpx's defaults still apply


def test_a_retried_write_sends_the_same_body_and_request_id_again() -> None:
    """The prepared body stream is re-readable: a 503'd PATCH goes out again whole."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json={"code": "", "message": "try again"})
        return httpx.Response(200, json={"project": s.project(), "operations": []})

    client, _ = make_client(handler)
    client.update_project(KEY, s.PID, name="renamed")
    first, second = seen
    assert first.content == second.content and b'"renamed"' in second.content
    assert second.headers["Content-Length"] == str(len(second.content))
    assert first.headers["X-Request-ID"] == second.headers["X-Request-ID"]


def test_any_transport_can_read_the_request_body_without_reading_the_stream() -> None:
    """Custom transports (tests, proxies) look at ``request.content`` directly."""
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"project": s.project(), "operations": []})

    request = _build(_builder(), method="PATCH", body={"project": {"name": "x"}})
    assert request.content == b'{"project": {"name": "x"}}'
    assert _build(_builder()).content == b""
    client, _ = make_client(handler)
    client.update_project(KEY, s.PID, name="renamed")
    assert b'"renamed"' in bodies[0]
