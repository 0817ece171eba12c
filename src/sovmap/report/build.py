"""Gather everything a report needs (store, register, scenario, exit plan) and write it.

``build_report`` is the library call behind ``sovmap report``: it reads, computes with the
pure parts and writes ``report.html``, ``report.md``, ``brief.{en,nl}.{html,md}`` and the
rows behind every figure under ``data/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from sovmap import figures
from sovmap.exitplan.api import ExitReport, plan_register_exit
from sovmap.exitplan.build import load_exit_settings
from sovmap.register.files import load_register_dir
from sovmap.register.model import Register
from sovmap.report import brief as b
from sovmap.report import palette, svg
from sovmap.report.gantt import gantt_svg
from sovmap.report.i18n import LANGUAGES, format_number, t
from sovmap.report.i18n import value as catalogued
from sovmap.report.model import Brief, Rows, Section
from sovmap.report.render import (
    brief_html,
    brief_markdown,
    report_html,
    report_markdown,
    rows_csv,
)
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.from_register import load_scenario_settings
from sovmap.scenario.model import ScenarioResult, Selector
from sovmap.store import queries as q
from sovmap.store.migrate import database_url
from sovmap.store.notes import disputed_notes
from sovmap.store.notes import disputed_rows as count_disputed
from sovmap.store.snapshots import choose_scan, latest_finished


@dataclass(frozen=True, slots=True)
class ReportOptions:
    register_dir: Path | None = None
    deadline: str = "9mo"
    scenario_settings: Path | None = None
    exit_settings: Path | None = None
    runs: int = 10_000
    max_domains: int = 2000


def _org_name(register: Register | None, conn: Connection | None) -> str:
    """The register's organisation; "" (all organisations in the store, said per language by
    :func:`sovmap.report.render.organisation`) without a register."""
    if register is not None:
        return register.organisation.name
    return ""


def _assumptions(rep: ExitReport) -> Rows:
    return Rows(
        "q5_assumptions",
        ("assumption",),
        tuple((a,) for a in rep.assumptions),
        "ExitReport.assumptions",
    )


def compute_brief(
    conn: Connection | None,
    source: str,
    register: Register | None,
    cut: ScenarioResult | None,
    rep: ExitReport | None,
    register_dir: Path | None,
    headline: figures.Figures | None = None,
) -> Brief:
    if headline is None:
        scan = latest_finished(conn) if conn is not None else None
        headline = figures.compute(conn, scan, register)
    scan = headline.scan
    disputes = disputed_notes(conn) if conn is not None else {}
    parts: list[tuple[Section, list[Rows]]] = [
        b.q1(headline, register, cut, disputes),
        b.q2(conn, register),
        b.q3(cut, register, rep),
        b.q4(register),
        b.q5(rep, str(register_dir) if register_dir is not None else "REGISTER"),
    ]
    if register is not None:
        caps = {
            str(register.services[s].capability.value)
            for s in b.us_services(register)
            if register.services[s].capability.value
        }
    elif scan is not None:
        caps = {c for c, n in figures.us_by_capability(headline).items() if n}
    else:
        caps = set()
    parts.append(b.q6(caps))
    rows: dict[str, Rows] = {}
    for _, rs in parts:
        rows.update({r.name: r for r in rs})
    if rep is not None:
        rows["q5_assumptions"] = _assumptions(rep)
    sources = [source]
    if register_dir is not None:
        sources.append(str(register_dir))
    return Brief(
        organisation=_org_name(register, conn),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=tuple(s for s, _ in parts),
        rows=rows,
        sources=tuple(sources),
    )


def brief_disputes(engine: Engine | None) -> dict[tuple[str, str, str], Any]:
    if engine is None:
        return {}
    with engine.connect() as conn:
        return disputed_notes(conn)


def _charts(ov: q.Overview | None, trends: list[q.TrendPoint], lang: str) -> dict[str, Any]:
    """The overview's charts in ``lang``: titles from the catalogue, capability and class
    names translated, shares in the language's number format."""
    if ov is None:
        return {}
    # one colour per jurisdiction class, the same in every scan (report/palette.py)
    colours = palette.legend(lang)

    def cap(name: str) -> str:
        return catalogued(lang, "CAPABILITY", name)

    stacks = [svg.Stack(cap(c), palette.stack(per, lang)) for c, per in ov.by_jurisdiction.items()]

    def number(value: float, decimals: int) -> str:
        return format_number(value, lang, decimals)

    n = ov.scan.domains or 1
    us = []
    for c in ov.by_jurisdiction:
        share = round(100.0 * ov.us_domains.get(c, 0) / n, 1)
        note = t(
            lang,
            "REPORT_CHART_OF_DOMAINS",
            n=format_number(ov.us_domains.get(c, 0), lang),
            total=format_number(ov.scan.domains, lang),
        )
        shown = f"{format_number(share, lang)}%"
        us.append(svg.Bar(cap(c), share, colour=svg.US_COLOUR, note=note, shown=shown))
    out: dict[str, Any] = {
        "jur_chart": svg.stacked_bars(
            stacks, title=t(lang, "REPORT_CHART_JURISDICTION"), colours=colours, number=number
        ),
        "us_chart": svg.bar_chart(us, title=t(lang, "REPORT_CHART_US_SHARE"), unit="%"),
    }
    if len(trends) > 1:
        caps = sorted({c for tp in trends for c in tp.us_share})
        out["trend_chart"] = svg.line_chart(
            [f"#{tp.scan.id}" for tp in trends],
            {cap(c): [tp.us_share.get(c, 0.0) for tp in trends] for c in caps},
            title=t(lang, "REPORT_CHART_TREND"),
            number=number,
        )
    return out


