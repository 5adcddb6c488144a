"""Check each document's envelope and validate it against the JSON Schema of its kind.

The schemas in ``schemas/`` are the contract (editors use them too). They ship inside the
package through the ``reconciler/schemas`` symlink. One compiled ``jsonschema`` validator and one
``fastcheck`` predicate exist per kind; the predicate answers "valid?" quickly and
``jsonschema`` explains the rare invalid document.

``jsonschema`` errors are translated into ``Problem``s located through the YAML node marks:
the field path comes from ``error.absolute_path``, unknown keys get a difflib hint, and schema
extension keywords ``errorMessage``/``patternErrorMessage`` (also understood by VS Code's YAML
extension) supply friendlier wording.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import Problem
from reconciler.manifests import fastcheck
from reconciler.manifests.wording import describe, unknown
from reconciler.manifests.yaml_data import FieldPath
from reconciler.manifests.yaml_source import SourceDocument

if TYPE_CHECKING:  # jsonschema is imported only to explain an invalid document (~70 ms)
    from jsonschema import Draft202012Validator, ValidationError

API_VERSION = "neon-fleet/v1"
SCHEMA_FILES: Mapping[str, str] = {
    "Fleet": "fleet.schema.json",
    "Tier": "tier.schema.json",
    "Tenant": "tenant.schema.json",
}
#: Fields whose values may carry credentials, so messages never repeat them.
_SENSITIVE: frozenset[FieldPath] = frozenset({("spec", "ledger"), ("spec", "secrets", "exec")})
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@functools.cache
def load_schema(kind: str) -> dict[str, Any]:
    """The parsed JSON Schema of ``kind`` (``Fleet``, ``Tier`` or ``Tenant``)."""
    resource = importlib.resources.files("reconciler") / "schemas" / SCHEMA_FILES[kind]
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(kind))


@functools.cache
def _fast(kind: str) -> fastcheck.Predicate:
    return fastcheck.compile_schema(load_schema(kind))


def envelope(doc: SourceDocument) -> tuple[str | None, list[Problem]]:
    """The document's kind when it is a neon-fleet/v1 mapping of a known kind, and problems."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [
            doc.problem(
                (),
                "a manifest must be a mapping with apiVersion, kind, metadata and spec, "
                f"not {describe(data)}",
            )
        ]
    problems: list[Problem] = []
    version = data.get("apiVersion")
    if version is None:
        problems.append(doc.problem(("apiVersion",), "required key is missing"))
    elif version != API_VERSION:
        message = f"unsupported apiVersion {describe(version)}; expected {API_VERSION!r}"
        problems.append(doc.problem(("apiVersion",), message))
    kind = data.get("kind")
    if kind is None:
        problems.append(doc.problem(("kind",), "required key is missing"))
    elif not isinstance(kind, str) or kind not in SCHEMA_FILES:
        problems.append(doc.problem(("kind",), unknown("kind", str(kind), SCHEMA_FILES)))
    if problems:
        return None, problems
    return str(kind), []


def schema_report(doc: SourceDocument, kind: str) -> tuple[list[Problem], Any | None]:
    """Every schema violation of ``doc`` as located problems, and the document's readable part.

    The readable part is ``doc.data`` itself when it is valid. Otherwise it is a copy without
    each top-level key and each ``spec`` key that holds a violation, when that copy is
    schema-valid (so semantic checks can still run on the rest); or None when what is left is
    not a valid document (a required key is missing or wrong). Whole ``spec`` keys are dropped,
    not single list items or mapping entries, so nothing that refers into a broken part (a
    branch's parent, an org alias) is checked against half of it.
    """
    if _fast(kind)(doc.data):
        return [], doc.data
    problems, fields = _located_problems(doc, kind)
    return problems, _readable_part(doc.data, fields, kind)


def _readable_part(data: Any, fields: list[FieldPath], kind: str) -> Any | None:
    readable = dict(data)
    spec = dict(readable["spec"]) if isinstance(readable.get("spec"), dict) else None
    for field in fields:
        if field[:1] == ("spec",) and len(field) >= 2 and spec is not None:
            spec.pop(str(field[1]), None)
        elif field and field[0] != "spec":
            readable.pop(str(field[0]), None)
        else:  # the document or its whole spec is at fault: nothing is readable
            return None
    if spec is not None:
        readable["spec"] = spec
    return readable if _fast(kind)(readable) else None


