"""``fleet usage report --chart FILE.svg``: usage over time per tier, and the top consumers.

Written as plain SVG (no plotting dependency): one panel of lines, compute (CU-hours) per tier
per timeframe, and one panel of horizontal bars, the top consumers by cost when prices are
configured, else by compute. Any browser or image viewer opens it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from reconciler.core.usage import UsageReport, iso
from reconciler.errors import UsageError
from reconciler.render.usage import money

WIDTH, PANEL = 900, 320
_LEFT, _RIGHT, _TOP = 90, 160, 50
#: The timeframe one sample of each granularity covers, as the chart's axis label names it.
_TIMEFRAME = {"hourly": "hour", "daily": "day", "monthly": "month"}
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def write_chart(report: UsageReport, path: Path) -> Path:
    """Draw ``report`` into ``path`` (``.svg``); returns the path written."""
    if path.suffix.lower() != ".svg":
        raise UsageError(
            f"charts are written as SVG: name the file *.svg, not {path.name} "
            "(PNG would need a plotting library neon-fleet does not depend on)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_svg(report), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the chart {path}: {exc.strerror}") from exc
    return path


def render_svg(report: UsageReport) -> str:
    """The whole chart as an SVG document."""
    height = _TOP + 2 * PANEL + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        _text(
            WIDTH / 2,
            24,
            f"Fleet usage {iso(report.start)} → {iso(report.end)}",
            size=16,
            anchor="middle",
        ),
    ]
    parts += _lines_panel(report, _TOP + 20)
    parts += _bars_panel(report, _TOP + PANEL + 50)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _text(x: float, y: float, content: str, *, size: int = 12, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _lines_panel(report: UsageReport, top: int) -> list[str]:
    width, height = WIDTH - _LEFT - _RIGHT, PANEL - 60
    parts = [_text(_LEFT, top, f"Compute per tier (CU-hours per {_TIMEFRAME[report.granularity]})")]
    top += 15
    parts.append(_axes(top, width, height))
    times = sorted({moment for series in report.series.values() for moment, _ in series})
    peak = max((v for series in report.series.values() for _, v in series), default=0)
    if not times or peak == 0:
        parts.append(_text(_LEFT + 10, top + height / 2, "no compute usage in this window"))
        return parts
    span = max(1, len(times) - 1)
    index = {moment: i for i, moment in enumerate(times)}
    for number, (tier, series) in enumerate(report.series.items()):
        colour = _COLOURS[number % len(_COLOURS)]
        points = " ".join(
            f"{_LEFT + width * index[moment] / span:.1f},{top + height * (1 - value / peak):.1f}"
            for moment, value in series
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        legend_y = top + 14 + 18 * number
        parts.append(
            f'<rect x="{_LEFT + width + 12}" y="{legend_y - 9}" width="10" '
            f'height="10" fill="{colour}"/>'
        )
        parts.append(_text(_LEFT + width + 28, legend_y, tier))
    parts.append(_text(_LEFT - 6, top + 4, f"{peak / 3600:,.1f}", anchor="end"))
    parts.append(_text(_LEFT - 6, top + height, "0", anchor="end"))
    parts.append(_text(_LEFT, top + height + 16, iso(times[0])))
    parts.append(_text(_LEFT + width, top + height + 16, iso(times[-1]), anchor="end"))
    return parts


def _bars_panel(report: UsageReport, top: int) -> list[str]:
    priced = report.currency is not None
    title = f"Top consumers by cost ({report.currency})" if priced else "Top consumers (CU-hours)"
    parts = [_text(_LEFT, top, title)]
    top += 15
    width, height = WIDTH - _LEFT - _RIGHT, PANEL - 60
    parts.append(_axes(top, width, height))
    values = [
        (g.key, float(g.cost or Decimal(0)) if priced else g.totals["compute_unit_seconds"] / 3600)
        for g in report.top
    ]
    peak = max((v for _, v in values), default=0.0)
    if not values or peak <= 0:
        parts.append(_text(_LEFT + 10, top + height / 2, "no usage in this window"))
        return parts
    bar = height / len(values)
    for number, (key, value) in enumerate(values):
        y = top + bar * number + bar * 0.15
        length = width * value / peak
        parts.append(
            f'<rect x="{_LEFT}" y="{y:.1f}" width="{length:.1f}" '
            f'height="{bar * 0.7:.1f}" fill="{_COLOURS[0]}"/>'
        )
        parts.append(_text(_LEFT - 6, y + bar * 0.45, key[:14], anchor="end"))
        label = money(Decimal(str(value))) if priced else f"{value:,.1f}"
        parts.append(_text(_LEFT + length + 6, y + bar * 0.45, label))
    return parts


def _axes(top: int, width: int, height: int) -> str:
    return (
        f'<path d="M{_LEFT},{top} V{top + height} H{_LEFT + width}" '
        'fill="none" stroke="#333" stroke-width="1"/>'
    )
