"""The OpenAPI helper in tests/support: nullable handling, defaults, bodies, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.openapi import (
    load_spec,
    recorded_dir,
    recorded_skip_reason,
    spec_path,
    validate_request,
    validate_response,
)


def test_spec_is_the_pinned_document():
    spec = load_spec()
    assert spec["openapi"].startswith("3.0")
    assert "/projects" in spec["paths"]


def test_nullable_fields_accept_null():
    item = {
        "id": 1, "name": "k", "created_at": "2024-01-01T00:00:00Z",
        "created_by": {"id": "629982cc-de05-43db-ae16-28f2399c4910", "name": "n", "image": ""},
        "last_used_from_addr": "", "last_used_at": None,
    }  # fmt: skip
    validate_response("GET", "/api_keys", 200, [item])


def test_undocumented_error_status_uses_default_general_error():
    validate_response("GET", "/projects", 423, {"code": "", "message": "locked", "request_id": "r"})
    with pytest.raises(AssertionError, match="'message' is a required property"):
        validate_response("GET", "/projects", 423, {"code": ""})


def test_no_content_and_undocumented_success():
    validate_response("DELETE", "/projects/{project_id}/branches/{branch_id}", 204, None)
    with pytest.raises(AssertionError, match="not documented"):
        validate_response("GET", "/projects", 202, {})
    with pytest.raises(AssertionError, match="no path"):
        validate_response("GET", "/nowhere", 200, {})


def test_request_bodies():
    validate_request("POST", "/api_keys", {"key_name": "ci"})
    with pytest.raises(AssertionError, match="key_name"):
        validate_request("POST", "/api_keys", {})
    with pytest.raises(AssertionError, match="required"):
        validate_request("POST", "/projects", None)


def test_recorded_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEON_RECORDED_DIR", str(tmp_path))
    assert recorded_dir() == tmp_path
    monkeypatch.delenv("NEON_RECORDED_DIR")
    assert recorded_dir(tmp_path / "fresh-clone") is None  # nothing next to this clone


def _clone_beside_shared(tmp_path: Path) -> tuple[Path, Path]:
    """A repository checkout with ../shared/neon-api next to it, as .ci/run expects."""
    repo = tmp_path / "neon-fleet"
    repo.mkdir()
    shared = tmp_path / "shared" / "neon-api"
    (shared / "recorded").mkdir(parents=True)
    (shared / "public-v2-for-users.gen.yaml").write_text("openapi: 3.0.3\n")
    return repo, shared


def test_recorded_responses_are_found_next_to_the_repository_like_ci_does(monkeypatch, tmp_path):
    monkeypatch.delenv("NEON_RECORDED_DIR", raising=False)
    repo, shared = _clone_beside_shared(tmp_path)
    assert recorded_dir(repo) == shared / "recorded"
    monkeypatch.setenv("NEON_RECORDED_DIR", str(tmp_path / "elsewhere"))
    assert recorded_dir(repo) == tmp_path / "elsewhere"  # the variable still wins


def test_openapi_document_is_found_next_to_the_repository_like_ci_does(monkeypatch, tmp_path):
    monkeypatch.delenv("NEON_OPENAPI_SPEC", raising=False)
    repo, shared = _clone_beside_shared(tmp_path)
    assert spec_path(repo) == shared / "public-v2-for-users.gen.yaml"
    monkeypatch.setenv("NEON_OPENAPI_SPEC", str(tmp_path / "spec.yaml"))
    assert spec_path(repo) == tmp_path / "spec.yaml"


def test_recorded_skip_reason_says_how_to_make_them_run(tmp_path):
    reason = recorded_skip_reason(tmp_path / "neon-fleet")
    assert "NEON_RECORDED_DIR" in reason and str(tmp_path / "shared" / "neon-api") in reason
    assert "set NEON_RECORDED_DIR to" in reason and ".ci/run" in reason
