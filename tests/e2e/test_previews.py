"""Runtime previews end to end: the CLI as real processes against the emulator on loopback.

* 50 ``fleet preview create`` calls make 50 branches with a compute each, 50 ledger records and
  50 sink documents whose URI and password are the emulator's; creating them all again creates
  nothing. The first four run as concurrent processes (agent runs start at once, so they queue on
  the apply lock); the rest run in-process, which keeps the test's time in the API, not in
  interpreter start-ups;
* ``fleet preview gc`` removes exactly the expired and the idle previews (never started, or
  suspended), keeps the running ones, and reports the storage the removed branches held;
* a create SIGKILLed at chosen moments converges on the next create of the same run id: one
  branch, a ready record, no open intent;
* bad input is refused with one message before any API call or ledger write.

The secret scan of conftest.py runs after each test and covers the sink's URIs and passwords.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from reconciler.ledger import open_ledger
from reconciler.ledger.previews import PreviewStatus
from tests.e2e.conftest import E2E_RATE_LIMITS, EXAMPLE, Loopback
from tests.support.cli import RECORDED, Result, run_in_process, run_subprocess
from tests.support.kills import KillPoint, Progress, run_until_killed

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TENANTS = 5
PREVIEWS = 50
EXPIRED = range(10)  # created with --ttl 5s (margin for a busy machine)
IDLE = range(10, 20)  # compute never started
SUSPENDED = range(45, 50)  # started, then suspended
ACTIVE = [n for n in range(20, 45)]  # started and still running at gc time

TIER = """---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {name: agents}
spec:
  org: free
  compute: {autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 1}
  previews:
    ttl: 2h
    idle_after: 1d
    suspend_timeout: 10m
    compute: {autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 0.5}
