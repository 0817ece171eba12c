"""Render reports: self-contained HTML (inline CSS, JS and SVG) and Markdown. Pure."""

from __future__ import annotations

import csv
import io
import math
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from sovmap.report.i18n import t
from sovmap.report.model import Brief, Figure, Rows


def _asset(name: str) -> str:
    return (resources.files("sovmap.web") / "static" / name).read_text("utf-8")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sovmap.report", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(css=_asset("app.css"), js=_asset("app.js"), t=t, fmt=fmt)
    return env


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "permanent" if value > 0 else "-inf"
        return f"{value:,.1f}" if value != int(value) else f"{int(value):,}"
    return str(value)


def rows_csv(rows: Rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows.header)
    w.writerows(
        ["" if v is None else ("inf" if isinstance(v, float) and math.isinf(v) else v) for v in r]
        for r in rows.rows
    )
    return buf.getvalue()


def label(lang: str, f: Figure) -> str:
    return t(lang, f.code, **f.params)


def brief_html(brief: Brief, lang: str) -> str:
    return environment().get_template("brief.html").render(brief=brief, lang=lang, label=label)


def _md_cell(v: Any) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def md_table(header: tuple[str, ...], rows: tuple[tuple[Any, ...], ...], limit: int = 50) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n… {len(rows) - limit} more rows in the CSV.")
    return "\n".join(lines)


def brief_markdown(brief: Brief, lang: str) -> str:
    out = [
        f"# {t(lang, 'TITLE')}",
        "",
        t(lang, "SUBTITLE", organisation=brief.organisation, generated_at=brief.generated_at),
        "",
        f"{t(lang, 'SOURCES')}: " + "; ".join(f"`{s}`" for s in brief.sources),
        "",
        f"_{t(lang, 'TRACE')}_",
    ]
    for sec in brief.sections:
        out += ["", f"## {t(lang, sec.code)}", ""]
        for n in sec.notes:
            out.append(f"> {t(lang, n.code, **n.params)}")
            out.append("")
        if sec.figures:
            out.append("| | | |")
            out.append("|---|---:|---|")
            for f in sec.figures:
                r = brief.rows[f.rows]
                out.append(
                    f"| {label(lang, f)} | **{fmt(f.value)}** | [{t(lang, 'ROWS')}]({r.path}) |"
                )
        for name in sec.tables:
            table = brief.rows.get(name)
            if table is not None and table.rows:
                out += ["", md_table(table.header, table.rows, limit=30)]
        if sec.code == "Q5" and "q5_assumptions" in brief.rows:
            out += ["", f"**{t(lang, 'Q5_ASSUMPTIONS')}**", ""]
            out += [f"- {a[0]}" for a in brief.rows["q5_assumptions"].rows]
    out += ["", "---", "", f"{t(lang, 'QUERY')}:", ""]
    for r in brief.rows.values():
        out.append(f"- `{r.path}`: `{r.query}`")
    return "\n".join(out) + "\n"


def report_html(ctx: dict[str, Any]) -> str:
    return environment().get_template("report.html").render(**ctx)


def report_markdown(ctx: dict[str, Any]) -> str:
    ov = ctx["ov"]
    out = ["# sovmap report", ""]
    if ov is None:
        out.append("The store holds no scan.")
    else:
        s = ov.scan
        out += [
            f"Scan #{s.id}, started {s.started_at}, {s.domains:,} domains. "
            "Figures are per domain. The jurisdiction table counts primary providers; the "
            "US counts are the headline figures (figures.json: direct, behind a gateway or "
            "relay, confidence >= 0.5).",
            "",
            "## By capability and jurisdiction",
            "",
        ]
        rows = tuple((cap, j, n) for cap, per in ov.by_jurisdiction.items() for j, n in per.items())
        out.append(md_table(("capability", "jurisdiction", "domains"), rows, limit=200))
        out += ["", "## At a US-controlled provider", ""]
        us = tuple(
            (
                cap,
                ov.us_domains.get(cap, 0),
                f"{100 * ov.us_domains.get(cap, 0) / s.domains:.1f}%" if s.domains else "unknown",
            )
            for cap in ov.by_jurisdiction
        )
        out.append(md_table(("capability", "domains", "share"), us))
        out += ["", "## Providers", ""]
        prov = tuple(
            (p.capability, p.provider_name, p.parent, p.jurisdiction or "unknown", p.domains)
            for p in ov.providers
        )
        out.append(
            md_table(("capability", "provider", "parent", "jurisdiction", "domains"), prov, 200)
        )
        if len(ctx["trends"]) > 1:
            out += ["", "## Trend: share of domains at a US-controlled provider", ""]
            caps = sorted({c for tp in ctx["trends"] for c in tp.us_share})
            trows = tuple(
                (
                    f"#{tp.scan.id}",
                    tp.scan.started_at,
                    *(f"{tp.us_share.get(c, 0.0):.1f}%" for c in caps),
                )
                for tp in ctx["trends"]
            )
            out.append(md_table(("scan", "started", *caps), trows))
        out += ["", "## Queries", ""]
        out += [f"- {k}: `{v}`" for k, v in ov.queries.items()]
    out += ["", "The parliamentary brief: [English](brief.en.md), [Nederlands](brief.nl.md)."]
    return "\n".join(out) + "\n"