def _cut_chart(cut: ScenarioResult, lang: str) -> Any:
    s = cut.summary
    return svg.bar_chart(
        [
            svg.Bar(
                catalogued(lang, "STATUS", k), s[k], colour=colour, shown=format_number(s[k], lang)
            )
            for k, colour in (
                ("down", svg.US_COLOUR),
                ("degraded", "#edae49"),
                ("unaffected", "#66a182"),
            )
        ],
        title=t(lang, "REPORT_CHART_CUTOFF"),
    )


def build_report(engine: Engine | None, source: str, out: Path, opts: ReportOptions) -> list[Path]:
    """Compute and write the report files; returns the paths written."""
    register = cut = rep = None
    if opts.register_dir is not None:
        register = load_register_dir(opts.register_dir)  # once; the library errors say where
        sc = opts.scenario_settings
        cut = cut_off(
            register,
            Selector(jurisdiction="US"),
            settings=load_scenario_settings(sc) if sc else None,
        )
        rep = plan_register_exit(
            register,
            deadline=opts.deadline,
            runs=opts.runs,
            seed=1,
            settings=load_exit_settings(opts.exit_settings) if opts.exit_settings else None,
            settings_name=str(opts.exit_settings or ""),
        )
    ctx: dict[str, Any] = {
        "ov": None,
        "trends": [],
        "domains": [],
        "source": source,
        "choice": None,
    }
    if engine is not None:
        with engine.connect() as conn:
            choice = choose_scan(conn)
            scan = choice.scan
            headline = figures.compute(conn, scan, register)
            brief = compute_brief(conn, source, register, cut, rep, opts.register_dir, headline)
            ctx["choice"] = choice
            if scan is not None:
                ctx["ov"] = q.overview(conn, scan, figures.us_by_capability(headline), top=25)
                ctx["trends"] = q.trends(conn, figures.us_share_by_scan)
                _, page = q.search_domains(conn, scan, limit=opts.max_domains)
                ctx["domains"] = [
                    d for d in (q.domain_detail(conn, scan, p.domain) for p in page) if d
                ]
    else:
        headline = figures.compute(None, None, register)
        brief = compute_brief(None, source, register, cut, rep, opts.register_dir, headline)
    ctx["figures"] = headline
    # disputed findings (sovmap.store.notes): counted as the figures define, stated beside them
    ctx["disputed_keys"] = set(brief_disputes(engine))
    ctx["disputed"] = {
        f.id: count_disputed(f.rows, ctx["disputed_keys"]) for f in headline if f.rows
    }
    ctx["cut"] = cut
    ctx["rep"] = rep
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for r in brief.rows.values():
        write(r.path, rows_csv(r))
    # the headline figures: the same object as `sovmap figures --format json` and
    # /api/figures, each figure's rows next to it
    (out / "figures").mkdir(exist_ok=True)
    figs_json = headline.to_json()
    for fig in headline:
        write(f"figures/{fig.id}.csv", fig.csv_text())
        figs_json[fig.id]["rows"] = f"figures/{fig.id}.csv"
    write("figures.json", json.dumps(figs_json, indent=2, ensure_ascii=False) + "\n")
    write(
        "data/queries.json",
        json.dumps({r.name: r.query for r in brief.rows.values()}, indent=2) + "\n",
    )
    for lang in LANGUAGES:
        write(f"brief.{lang}.md", brief_markdown(brief, lang))
        write(f"brief.{lang}.html", brief_html(brief, lang))
    # the report in each language (report.<lang>.html/.md); report.html and report.md are
    # the English ones under their old names, for links and scripts made before
    for lang in LANGUAGES:
        local = {**ctx, **_charts(ctx["ov"], ctx["trends"], lang), "lang": lang}
        if ctx["choice"] is not None:
            local["notice"] = ctx["choice"].notice(lang)
        if cut is not None:
            local["cut_chart"] = _cut_chart(cut, lang)
        if rep is not None:
            local["gantt"] = gantt_svg(rep, lang)
        html, md = report_html(local), report_markdown(local)
        write(f"report.{lang}.html", html)
        write(f"report.{lang}.md", md)
        if lang == "en":
            write("report.html", html)
            write("report.md", md)
    return written


def store_label(db: str) -> str:
    """The store's URL without credentials, for the report's sources line."""
    url = database_url(db)
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url
