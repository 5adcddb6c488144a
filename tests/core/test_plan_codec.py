"""The plan codec round-trips every scenario exactly and rejects malformed documents."""

from __future__ import annotations

import copy
import json

import pytest

from reconciler.core.plan_codec import plan_from_dict, plan_to_dict
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
