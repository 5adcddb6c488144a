"""The emulator's snapshot routes: shapes, root-branch rule, seeded caps, restore semantics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import seed_from_mapping
from reconciler.emulator.ids import timestamp
from reconciler.errors import UsageError
from tests.checkpoints.conftest import FakeClock

pytestmark = pytest.mark.integration

P = "/projects/tenant-1"


def branches(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {b["name"]: b for b in api.get(f"{P}/branches").json()["branches"]}


def main_id(api: httpx.Client) -> str:
    return str(branches(api)["main"]["id"])


def snapshot(api: httpx.Client, clock: FakeClock, **params: str) -> dict[str, Any]:
    response = api.post(f"{P}/branches/{main_id(api)}/snapshot", params=params)
    assert response.status_code == 200, response.text
    clock.advance(5)
    return dict(response.json())


def test_create_list_rename_delete(api: httpx.Client, clock: FakeClock) -> None:
    created = snapshot(api, clock, name="before-run", expires_at="2026-06-30T00:00:00Z")
    snap = created["snapshot"]
    assert snap["name"] == "before-run"
    assert snap["source_branch_id"] == main_id(api)
    assert snap["manual"] is True and "full_size" not in snap  # sizes come later
    assert [op["action"] for op in created["operations"]] == ["create_timeline"]
    [listed] = api.get(f"{P}/snapshots").json()["snapshots"]
    assert listed["id"] == snap["id"] and listed["full_size"] == 0
    renamed = api.patch(f"{P}/snapshots/{snap['id']}", json={"snapshot": {"name": "kept"}})
    assert renamed.json()["snapshot"]["name"] == "kept"
    deleted = api.delete(f"{P}/snapshots/{snap['id']}")
    assert deleted.status_code == 202 and deleted.json()["operations"]
    assert api.get(f"{P}/snapshots").json()["snapshots"] == []
    assert api.delete(f"{P}/snapshots/{snap['id']}").status_code == 404


def test_options_are_validated(api: httpx.Client) -> None:
    url = f"{P}/branches/{main_id(api)}/snapshot"
    both = api.post(url, params={"lsn": "0/1", "timestamp": "2026-05-28T00:00:00Z"})
    assert both.status_code == 400
    assert api.post(url, params={"expires_at": "yesterday"}).status_code == 400
    assert api.post(url, params={"expires_at": "2001-01-01T00:00:00Z"}).status_code == 400
    assert api.post(url, params={"timestamp": "2001-01-01T00:00:00Z"}).status_code == 400


def test_only_root_branches_can_be_snapshotted(api: httpx.Client, clock: FakeClock) -> None:
    child = api.post(f"{P}/branches", json={"branch": {"name": "dev"}}).json()["branch"]
    clock.advance(5)
    answer = api.post(f"{P}/branches/{child['id']}/snapshot")
    assert answer.status_code == 400 and "root branch" in answer.json()["message"]


def test_running_operations_lock_the_project(api: httpx.Client) -> None:
    url = f"{P}/branches/{main_id(api)}/snapshot"
    assert api.post(url).status_code == 200
    assert api.post(url).status_code == 423


def test_seeded_snapshot_limit_and_expiry(api: httpx.Client, clock: FakeClock) -> None:
    snapshot(api, clock)
    soon = snapshot(api, clock, expires_at=timestamp(clock.now + 86400))["snapshot"]
    refused = api.post(f"{P}/branches/{main_id(api)}/snapshot")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "SNAPSHOTS_LIMIT_EXCEEDED" and "limit of 2 snapshots" in body["message"]
    clock.advance(2 * 86400)  # past the second snapshot's expiry
    ids = [s["id"] for s in api.get(f"{P}/snapshots").json()["snapshots"]]
    assert soon["id"] not in ids and len(ids) == 1
    snapshot(api, clock)  # room again


def test_an_org_without_a_seeded_cap_has_none(emu: Any, clock: FakeClock) -> None:
    transport = httpx.WSGITransport(app=emu)
    with httpx.Client(
        transport=transport,
        base_url="http://emulator.test/api/v2",
        headers={"Authorization": "Bearer org-paid-key"},
    ) as paid:
        branch = paid.get("/projects/paid-1/branches").json()["branches"][0]["id"]
        for _ in range(5):
            assert paid.post(f"/projects/paid-1/branches/{branch}/snapshot").status_code == 200
            clock.advance(5)


def test_finalized_restore_replaces_the_branch(api: httpx.Client, clock: FakeClock) -> None:
    before = branches(api)["main"]
    [endpoint] = api.get(f"{P}/endpoints").json()["endpoints"]
    snap = snapshot(api, clock)["snapshot"]
    answer = api.post(
        f"{P}/snapshots/{snap['id']}/restore",
        json={"target_branch_id": before["id"], "finalize_restore": True},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    new = body["branch"]
    assert new["id"] != before["id"] and new["name"] == "main" and new["default"] is True
    assert new["restored_from"] == snap["id"] and new["restored_as"] == before["id"]
    assert new["restore_status"] == "finalized" and "parent_id" not in new
    assert [e["id"] for e in body["endpoints"]] == [endpoint["id"]]
    actions = [op["action"] for op in body["operations"]]
    assert actions == ["create_branch", "suspend_compute", "start_compute"]
    clock.advance(10)
    now = branches(api)
    assert now["main (old)"]["id"] == before["id"] and now["main (old)"]["default"] is False
    moved = api.get(f"{P}/endpoints/{endpoint['id']}").json()["endpoint"]
    assert moved["branch_id"] == new["id"]
    # The old branch keeps no compute and can be deleted; a second restore numbers its "(old)".
    again = api.post(
        f"{P}/snapshots/{snap['id']}/restore",
        json={"finalize_restore": True, "target_branch_id": new["id"]},
    )
    assert again.status_code == 200
    clock.advance(10)
    assert {"main", "main (old)", "main (old 2)"} <= set(branches(api))
    assert api.delete(f"{P}/branches/{before['id']}").status_code == 200


def test_preview_restore_then_finalize(api: httpx.Client, clock: FakeClock) -> None:
    before = main_id(api)
    snap = snapshot(api, clock)["snapshot"]
    preview = api.post(f"{P}/snapshots/{snap['id']}/restore", json={"name": "look"}).json()
    assert preview["branch"]["name"] == "look"
    assert preview["branch"]["restore_status"] == "restored"
    assert len(preview["endpoints"]) == 1  # its own compute, its own connection string
    clock.advance(10)
    assert branches(api)["main"]["id"] == before
    done = api.post(f"{P}/branches/{preview['branch']['id']}/finalize_restore", json={})
    assert done.status_code == 200 and done.json()["operations"]
    clock.advance(10)
    now = branches(api)
    assert now["main"]["id"] == preview["branch"]["id"] and now["main (old)"]["id"] == before
    again = api.post(f"{P}/branches/{preview['branch']['id']}/finalize_restore", json={})
    assert again.status_code == 400


def test_root_branch_limit_is_enforced_on_restore(api: httpx.Client, clock: FakeClock) -> None:
    snap = snapshot(api, clock)["snapshot"]
    for _ in range(2):  # main + two "(old)" branches = 3 root branches, the seeded cap
        current = main_id(api)
        restored = api.post(
            f"{P}/snapshots/{snap['id']}/restore",
            json={"finalize_restore": True, "target_branch_id": current},
        )
        assert restored.status_code == 200, restored.text
        clock.advance(10)
    refused = api.post(
        f"{P}/snapshots/{snap['id']}/restore",
        json={"finalize_restore": True, "target_branch_id": main_id(api)},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "ROOT_BRANCHES_LIMIT_EXCEEDED"


def test_seed_keys_are_validated() -> None:
    with pytest.raises(UsageError, match="snapshot_limit must be a non-negative integer"):
        seed_from_mapping({"orgs": [{"id": "o-1", "snapshot_limit": -1}]})
    with pytest.raises(UsageError, match="root_branch_limit must be an integer of at least 1"):
        seed_from_mapping({"orgs": [{"id": "o-1", "root_branch_limit": 0}]})
    seed = seed_from_mapping({"orgs": [{"id": "o-1", "snapshot_limit": 1}, {"id": "o-2"}]})
    assert seed.limits.snapshot_limits == {"o-1": 1} and seed.limits.root_branch_limits == {}


def test_options_in_a_json_body_are_accepted_too(api: httpx.Client) -> None:
    # Neon's Backup & restore page sends them as a body; the spec uses the query string.
    url = f"{P}/branches/{main_id(api)}/snapshot"
    made = api.post(url, json={"name": "from-body"}, params={"expires_at": "2026-06-30T00:00:00Z"})
    assert made.status_code == 200, made.text
    snap = made.json()["snapshot"]
    assert (snap["name"], snap["expires_at"]) == ("from-body", "2026-06-30T00:00:00Z")
