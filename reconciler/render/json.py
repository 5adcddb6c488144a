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
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "plan.schema.json"


def render_json(plan: Plan) -> str:
    """The plan file text: indented JSON, keys in codec order, ending with a newline."""
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _validator(schema_file: str) -> jsonschema.protocols.Validator:
    path = SCHEMA_DIR / schema_file
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanFileError(f"cannot read the schema {path}: {exc}") from exc
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def check_document(data: Any, schema_file: str, what: str) -> None:
    """Raise ``PlanFileError`` naming ``what`` and the field path unless ``data`` matches."""
    error = best_match(_validator(schema_file).iter_errors(data))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise PlanFileError(f"{what}: {path.lstrip('.') or '(top level)'}: {error.message}")


def validate_plan_dict(data: Any) -> None:
    """Raise ``PlanFileError`` naming the field path unless ``data`` matches the plan schema."""
    check_document(data, SCHEMA_PATH.name, "plan file")
