"""The client parses every response body recorded from the real Neon API.

The cassettes (VCR YAML from neondatabase/neon-api-python) are read from ``NEON_RECORDED_DIR``,
else from ``../shared/neon-api/recorded`` next to the repository (as ``.ci/run`` finds them);
without either the tests skip and say how to make them run. Each interaction's URL is mapped to
the route template and fed to the very parser the client uses for that route
(``RESPONSE_PARSERS``); error answers go through ``error_for_response``.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from reconciler import errors
from reconciler.neon.errors import error_for_response
from reconciler.neon.responses import RESPONSE_PARSERS, CreatedProject
from tests.neon.routes import match_route
from tests.support.openapi import recorded_dir, recorded_skip_reason


def _interactions() -> list[tuple[str, dict[str, Any]]]:
    directory = recorded_dir()
    if directory is None:
        return []
    found = []
    for cassette in sorted(pathlib.Path(directory).glob("*.yaml")):
        data = yaml.safe_load(cassette.read_text(encoding="utf-8"))
        for index, interaction in enumerate(data["interactions"]):
            found.append((f"{cassette.stem}#{index}", interaction))
    return found


INTERACTIONS = _interactions()
#: Without cassettes, one skipped case that says how to make them run (instead of pytest's
#: anonymous "got empty parameter set").
CASES = [pytest.param(n, i, id=n) for n, i in INTERACTIONS] or [
    pytest.param("none", {}, id="no-cassettes", marks=pytest.mark.skip(recorded_skip_reason()))
]


def test_cassettes_are_present() -> None:
    if recorded_dir() is None:
        pytest.skip(recorded_skip_reason())
    assert len(INTERACTIONS) >= 40


@pytest.mark.parametrize(("name", "interaction"), CASES)
def test_client_parses_recorded_response(name: str, interaction: dict[str, Any]) -> None:
    request, response = interaction["request"], interaction["response"]
    method = request["method"]
    template = match_route(method, urlsplit(request["uri"]).path)
    status = response["status"]["code"]
    text = response["body"]["string"]
    if status >= 400:
        error = error_for_response(
            httpx.Response(status, content=text.encode()), method=method, route=template
        )
        assert isinstance(error, errors.ApiClientError)
        assert error.status == status and error.detail
        return
    parsed = RESPONSE_PARSERS[(method, template)](json.loads(text) if text else None)
    assert parsed is not None or template.endswith("/transfer")
    if isinstance(parsed, CreatedProject):
        # The create answer carries passwords and URIs: none may survive parsing.
        assert "REDACTEDpw" not in repr(parsed)
