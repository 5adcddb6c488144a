"""Match a concrete request path to the client's route template (test helper)."""

from __future__ import annotations

import re
from functools import cache

from reconciler.neon.responses import RESPONSE_PARSERS

API_PREFIX = "/api/v2"


@cache
def _patterns() -> list[tuple[str, str, re.Pattern[str]]]:
    compiled = []
    for method, template in RESPONSE_PARSERS:
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        compiled.append((method, template, re.compile(f"^{regex}$")))
    # Literal segments must win over placeholders (``/projects/shared`` vs ``{project_id}``).
    compiled.sort(key=lambda item: item[1].count("{"))
    return compiled


def match_route(method: str, path: str) -> str:
    """Return the template of ``METHOD path`` (path with or without ``/api/v2``)."""
    path = path.removeprefix(API_PREFIX) or "/"
    for candidate_method, template, pattern in _patterns():
        if candidate_method == method.upper() and pattern.match(path):
            return template
    raise AssertionError(f"no client route matches {method} {path}")
