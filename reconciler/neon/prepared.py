"""Requests built from parts prepared once, so a call costs one URL parse and no header merges.

``httpx.Client.build_request`` parses the path, parses again to join it to the base URL, merges
query parameters (a third parse) and normalises every header, client defaults included, on
every call: about half of the client's CPU per call. Here the base URL is parsed and validated
once, the constant headers (``Host``, the client's defaults, ``Accept``, ``User-Agent``) are
encoded once, and each key's ``Authorization`` header is encoded once and kept with them. A call
then renders its path and query into one string and hands httpx raw header bytes, which it takes
as they are. The URL is still parsed (and validated) once by ``httpx.Request``.

A key that cannot be sent in an HTTP header (not ASCII, or with control characters) is refused
with a ``UsageError`` that does not show it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from reconciler import errors

QueryValue = str | int | float | bool | None
RawHeaders = tuple[tuple[bytes, bytes], ...]

#: How many keys' headers are kept. A fleet uses a few org keys and the personal key for
#: nearly every call; project-scoped keys are used for their own tenant only. Past the cap the
#: cache starts afresh rather than tracking recency, which would cost more than it saves.
MAX_CACHED_KEYS = 1024

_JSON_CONTENT_TYPE = (b"Content-Type", b"application/json")
#: Methods that always carry a ``Content-Length`` (``0`` without a body), as httpx sends them.
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def render_path(template: str, params: Mapping[str, str | int]) -> str:
    """Fill ``{name}`` placeholders of a route template with URL-quoted values."""
    return template.format_map({name: quote(str(value), safe="") for name, value in params.items()})


def query_text(value: str | int | float | bool) -> str:
    """A query parameter's text: booleans as ``true``/``false``, the rest as ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(params: Mapping[str, QueryValue]) -> str:
    """``a=1&b=x+y`` from ``params``, leaving out ``None`` values (form quoting, as httpx's
    ``params=`` does; a ``%`` is quoted too, so ``100%41`` arrives as written)."""
    return "&".join(
        f"{quote_plus(name, safe='')}={quote_plus(query_text(value), safe='')}"
        for name, value in params.items()
        if value is not None
    )


class RequestBuilder:
    """Builds ``httpx.Request`` objects for one base URL from prepared parts (thread-safe)."""

    def __init__(self, base_url: httpx.URL, default_headers: httpx.Headers) -> None:
        """``base_url`` is the API root (``…/api/v2``); ``default_headers`` go on every request."""
        # str() of a parsed URL is its normalised form (lower-case scheme and host, quoted
        # path), so the strings built from it parse back to what httpx would have built.
        self.base = str(base_url).rstrip("/")
        self._constant: RawHeaders = ((b"Host", base_url.netloc), *default_headers.raw)
        self._by_key: dict[str, RawHeaders] = {}
        self._lock = threading.Lock()

    def headers_for(self, key: str) -> RawHeaders:
        """The constant headers plus ``Authorization`` for ``key``, encoded once per key."""
        headers = self._by_key.get(key)
        if headers is None:
            headers = (*self._constant, (b"Authorization", b"Bearer " + _header_bytes(key)))
            with self._lock:
                if len(self._by_key) >= MAX_CACHED_KEYS:
                    self._by_key.clear()
                self._by_key[key] = headers
        return headers

    def build(
        self,
        key: str,
        method: str,
        template: str,
        *,
        path: Mapping[str, str | int] | None,
        params: Mapping[str, QueryValue] | None,
        body: Mapping[str, Any] | None,
        request_id: str,
        timeout: Mapping[str, float | None],
    ) -> httpx.Request:
        """One request: ``method`` on ``template`` filled with ``path``, ``params`` as query."""
        url = self.base + render_path(template, path or {})
        query = encode_query(params) if params else ""
        if query:
            url = f"{url}?{query}"
        headers = [*self.headers_for(key), (b"X-Request-ID", request_id.encode("ascii"))]
        content = b""
        if body is not None:
            content = json.dumps(body).encode()
            headers.append(_JSON_CONTENT_TYPE)
        if content or method in _METHODS_WITH_BODY:
            headers.append((b"Content-Length", str(len(content)).encode()))
        # A ready stream, so httpx takes the headers as given instead of encoding the body and
        # rebuilding them with the length it would add (what ``content=`` costs); read at once,
        # as ``content=`` would, so any transport may look at ``request.content``.
        request = httpx.Request(
            method,
            url,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"timeout": timeout},
        )
        request.read()
        return request


def _header_bytes(key: str) -> bytes:
    """``key`` as header bytes; refuse what would be rejected or could split the header."""
    try:
        encoded = key.encode("ascii")
    except UnicodeEncodeError:
        encoded = b"\n"  # refused below, with the same message
    if any(byte < 0x20 or byte == 0x7F for byte in encoded):
        raise errors.UsageError(
            "the API key contains characters that cannot be sent in an HTTP header "
            "(only printable ASCII); check how the key was copied"
        )
    return encoded
