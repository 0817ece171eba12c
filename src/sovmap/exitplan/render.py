"""Rendering of an exit plan: text summary, Gantt chart as PNG (matplotlib Agg) and HTML."""

from __future__ import annotations

import html
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from sovmap.exitplan.api import DAYS_PER_MONTH, ExitReport, Variant
from sovmap.exitplan.model import ScheduledTask
from sovmap.i18n import MONTHS_SHORT, format_date, format_number
from sovmap.i18n import t as tr


def _months(days: float) -> str:
    return f"{days / DAYS_PER_MONTH:.1f} mo"


def _pct(p: float | None) -> str:
    return "-" if p is None else f"{100 * p:.1f}%"


def render_text(rep: ExitReport) -> str:
    fc = rep.baseline.forecast
    lines = [
        f"Exit plan: leave {len(rep.targets)} services "
        f"({len(rep.baseline.plan.tasks)} tasks, {fc.runs:,} Monte-Carlo runs, "
        f"{fc.distribution.value} estimates)",
    ]
    rho, lo, hi = rep.rho
    rng = rep.p_deadline_range
    if rep.deadline_days is not None:
        lines.append(
            f"Deadline {_months(rep.deadline_days)} ({rep.deadline_days:.0f} days): "
            f"probability of finishing in time {_pct(fc.p_deadline)} at correlation rho {rho:g}; "
            f"{_pct(rng[0] if rng else None)} to {_pct(rng[1] if rng else None)} "
            f"over rho {lo:g}-{hi:g}"
        )
    spread = ", ".join(
        f"rho {f.correlation:g}: P10 {_months(f.p10)} - P90 {_months(f.p90)}"
        for f in (rep.at_low, fc, rep.at_high)
        if f is not None
    )
    lines += [
        f"Duration: P50 {_months(fc.p50)} ({fc.p50:.0f} d), P90 {_months(fc.p90)} "
        f"({fc.p90:.0f} d), mean {fc.mean:.0f} d, P10 {fc.p10:.0f} d (at rho {rho:g})",
        f"Spread by correlation: {spread}",
        "Target platforms (shared work planned once): "
        + "; ".join(f"{p}: {', '.join(s)}" for p, s in rep.platforms.items()),
        "Replacement in use (weeks after the start, P50/P90): "
        + ", ".join(f"{k} {v[0] / 7:.0f}/{v[1] / 7:.0f}" for k, v in rep.replaced.items()),
        "Where the end date is decided (share of runs in which this work package finishes last): "
        + ", ".join(
            f"{g} {100 * v:.0f}%" for g, v in sorted(fc.critical.items(), key=lambda kv: -kv[1])
        ),
        "",
    ]
    variants: list[Variant] = [rep.baseline, *rep.what_ifs]
    if rep.what_ifs:
        lines.append("What-ifs (same seed):")
        w = max(len(v.label) for v in variants)
        lines.append(f"  {'variant'.ljust(w)}  {'P50':>9}  {'P90':>9}  {'in time':>8}")
        for v in variants:
            f = v.forecast
            lines.append(
                f"  {v.label.ljust(w)}  {_months(f.p50):>9}  {_months(f.p90):>9}  "
                f"{_pct(f.p_deadline):>8}"
            )
        lines.append("")
    if rep.sensitivity:
        lines.append(f"Sensitivity (P50 {_months(fc.p50)} at the stated assumptions; same seed):")
        w = max(len(a) for a, _, _ in rep.sensitivity)
        for a, p50, p90 in rep.sensitivity:
            moved = f"({p50 - fc.p50:+.0f} d)"
            lines.append(f"  {a.ljust(w)}  P50 {_months(p50):>8} {moved:>9}  P90 {_months(p90):>8}")
        lines.append("")
    lines.append("Leaving, and European options (production-ready first):")
    for t in rep.targets:
        opts = rep.options.get(t.service, ())
        listed = ", ".join(
            f"{a.name} ({a.jurisdiction or 'self-hosted, no provider'})" for a in opts[:4]
        )
        via = ", ".join(f"{p} ({c.effective or '?'})" for p, c in t.suppliers)
        lines.append(
            f"  {t.service} [{t.capability or '?'}; {t.provider_name or t.provider}, "
            f"{t.jurisdiction or '?'}{'; through ' + via if via else ''}]: "
            f"{listed or 'no catalogue entry: generic SaaS template'}"
        )
    lines += ["", "Assumptions:"]
    lines += [f"  {a}" if a.startswith("  ") else f"  - {a}" for a in rep.assumptions]
    return "\n".join(lines)


