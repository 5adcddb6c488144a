"""Per-branch catalogs and compute run state in the SQLite state file, old files included."""

from __future__ import annotations

import pathlib
import sqlite3

import httpx
import pytest

from reconciler.emulator import Emulator, catalog, seed_from_mapping
from reconciler.emulator.store import Store
from tests.emulator.conftest import BASE_SEED, ContractTransport, FakeClock

pytestmark = pytest.mark.integration


def _client(emulator: Emulator) -> httpx.Client:
    return httpx.Client(
        transport=ContractTransport(httpx.WSGITransport(app=emulator)),
        base_url="http://emulator.test/api/v2",
        headers={"Authorization": "Bearer org-paid-key"},
    )


def test_roles_databases_and_compute_state_survive_a_restart(tmp_path: pathlib.Path):
    clock = FakeClock()
    state = tmp_path / "state.db"
    first = Emulator(state, seed_from_mapping(BASE_SEED), clock=clock, sleep=lambda _s: None)
    with _client(first) as client:
        created = client.post("/projects", json={"project": {"name": "kept"}}).json()
        clock.advance(2)
        base = f"/projects/{created['project']['id']}/branches/{created['branch']['id']}"
        password = client.post(f"{base}/roles", json={"role": {"name": "kept_role"}}).json()[
            "role"
        ]["password"]
        clock.advance(2)
        endpoint_url = (
            f"/projects/{created['project']['id']}/endpoints/{created['endpoints'][0]['id']}"
        )
        client.post(f"{endpoint_url}/start")
    first.close()
    clock.advance(2)
    second = Emulator(state, clock=clock, sleep=lambda _s: None)
    with _client(second) as client:
        revealed = client.get(f"{base}/roles/kept_role/reveal_password").json()["password"]
        assert revealed == password
        assert client.get(endpoint_url).json()["endpoint"]["current_state"] == "active"
    second.close()


def test_state_files_from_before_branch_catalogs_still_work(tmp_path: pathlib.Path):
    state = tmp_path / "old.db"
    old = sqlite3.connect(state)  # the endpoints table as older emulators created it
    old.execute(
        "CREATE TABLE endpoints (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, "
        "branch_id TEXT NOT NULL, type TEXT NOT NULL, min_cu REAL NOT NULL, max_cu REAL NOT NULL, "
        "suspend_timeout_seconds INTEGER NOT NULL, disabled INTEGER NOT NULL, name TEXT, "
        "settings TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "ready_at REAL NOT NULL)"
    )
    old.commit()
    old.close()
    Store(state).close()
    columns = {row[1] for row in sqlite3.connect(state).execute("PRAGMA table_info(endpoints)")}
    assert {"active_from", "active_until", "suspended_at"} <= columns
    clock = FakeClock()
    emulator = Emulator(state, seed_from_mapping(BASE_SEED), clock=clock, sleep=lambda _s: None)
    with _client(emulator) as client:
        created = client.post("/projects", json={"project": {"name": "legacy"}}).json()
        clock.advance(2)
        with emulator.store.transaction() as conn:  # as a project created before this change
            for table in ("branch_catalogs", "branch_roles", "branch_databases"):
                conn.execute(f"DELETE FROM {table}")
        base = f"/projects/{created['project']['id']}/branches/{created['branch']['id']}"
        assert [r["name"] for r in client.get(f"{base}/roles").json()["roles"]] == ["neondb_owner"]
        owner_password = created["roles"][0]["password"]
        assert client.get(f"{base}/roles/neondb_owner/reveal_password").json() == {
            "password": owner_password
        }
        added = client.post(
            f"{base}/databases", json={"database": {"name": "more", "owner_name": "neondb_owner"}}
        )
        assert added.status_code == 201
        names = [d["name"] for d in client.get(f"{base}/databases").json()["databases"]]
        assert names == ["neondb", "more"]
    emulator.close()


def _names(client: httpx.Client, base: str) -> list[str]:
    return [r["name"] for r in client.get(f"{base}/roles").json()["roles"]]


def test_reset_to_parent_and_forget_branch_keep_children_and_parents_intact(
    emu: Emulator, client_for, clock, project
):
    client = client_for("org-paid-key")
    pid = project["project"]["id"]
    main = f"/projects/{pid}/branches/{project['branch']['id']}"
    dev = client.post(f"/projects/{pid}/branches", json={"branch": {"name": "dev"}}).json()
    clock.advance(2)
    dev_base = f"/projects/{pid}/branches/{dev['branch']['id']}"
    client.post(f"{dev_base}/roles", json={"role": {"name": "dev_only"}})
    clock.advance(2)
    child = client.post(
        f"/projects/{pid}/branches",
        json={"branch": {"name": "child", "parent_id": dev["branch"]["id"]}},
    ).json()
    clock.advance(2)
    child_base = f"/projects/{pid}/branches/{child['branch']['id']}"
    with emu.store.transaction() as conn:
        row = conn.execute("SELECT * FROM branches WHERE id = ?", (dev["branch"]["id"],))
        catalog.reset_to_parent(conn, row.fetchone())
    assert _names(client, dev_base) == ["neondb_owner"]  # main's again
    assert _names(client, child_base) == ["dev_only", "neondb_owner"]  # kept its own
    with emu.store.transaction() as conn:
        catalog.forget_branch(conn, child["branch"]["id"])
        left = conn.execute(
            "SELECT COUNT(*) FROM branch_roles WHERE branch_id = ?", (child["branch"]["id"],)
        ).fetchone()[0]
    assert left == 0
    assert _names(client, main) == ["neondb_owner"]
