"""The plan file on disk: written sealed and private, read back with one clear error per problem.

``fleet plan -o FILE`` writes it (``save_plan``); ``fleet apply FILE`` recognises it
(``is_plan_file``) and loads it (``load_plan_file``) before ``plan_trust`` checks it against the
manifests and the live fleet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler.core.plan import Plan
from reconciler.core.plan_codec import plan_from_text
from reconciler.errors import PlanFileError
from reconciler.render.json import json_chunks, validate_plan_dict


def save_plan(plan: Plan, path: str | Path) -> None:
    """Write the sealed plan file: mode 0600 from the start, replaced atomically.

    A plan names projects, orgs and key names (never secrets), but it is still the fleet's
    blueprint: only its owner should read it. A temporary file in the same directory is
    renamed over the target, so a crash never leaves half a plan where a CI job finds it.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            # Written in pieces: a large plan's whole text is never held in memory.
            for chunk in json_chunks(plan):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)  # O_CREAT's mode only applies to a file it creates
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PlanFileError(f"cannot write the plan file {target}: {exc.strerror}") from exc


def load_plan_file(path: str | Path) -> Plan:
    """Read a saved plan: bounded parse, shape, step graph and seal, one clear error each.

    jsonschema is not run on the success path (it costs seconds on a large plan and the codec
    checks what apply relies on); it only explains a shape failure in schema terms.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"{source}: cannot read the plan file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{source}: not a JSON plan file: {exc.reason}") from exc
    try:
        plan = plan_from_text(text)
    except PlanFileError as exc:
        raise PlanFileError(f"{source}: {_explained(text, exc)}") from exc
    for key in ("observed", "tenants"):
        if getattr(plan.contract, key) is None:
            raise PlanFileError(
                f"{source}: plan file: meta.{key} is missing (not made by fleet plan?)"
            )
    return plan


def _explained(text: str, error: PlanFileError) -> str:
    """The schema's wording for a shape error, when the schema sees one; else ``error``."""
    message = str(error)
    if not message.startswith("plan file: ") or "seal" in message or "nested" in message:
        return message
    try:
        validate_plan_dict(json.loads(text))
    except PlanFileError as schema_error:
        return str(schema_error)
    except (ValueError, RecursionError):
        pass
    return message


def is_plan_file(path: str | Path) -> bool:
    """A saved plan is a JSON file; manifests are YAML files or directories."""
    candidate = Path(path)
    if not candidate.is_file():
        return False
    if candidate.suffix == ".json":
        return True
    with candidate.open("rb") as handle:
        return handle.read(64).lstrip().startswith(b"{")
