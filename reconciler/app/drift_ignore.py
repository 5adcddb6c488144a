"""Accepted drift: ``.fleetignore`` files and the Fleet's ``policy.drift_ignore`` list.

A ``.fleetignore`` file sits next to the manifests (``PATH/.fleetignore`` when PATH is a
directory, else in the manifest file's directory). One rule per line, ``#`` starts a comment::

    # tenant glob   field glob
    cust-*          quota.data_transfer_bytes
    agent-run-*     branches.scratch*
    compute.suspend_timeout_seconds          # one glob alone: every tenant

Globs are ``fnmatch`` patterns, matched against the tenant name and the item's field path
(the manifests' dotted paths, see ``drift_items``). Items that belong to no tenant (unmanaged
projects, path ``projects.<name>``) are matched by rules whose tenant glob is ``*``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.core.drift_model import DriftItem
from reconciler.core.model import DriftIgnore
from reconciler.errors import ManifestError, Problem

IGNORE_FILE = ".fleetignore"


def ignore_file_for(path: Path) -> Path:
    """Where the ``.fleetignore`` of the manifests at ``path`` lives."""
    return (path if path.is_dir() else path.parent) / IGNORE_FILE


def parse_ignore_text(text: str, source: str) -> list[DriftIgnore]:
    """The rules of one ``.fleetignore`` text; a line with more than two fields is an error."""
    rules: list[DriftIgnore] = []
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) == 1:
            rules.append(DriftIgnore(path=fields[0]))
        elif len(fields) == 2:
            rules.append(DriftIgnore(path=fields[1], tenant=fields[0]))
        else:
            problems.append(
                Problem(
                    source,
                    number,
                    1,
                    "",
                    f"expected 'TENANT_GLOB FIELD_GLOB' or 'FIELD_GLOB', found {len(fields)} "
                    "fields",
                )
            )
    if problems:
        raise ManifestError(problems)
    return rules


def load_ignore_rules(path: Path, policy_rules: Sequence[DriftIgnore]) -> list[DriftIgnore]:
    """The Fleet's ``drift_ignore`` rules followed by those of the ``.fleetignore`` file, if any."""
    rules = list(policy_rules)
    source = ignore_file_for(path)
    if source.is_file():
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            problem = Problem(str(source), 1, 1, "", f"cannot read: {exc.strerror}")
            raise ManifestError([problem]) from exc
        rules.extend(parse_ignore_text(text, str(source)))
    return rules


def is_ignored(item: DriftItem, rules: Iterable[DriftIgnore]) -> bool:
    """True when a rule covers ``item``'s tenant and field path."""
    for rule in rules:
        if item.tenant is None and rule.tenant != "*":
            continue
        if item.tenant is not None and not fnmatch.fnmatchcase(item.tenant, rule.tenant):
            continue
        if fnmatch.fnmatchcase(item.path, rule.path):
            return True
    return False
