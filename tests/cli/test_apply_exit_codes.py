"""How an apply ends: exit 4 for failed steps wins over exit 5 for blocked tenants."""

from __future__ import annotations

import json

from reconciler.app.applying import ApplyOutcome
from reconciler.apply.executor import ExecutionReport, ItemResult, Status
from reconciler.core.plan import Blocker
from reconciler.errors import ApplyError, BlockedTenantsError
from reconciler.render.output import apply_exit_error, apply_summary

BLOCKERS = (
    Blocker("cust-2", "transfer needs a personal API key"),
    Blocker("cust-1", "two projects are named t-cust-1"),
    Blocker("cust-1", "another reason"),
)


def _outcome(*statuses: Status) -> ApplyOutcome:
    results = tuple(ItemResult(f"step-{n}", s, message="boom") for n, s in enumerate(statuses))
    return ApplyOutcome(ExecutionReport(results), api_calls=3)


def test_apply_exits_4_when_steps_failed_and_names_blocked_tenants_too() -> None:
    error = apply_exit_error(_outcome(Status.SUCCEEDED, Status.FAILED), BLOCKERS)
    assert isinstance(error, ApplyError) and error.exit_code == 4
    assert str(error) == (
        "apply finished with 1 failed, 0 skipped and 1 succeeded step(s); "
        "2 blocked tenant(s) left unchanged: cust-1, cust-2"
    )
    text = apply_summary(_outcome(Status.SUCCEEDED, Status.FAILED), "text", BLOCKERS)
    assert "1 failed" in text and "2 tenant(s) blocked and left unchanged" in text


def test_apply_exits_5_when_only_blockers_held_tenants_back() -> None:
    error = apply_exit_error(_outcome(Status.SUCCEEDED), BLOCKERS)
    assert isinstance(error, BlockedTenantsError) and error.exit_code == 5
    assert error.blocked == ("cust-1", "cust-2")
    assert apply_exit_error(_outcome(Status.SUCCEEDED), ()) is None


def test_apply_json_summary_names_blocked_tenants_with_their_reasons() -> None:
    document = json.loads(apply_summary(_outcome(), "json", BLOCKERS))
    assert document == {
        "summary": {"succeeded": 0, "failed": 0, "skipped": 0, "blocked_tenants": 2},
        "api_calls": 3,
        "failed": [],
        "blocked": [
            {"tenant": "cust-1", "messages": ["two projects are named t-cust-1", "another reason"]},
            {"tenant": "cust-2", "messages": ["transfer needs a personal API key"]},
        ],
    }
    assert "matches the manifests" not in apply_summary(_outcome(), "text", BLOCKERS)
    assert apply_summary(_outcome(), "text") == "No changes. The fleet matches the manifests."
