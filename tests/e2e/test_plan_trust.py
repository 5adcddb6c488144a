"""``fleet apply PLANFILE`` runs only what the manifests vouch for; blockers fail the run.

The CLI runs in-process (fast) against the emulator served on loopback, with the keys in the
environment as a CI job has them. Hostile plan files are edited *and re-sealed* (anyone can
recompute a seal), so these tests exercise the apply-time re-plan, not the seal.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plan_codec import seal_of
from tests.e2e.conftest import Loopback
from tests.support.cli import Result, run_in_process

pytestmark = pytest.mark.e2e

Fleet = Callable[..., Result]


@pytest.fixture
def fleet(workdir: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Fleet:
    """``fleet ARGS`` in-process, in the working copy, with the CI environment."""
    monkeypatch.chdir(workdir)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> Result:
        return run_in_process(list(args))

    return run


def _ok(result: Result) -> Result:
    assert result.code == 0, result.text
    return result


def _edit_tenant(workdir: Path, tenant: str, old: str, new: str) -> None:
    path = workdir / "fleet" / "tenants" / f"{tenant}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _error_line(result: Result) -> str:
    assert "Traceback" not in result.err
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    return line


def _fleet_state(loopback: Loopback) -> Any:
    """Everything an apply could change in Neon: projects (with settings) and API keys."""
    state: dict[str, Any] = {}
    for org, key in (("org-free-1", "NEON_FREE_ORG_KEY"), ("org-paid-1", "NEON_PAID_ORG_KEY")):
        projects = sorted(loopback.projects(org, key), key=lambda p: p["id"])
        with loopback.api(key) as client:
            keys = client.get(f"/organizations/{org}/api_keys").json()
        state[org] = (
            [(p["id"], p["name"], p.get("settings")) for p in projects],
            sorted(k["id"] for k in keys),
        )
    return state


def test_apply_exits_nonzero_when_tenants_are_blocked(
    loopback: Loopback, workdir: Path, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(fleet("apply", "fleet", "--auto-approve"))
    # cust-00043 wants the paid org, but there is no personal key to transfer it with;
    # cust-00042's quota change is not blocked and is applied.
    _edit_tenant(workdir, "cust-00043", "tier: free", "tier: pro")
    _edit_tenant(
        workdir, "cust-00042", "compute_time_seconds: 18000", "compute_time_seconds: 18001"
    )
    monkeypatch.delenv("NEON_PERSONAL_KEY")
    result = fleet("apply", "fleet", "--auto-approve")
    assert result.code == 5, result.text
    assert "1 succeeded" in result.out
    assert "1 tenant(s) blocked and left unchanged" in result.out
    assert "! cust-00043: " in result.out
    assert "matches the manifests" not in result.text
    assert _error_line(result) == (
        "Error: apply finished, but 1 blocked tenant(s) left unchanged: cust-00043"
    )
    # The saved-plan form, with nothing left but the blocker: still 5, never "matches".
    _ok(fleet("plan", "fleet", "-o", "p.json"))
    again = fleet("apply", "p.json")
    assert again.code == 5, again.text
    assert "Nothing to apply" in again.out and "cust-00043" in again.out
    assert "matches the manifests" not in again.text
    as_json = fleet("apply", "p.json", "--format", "json")
    assert as_json.code == 5, as_json.text
    document = json.loads(as_json.out)
    assert document["summary"]["blocked_tenants"] == 1
    assert [b["tenant"] for b in document["blocked"]] == ["cust-00043"]
    assert "personal API key" in document["blocked"][0]["messages"][0]


def test_apply_json_with_nothing_to_do_prints_the_summary_on_stdout(
    loopback: Loopback, fleet: Fleet
) -> None:
    _ok(fleet("apply", "fleet", "--auto-approve"))
    _ok(fleet("plan", "fleet", "-o", "p.json"))
    for target in ("p.json", "fleet"):
        result = _ok(fleet("apply", target, "--auto-approve", "--format", "json"))
        document = json.loads(result.out)
        assert document["summary"] == {
            "succeeded": 0,
            "failed": 0,
            "skipped": 0,
            "blocked_tenants": 0,
        }
        assert document["failed"] == [] and document["blocked"] == []


def test_a_modified_plan_file_is_refused_before_anything_is_contacted(
    loopback: Loopback, workdir: Path, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(fleet("apply", "fleet", "--auto-approve"))
    _edit_tenant(
        workdir, "cust-00043", "tier: free", "tier: free\n  quota: {compute_time_seconds: 7}"
    )
    _ok(fleet("plan", "fleet", "-o", "p.json"))
    document = json.loads((workdir / "p.json").read_text())
    document["steps"][0]["after"]["quota"]["compute_time_seconds"] = 1
    (workdir / "p.json").write_text(json.dumps(document, indent=2))
    before = _fleet_state(loopback)
    monkeypatch.setenv("NEON_API_HOST", "http://127.0.0.1:9")  # contacting it would fail otherwise
    result = fleet("apply", "p.json")
    assert result.code == 1, result.text
    assert "the plan file was modified after it was made" in _error_line(result)
    assert _fleet_state(loopback) == before


def _plan_with_a_new_key(workdir: Path, fleet: Fleet) -> dict[str, Any]:
    """Apply the example, then save a plan that creates one API key for cust-00043."""
    _ok(fleet("apply", "fleet", "--auto-approve"))
    _edit_tenant(workdir, "cust-00043", "tier: free", "tier: free\n  api_keys: [{name: ci}]")
    _ok(fleet("plan", "fleet", "-o", "p.json"))
    document: dict[str, Any] = json.loads((workdir / "p.json").read_text())
    assert [s["action"] for s in document["steps"]] == ["create_api_key"]
    return document


def _exec_sink(document: dict[str, Any], loopback: Loopback) -> None:
    document["meta"]["fleet"]["secrets"] = {"kind": "exec", "target": "touch PWNED_BY_PLANFILE"}


def _personal_key_for_an_org(document: dict[str, Any], loopback: Loopback) -> None:
    document["meta"]["fleet"]["orgs"]["free"]["api_key_env"] = "NEON_PERSONAL_KEY"


def _ledger_redirected(document: dict[str, Any], loopback: Loopback) -> None:
    document["meta"]["fleet"]["ledger"] = "sqlite:///elsewhere.db"


def _delete_step(document: dict[str, Any], tenant: str, project: dict[str, Any]) -> None:
    document["steps"].append(
        {
            "id": f"{tenant}/delete_project",
            "tenant": tenant,
            "action": "delete_project",
            "before": {"id": project["id"], "name": project["name"], "org_id": "org-free-1"},
            "after": None,
            "depends_on": [],
            "reason": "removed from the manifests",
            "changes": [],
        }
    )
    document["meta"]["tenants"][tenant] = {
        "project_name": project["name"],
        "org_id": "org-free-1",
        "project_id": project["id"],
        "prevent_destroy": False,
        "digest": "",
    }


def _delete_unmanaged_project(document: dict[str, Any], loopback: Loopback) -> None:
    with loopback.api("NEON_FREE_ORG_KEY") as client:
        answer = client.post(
            "/projects", json={"project": {"name": "someone-elses", "org_id": "org-free-1"}}
        )
        assert answer.status_code in (200, 201), answer.text
    [project] = [
        p
        for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")
        if p["name"] == "someone-elses"
    ]
    document["fingerprints"]["intruder"] = document["fingerprints"]["cust-00043"]
    _delete_step(document, "intruder", project)


def _delete_declared_tenant(document: dict[str, Any], loopback: Loopback) -> None:
    [project] = [
        p
        for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")
        if p["name"] == "t-cust-00042"
    ]
    _delete_step(document, "cust-00042", project)  # its true fingerprint is in the plan


def _step_edited(document: dict[str, Any], loopback: Loopback) -> None:
    document["steps"][0]["after"]["key_name"] = "ci-renamed"


#: Each hostile edit of issue 18 (and a changed step), and how apply refuses it.
HOSTILE_EDITS: list[tuple[Callable[[dict[str, Any], Loopback], None], str]] = [
    (_exec_sink, "Fleet settings (meta.fleet) differ"),
    (_personal_key_for_an_org, "Fleet settings (meta.fleet) differ"),
    (_ledger_redirected, "Fleet settings (meta.fleet) differ"),
    (_delete_unmanaged_project, "intruder/delete_project: the manifests do not plan this step"),
    (_delete_declared_tenant, "cust-00042/delete_project: the manifests do not plan this step"),
    (_step_edited, "create_api_key/ci: after differ from what the manifests plan"),
]


def test_resealed_hostile_plans_are_refused_and_change_nothing(
    loopback: Loopback, workdir: Path, fleet: Fleet
) -> None:
    original = _plan_with_a_new_key(workdir, fleet)
    for edit, refusal in HOSTILE_EDITS:
        document = copy.deepcopy(original)
        edit(document, loopback)
        document["seal"] = seal_of(document)
        (workdir / "p.json").write_text(json.dumps(document, indent=2))
        before = _fleet_state(loopback)
        ledger_before = (workdir / ".fleet" / "ledger.db").read_bytes()
        result = fleet("apply", "p.json")
        assert result.code == 1, (edit.__name__, result.text)
        assert refusal in _error_line(result), edit.__name__
        assert _fleet_state(loopback) == before, edit.__name__
        assert (workdir / ".fleet" / "ledger.db").read_bytes() == ledger_before, edit.__name__
        assert not list(workdir.rglob("PWNED_BY_PLANFILE")), edit.__name__
        assert not (workdir / "elsewhere.db").exists(), edit.__name__
        assert not (workdir / ".fleet" / "secrets" / "cust-00043").exists(), edit.__name__
    # The untouched plan still applies: the refusals were about the edits.
    (workdir / "p.json").write_text(json.dumps(original, indent=2))
    assert "1 succeeded" in _ok(fleet("apply", "p.json")).out


def test_a_plan_made_before_the_manifests_changed_is_refused(
    loopback: Loopback, workdir: Path, fleet: Fleet
) -> None:
    _plan_with_a_new_key(workdir, fleet)
    _edit_tenant(workdir, "cust-00043", "tier: free", "tier: free\n  labels: {x: y}")
    result = fleet("apply", "p.json")
    assert result.code == 1, result.text
    assert "the manifests changed since the plan was made" in _error_line(result)


def test_apply_planfile_says_which_manifests_it_checked_the_plan_against(
    loopback: Loopback, workdir: Path, fleet: Fleet
) -> None:
    # A plan made from other manifests fits those: the log names what was used, and -f pins.
    shutil.copytree(workdir / "fleet", workdir / "other")
    _ok(fleet("plan", "other", "-o", "other.json"))
    unpinned = _ok(fleet("apply", "other.json"))
    assert "checked the plan against the manifests it names, other" in unpinned.err
    _ok(fleet("plan", "fleet", "-o", "p.json"))
    pinned = _ok(fleet("apply", "p.json", "-f", "fleet"))
    assert "checked the plan against the manifests it names" not in pinned.err


def test_honest_saved_plans_apply_through_a_fleet_lifecycle(
    loopback: Loopback, workdir: Path, fleet: Fleet
) -> None:
    # Creates, branches and keys from a saved full plan.
    _ok(fleet("plan", "fleet", "-o", "p1.json", "--refresh", "all"))
    assert "15 succeeded" in _ok(fleet("apply", "p1.json")).out
    # The ledger records the plan file's seal as the run's plan digest.
    [run] = json.loads(_ok(fleet("history", "-f", "fleet", "--format", "json")).out)
    seal = json.loads((workdir / "p1.json").read_text())["seal"]
    assert seal == f"sha256:{run['plan_digest']}"
    # An incremental plan (the default) with a tier upgrade (transfer), a new key, a branch
    # and a prune, saved and applied from the file.
    _edit_tenant(workdir, "cust-00043", "tier: free", "tier: pro\n  api_keys: [{name: ci}]")
    _edit_tenant(
        workdir,
        "cust-00042",
        "- {name: staging, parent: main}",
        "- {name: staging, parent: main}\n    - {name: qa, parent: main}",
    )
    (workdir / "fleet" / "tenants" / "cust-00101.yaml").unlink()
    manifest = workdir / "fleet" / "fleet.yaml"
    manifest.write_text(manifest.read_text().replace("prune: false", "prune: true"))
    plan = _ok(fleet("plan", "fleet", "-o", "p2.json"))
    document = json.loads((workdir / "p2.json").read_text())
    actions = {s["action"] for s in document["steps"]}
    assert {"transfer_projects", "create_api_key", "create_branch", "delete_project"} <= actions, (
        plan.out
    )
    assert document["meta"]["refresh_mode"] == "changed"
    done = _ok(fleet("apply", "p2.json"))
    assert "0 failed" in done.out
    # A plan narrowed with --tenant is re-planned with the same targets.
    _edit_tenant(
        workdir, "cust-00100", "tier: pro", "tier: pro\n  quota: {compute_time_seconds: 7}"
    )
    _edit_tenant(
        workdir, "cust-00042", "compute_time_seconds: 18000", "compute_time_seconds: 18001"
    )
    _ok(fleet("plan", "fleet", "--tenant", "cust-00100", "-o", "p3.json"))
    assert "1 succeeded" in _ok(fleet("apply", "p3.json")).out
    _ok(fleet("apply", "fleet", "--auto-approve"))
    assert _ok(fleet("plan", "fleet", "--detailed-exitcode", "--refresh", "all")).code == 0
