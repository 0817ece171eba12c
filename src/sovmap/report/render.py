"""Render reports: self-contained HTML (inline CSS, JS and SVG) and Markdown. Pure."""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from sovmap.control import us_controlled
from sovmap.i18n import format_date, format_number, has, t
from sovmap.i18n import value as catalogued
from sovmap.report.model import Brief, Figure, Note, Rows

#: columns whose values are catalogued (translated through V_<KIND>_<VALUE>)
CATALOGUED = {
    "status": "STATUS",
    "classification": "CLASSIFICATION",
    "exit_plan": "EXIT_PLAN",
    "key_control": "KEY_CONTROL",
    "maturity": "MATURITY",
    "fallback": "FALLBACK",
    "capability": "CAPABILITY",
    "deployment": "DEPLOYMENT",
    "gap_p50_weeks": "GAP",
    "gap_p90_weeks": "GAP",
}


def _asset(name: str) -> str:
    """A file of the web app's static folder, inlined in the report ("" once the web app no
    longer ships it: the web app's client-side sorting script was removed)."""
    path = resources.files("sovmap.web") / "static" / name
    return path.read_text("utf-8") if path.is_file() else ""


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sovmap.report", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["startingwith"] = lambda value, prefix: str(value).startswith(prefix)
    env.tests["us_controlled"] = us_controlled  # the control rule, as in the web templates
    env.globals.update(
        css=_asset("app.css"),
        js=_asset("app.js"),
        t=t,
        fmt=fmt,
        cell=cell,
        header=column_header,
        note=note_text,
        figure_value=figure_value,
        when=when,
    )
    return env


def fmt(value: Any, lang: str = "en") -> str:
    """A value in a table cell, in the language's number format ("" when absent)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return t(lang, "V_BOOL_YES" if value else "V_BOOL_NO")
    if isinstance(value, date):
        return format_date(value, lang)
    if isinstance(value, int):
        return format_number(value, lang)
    if isinstance(value, float):
        if math.isinf(value):
            return t(lang, "PERMANENT") if value > 0 else "-inf"
        return format_number(value, lang, 0 if value == int(value) else 1)
    return str(value)


def figure_value(lang: str, f: Figure) -> str:
    """A figure of the brief: unknown (None) is the word for unknown, never blank or 0."""
    if f.value is None:
        return t(lang, "UNKNOWN")
    return fmt(f.value, lang)


def column_header(lang: str, column: str) -> str:
    code = f"H_{column.upper()}"
    return t(lang, code) if has(lang, code) else column


def cell(lang: str, column: str, value: Any) -> str:
    """A table cell: catalogued values translated, numbers in the language's format."""
    kind = CATALOGUED.get(column)
    if kind is not None and isinstance(value, str) and value:
        sep = "," if "," in value and ";" not in value else ";"
        return f"{sep} ".join(catalogued(lang, kind, v.strip()) for v in value.split(sep))
    return fmt(value, lang)


def _params(lang: str, params: dict[str, Any]) -> dict[str, Any]:
    """Placeholders in ``lang``: numbers in its format, catalogued codes and values
    (a ``classification``) translated."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = fmt(v, lang)
        elif k == "classification" and isinstance(v, str):
            out[k] = catalogued(lang, "CLASSIFICATION", v)
        elif isinstance(v, str) and v.isupper() and has(lang, v):
            out[k] = t(lang, v)
        else:
            out[k] = v
    return out


def note_text(lang: str, n: Note) -> str:
    return t(lang, n.code, **_params(lang, n.params))


def rows_csv(rows: Rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows.header)
    w.writerows(
        ["" if v is None else ("inf" if isinstance(v, float) and math.isinf(v) else v) for v in r]
        for r in rows.rows
    )
    return buf.getvalue()


def when(brief: Brief, lang: str) -> str:
    """The brief's date in the language's format (5 december 2026, 08:25 UTC)."""
    try:
        day = date.fromisoformat(brief.generated_at[:10])
    except ValueError:
        return brief.generated_at
    return f"{format_date(day, lang)}{brief.generated_at[10:].rstrip()}".replace("  ", " ")


def label(lang: str, f: Figure) -> str:
    text = t(lang, f.code, **_params(lang, f.params))
    n = f.params.get("disputed")
    if n:  # disputed rows (sovmap.store.notes), stated beside the figure, never subtracted
        text += f" ({t(lang, 'NOTE_DISPUTED_ROWS', n=fmt(n, lang))})"
    return text


def brief_html(brief: Brief, lang: str) -> str:
    return environment().get_template("brief.html").render(brief=brief, lang=lang, label=label)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(
    header: tuple[str, ...],
    rows: tuple[tuple[Any, ...], ...],
    limit: int = 50,
    lang: str = "en",
    translate: bool = False,
) -> str:
    """A Markdown table; ``translate``: headers and catalogued values in ``lang``."""
    heads = [column_header(lang, h) if translate else h for h in header]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(header)]
    for r in rows[:limit]:
        cells = [cell(lang, h, v) if translate else fmt(v) for h, v in zip(header, r, strict=True)]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if len(rows) > limit:
        more = len(rows) - limit
        tail = t(lang, "MORE_ROWS", n=more) if translate else f"… {more} more rows in the CSV."
        lines.append("\n" + tail)
    return "\n".join(lines)


def brief_markdown(brief: Brief, lang: str) -> str:
    out = [
        f"# {t(lang, 'TITLE')}",
        "",
        t(lang, "SUBTITLE", organisation=brief.organisation, generated_at=when(brief, lang)),
        "",
        f"{t(lang, 'SOURCES')}: " + "; ".join(f"`{s}`" for s in brief.sources),
        "",
        f"_{t(lang, 'TRACE')}_",
    ]
    for sec in brief.sections:
        out += ["", f"## {t(lang, sec.code)}", ""]
        for n in sec.notes:
            if not n.code.startswith("A_"):
                out.append(f"> {note_text(lang, n)}")
                out.append("")
        if sec.figures:
            out.append("| | | |")
            out.append("|---|---:|---|")
            for f in sec.figures:
                r = brief.rows[f.rows]
                out.append(
                    f"| {label(lang, f)} | **{figure_value(lang, f)}** | "
                    f"[{t(lang, 'ROWS')}]({r.path}) |"
                )
        for name in sec.tables:
            table = brief.rows.get(name)
            if table is not None and table.rows:
                out += ["", md_table(table.header, table.rows, 30, lang, translate=True)]
        assumptions = [n for n in sec.notes if n.code.startswith("A_")]
        if assumptions:
            out += ["", f"**{t(lang, 'Q5_ASSUMPTIONS')}**", ""]
            out += [f"- {note_text(lang, n)}" for n in assumptions]
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