"""


def write_fleet(root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "fleet.yaml", root / "fleet.yaml")
    (root / "tiers.yaml").write_text((EXAMPLE / "tiers.yaml").read_text() + TIER)
    documents = [
        f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: pv-{n}}}\n"
        "spec: {tier: agents}\n"
        for n in range(TENANTS)
    ]
    (root / "tenants.yaml").write_text("---\n".join(documents))


def tenant_of(n: int) -> str:
    return f"pv-{n % TENANTS}"


def run_id(n: int) -> str:
    return f"run-{n:02d}"


class Fleet:
    """The CLI, the ledger and the emulator of one test."""

    def __init__(self, loopback: Loopback, workdir: Path, env: dict[str, str], ledger: str):
        self.loopback, self.workdir, self.ledger_url = loopback, workdir, ledger
        self.env = {**env, **E2E_RATE_LIMITS}
        write_fleet(workdir / "pv")

    def cli(self, *args: str) -> Result:
        return run_subprocess(
            ["-vv", "--ledger", self.ledger_url, *args], cwd=self.workdir, env=self.env
        )

    def in_process(self, *args: str) -> Result:
        """The CLI in this process (cwd and environment set by the ``fleet`` fixture)."""
        result = run_in_process(["--ledger", self.ledger_url, *args])
        RECORDED.append(result)  # the secret scan reads what it printed too
        return result

    def create(self, n: int, *extra: str, in_process: bool = False) -> Result:
        args = (
            "preview", "create", tenant_of(n), "-f", "pv", "--run-id", run_id(n),
            "--format", "json", *extra,
        )  # fmt: skip
        return self.in_process(*args) if in_process else self.cli(*args)

    def projects(self) -> dict[str, str]:
        with open_ledger(self.ledger_url) as ledger:
            return {t: ledger.tenant(t).project_id for t in (f"pv-{n}" for n in range(TENANTS))}  # type: ignore[union-attr]

    def api(self) -> httpx.Client:
        return self.loopback.api("NEON_FREE_ORG_KEY")

    def branches(self, project_id: str) -> list[dict[str, Any]]:
        with self.api() as api:
            return list(api.get(f"/projects/{project_id}/branches").json()["branches"])

    def endpoints(self, project_id: str) -> list[dict[str, Any]]:
        with self.api() as api:
            return list(api.get(f"/projects/{project_id}/endpoints").json()["endpoints"])

    def sink_path(self, tenant: str, run: str) -> Path:
        return self.workdir / ".fleet" / "secrets" / tenant / f"preview-{run}.json"

    def sink_document_for(self, tenant: str, run: str) -> dict[str, Any]:
        return dict(json.loads(self.sink_path(tenant, run).read_text()))

    def sink_document(self, n: int) -> dict[str, Any]:
        return self.sink_document_for(tenant_of(n), run_id(n))


@pytest.fixture
def fleet(
    loopback: Loopback, workdir: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Fleet:
    fleet = Fleet(loopback, workdir, env, f"sqlite:///{workdir}/.fleet/ledger.db")
    monkeypatch.chdir(workdir)
    for name, value in fleet.env.items():
        monkeypatch.setenv(name, value)
    applied = fleet.cli("apply", "pv", "--auto-approve")
    assert applied.code == 0, applied.text
    return fleet


def test_fifty_previews_idempotent_and_gc_removes_expired_and_idle_only(fleet: Fleet) -> None:
    def create(n: int, in_process: bool = True) -> Result:
        ttl = ["--ttl", "5s"] if n in EXPIRED else []
        return fleet.create(n, *ttl, in_process=in_process)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: create(n, in_process=False), range(4)))
    results += [create(n) for n in range(4, PREVIEWS)]
    for n, result in enumerate(results):
        assert result.code == 0, result.text
        assert json.loads(result.out)["created"] is True, n
    projects = fleet.projects()
    with open_ledger(fleet.ledger_url) as ledger:
        records = {(r.tenant, r.run_id): r for r in ledger.previews()}
        assert not [i for i in ledger.pending_intents() if "preview" in i.action]
        modes = Counter(run.info.mode for run in ledger.runs(limit=200))
    assert modes["preview"] == PREVIEWS  # each create is a run in fleet history
    assert len(records) == PREVIEWS
    assert all(r.status is PreviewStatus.READY for r in records.values())

    # One branch per run, each with its compute at the preview settings, and the sink's URI
    # pointing at that compute with the password the emulator holds for the role.
    live = {t: fleet.branches(p) for t, p in projects.items()}
    endpoints = {t: {e["id"]: e for e in fleet.endpoints(p)} for t, p in projects.items()}
    for n in range(PREVIEWS):
        tenant = tenant_of(n)
        record = records[(tenant, run_id(n))]
        named = [b for b in live[tenant] if b["name"] == f"preview-{run_id(n)}"]
        assert [b["id"] for b in named] == [record.branch_id]
        assert "expires_at" in named[0]
        endpoint = endpoints[tenant][str(record.endpoint_id)]
        assert endpoint["suspend_timeout_seconds"] == 600
        assert endpoint["autoscaling_limit_max_cu"] == 0.5
        document = fleet.sink_document(n)
        uri = urlsplit(document["uri"])
        assert uri.hostname == endpoint["host"] == document["host"]
        assert (uri.username, uri.path) == (document["role"], "/" + document["database"])
        with fleet.api() as api:
            revealed = api.get(
                f"/projects/{projects[tenant]}/branches/{record.branch_id}/roles/"
                f"{document['role']}/reveal_password"
            ).json()["password"]
        assert uri.password == document["password"] == revealed
        assert record.secret_fingerprint and record.secret_fingerprint.startswith("sha256:")

    # The same 50 calls again: nothing new anywhere.
    progress = Progress(fleet.loopback.emulator)
    writes = progress.mutations()
    again = [create(n) for n in range(PREVIEWS)]
    assert all(r.code == 0 and json.loads(r.out)["created"] is False for r in again)
    assert progress.mutations() == writes
    assert {t: len(fleet.branches(p)) for t, p in projects.items()} == {
        t: len(b) for t, b in live.items()
    }

    # Running computes for the active and suspended previews; the suspended ones stop again.
    sizes = _start_and_size(fleet, projects, records)
    suspended_at = datetime.now(UTC)
    expiries = [records[(tenant_of(n), run_id(n))].expires_at for n in EXPIRED]
    assert all(moment is not None for moment in expiries)
    expires = max(moment for moment in expiries if moment is not None)
    idle_after = 2
    # Wait for the moments gc judges by, read from the records and the suspends themselves.
    deadline = max(expires, suspended_at + timedelta(seconds=idle_after)) + timedelta(seconds=1)
    while datetime.now(UTC) < deadline:
        time.sleep(0.05)

    collected = fleet.in_process("preview", "gc", "-f", "pv", "--idle-after", f"{idle_after}s",
                          "--format", "json")  # fmt: skip
    assert collected.code == 0, collected.text
    report = json.loads(collected.out)
    reasons = {item["run_id"]: item["reason"] for item in report["removed"]}
    assert reasons == {
        **{run_id(n): "expired" for n in EXPIRED},
        **{run_id(n): "idle" for n in [*IDLE, *SUSPENDED]},
    }
    removed = [n for n in range(PREVIEWS) if run_id(n) in reasons]
    assert report["kept"] == len(ACTIVE) and report["failed"] == []
    assert report["freed_bytes"] == sum(sizes[n] for n in removed) > 0
    with open_ledger(fleet.ledger_url) as ledger:
        assert sorted(r.run_id for r in ledger.previews()) == [run_id(n) for n in ACTIVE]
    after = {t: {b["name"] for b in fleet.branches(p)} for t, p in projects.items()}
    for n in range(PREVIEWS):
        exists = f"preview-{run_id(n)}" in after[tenant_of(n)]
        assert exists == (n in ACTIVE), n
        assert fleet.sink_path(tenant_of(n), run_id(n)).exists() == (n in ACTIVE), n


def _start_and_size(
    fleet: Fleet, projects: dict[str, str], records: dict[Any, Any]
) -> dict[int, int]:
    """Start the active and suspended previews' computes (suspend the latter) and give every
    preview branch a logical size; returns the sizes."""
    sizes: dict[int, int] = {}
    with (
        fleet.api() as api,
        httpx.Client(base_url=fleet.loopback.url.removesuffix("/api/v2")) as admin,
    ):
        for n in range(PREVIEWS):
            tenant = tenant_of(n)
            record = records[(tenant, run_id(n))]
            sizes[n] = 1_000_000 * (n + 1)
            patched = admin.patch(
                f"/_emulator/branches/{record.branch_id}", json={"logical_size": sizes[n]}
            )
            assert patched.status_code == 200, patched.text
            endpoint = f"/projects/{projects[tenant]}/endpoints/{record.endpoint_id}"
            if n in ACTIVE or n in SUSPENDED:
                _post_unlocked(api, endpoint + "/start")
            if n in SUSPENDED:
                _until(lambda path=endpoint: _state(api, path) == "active")
                _post_unlocked(api, endpoint + "/suspend")
    return sizes


def _post_unlocked(api: httpx.Client, path: str) -> None:
    """POST once the project's running operations let it (423 Locked until then)."""
    answers: list[int] = []

    def sent() -> bool:
        answers.append(api.post(path).status_code)
        return answers[-1] != 423

    _until(sent)
    assert answers[-1] == 200, answers


