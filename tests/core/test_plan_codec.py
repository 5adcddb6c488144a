"""The plan codec round-trips every scenario exactly and rejects malformed documents."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from reconciler.core.plan_codec import (
    SEAL_PREFIX,
    nesting_depth,
    plan_digest,
    plan_from_dict,
    plan_from_text,
    plan_to_dict,
    seal_of,
)
from reconciler.errors import PlanFileError
from tests.core.scenarios import SCENARIOS, plan_for


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_round_trip_is_exact(name: str) -> None:
    plan = plan_for(name)
    document = json.loads(json.dumps(plan_to_dict(plan)))
    assert plan_from_dict(document) == plan
    assert plan_to_dict(plan_from_dict(document)) == document


def test_summary_is_sealed_like_everything_else() -> None:
    document = plan_to_dict(plan_for("tier_upgrade"))
    document["summary"]["total"] = 999
    with pytest.raises(PlanFileError, match="modified after it was made"):
        plan_from_dict(document)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format_version=2), "format_version 2 is not supported"),
        (lambda d: d.pop("steps"), "steps: missing"),
        (lambda d: d["steps"][0].update(action="explode"), r"steps\[0\]\.action: unknown"),
        (lambda d: d["steps"][1].update(depends_on="x"), r"steps\[1\]\.depends_on: expected list"),
        (lambda d: d["steps"][0]["changes"][0].pop("old"), r"changes\[0\]\.old: missing"),
        (lambda d: d["blockers"].append({"tenant": 3}), r"blockers\[0\]\.tenant: expected str"),
    ],
)
def test_malformed_documents_name_the_field(mutate, message) -> None:
    document = copy.deepcopy(plan_to_dict(plan_for("tier_upgrade")))
    mutate(document)
    with pytest.raises(PlanFileError, match=message):
        plan_from_dict(document)


def _resealed(document: dict[str, Any]) -> dict[str, Any]:
    document["seal"] = seal_of(document)
    return document


def test_saved_plans_are_sealed_and_a_modified_plan_is_refused() -> None:
    plan = plan_for("quota_change")
    document = plan_to_dict(plan)
    assert document["seal"] == plan_digest(plan)
    # The seal is over the canonical form: re-indenting or re-ordering keys keeps it valid.
    reformatted = json.dumps(dict(reversed(list(document.items()))), indent=7)
    assert plan_from_text(reformatted) == plan
    document["steps"][0]["after"]["quota"]["compute_time_seconds"] = 1
    with pytest.raises(PlanFileError, match="the plan file was modified after it was made"):
        plan_from_dict(document)
    document.pop("seal")
    with pytest.raises(PlanFileError, match="seal: missing"):
        plan_from_dict(document)


def test_plan_digest_is_the_seal_not_a_rendering() -> None:
    plan = plan_for("tier_upgrade")
    text = json.dumps(plan_to_dict(plan), indent=2)
    assert plan_from_text(text).contract == plan.contract
    assert plan_digest(plan_from_text(text)) == json.loads(text)["seal"]
    assert plan_digest(plan).startswith(SEAL_PREFIX) and len(plan_digest(plan)) == 71


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["steps"][0].update(depends_on=[d["steps"][-1]["id"]]),
            "steps depend on each other in a cycle",
        ),
        (lambda d: d["steps"][0].update(depends_on=["nowhere"]), "unknown step.*nowhere"),
        (lambda d: d["steps"].append(copy.deepcopy(d["steps"][0])), "two steps share the id"),
        (lambda d: d["meta"].update(tenants=[1, 2]), r"meta\.tenants: expected an object"),
        (lambda d: d["meta"].update(tenants={"a": "b"}), r"meta\.tenants\.a: expected dict"),
        (lambda d: d["meta"].update(observed={"endpoints": 3}), r"meta\.observed\.endpoints"),
        (lambda d: d["meta"].update(manifests=7), r"meta\.manifests: expected a string"),
        (lambda d: d["meta"].update(refresh_mode="some"), r"meta\.refresh_mode: expected"),
    ],
)
def test_cyclic_and_malformed_resealed_plans_are_refused_at_load(mutate, message) -> None:
    document = copy.deepcopy(plan_to_dict(plan_for("tier_upgrade")))
    mutate(document)
    with pytest.raises(PlanFileError, match=message):
        plan_from_dict(_resealed(document))


def test_a_plan_cycle_is_refused_even_when_it_spares_the_first_steps() -> None:
    document = copy.deepcopy(plan_to_dict(plan_for("branches")))
    ids = [s["id"] for s in document["steps"]]
    assert len(ids) >= 3
    document["steps"][1]["depends_on"] = [ids[2]]
    document["steps"][2]["depends_on"] = [ids[1]]
    with pytest.raises(PlanFileError, match="cycle"):
        plan_from_dict(_resealed(document))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested 100000 levels deep"),
        ('{"a": ' * 70 + "1" + "}" * 70, "nested 70 levels deep"),
        ('{"format_version": ' + "9" * 5000 + "}", "not a JSON plan file"),
        ('{"format_version": 1e999}', "too large"),
        ('{"format_version": NaN}', "NaN is not a number"),
        ("[1, 2]", r"\(top level\): expected an object"),
        ('{"format_version": 1, "steps": [', "not a JSON plan file"),
    ],
)
def test_hostile_plan_text_gets_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(PlanFileError, match=message):
        plan_from_text(text)


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth('{"a": ["[[[{{{", "\\"]]"], "b": {}}') == 2
