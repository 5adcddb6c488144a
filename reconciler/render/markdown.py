"""The plan as Markdown for pull-request comments.

Layout: a title and the summary line, a table of counts per action (non-zero rows), then one
collapsible ``<details>`` section per tenant (transfer batches and warnings get their own)
holding the text rendering in a ``diff`` code block, so GitHub colours ``+`` and ``-`` lines.
Blocked tenants are marked in their section's title.

GitHub rejects comments of 65,536 characters or more, so the output is capped at ``limit``
characters: whole sections are kept in order while they fit, and a note says how many were cut
and where to read the full plan.
"""

from __future__ import annotations

from reconciler.core.plan import Plan
from reconciler.render.common import blockers_of, by_tenant, summary_line
from reconciler.render.text import render_step, render_tenant

#: Room kept for the closing note when sections are cut.
_NOTE_ROOM = 400
_MIN_LIMIT = 1000


def _fence(lines: list[str]) -> str:
    # A literal ``` inside the block would end the fence early.
    body = "\n".join(line.replace("```", "'''") for line in lines)
    return f"```diff\n{body}\n```"


def _details(title: str, body: str) -> str:
    return f"<details><summary>{title}</summary>\n\n{body}\n\n</details>\n"


def _table(plan: Plan) -> str:
    rows = [(action, n) for action, n in plan.summary.items() if n and action != "total"]
    lines = ["| Action | Count |", "|---|---:|"]
    lines += [f"| `{action}` | {n} |" for action, n in rows]
    lines.append(f"| **total steps** | **{plan.summary['total']}** |")
    return "\n".join(lines) + "\n"


def render_markdown(plan: Plan, *, limit: int = 65000) -> str:
    """The Markdown comment for ``plan``, never longer than ``limit`` characters."""
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT} characters")
    head = [f"### neon-fleet plan\n\n{summary_line(plan)}\n"]
    if plan.targets:
        head.append(f"Targets: {', '.join(f'`{t}`' for t in plan.targets)}\n")
    if plan.has_changes:
        head.append(_table(plan))
    sections: list[str] = []
    batches, tenants = by_tenant(plan)
    if batches:
        lines = [line for step in batches for line in render_step(step)]
        sections.append(_details(f"Transfers ({len(batches)} batch(es))", _fence(lines)))
    # Blocked tenants first: if the comment has to be cut, what needs a human stays visible.
    ordered = sorted(tenants.items(), key=lambda item: not blockers_of(plan, item[0]))
    for tenant, steps in ordered:
        blocked = blockers_of(plan, tenant)
        mark = f" ⛔ {len(blocked)} blocker(s)" if blocked else ""
        title = f"<code>{tenant}</code>: {len(steps)} step(s){mark}"
        sections.append(_details(title, _fence(render_tenant(plan, tenant, steps))))
    if plan.warnings:
        body = "\n".join(f"- {w}" for w in plan.warnings)
        sections.append(_details(f"Warnings ({len(plan.warnings)})", body))
    output = "\n".join(head)
    budget = limit - _NOTE_ROOM
    for shown, section in enumerate(sections):
        if len(output) + 1 + len(section) > budget:
            cut = len(sections) - shown
            note = (
                f"\n> **Output cut:** {cut} of {len(sections)} section(s) not shown to stay "
                f"under {limit} characters. Run `fleet plan` or read the JSON plan file "
                "for the full plan.\n"
            )
            return output + note
        output += "\n" + section
    return output
