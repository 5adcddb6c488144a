"""The plan as JSON (the plan file) and its validation against ``schemas/plan.schema.json``.

``render_json`` writes exactly what ``reconciler.core.plan_codec.plan_to_dict`` produces.
``validate_plan_dict`` is the jsonschema gate a caller runs before ``plan_from_dict``: core
cannot import jsonschema, render may. Errors name the JSON path of the offending field.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from reconciler.core.plan import Plan
from reconciler.core.plan_codec import plan_to_dict
from reconciler.errors import PlanFileError

#: ``reconciler/schemas`` is a symlink to the repository's ``schemas/`` and ships in the wheel.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json"


def render_json(plan: Plan) -> str:
    """The plan file text: indented JSON, keys in codec order, ending with a newline."""
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    try:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanFileError(f"cannot read the plan schema {SCHEMA_PATH}: {exc}") from exc
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_plan_dict(data: Any) -> None:
    """Raise ``PlanFileError`` naming the field path unless ``data`` matches the plan schema."""
    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    where = path.lstrip(".") or "(top level)"
    raise PlanFileError(f"plan file: {where}: {error.message}")
