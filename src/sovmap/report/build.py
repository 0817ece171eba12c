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
from sovmap.report.i18n import LANGUAGES
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
    if register is not None:
        return register.organisation.name
    return "all organisations in the store"


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


def _charts(ov: q.Overview | None, trends: list[q.TrendPoint]) -> dict[str, Any]:
    if ov is None:
        return {}
    # one colour per jurisdiction class, the same in every scan (report/palette.py)
    colours = palette.legend("en")
    stacks = [svg.Stack(cap, palette.stack(per, "en")) for cap, per in ov.by_jurisdiction.items()]
    n = ov.scan.domains or 1
    us = [
        svg.Bar(cap, round(100.0 * ov.us_domains.get(cap, 0) / n, 1), colour=svg.US_COLOUR)
        for cap in ov.by_jurisdiction
    ]
    out: dict[str, Any] = {
        "jur_chart": svg.stacked_bars(
            stacks, title="Domains per capability, by jurisdiction", colours=colours
        ),
        "us_chart": svg.bar_chart(us, title="Share at a US-controlled provider", unit="%"),
    }
    if len(trends) > 1:
        caps = sorted({c for tp in trends for c in tp.us_share})
        out["trend_chart"] = svg.line_chart(
            [f"#{tp.scan.id}" for tp in trends],
            {c: [tp.us_share.get(c, 0.0) for tp in trends] for c in caps},
            title="Share of domains at a US-controlled provider, per scan",
        )
    return out


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
    ctx: dict[str, Any] = {"ov": None, "trends": [], "domains": [], "source": source}
    if engine is not None:
        with engine.connect() as conn:
            choice = choose_scan(conn)
            scan = choice.scan
            headline = figures.compute(conn, scan, register)
            brief = compute_brief(conn, source, register, cut, rep, opts.register_dir, headline)
            ctx["notice"] = choice.notice()
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
    ctx.update(_charts(ctx["ov"], ctx["trends"]))
    if cut is not None:
        s = cut.summary
        ctx["cut"] = cut
        ctx["cut_chart"] = svg.bar_chart(
            [
                svg.Bar("down", s["down"], colour=svg.US_COLOUR),
                svg.Bar("degraded", s["degraded"], colour="#edae49"),
                svg.Bar("unaffected", s["unaffected"], colour="#66a182"),
            ],
            title="Processes after a cut-off of every US-controlled provider",
        )
    if rep is not None:
        from sovmap.report.gantt import gantt_svg

        ctx["gantt"] = gantt_svg(rep)
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
    write("report.html", report_html(ctx))
    write("report.md", report_markdown(ctx))
    return written


def store_label(db: str) -> str:
    """The store's URL without credentials, for the report's sources line."""
    url = database_url(db)
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url
