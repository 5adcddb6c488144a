"""The read client cannot change Neon; the writer shares the reader's machinery."""

from __future__ import annotations

import httpx
import pytest

from reconciler.neon import NeonClient
from reconciler.neon.mutators import NeonWriter

MUTATORS = (
    "create_project", "update_project", "delete_project", "create_branch", "update_branch",
    "delete_branch", "update_endpoint", "create_org_api_key", "revoke_org_api_key",
    "transfer_projects", "create_api_key", "revoke_api_key", "create_snapshot",
    "rename_snapshot", "delete_snapshot", "restore_snapshot", "finalize_restore",
)  # fmt: skip


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"projects": [], "pagination": {}})


def test_the_read_client_has_no_mutators_and_refuses_writes_through_request() -> None:
    assert [name for name in MUTATORS if hasattr(NeonClient, name)] == []
    assert all(callable(getattr(NeonWriter, name)) for name in MUTATORS)
    with NeonClient("http://neon.test/api/v2", transport=httpx.MockTransport(_answer)) as reader:
        for method in ("POST", "PATCH", "DELETE", "put"):
            with pytest.raises(TypeError, match="NeonClient only reads"):
                reader.request("key", method, "/projects")
        assert reader.stats.snapshot().total_requests == 0  # refused before anything was sent


def test_a_writer_over_a_reader_shares_its_pool_limiter_and_statistics() -> None:
    with NeonClient("http://neon.test/api/v2", transport=httpx.MockTransport(_answer)) as reader:
        writer = NeonWriter.over(reader)
        assert NeonWriter.over(writer) is writer
        assert writer.limiter is reader.limiter
        writer.list_projects("key")
        assert reader.stats.snapshot().total_requests == 1