def _located_problems(doc: SourceDocument, kind: str) -> tuple[list[Problem], list[FieldPath]]:
    """Located problems of an invalid document, and the field path of each."""
    errors = list(_all_errors(_validator(kind), doc.data))
    keywords: dict[FieldPath, set[str]] = {}
    for error in errors:
        keywords.setdefault(tuple(error.absolute_path), set()).add(str(error.validator))
    problems: list[Problem] = []
    fields: list[FieldPath] = []
    seen: set[tuple[FieldPath, str]] = set()
    for error in errors:
        if _overshadowed(str(error.validator), keywords[tuple(error.absolute_path)]):
            continue
        for field, message, at_key in _translate(error):
            if (field, message) not in seen:
                seen.add((field, message))
                problems.append(doc.problem(field, message, at_key=at_key))
                fields.append(field)
    return problems, fields


def _overshadowed(keyword: str, siblings: set[str]) -> bool:
    """Whether a clearer error on the same value makes this one noise.

    A wrong type makes every other check of that value moot ("must be a whole number" says it
    all for ``'17'``), and "must be at least 0.25" says more than "must be a multiple of 0.25".
    """
    if keyword != "type" and "type" in siblings:
        return True
    return keyword == "multipleOf" and bool(siblings & {"minimum", "maximum"})


def _all_errors(validator: Draft202012Validator, data: Any) -> Iterator[ValidationError]:
    """Leaf errors only; the kinds' schemas use no combinators, so this is every error."""
    for error in validator.iter_errors(data):
        if error.context:
            yield from error.context
        else:
            yield error


def _translate(error: ValidationError) -> Iterator[tuple[FieldPath, str, bool]]:
    """(field path, message, locate at the key?) for one jsonschema error."""
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    expected: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    if "propertyNames" in error.relative_schema_path:
        hint = schema.get("patternErrorMessage") or f"key {instance!r} is not allowed"
        yield (*path, str(instance)), f"invalid key: {hint}", True
        return
    if keyword == "required":
        for key in expected:
            if isinstance(instance, dict) and key not in instance:
                yield (*path, key), "required key is missing", False
        return
    if keyword == "additionalProperties" and expected is False:
        declared = schema.get("properties", {})
        for key in instance:
            if key not in declared:
                yield (*path, key), unknown("key", str(key), declared), True
        return
    yield path, _message(keyword, error, schema, path), False


def _message(keyword: Any, error: ValidationError, schema: dict[str, Any], path: FieldPath) -> str:
    value = error.instance
    got = "" if path in _SENSITIVE else f", got {describe(value)}"
    expected: Any = error.validator_value
    custom = schema.get("errorMessage")
    if keyword == "pattern":
        return str(schema.get("patternErrorMessage") or f"must match {expected}") + got
    if custom and keyword in ("type", "minimum", "maximum", "minProperties", "maxProperties"):
        return f"{custom}{got}"
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return "must be " + " or ".join(_TYPE_WORDS.get(n, n) for n in names) + got
    if keyword == "minimum":
        return f"must be at least {expected}{got}"
    if keyword == "maximum":
        return f"must be at most {expected}{got}"
    if keyword == "multipleOf":
        return f"must be a multiple of {expected}{got}"
    if keyword == "enum":
        return "must be one of " + ", ".join(str(v) for v in expected) + got
    if keyword == "const":
        return f"must be {expected!r}{got}"
    if keyword in ("minLength", "maxLength"):
        bound = "at least" if keyword == "minLength" else "at most"
        return f"must be {bound} {expected} characters long{got}"
    if keyword in ("minItems", "maxItems"):
        bound = "at least" if keyword == "minItems" else "at most"
        return f"must have {bound} {expected} items"
    if keyword in ("minProperties", "maxProperties"):
        bound = "at least" if keyword == "minProperties" else "at most"
        return f"must have {bound} {expected} keys"
    if keyword == "additionalProperties":  # a schema for extra keys: its own errors say more
        return "has keys that are not allowed"
    return "is not valid" if path in _SENSITIVE else error.message
