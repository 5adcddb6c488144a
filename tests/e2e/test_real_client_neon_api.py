"""The real ``neon-api`` PyPI client (pinned) against ``fleet emulator serve`` on loopback.

The client is installed once per machine into a temporary directory with
``python -m pip install --target`` (not into the project's environment: it pulls ``requests``
and ``pydantic``, which neon-fleet does not use) and runs in a subprocess
(``neon_api_session.py``). Every answer the emulator gave it is validated against the official
OpenAPI document. The test skips only when the package registry cannot be reached.

Three calls of neon-api 0.3.0 use routes Neon's document does not have, so they fail here as
they would against a Neon that follows its document: ``role_password_reveal`` sends ``POST`` to
``reveal_password`` (the document has ``GET`` only → 405), ``project_permissions_revoke`` sends
``DELETE /projects/{id}/permissions`` with the id in a body (the document puts it in the path →
405) and ``branch_set_as_primary`` calls the retired ``set_as_primary`` (the document has
``set_as_default`` → 404).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

import pytest

from tests.e2e.test_emulator_serve import served
from tests.emulator.conftest import spec_template
from tests.support.openapi import load_spec, validate_response

pytestmark = pytest.mark.e2e

NEON_API_VERSION = "0.3.0"
#: Client calls whose routes the official document lacks, with the status they must get.
OUTSIDE_THE_DOCUMENT = {
    "role_password_reveal": 405,
    "branch_set_as_primary": 404,
    "project_permissions_revoke": 405,
}
_UNREACHABLE = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "ProxyError",
    "Max retries exceeded",
    "ConnectTimeoutError",
)
SEED = """
orgs: [{id: org-client, name: Client, plan: scale}]
keys: [{token: client-personal, kind: personal, orgs: {org-client: admin}}]
limits: {requests_per_minute: 100000, route_requests_per_second: 100000}
operation_duration_ms: 100
"""


@pytest.fixture(scope="session")
def neon_api_path() -> pathlib.Path:
    """A directory holding neon-api (pinned) and its dependencies, installed once."""
    target = pathlib.Path(tempfile.gettempdir()) / f"neon-fleet-neon-api-{NEON_API_VERSION}"
    if (target / ".complete").exists():
        return target
    staging = pathlib.Path(tempfile.mkdtemp(prefix="neon-api-install-"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-input", "--target", str(staging), f"neon-api=={NEON_API_VERSION}"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if any(sign in output for sign in _UNREACHABLE):
            pytest.skip(f"the PyPI registry cannot be reached to install neon-api: {output[-300:]}")
        raise AssertionError(f"pip could not install neon-api=={NEON_API_VERSION}:\n{output}")
    (staging / ".complete").touch()
    with contextlib.suppress(OSError):  # another run installed it first: use that one
        staging.rename(target)
    return target if (target / ".complete").exists() else staging


def _validate(exchanges: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Validate every answer against the document; return the count and the off-document ones."""
    validated, outside = 0, []
    for exchange in exchanges:
        template = spec_template(exchange["path"].split("/api/v2", 1)[1])
        method = exchange["method"]
        if template is None or method.lower() not in load_spec()["paths"][template]:
            outside.append(f"{method} {exchange['path']} → {exchange['status']}")
            continue
        validate_response(method, template, exchange["status"], exchange["body"])
        validated += 1
    return validated, outside


def test_the_neon_api_client_session_succeeds_and_every_answer_matches_the_document(
    tmp_path: pathlib.Path, neon_api_path: pathlib.Path
) -> None:
    (tmp_path / "seed.yaml").write_text(SEED)
    exchanges_file = tmp_path / "exchanges.jsonl"
    script = pathlib.Path(__file__).with_name("neon_api_session.py")
    with served(tmp_path, "--seed", str(tmp_path / "seed.yaml")) as url:
        env = {**os.environ, "PYTHONPATH": str(neon_api_path)}
        done = subprocess.run(
            [sys.executable, str(script), url, "client-personal", str(exchanges_file)],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    calls = [json.loads(line) for line in done.stdout.splitlines()]
    exchanges = [json.loads(line) for line in exchanges_file.read_text().splitlines()]
    failed = {c["call"]: c["error"] for c in calls if not c["ok"]}
    assert set(failed) <= set(OUTSIDE_THE_DOCUMENT), failed
    validated, outside = _validate(exchanges)
    assert validated == len(exchanges) - len(outside)
    for name in failed:
        assert any(f"→ {OUTSIDE_THE_DOCUMENT[name]}" in line for line in outside), (name, outside)
    assert len(outside) == len(failed), outside
    assert {c["call"] for c in calls} >= {
        "me", "projects", "project_create", "branch_create", "endpoint_create", "endpoint_start",
        "endpoint_suspend", "endpoint_delete", "database_create", "role_create",
        "connection_uri", "api_key_create", "project_delete",
    }  # fmt: skip
    passing = len(calls) - len(failed)
    methods = {c["call"] for c in calls}
    print(
        f"neon-api {NEON_API_VERSION} real-client calls passing/attempted: {passing}/{len(calls)}"
    )
    print(f"distinct client methods passing/attempted: {len(methods) - len(failed)}/{len(methods)}")
