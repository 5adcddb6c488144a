"""Schema validation of plan files: errors name the offending field path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from reconciler.core.plan_codec import plan_to_dict
from reconciler.errors import PlanFileError
from reconciler.render.json import SCHEMA_PATH, validate_plan_dict
from tests.core.scenarios import plan_for


def document() -> dict[str, Any]:
    return copy.deepcopy(plan_to_dict(plan_for("tier_upgrade")))


def test_schema_is_2020_12() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["steps"][2].update(action="explode"), "steps[2].action"),
        (lambda d: d.pop("fingerprints"), "(top level)"),
        (lambda d: d["fingerprints"].update({"cust-00003": "md5:x"}), "fingerprints.cust-00003"),
        (lambda d: d["steps"][0].update(tenant="cust-00003"), "steps[0].tenant"),
        (lambda d: d["steps"][0]["after"].update(project_ids=[]), "steps[0].after.project_ids"),
        (lambda d: d["steps"][1]["changes"][0].pop("origin"), "steps[1].changes[0]"),
        (lambda d: d["summary"].update(total=-1), "summary.total"),
        (lambda d: d.update(format_version=9), "format_version"),
        (lambda d: d["steps"][3].update(before={"x": 1}), "steps[3].before"),
    ],
)
def test_invalid_documents_name_the_field(mutate: Any, where: str) -> None:
    data = document()
    mutate(data)
    with pytest.raises(PlanFileError) as raised:
        validate_plan_dict(data)
    assert str(raised.value).startswith(f"plan file: {where}:")


def test_not_an_object_is_rejected() -> None:
    with pytest.raises(PlanFileError, match="top level"):
        validate_plan_dict([1, 2])
