"""The database, role, compute and Neon Auth calls against the emulator, contract-checked.

Every answer passes through ``ContractTransport``, which validates it against the official
OpenAPI document, and every route used is one ``RESPONSE_PARSERS`` knows.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.neon import RateLimiter
from reconciler.neon.mutators import NeonWriter
from reconciler.neon.responses import RESPONSE_PARSERS
from tests.checkpoints.conftest import ORG_KEY, SEED, ContractTransport, FakeClock
from tests.neon.routes import match_route

PROJECT = "tenant-1"


@pytest.fixture
def client() -> Iterator[NeonWriter]:
    clock = FakeClock()
    emu = Emulator(None, seed_from_mapping(SEED), clock=clock, sleep=lambda _s: None)
    transport = ContractTransport(httpx.WSGITransport(app=emu))
    with NeonWriter(
        "http://emulator.test/api/v2",
        transport=transport,
        limiter=RateLimiter(clock=clock, sleep=clock.advance),
        sleep=clock.advance,
        clock=clock,
    ) as neon:
        yield neon
    assert transport.validated > 0
    emu.close()


def _main(client: NeonWriter) -> str:
    return next(b.id for b in client.list_branches(ORG_KEY, PROJECT) if b.default)


def test_roles_and_databases_round_trip(client: NeonWriter):
    branch = _main(client)
    role, ops = client.create_role(ORG_KEY, PROJECT, branch, name="app_owner")
    client.wait_for_operations(ORG_KEY, PROJECT, ops)
    assert role.name == "app_owner" and "password" not in repr(role)
    db, ops = client.create_database(ORG_KEY, PROJECT, branch, name="app", owner_name="app_owner")
    client.wait_for_operations(ORG_KEY, PROJECT, ops)
    assert (db.name, db.owner_name) == ("app", "app_owner")
    listed = {d.name: d.owner_name for d in client.list_databases(ORG_KEY, PROJECT, branch)}
    assert listed["app"] == "app_owner"
    db, ops = client.update_database(ORG_KEY, PROJECT, branch, "app", owner_name="neondb_owner")
    client.wait_for_operations(ORG_KEY, PROJECT, ops)
    assert db.owner_name == "neondb_owner"
    client.wait_for_operations(
        ORG_KEY, PROJECT, client.delete_database(ORG_KEY, PROJECT, branch, "app")
    )
    assert client.delete_database(ORG_KEY, PROJECT, branch, "app") == []  # 204: already gone
    client.wait_for_operations(
        ORG_KEY, PROJECT, client.delete_role(ORG_KEY, PROJECT, branch, "app_owner")
    )
    assert "app_owner" not in {r.name for r in client.list_roles(ORG_KEY, PROJECT, branch)}


def test_a_reset_password_is_what_reveal_password_answers(client: NeonWriter):
    branch = _main(client)
    role = client.list_roles(ORG_KEY, PROJECT, branch)[0].name
    before = client.reveal_role_password(ORG_KEY, PROJECT, branch, role)
    reset = client.reset_role_password(ORG_KEY, PROJECT, branch, role)
    client.wait_for_operations(ORG_KEY, PROJECT, reset.operations)
    after = client.reveal_role_password(ORG_KEY, PROJECT, branch, role)
    assert after.password == reset.password.password != before.password
    assert after.password not in repr(reset) + repr(after)
    uri = client.get_connection_uri(ORG_KEY, PROJECT, database_name="neondb", role_name=role)
    assert f":{after.password}@" in uri.uri


def test_neon_auth_is_enabled_read_and_disabled(client: NeonWriter):
    branch = _main(client)
    assert client.get_neon_auth(ORG_KEY, PROJECT, branch) is None
    enabled = client.enable_neon_auth(
        ORG_KEY, PROJECT, branch, provider="better_auth", database_name="neondb"
    )
    assert enabled.secret_server_key and enabled.secret_server_key not in repr(enabled)
    auth = client.get_neon_auth(ORG_KEY, PROJECT, branch)
    assert auth is not None and (auth.db_name, auth.branch_id) == ("neondb", branch)
    client.disable_neon_auth(ORG_KEY, PROJECT, branch)
    assert client.get_neon_auth(ORG_KEY, PROJECT, branch) is None


def test_a_compute_is_added_to_a_branch_without_one(client: NeonWriter):
    created = client.create_branch(ORG_KEY, PROJECT, name="dev", parent_id=_main(client))
    client.wait_for_operations(ORG_KEY, PROJECT, created.operations)
    endpoint, ops = client.create_endpoint(
        ORG_KEY, PROJECT, created.branch.id, min_cu=0.25, max_cu=1, suspend_timeout_seconds=300
    )
    client.wait_for_operations(ORG_KEY, PROJECT, ops)
    assert (endpoint.branch_id, endpoint.type) == (created.branch.id, "read_write")
    assert (endpoint.autoscaling_limit_max_cu, endpoint.suspend_timeout_seconds) == (1, 300)


def test_every_new_route_has_its_parser():
    for method, path in [
        ("POST", "/projects/p/branches/b/roles/r/reset_password"),
        ("GET", "/projects/p/branches/b/roles/r/reveal_password"),
        ("POST", "/projects/p/branches/b/auth"),
        ("POST", "/projects/p/endpoints"),
        ("PATCH", "/projects/p/branches/b/databases/d"),
    ]:
        assert (method, match_route(method, path)) in RESPONSE_PARSERS
