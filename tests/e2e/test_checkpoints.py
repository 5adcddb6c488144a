"""``fleet checkpoint`` end to end: the CLI as a real process against the emulator on loopback.

The emulator runs no SQL, so an agent's database change cannot be made for real. The "mutation"
here is an honest out-of-band change a restore must cope with: the tenant's compute settings
are patched on ``main`` behind neon-fleet's back; the restore must then replace ``main`` by a
branch with a new id that carries that same compute (computes move; data is what rolls back).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.model import OwnedTenant
from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.ledger import open_ledger
from tests.e2e.conftest import KEYS, Loopback, e2e_seed
from tests.support.cli import Result, run_subprocess

pytestmark = pytest.mark.e2e

ORG = "org-free-1"


def checkpoint_seed(**limits: Any) -> dict[str, Any]:
    seed = e2e_seed(operation_ms=100)
    seed["orgs"][0].update(limits)
    return seed


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Loopback]:
    """The e2e emulator with the free org capped at 2 snapshots and 3 root branches."""
    emulator = Emulator(
        tmp_path / "emulator.db",
        seed_from_mapping(checkpoint_seed(snapshot_limit=2, root_branch_limit=3)),
    )
    with serve(emulator) as server:
        yield Loopback(emulator, server)
    emulator.close()


def environment(loop: Loopback) -> dict[str, str]:
    return {**KEYS, "NEON_API_HOST": loop.url, "NO_COLOR": "1"}


def fleet(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    return run_subprocess(args, cwd=workdir, env=env)


def ok(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    result = fleet(args, workdir, env)
    assert result.code == 0, result.text
    return result


def branches(loop: Loopback, project_id: str) -> dict[str, dict[str, Any]]:
    with loop.api("NEON_FREE_ORG_KEY") as client:
        found = client.get(f"/projects/{project_id}/branches").json()["branches"]
    return {b["name"]: b for b in found}


def test_create_mutate_restore_and_a_failing_hook(limited: Loopback, workdir: Path) -> None:
    env = environment(limited)
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    created = ok(
        ["checkpoint", "create", "cust-00043", "-f", "fleet", "--source-rev", "4f2a9c1",
         "--secrets-version", "v7", "--deploy-url", "https://preview.example.com/pr-7",
         "--run-id", "run-42", "--meta", "model=m-1", "--format", "json"],
        workdir, env,
    )  # fmt: skip
    record = json.loads(created.out)
    project_id, before = record["project_id"], record["branch"]["id"]
    assert record["status"] == "ready" and record["snapshot"]["id"]
    with limited.api("NEON_FREE_ORG_KEY") as client:  # the out-of-band change
        [endpoint] = client.get(f"/projects/{project_id}/endpoints").json()["endpoints"]
        patched = client.patch(
            f"/projects/{project_id}/endpoints/{endpoint['id']}",
            json={"endpoint": {"suspend_timeout_seconds": 900}},
        )
        assert patched.status_code == 200, patched.text

    failing = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    refused = fleet(
        ["checkpoint", "restore", str(record["id"]), "-f", "fleet", "--hook", failing],
        workdir, env,
    )  # fmt: skip
    assert refused.code == 1
    assert "failed with exit code 3" in refused.err and "nothing was changed" in refused.err
    assert "secrets_version=v7" in refused.out  # the rollback targets were emitted first
    assert branches(limited, project_id)["main"]["id"] == before
    unchanged = json.loads(ok(["checkpoint", "show", str(record["id"]), "-f", "fleet",
                               "--format", "json"], workdir, env).out)  # fmt: skip
    assert unchanged["status"] == "ready" and unchanged["restore_started_at"] is None

    seen = workdir / "hook-stdin.json"
    hook = (
        f"{sys.executable} -c 'import sys; open(sys.argv[1], \"w\").write(sys.stdin.read())' {seen}"
    )
    restored = ok(
        ["checkpoint", "restore", str(record["id"]), "-f", "fleet", "--hook", hook,
         "--format", "json"],
        workdir, env,
    )  # fmt: skip
    steps = [json.loads(line) for line in restored.out.splitlines()]
    assert [s["step"] for s in steps] == [
        "rollback", "hook", "restore", "ledger", "cleanup", "done", "record",
    ]  # fmt: skip
    assert steps[0] == {
        "step": "rollback", "source_rev": "4f2a9c1", "secrets_version": "v7",
        "deploy_url": "https://preview.example.com/pr-7",
    }  # fmt: skip
    assert json.loads(seen.read_text())["id"] == record["id"]
    after = branches(limited, project_id)
    new_id = after["main"]["id"]
    assert new_id != before and steps[2]["new_branch_id"] == new_id
    assert not [name for name in after if "(old)" in name]
    with limited.api("NEON_FREE_ORG_KEY") as client:
        moved = client.get(f"/projects/{project_id}/endpoints/{endpoint['id']}").json()
    assert moved["endpoint"]["branch_id"] == new_id
    with open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db") as ledger:
        owned = ledger.tenant("cust-00043")
    assert owned is not None and owned.branch_ids["main"] == new_id
    final = steps[-1]["checkpoint"]
    assert final["status"] == "restored" and final["restored_branch_id"] == new_id
    assert final["old_branch_id"] == before and final["old_branch_deleted"] is True
    assert final["restore_started_at"] and final["restored_at"]
    # The fleet still matches its manifests after the branch id changed.
    replan = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert replan.code == 0, replan.text


def test_snapshot_limit_names_tenant_and_limit_and_gc_frees_room(
    limited: Loopback, workdir: Path
) -> None:
    env = environment(limited)
    tiers = workdir / "fleet" / "tiers.yaml"
    tiers.write_text(
        tiers.read_text().replace(
            "  max_branches: 5\n",
            "  max_branches: 5\n  checkpoints: {keep_last: 1, max_age: 30d}\n",
        )
    )
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    make = ["checkpoint", "create", "cust-00043", "-f", "fleet", "--source-rev", "abc"]
    first, second = (int(ok(make, workdir, env).out) for _ in range(2))
    refused = fleet(make, workdir, env)
    assert refused.code == 1
    assert "cannot checkpoint tenant cust-00043" in refused.err
    assert "limit of 2 snapshots" in refused.err and "fleet checkpoint gc" in refused.err
    listed = json.loads(ok(["checkpoint", "list", "cust-00043", "-f", "fleet", "--format",
                            "json"], workdir, env).out)  # fmt: skip
    assert [r["id"] for r in listed] == [second, first]  # the refused one left no record
    collected = json.loads(ok(["checkpoint", "gc", "-f", "fleet", "--format", "json"],
                              workdir, env).out)  # fmt: skip
    assert [(d["id"], d["reason"]) for d in collected["deleted"]] == [(first, "beyond keep_last 1")]
    assert collected["freed_bytes"] == 0 and collected["unsized"] == 0  # Neon reported 0 B
    third = int(ok(make, workdir, env).out)
    remaining = json.loads(ok(["checkpoint", "list", "-f", "fleet", "--format", "json"],
                              workdir, env).out)  # fmt: skip
    assert [r["id"] for r in remaining] == [third, second]


TENANTS = 200


def write_periodic_fleet(root: Path) -> None:
    """Fleet manifests with 200 tenants whose tier asks for a daily checkpoint."""
    example = Path(__file__).resolve().parents[2] / "fleet.example" / "fleet.yaml"
    (root / "fleet").mkdir(parents=True)
    (root / "fleet" / "fleet.yaml").write_text(example.read_text())
    (root / "fleet" / "tiers.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {name: daily}\n"
        "spec: {org: free, checkpoints: {every: 1d, keep_last: 7}}\n"
    )
    (root / "fleet" / "tenants.yaml").write_text(
        "".join(
            f"---\napiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: agent-{i:04d}}}\n"
            "spec: {tier: daily}\n"
            for i in range(TENANTS)
        )
    )


def test_schedule_across_200_tenants_keeps_the_budget_and_is_idempotent(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_periodic_fleet(work)
    # Operations finish at once here, so each checkpoint costs one request and the test stays
    # fast; the pacing under test is the requests' rate, not the operations'.
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(e2e_seed(operation_ms=0)))
    with serve(emulator) as server:
        loop = Loopback(emulator, server)
        admin = server.url.replace("/api/v2", "/_emulator")
        owned: list[OwnedTenant] = []
        with httpx.Client(timeout=10) as raw, loop.api("NEON_FREE_ORG_KEY") as api:
            for i in range(TENANTS):
                made = raw.post(f"{admin}/projects", json={"name": f"t-agent-{i:04d}", "org": ORG})
                project_id = made.json()["project"]["id"]
                if i % 20:  # 190 owned by the ledger; 10 found by project name
                    [main] = api.get(f"/projects/{project_id}/branches").json()["branches"]
                    owned.append(
                        OwnedTenant(f"agent-{i:04d}", project_id, ORG, {"main": main["id"]})
                    )
            # Low-ish limits from here on: a client ignoring its budget would meet 429s.
            raw.put(f"{admin}/limits", json={"requests_per_minute": 700,
                                             "route_requests_per_second": 12})  # fmt: skip
        (work / ".fleet").mkdir()
        with open_ledger(f"sqlite:///{work}/.fleet/ledger.db") as ledger:
            for tenant in owned:
                ledger.upsert_tenant(tenant)
        env = environment(loop)
        before = emulator.stats()
        run = ["checkpoint", "schedule", "-f", "fleet", "--max-per-minute", "660",
               "--source-rev", "4f2a9c1", "--format", "json"]  # fmt: skip
        first = json.loads(ok(run, work, env).out)
        stats = emulator.stats()
        snapshot_route = ("POST", "/projects/{project_id}/branches/{branch_id}/snapshot")
        assert len(first["created"]) == TENANTS and first["failed"] == {}
        assert stats.requests[snapshot_route] == TENANTS
        assert stats.rate_limited == before.rate_limited == 0
        assert first["requests"] <= TENANTS + 10 + 1  # creates, 10 branch look-ups, 1 listing
        again = json.loads(ok(run, work, env).out)
        assert again["created"] == [] and len(again["not_due"]) == TENANTS
        assert again["requests"] == 0
        assert emulator.stats().requests[snapshot_route] == TENANTS
    emulator.close()
