"""The plan as text, in the style of ``terraform plan``.

One section per tenant (tenants sorted, steps in plan order), transfer batches first:
``+`` create, ``~`` update or adopt, ``»`` transfer, ``-`` delete or revoke, ``!`` blocker.
Each changed field reads ``path: old → new  (origin)``; created fields read ``path = new``.
Colour (ANSI) only when asked: the CLI decides (a TTY and no ``NO_COLOR``).
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.core.plan import Plan, Step
from reconciler.core.plan_payloads import DeleteDatabase, TransferProjects
from reconciler.render.common import (
    BLOCKER_SYMBOL,
    LEGEND,
    SYMBOLS,
    blockers_of,
    by_tenant,
    step_label,
    summary_line,
    value,
)

_COLORS = {"+": "32", "~": "33", "»": "36", "-": "31", "!": "1;31"}
_DIM = "2"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def render_step(step: Step, *, color: bool = False) -> list[str]:
    """The lines of one step: symbol, action and label, fields, then the reason."""
    symbol = SYMBOLS[step.action]
    lines = [_paint(f"{symbol} {step.action.value} {step_label(step)}", _COLORS[symbol], color)]
    if isinstance(step.payload, TransferProjects):
        lines.append(f"    tenants: {', '.join(step.payload.tenants)}")
    else:
        width = max((len(c.path) for c in step.changes), default=0)
        for change in step.changes:
            origin = _paint(f"({change.origin})", _DIM, color) if change.origin else ""
            if change.old is None and step.before is None:
                field = f"{change.path.ljust(width)} = {value(change.new)}"
            else:
                field = f"{change.path.ljust(width)}: {value(change.old)} → {value(change.new)}"
            lines.append(f"    {field}  {origin}".rstrip())
    if step.depends_on:
        lines.append(_paint(f"    after: {', '.join(step.depends_on)}", _DIM, color))
    if step.reason:
        # Deleting a database destroys its data: its reason is shown as loudly as a blocker.
        loud = isinstance(step.payload, DeleteDatabase)
        lines.append(_paint(f"    # {step.reason}", _COLORS["!"] if loud else _DIM, color))
    return lines


def render_tenant(plan: Plan, tenant: str, steps: list[Step], *, color: bool = False) -> list[str]:
    """The section of one tenant: its blockers first, then its steps."""
    lines: list[str] = []
    for message in blockers_of(plan, tenant):
        lines.append(_paint(f"{BLOCKER_SYMBOL} blocked: {message}", _COLORS["!"], color))
    for step in steps:
        lines.extend(render_step(step, color=color))
    return lines


def render_text(plan: Plan, *, color: bool) -> str:
    """The whole plan as text, ending with the summary line and a newline."""
    return "".join(text_chunks(plan, color=color))


def text_chunks(plan: Plan, *, color: bool) -> Iterator[str]:
    """``render_text``'s text in pieces (one per tenant section), each ending with a newline.

    A plan of 100,000 tenants is over a million lines: written piece by piece, its text is
    never held whole (nor its list of lines).
    """
    header = f"neon-fleet plan · tool {plan.tool_version} · manifests {plan.manifest_digest}" + (
        f" · {plan.created_at}" if plan.created_at else ""
    )
    lines = [header]
    if plan.targets:
        lines.append(f"targets: {', '.join(plan.targets)}")
    if plan.contract.refresh is False:
        lines.append("live state was NOT refreshed for this plan")
    if not plan.has_changes:
        lines += ["", *(f"warning: {w}" for w in plan.warnings), summary_line(plan)]
        yield "\n".join(lines) + "\n"
        return
    lines += [LEGEND, ""]
    batches, tenants = by_tenant(plan)
    if batches:
        lines.append("transfers")
        for step in batches:
            lines.extend("  " + line for line in render_step(step, color=color))
        lines.append("")
    yield "\n".join(lines) + "\n"
    for tenant, steps in tenants.items():
        lines = [_paint(tenant, "1", color)]
        lines.extend("  " + line for line in render_tenant(plan, tenant, steps, color=color))
        lines.append("")
        yield "\n".join(lines) + "\n"
    lines = [_paint(f"warning: {warning}", "33", color) for warning in plan.warnings]
    if plan.warnings:
        lines.append("")
    lines.append(summary_line(plan))
    yield "\n".join(lines) + "\n"