def _state(api: httpx.Client, path: str) -> str:
    return str(api.get(path).json()["endpoint"]["current_state"])


def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the emulator never reached the expected state"
        time.sleep(0.02)


def test_sigkill_mid_create_then_rerun_converges(
    loopback: Loopback,
    workdir: Path,
    env: dict[str, str],
    ledger_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet = Fleet(loopback, workdir, env, ledger_url)
    monkeypatch.chdir(workdir)
    for name, value in fleet.env.items():
        monkeypatch.setenv(name, value)
    assert fleet.in_process("apply", "pv", "--auto-approve").code == 0
    # Slow operations, so kills land while the branch's operations run and after them.
    with httpx.Client(base_url=loopback.url.removesuffix("/api/v2")) as admin:
        admin.put("/_emulator/limits", json={"operation_duration_ms": 600}).raise_for_status()
    progress = Progress(loopback.emulator)
    killed, adopted = 0, 0
    # Killed right as the branch create arrives, while its operations run, and later still.
    points = [0, 2, 4]
    for n, after in enumerate(points):
        args = ["--ledger", ledger_url, "preview", "create", tenant_of(n), "-f", "pv",
                "--run-id", run_id(n)]  # fmt: skip
        outcome = run_until_killed(
            args,
            cwd=workdir,
            env=fleet.env,
            progress=progress,
            point=KillPoint(after),
            start_methods=frozenset({"POST"}),
        )
        killed += outcome.killed
        rerun = fleet.create(n, in_process=True)
        assert rerun.code == 0, rerun.text
        # The re-run finished the killed run's branch instead of making another.
        adopted += json.loads(rerun.out)["created"] is False
    assert killed >= 2, "too few creates were killed to test recovery"
    assert adopted >= 1, "no re-run found a branch a killed run had requested"
    projects = fleet.projects()
    with open_ledger(ledger_url) as ledger:
        records = ledger.previews()
        assert not [i for i in ledger.pending_intents() if "preview" in i.action]
    assert sorted(r.run_id for r in records) == [run_id(n) for n in range(len(points))]
    assert all(r.status is PreviewStatus.READY for r in records)
    for record in records:
        named = [
            b for b in fleet.branches(projects[record.tenant])
            if b["name"] == f"preview-{record.run_id}"
        ]  # fmt: skip
        assert [b["id"] for b in named] == [record.branch_id], "a duplicate branch was made"
        endpoints = [e for e in fleet.endpoints(projects[record.tenant])
                     if e["branch_id"] == record.branch_id]  # fmt: skip
        assert [e["id"] for e in endpoints] == [record.endpoint_id]
        document = fleet.sink_document(int(record.run_id.removeprefix("run-")))
        assert document["branch_id"] == record.branch_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "nobody", "--run-id", "r1"], "unknown tenant 'nobody'"),
        (["create", "pv-0", "--run-id", "r1", "--ttl", "2x"], "--ttl '2x'"),
        (["create", "pv-0", "--run-id", "r1", "--ttl", "31d"], "within 30 days"),
        (["create", "pv-0", "--run-id", "bad id"], "--run-id 'bad id'"),
        (["create", "pv-0"], "Missing option '--run-id'"),
        (["gc", "--idle-after", "soon"], "--idle-after 'soon'"),
    ],
)
def test_bad_input_is_refused_before_any_call_or_write(
    loopback: Loopback, workdir: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    fleet = Fleet(loopback, workdir, env, f"sqlite:///{workdir}/.fleet/ledger.db")
    before = Progress(loopback.emulator).requests()
    result = fleet.cli("preview", args[0], "-f", "pv", *args[1:])
    assert result.code != 0
    assert message in result.err and "Traceback" not in result.text
    assert Progress(loopback.emulator).requests() == before
    assert not (workdir / ".fleet" / "ledger.db").exists()


def test_preview_from_checkpoint_then_list_and_delete(fleet: Fleet) -> None:
    made = fleet.in_process(
        "checkpoint", "create", "pv-1", "-f", "pv", "--source-rev", "4f2a9c1", "--format", "json"
    )
    assert made.code == 0, made.text
    checkpoint = json.loads(made.out)
    # Another tenant's checkpoint is refused before anything is done.
    other = fleet.in_process(
        "preview", "create", "pv-2", "-f", "pv", "--run-id", "r-ckpt",
        "--from-checkpoint", str(checkpoint["id"]),
    )  # fmt: skip
    assert other.code == 1 and "tenant pv-1's, not pv-2's" in other.err

    created = fleet.in_process(
        "preview", "create", "pv-1", "-f", "pv", "--run-id", "r-ckpt", "--ttl", "1h",
        "--from-checkpoint", str(checkpoint["id"]), "--format", "json",
    )  # fmt: skip
    assert created.code == 0, created.text
    record = json.loads(created.out)
    assert record["checkpoint_id"] == checkpoint["id"] and record["parent_branch"] is None
    project = fleet.projects()["pv-1"]
    [branch] = [b for b in fleet.branches(project) if b["name"] == "preview-r-ckpt"]
    # Restored from the snapshot, then given the preview's expiry and compute settings.
    assert branch["id"] == record["branch"]["id"] and "expires_at" in branch
    [endpoint] = [e for e in fleet.endpoints(project) if e["branch_id"] == branch["id"]]
    assert endpoint["suspend_timeout_seconds"] == 600
    assert fleet.sink_document_for("pv-1", "r-ckpt")["endpoint_id"] == endpoint["id"]

    listed = fleet.in_process("preview", "list", "pv-1", "-f", "pv", "--format", "json")
    assert [p["run_id"] for p in json.loads(listed.out)] == ["r-ckpt"]

    deleted = fleet.in_process("preview", "delete", "pv-1", "-f", "pv", "--run-id", "r-ckpt")
    assert deleted.code == 0, deleted.text
    assert not [b for b in fleet.branches(project) if b["name"] == "preview-r-ckpt"]
    assert not fleet.sink_path("pv-1", "r-ckpt").exists()
    again = fleet.in_process("preview", "delete", "pv-1", "-f", "pv", "--run-id", "r-ckpt")
    assert again.code == 1 and "has no preview for run 'r-ckpt'" in again.err
    with open_ledger(fleet.ledger_url) as ledger:
        assert ledger.previews() == []
        steps = ledger.run(ledger.runs(limit=1)[0].run_id).steps
    assert steps is not None and [s.action for s in steps] == ["delete_preview"]
