"""The ``project_name`` template: the deterministic name by which a tenant's project is found.

The only placeholder is ``{tenant}`` (the tenant's ``metadata.name``). A rendered name must be
1-64 characters of letters, digits, ``-`` and ``_``, starting with a letter or digit.
Neon itself allows 1-256 arbitrary characters; the stricter rule keeps names safe to search for
(``GET /projects?search=``), to show in URLs and logs, and to compare exactly.
"""

from __future__ import annotations

import re
import string

from reconciler.manifests.wording import did_you_mean

DEFAULT_TEMPLATE = "{tenant}"
PLACEHOLDERS: tuple[str, ...] = ("tenant",)
MAX_PROJECT_NAME = 64
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def template_problem(template: str) -> str | None:
    """Why ``template`` is not a usable project name template, or None when it is."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"malformed template: {exc}; write literal braces as {{{{ and }}}}"
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            hint = did_you_mean(field, PLACEHOLDERS)
            return f"unknown placeholder {{{field}}}{hint} (the only placeholder is {{tenant}})"
        if spec or conversion:
            return f"placeholder {{{field}}} takes no format spec or conversion"
    return None


def render_project_name(template: str, tenant: str) -> str:
    """The project name of ``tenant`` under ``template`` (validate it with template_problem)."""
    return template.format(tenant=tenant)


def project_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid project name, or None when it is."""
    if len(name) > MAX_PROJECT_NAME:
        return f"project name {name!r} is {len(name)} characters long; at most 64 are allowed"
    if not _VALID_NAME.match(name):
        return (
            f"project name {name!r} is invalid: use letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return None