def _team_colours(teams: list[str]) -> dict[str, str]:
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]  # fmt: skip
    return {t: palette[i % len(palette)] for i, t in enumerate(sorted(teams))}


def gantt_rows(rep: ExitReport) -> list[tuple[str, list[ScheduledTask]]]:
    """The schedule grouped per platform / work package, groups in order of their start."""
    groups: dict[str, list[ScheduledTask]] = {}
    for st in sorted(rep.schedule.tasks, key=lambda s: (s.start, s.task.id)):
        groups.setdefault(st.task.group, []).append(st)
    return sorted(groups.items(), key=lambda kv: min(s.start for s in kv[1]))


def task_label(st: ScheduledTask, width: int = 46) -> str:
    """A readable label: the task's service (for per-service work) and its name, shortened
    at a word boundary."""
    text = f"{st.task.service}: {st.task.name}" if st.task.service else st.task.name
    return textwrap.shorten(text, width=width, placeholder=" …")


def gantt_png(rep: ExitReport, path: Path, start: date | None = None) -> None:
    """Write the Gantt chart as PNG: calendar dates from ``start`` (default today), tasks at
    their mean duration grouped per target platform, P50/P90 of the forecast and the deadline
    as marked lines in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    day0 = start or date.today()
    base = float(mdates.date2num(day0))  # type: ignore[no-untyped-call]
    grouped = gantt_rows(rep)
    colours = _team_colours(list(rep.baseline.plan.teams))
    n_rows = sum(len(g) + 1 for _, g in grouped)
    fig, ax = plt.subplots(figsize=(16, max(4.0, 0.24 * n_rows + 2.0)))
    y = 0
    ticks: list[float] = []
    labels: list[str] = []
    for group, items in grouped:
        ticks.append(y)
        labels.append(group.upper())
        ax.axhline(y - 0.5, color="#bbbbbb", linewidth=0.6)
        y += 1
        for st in items:
            ax.barh(
                y,
                st.finish - st.start,
                left=base + st.start,
                color=colours[st.task.team],
                height=0.7,
            )
            ticks.append(y)
            labels.append(task_label(st))
            y += 1
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=7)
    for tick, text in zip(ax.get_yticklabels(), labels, strict=True):
        if text.isupper():
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    fc = rep.baseline.forecast
    marks: list[tuple[float, str, Literal["--", ":", "-"]]] = [
        (fc.p50, f"P50 {_months(fc.p50)} (half of the simulated runs finish earlier)", "--"),
        (fc.p90, f"P90 {_months(fc.p90)}", ":"),
    ]
    if rep.deadline_days is not None:
        marks.append((rep.deadline_days, f"deadline {_months(rep.deadline_days)}", "-"))
    handles: list[Patch | Line2D] = [Patch(color=c, label=t) for t, c in colours.items()]
    for x, label, style in marks:
        ax.axvline(base + x, color="black", linestyle=style, linewidth=1.2)
        handles.append(Line2D([], [], color="black", linestyle=style, label=label))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=2))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))  # type: ignore[no-untyped-call]
    ax.set_xlabel(
        f"calendar date from {day0.isoformat()}; bars: the schedule at mean durations "
        "(the forecast's P50 is later: parallel chains that merge wait for the slowest)"
    )
    ax.set_title(
        f"Exit plan: P50 {_months(fc.p50)}, P90 {_months(fc.p90)}"
        + (
            f", {_pct(fc.p_deadline)} within {_months(rep.deadline_days)}"
            if rep.deadline_days
            else ""
        )
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gantt_svg_text(
    rep: ExitReport, start: date | None = None, width: int = 900, lang: str = "en"
) -> str:
    """The Gantt chart as a self-contained SVG element (for the report and the web page):
    calendar months from ``start`` (default today), tasks at mean durations grouped per
    target platform, P50, P90 and the deadline as labelled lines, a legend of teams; every
    word and date in ``lang`` from the message catalogue."""
    e = html.escape
    day0 = start or date.today()

    def months(days: float) -> str:
        return tr(lang, "GANTT_MONTHS", n=format_number(days / DAYS_PER_MONTH, lang, 1))

    fc = rep.baseline.forecast
    grouped = gantt_rows(rep)
    colours = _team_colours(list(rep.baseline.plan.teams))
    row, label_w, top = 18, 300, 44
    n_rows = sum(len(items) + 1 for _, items in grouped)
    height = top + row * n_rows + 40
    horizon = 1.04 * max(
        [rep.schedule.makespan, fc.p90, 1.0] + ([rep.deadline_days] if rep.deadline_days else [])
    )
    span = width - label_w - 20

    def x_of(days: float) -> float:
        return label_w + span * days / horizon

    title = tr(lang, "GANTT_TITLE", p50=months(fc.p50), p90=months(fc.p90))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart gantt" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{e(title)}</title>"
        f'<text x="0" y="14" font-size="13" font-weight="bold">{e(title)}</text>'
    ]
    lx = 0.0
    for team, colour in colours.items():
        parts.append(
            f'<rect x="{lx:.0f}" y="22" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 13:.0f}" y="31" font-size="10" data-from="plan">{e(team)}</text>'
        )
        lx += 16 + 6.5 * len(team) + 8
    month = date(day0.year, day0.month, 1)
    bottom = height - 34
    while (month - day0).days <= horizon:
        d = (month - day0).days
        if d >= 0 and (month.month - 1) % 3 == 0:
            x = x_of(d)
            name = MONTHS_SHORT[lang][month.month - 1]
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{bottom}" stroke="#eee"/>'
                f'<text x="{x:.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">'
                f"{e(tr(lang, 'GANTT_MONTH', month=name, year=month.year))}"
                "</text>"
            )
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    y = top
    for group, items in grouped:
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="11" font-weight="bold" data-from="plan">'
            f"{e(group)}</text>"
            f'<line x1="0" x2="{width}" y1="{y}" y2="{y}" stroke="#ccc"/>'
        )
        y += row
        for st in items:
            x0 = x_of(st.start)
            w = max(1.0, x_of(st.finish) - x0)
            begin = day0 + timedelta(days=round(st.start))
            until = day0 + timedelta(days=round(st.finish))
            tip = tr(
                lang,
                "GANTT_TASK",
                id=st.task.id,
                name=st.task.name,
                begin=format_date(begin, lang),
                until=format_date(until, lang),
            )
            parts.append(
                f'<g><title data-from="plan">{e(tip)}</title>'
                f'<text x="{label_w - 6}" y="{y + 12}" data-from="plan" '
                f'text-anchor="end" font-size="10">{e(task_label(st))}</text>'
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" rx="2" '
                f'fill="{colours[st.task.team]}"/></g>'
            )
            y += row
    marks = [(fc.p50, "P50", "6 3"), (fc.p90, "P90", "2 2")]
    if rep.deadline_days is not None:
        marks.append((rep.deadline_days, tr(lang, "GANTT_DEADLINE"), ""))
    for days, label, dash in marks:
        x = x_of(days)
        when = format_date(day0 + timedelta(days=round(days)), lang)
        style = f' stroke-dasharray="{dash}"' if dash else ""
        anchor = "end" if x > width - 140 else "start"
        tx = x - 3 if anchor == "end" else x + 3
        parts.append(
            f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{bottom}" '
            f'stroke="#000"{style}/><text x="{tx:.1f}" y="{bottom + 28}" font-size="10" '
            f'text-anchor="{anchor}">{e(label)} {when}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def gantt_html(rep: ExitReport) -> str:
    """A self-contained HTML page: summary, what-if table and a CSS Gantt chart."""
    e = html.escape
    fc = rep.baseline.forecast
    span = max([rep.schedule.makespan, fc.p90] + ([rep.deadline_days] if rep.deadline_days else []))
    span = span or 1.0
    colours = _team_colours(list(rep.baseline.plan.teams))
    rows = []
    day0 = date.today()
    for group, items in gantt_rows(rep):
        rows.append(f'<div class="row group"><span class="id"><b>{e(group)}</b></span></div>')
        for st in items:
            left = 100 * st.start / span
            width = max(0.2, 100 * (st.finish - st.start) / span)
            est = st.task.estimate
            begin = day0 + timedelta(days=round(st.start))
            until = day0 + timedelta(days=round(st.finish))
            tip = (
                f"{st.task.name} | team {st.task.team} | {begin.isoformat()} – "
                f"{until.isoformat()} | estimate {est.optimistic:g}/{est.likely:g}/"
                f"{est.pessimistic:g} d | {st.task.source}"
            )
            rows.append(
                f'<div class="row"><span class="id" title="{e(st.task.id)}">'
                f"{e(task_label(st))}</span>"
                f'<div class="lane"><div class="bar" style="left:{left:.2f}%;width:{width:.2f}%;'
                f'background:{colours[st.task.team]}" title="{e(tip)}"></div></div></div>'
            )
    marks = []
    for x, label in ((fc.p50, "P50"), (fc.p90, "P90"), (rep.deadline_days, "deadline")):
        if x is not None:
            when = (date.today() + timedelta(days=round(x))).isoformat()
            marks.append(
                f'<div class="mark" style="left:{100 * x / span:.2f}%">'
                f"<span>{e(label)} {when}</span></div>"
            )
    variants = [rep.baseline, *rep.what_ifs]
    wrows = "".join(
        f"<tr><td>{e(v.label)}</td><td>{_months(v.forecast.p50)}</td>"
        f"<td>{_months(v.forecast.p90)}</td><td>{_pct(v.forecast.p_deadline)}</td></tr>"
        for v in variants
    )
    legend = "".join(
        f'<span class="key" style="background:{c}"></span>{e(t)} ' for t, c in colours.items()
    )
    assumptions = "".join(f"<li>{e(a.strip())}</li>" for a in rep.assumptions)
    deadline = (
        f"<p><b>Probability of finishing within {_months(rep.deadline_days)}: "
        f"{_pct(fc.p_deadline)}</b></p>"
        if rep.deadline_days is not None
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sovmap exit plan</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse}} td,th{{padding:2px 8px;font-size:13px}}
.gantt{{position:relative;width:100%}}
.row{{display:flex;height:14px}}
.id{{width:24em;flex:none;font-size:11px;white-space:nowrap;overflow:hidden}}
.lane{{position:relative;flex:1}}
.bar{{position:absolute;top:2px;height:10px;border-radius:2px}}
.marks{{position:absolute;top:0;bottom:0;left:24em;right:0;pointer-events:none}}
.mark{{position:absolute;top:0;bottom:0;border-left:1px dashed #000}}
.mark span{{font-size:10px;background:#fff}}
.key{{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}}
</style></head><body>
<h1>Exit plan</h1>
{deadline}
<p>P50 {_months(fc.p50)} ({fc.p50:.0f} days), P90 {_months(fc.p90)} ({fc.p90:.0f} days);
{fc.runs:,} Monte-Carlo runs, {e(fc.distribution.value)} estimates, seed {fc.seed}.</p>
<h2>What-ifs</h2>
<table border="1"><tr><th>variant</th><th>P50</th><th>P90</th><th>in time</th></tr>{wrows}</table>
<h2>Schedule (tasks at their mean duration)</h2>
<p>{legend}</p>
<div class="gantt"><div class="marks">{"".join(marks)}</div>{"".join(rows)}</div>
<h2>Assumptions</h2><ul>{assumptions}</ul>
</body></html>
"""
