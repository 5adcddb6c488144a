"""The plan as JSON (the plan file) and its validation against ``schemas/plan.schema.json``.

``render_json`` writes exactly what ``reconciler.core.plan_codec.plan_to_dict`` produces, as
``json.dumps(..., indent=2, ensure_ascii=False)`` would, byte for byte. ``json_chunks`` gives
the same text in pieces of about one step, so a large plan is written without ever holding
its whole document or text: ``json.dumps`` with ``indent`` runs the pure-Python encoder, whose
generators and chunk list cost several times the CPU and memory of ``_indented`` below.
``validate_plan_dict`` is the jsonschema gate a caller runs before ``plan_from_dict``: core
cannot import jsonschema, render may. Errors name the JSON path of the offending field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.core.plan import Plan
from reconciler.core.plan_codec import STEPS, plan_document
from reconciler.errors import PlanFileError

if TYPE_CHECKING:  # jsonschema is imported only to explain a bad plan file (~70 ms)
    import jsonschema

#: ``reconciler/schemas`` is a symlink to the repository's ``schemas/`` and ships in the wheel.
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "plan.schema.json"


_INDENT = "  "
#: ``json.dumps``'s text for the constants and the special floats (``allow_nan`` is its default).
_CONSTANTS = {True: "true", False: "false", None: "null"}
_FLOATS = {float("inf"): "Infinity", float("-inf"): "-Infinity"}


def _float(value: float) -> str:
    if value != value:  # NaN equals nothing, itself included
        return "NaN"
    return _FLOATS.get(value) or float.__repr__(value)


def render_json(plan: Plan) -> str:
    """The plan file text: indented JSON, keys in codec order, ending with a newline."""
    return "".join(json_chunks(plan))


def json_chunks(plan: Plan) -> Iterator[str]:
    """``render_json``'s text in pieces: the entries, then one piece per step."""
    inner = "\n" + _INDENT
    separator = "{" + inner
    for name, value in plan_document(plan):
        if name != STEPS:
            parts = [separator, encode_basestring(name), ": "]
            _indented(value, inner, parts)
            yield "".join(parts)
        else:
            yield separator + encode_basestring(name) + ": ["
            item = inner + _INDENT
            opened = False
            for step in value:
                parts = ["," + item if opened else item]
                _indented(step, item, parts)
                yield "".join(parts)
                opened = True
            yield inner + "]" if opened else "]"
        separator = "," + inner
    yield "\n}\n"


def _indented(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value`` as ``json.dumps(indent=2, ensure_ascii=False)`` writes it at ``newline``.

    ``newline`` is a line break and the indentation of the line the value starts on. Scalars
    inside a mapping and strings inside a list are written inline (most values of a plan are,
    and a call per value was most of the cost). Anything
    other than plain JSON types (or a dict with a non-string key) goes through ``json.dumps``
    itself, so its text (or its error) is exactly what ``json.dumps`` gives.
    """
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + _INDENT
        mark = len(out)
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                del out[mark:]
                out.append(_dumped(value, newline))
                return
            item_kind = type(item)
            if item_kind is str:
                text = encode_basestring(item)
            elif item_kind is int:
                text = int.__repr__(item)
            elif item is None:
                text = "null"
            elif item_kind is bool:
                text = "true" if item else "false"
            elif item_kind is float:
                text = _float(item)
            else:
                out.append(f"{separator}{encode_basestring(key)}: ")
                _indented(item, inner, out)
                separator = "," + inner
                continue
            out.append(f"{separator}{encode_basestring(key)}: {text}")
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + encode_basestring(item))
            else:
                out.append(separator)
                _indented(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif kind is str:
        out.append(encode_basestring(value))
    elif kind is int:
        out.append(int.__repr__(value))
    elif value is None or kind is bool:
        out.append(_CONSTANTS[value])
    elif kind is float:
        out.append(_float(value))
    else:
        out.append(_dumped(value, newline))


def _dumped(value: Any, newline: str) -> str:
    # JSON strings never hold a raw line break, so re-indenting json.dumps' text is exact.
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)


@functools.cache
def _validator(schema_file: str) -> jsonschema.protocols.Validator:
    import jsonschema

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
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema_file).iter_errors(data))
    if error is None:
        return
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise PlanFileError(f"{what}: {path.lstrip('.') or '(top level)'}: {error.message}")


def validate_plan_dict(data: Any) -> None:
    """Raise ``PlanFileError`` naming the field path unless ``data`` matches the plan schema."""
    check_document(data, SCHEMA_PATH.name, "plan file")
