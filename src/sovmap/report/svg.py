"""Inline SVG charts, shared by the HTML report and the web app. Pure: values in, markup out.

Every chart is plain SVG with ``<title>`` tooltips and optional links, so it works without
JavaScript, external assets or fonts, and prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from sovmap.report import palette

PALETTE = ("#3b6ea5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#999999")
#: US-controlled, as in every chart and map (the jurisdiction palette: report/palette.py)
US_COLOUR = palette.COLOURS[palette.US]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str = ""
    colour: str = ""
    note: str = ""
    shown: str = ""  # the value as the reader's language writes it (default: 12.5 and unit)


def _link(inner: str, href: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _role(items: Sequence[Bar] | Sequence[Stack]) -> str:
    """An image, or a group when it holds links (an image may hold no interactive parts)."""
    return "group" if any(x.href for x in items) else "img"


def bar_chart(bars: Sequence[Bar], *, title: str, unit: str = "", width: int = 640) -> Markup:
    """Horizontal bars, one per item, labelled with their value."""
    row, label_w, pad = 22, 210, 6
    height = row * len(bars) + 30
    top = max((b.value for b in bars), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="{_role(bars)}" '
        f'width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    span = width - label_w - 70
    for i, b in enumerate(bars):
        y = 24 + i * row
        w = max(1.0, span * b.value / top) if b.value else 0.0
        colour = b.colour or PALETTE[0]
        val = b.shown or f"{b.value:g}{unit}"
        tip = escape(f"{b.label}: {val}" + (f" ({b.note})" if b.note else ""))
        bar = (
            f'<g><title>{tip}</title><text x="{label_w - pad}" y="{y + 14}" '
            f'text-anchor="end" font-size="12">{escape(b.label[:34])}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{colour}"/><text x="{label_w + w + 4:.1f}" y="{y + 14}" '
            f'font-size="12">{escape(val)}</text></g>'
        )
        parts.append(_link(bar, b.href))
    parts.append(
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text></svg>'
    )
    return Markup("".join(parts))


@dataclass(frozen=True, slots=True)
class Stack:
    label: str
    segments: tuple[tuple[str, float], ...]  # (key, value) in legend order
    href: str = ""


def plain_number(value: float, decimals: int) -> str:
    """A number in a chart's tooltip as Python writes it (``12``, ``12.5``); a report in
    another language passes its own (:func:`sovmap.i18n.format_number`)."""
    return f"{value:.{decimals}f}" if decimals else f"{value:g}"


#: how a chart writes a number in its tooltips: (value, decimals) -> text
NumberFormat = Callable[[float, int], str]


def stacked_bars(
    stacks: Sequence[Stack],
    *,
    title: str,
    colours: dict[str, str],
    width: int = 640,
    number: NumberFormat = plain_number,
) -> Markup:
    """100% stacked horizontal bars (e.g. jurisdictions per capability), with a legend."""
    row, label_w = 24, 130
    keys = list(colours)
    height = row * len(stacks) + 60
    span = width - label_w - 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="{_role(stacks)}" '
        f'width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    for i, s in enumerate(stacks):
        y = 24 + i * row
        total = sum(v for _, v in s.segments) or 1.0
        x = float(label_w)
        inner = [
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(s.label)}</text>"
        ]
        for key, v in s.segments:
            if v <= 0:
                continue
            w = span * v / total
            tip = escape(f"{s.label} — {key}: {number(v, 0)} ({number(100 * v / total, 1)}%)")
            inner.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
                f'fill="{colours.get(key, PALETTE[-1])}"><title>{tip}</title></rect>'
            )
            x += w
        parts.append(_link("<g>" + "".join(inner) + "</g>", s.href))
    ly = 30 + len(stacks) * row
    lx = 0
    for key in keys:
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colours[key]}"/>'
            f'<text x="{lx + 16}" y="{ly + 11}" font-size="12">{escape(key)}</text>'
        )
        lx += 24 + 8 * len(key)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    xs: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    unit: str = "%",
    width: int = 640,
    height: int = 260,
    number: NumberFormat = plain_number,
) -> Markup:
    """Lines over labelled x positions (e.g. scans), y from 0 to the maximum."""
    left, bottom, top_pad = 48, 40, 28
    plot_w, plot_h = width - left - 130, height - bottom - top_pad
    top = max((v for vals in series.values() for v in vals), default=0.0)
    top = 100.0 if unit == "%" else (top or 1.0)
    n = max(len(xs) - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    for k in range(5):
        v = top * k / 4
        y = top_pad + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{v:g}{escape(unit)}</text>"
        )
    for i, x in enumerate(xs):
        px = left + plot_w * i / n
        parts.append(
            f'<text x="{px:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'font-size="11">{escape(x)}</text>'
        )
    for j, (name, vals) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        pts = [
            (left + plot_w * i / n, top_pad + plot_h - plot_h * v / top) for i, v in enumerate(vals)
        ]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (px, py), v, xl in zip(pts, vals, xs, strict=False):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(f'{name} @ {xl}: {number(v, 1)}{unit}')}</title></circle>"
            )
        parts.append(
            f'<rect x="{left + plot_w + 10}" y="{top_pad + 16 * j}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + plot_w + 24}" y="{top_pad + 16 * j + 9}" '
            f'font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True, slots=True)
class GanttTask:
    label: str
    start: float  # in days (or any unit) from the plan's start
    end: float
    group: str = ""
    critical: bool = False


def gantt(
    tasks: Sequence[GanttTask],
    *,
    title: str,
    deadline: float | None = None,
    unit: str = "d",
    width: int = 760,
) -> Markup:
    """A Gantt chart: one row per task, an optional deadline line."""
    row, label_w = 20, 240
    height = row * len(tasks) + 50
    horizon = max([t.end for t in tasks] + [deadline or 0.0, 1.0])
    span = width - label_w - 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart gantt" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title>"
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    for k in range(6):
        v = horizon * k / 5
        x = label_w + span * k / 5
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="22" y2="{height - 20}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">'
            f"{v:.0f}{escape(unit)}</text>"
        )
    for i, t in enumerate(tasks):
        y = 24 + i * row
        x0 = label_w + span * t.start / horizon
        w = max(1.0, span * (t.end - t.start) / horizon)
        colour = US_COLOUR if t.critical else PALETTE[0]
        tip = escape(f"{t.label}: {t.start:.0f}–{t.end:.0f}{unit}")
        parts.append(
            f'<g><title>{tip}</title><text x="{label_w - 6}" y="{y + 13}" text-anchor="end" '
            f'font-size="11">{escape(t.label[:38])}</text><rect x="{x0:.1f}" y="{y + 2}" '
            f'width="{w:.1f}" height="{row - 6}" rx="2" fill="{colour}"/></g>'
        )
    if deadline is not None:
        x = label_w + span * deadline / horizon
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="20" y2="{height - 20}" stroke="#000" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="30" font-size="11">'
            f"deadline</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def jurisdiction_colours(keys: set[str]) -> dict[str, str]:
    """Each jurisdiction key (``US``, ``unknown`` or a state's code) with the colour of its
    class (:mod:`sovmap.report.palette`): the same in every scan. Charts that stack by
    jurisdiction group the keys per class first (:func:`palette.stack`)."""
    ordered = sorted(keys, key=lambda k: (palette.CLASSES.index(palette.class_of_key(k)), k))
    return {k: palette.colour(palette.class_of_key(k)) for k in ordered}
