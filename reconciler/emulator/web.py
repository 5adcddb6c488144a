"""Request/response values and the route table shared by the emulator's route modules."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.emulator.seed_file import Limits

if TYPE_CHECKING:  # auth raises HttpError from this module; import only for typing
    from reconciler.emulator.auth import Principal


class HttpError(Exception):
    """An error answer: a GeneralError body, or ``body`` verbatim (406/422 transfer bodies)."""

    def __init__(
        self, status: int, message: str, code: str = "", body: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.body = status, message, code, body


@dataclass(frozen=True)
class Request:
    """One authenticated API request, with its matched route."""

    method: str
    template: str
    params: Mapping[str, str]
    query: Mapping[str, Sequence[str]]
    body: Any
    principal: Principal
    now: float
    limits: Limits

    def arg(self, name: str) -> str | None:
        """Return the last value of query parameter ``name`` (None when absent)."""
        values = self.query.get(name)
        return values[-1] if values else None

    def int_arg(self, name: str, low: int, high: int, default: int | None = None) -> int | None:
        """Return an integer query parameter checked against [low, high] (400 otherwise)."""
        raw = self.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError(400, f"query parameter {name} must be an integer") from None
        if not low <= value <= high:
            raise HttpError(400, f"query parameter {name} must be between {low} and {high}")
        return value

    def body_object(self, key: str | None = None, *, required: bool = True) -> dict[str, Any]:
        """Return the JSON body (or its ``key`` member) as a dict, 400 when it is not one."""
        body = self.body
        if body is None and not required:
            return {}
        if not isinstance(body, dict):
            raise HttpError(400, "request body must be a JSON object")
        if key is None:
            return body
        inner = body.get(key)
        if inner is None and not required:
            return {}
        if not isinstance(inner, dict):
            raise HttpError(400, f"request body must have an object {key!r}")
        return inner


@dataclass(frozen=True)
class Response:
    """A successful answer: a status and a JSON-encodable body (None for 204)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[sqlite3.Connection, Request], Response]


@dataclass(frozen=True)
class Route:
    """A method and OpenAPI path template bound to a handler."""

    method: str
    template: str
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        """Compile the template into a regex with one named group per ``{param}``."""
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        return re.compile(f"^{regex}$")
