"""Validate request and response bodies against the official Neon OpenAPI document.

The document is the one shipped in npm ``@neondatabase/api-client@2.7.3``. Tests read it from
``NEON_OPENAPI_SPEC``; when that is unset they look where ``.ci/run`` does, in
``../shared/neon-api/`` next to the repository root, and failing that fetch it once with
``npm pack`` into a cache directory under the system temp dir, pinned by sha256, so the suite
also works outside this repository. The recorded real responses are found the same way
(``NEON_RECORDED_DIR``, else ``../shared/neon-api/recorded``). Nothing is copied into the project.

OpenAPI 3.0 schemas are "almost" JSON Schema draft 4: the one difference that matters here is
``nullable: true``, which this module rewrites into a ``null`` type before validating. ``$ref``s
are resolved through a ``referencing`` registry holding the whole (converted) document.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import subprocess
import tarfile
import tempfile
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
import yaml

SPEC_PACKAGE = "@neondatabase/api-client@2.7.3"
SPEC_MEMBER = "package/public-v2-for-users.gen.yaml"
SPEC_SHA256 = "dacf72ea2d63110b3694c705313e0b2104e9652ae1be3fc01ceebe7b17059c44"
_SPEC_URI = "urn:neon-openapi-2.7.3"
_JSON = "application/json"
SPEC_ENV = "NEON_OPENAPI_SPEC"
RECORDED_ENV = "NEON_RECORDED_DIR"
#: The repository root: ``.ci/run`` looks for ``../shared/neon-api`` next to it.
REPO = pathlib.Path(__file__).resolve().parents[2]
_SPEC_FILE = "public-v2-for-users.gen.yaml"


def shared_neon_api(repo: pathlib.Path = REPO) -> pathlib.Path:
    """``../shared/neon-api`` beside the repository: where ``.ci/run`` finds the reference files."""
    return repo.parent / "shared" / "neon-api"


def recorded_dir(repo: pathlib.Path = REPO) -> pathlib.Path | None:
    """The recorded real API exchanges: ``NEON_RECORDED_DIR``, else ``../shared`` (if present)."""
    value = os.environ.get(RECORDED_ENV)
    if value:
        return pathlib.Path(value)
    beside = shared_neon_api(repo) / "recorded"
    return beside if beside.is_dir() else None


def recorded_skip_reason(repo: pathlib.Path = REPO) -> str:
    """Why tests of the recorded responses cannot run, and how to make them run."""
    return (
        f"no recorded Neon API responses: {RECORDED_ENV} is unset and "
        f"{shared_neon_api(repo) / 'recorded'} does not exist; set {RECORDED_ENV} to the "
        "recorded/ directory of the neon-api reference material, or put that material at "
        "../shared/neon-api next to the repository (where .ci/run finds it)"
    )


def spec_path(repo: pathlib.Path = REPO) -> pathlib.Path:
    """The OpenAPI document: ``NEON_OPENAPI_SPEC``, else ``../shared``, else fetched with npm."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return pathlib.Path(configured)
    beside = shared_neon_api(repo) / _SPEC_FILE
    if beside.is_file():
        return beside
    cache = pathlib.Path(tempfile.gettempdir()) / "neon-fleet-openapi-2.7.3"
    target = cache / _SPEC_FILE
    if target.exists() and _sha256(target) == SPEC_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    try:
        # npm prints the tarball's file name as its last stdout line.
        done = subprocess.run(
            ["npm", "pack", SPEC_PACKAGE, "--pack-destination", str(cache)],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AssertionError(
            f"the Neon OpenAPI document is not available: {SPEC_ENV} is unset, {beside} does "
            f"not exist and `npm pack {SPEC_PACKAGE}` failed ({exc}); set {SPEC_ENV} to the "
            "document or put the neon-api reference material at ../shared/neon-api"
        ) from exc
    tarball = cache / done.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(SPEC_MEMBER)
        if member is None:
            raise AssertionError(f"{tarball} has no {SPEC_MEMBER}")
        data = member.read()
    if hashlib.sha256(data).hexdigest() != SPEC_SHA256:
        raise AssertionError(f"{SPEC_MEMBER} from {SPEC_PACKAGE} does not match the pinned sha256")
    target.write_bytes(data)
    return target


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def load_spec() -> dict[str, Any]:
    """Return the parsed Neon OpenAPI document (cached for the process)."""
    with spec_path().open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def _to_json_schema(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 schema nodes into draft-4 JSON Schema (nullable, absolute $refs)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#"):
            out[key] = _SPEC_URI + value
        elif key in ("properties", "patternProperties") and isinstance(value, dict):
            # Property names are data, not schema keywords: convert only their values.
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        else:
            out[str(key)] = _to_json_schema(value)
    if out.pop("nullable", False) is True:
        if "type" in out:
            kind = out["type"]
            out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            # A nullable $ref/allOf: draft 4 ignores siblings of $ref, so wrap it.
            return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _converted() -> tuple[dict[str, Any], referencing.Registry[Any]]:
    converted = _to_json_schema(load_spec())
    resource = referencing.jsonschema.DRAFT4.create_resource(converted)
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(_SPEC_URI, resource)
    return converted, registry


def _deref(node: Any) -> Any:
    """Follow a local ``$ref`` chain inside the converted document (responses, bodies)."""
    converted, _ = _converted()
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"].removeprefix(_SPEC_URI + "#/")
        node = converted
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operation(method: str, path_template: str) -> dict[str, Any]:
    converted, _ = _converted()
    item = converted["paths"].get(path_template)
    if item is None:
        raise AssertionError(f"the Neon OpenAPI document has no path {path_template!r}")
    operation = item.get(method.lower())
    if operation is None:
        raise AssertionError(f"the Neon OpenAPI document has no {method.upper()} {path_template}")
    result: dict[str, Any] = operation
    return result


def _check(schema: Any, body: object, where: str) -> None:
    _, registry = _converted()
    validator = jsonschema.Draft4Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    lines = [f"{where}: {len(errors)} schema violation(s):"]
    for error in errors[:10]:
        location = "/".join(str(part) for part in error.absolute_path) or "<root>"
        lines.append(f"  at {location}: {_shorten(error.message)}")
    lines.append(f"  body: {_shorten(json.dumps(body, default=str), 600)}")
    raise AssertionError("\n".join(lines))


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def validate_response(method: str, path_template: str, status: int, body: object) -> None:
    """Assert ``body`` is what the spec documents for ``method path_template`` at ``status``.

    Statuses the operation does not list fall back to its ``default`` response (GeneralError)
    for 4xx/5xx; a documented response without content requires an empty body (``None``).
    """
    where = f"{method.upper()} {path_template} -> {status}"
    responses = _operation(method, path_template)["responses"]
    response = responses.get(status, responses.get(str(status)))
    if response is None:
        if status < 400 or "default" not in responses:
            raise AssertionError(f"{where}: status {status} is not documented for this route")
        response = responses["default"]
    content = _deref(response).get("content")
    if not content:
        if body not in (None, b"", ""):
            raise AssertionError(f"{where}: the spec documents no body, got {body!r:.200}")
        return
    if _JSON not in content:
        raise AssertionError(f"{where}: the spec documents no JSON body ({sorted(content)})")
    _check(content[_JSON]["schema"], body, where)


def validate_request(method: str, path_template: str, body: object) -> None:
    """Assert ``body`` is a valid JSON request body for ``method path_template``."""
    where = f"{method.upper()} {path_template} request"
    request_body = _operation(method, path_template).get("requestBody")
    if request_body is None:
        if body is not None:
            raise AssertionError(f"{where}: the spec documents no request body")
        return
    request_body = _deref(request_body)
    if body is None:
        if request_body.get("required", False):
            raise AssertionError(f"{where}: a request body is required")
        return
    content = request_body.get("content", {})
    if _JSON not in content:
        raise AssertionError(f"{where}: the spec documents no JSON request body")
    _check(content[_JSON]["schema"], body, where)
