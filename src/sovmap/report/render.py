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
from sovmap.i18n import LANGUAGES, format_date, format_number, has, t
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
        stamp=stamp,
        number=format_number,
        catalogued=catalogued,
        organisation=organisation,
        languages=LANGUAGES,
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


def stamp(moment: str | None, lang: str) -> str:
    """A stored time (ISO ``2026-12-05T08:25:13+00:00`` or ``2026-12-05 08:25``) as the
    language writes it: ``5 december 2026 08:25``; unknown when absent; the text unchanged
    when it is not a date."""
    if not moment:
        return t(lang, "UNKNOWN")
    try:
        day = date.fromisoformat(moment[:10])
    except ValueError:
        return moment
    clock = moment[11:16]
    return f"{format_date(day, lang)} {clock}" if len(clock) == 5 else format_date(day, lang)


def organisation(brief: Brief, lang: str) -> str:
    """Whom the brief is about: the register's organisation, else (no register) all
    organisations in the store, in ``lang``."""
    return brief.organisation or t(lang, "REPORT_ALL_ORGANISATIONS")


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
        cells = [
            cell(lang, h, v) if translate else fmt(v, lang) for h, v in zip(header, r, strict=True)
        ]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if len(rows) > limit:
        more = len(rows) - limit
        tail = t(lang, "MORE_ROWS", n=fmt(more, lang))
        lines.append("\n" + tail)
    return "\n".join(lines)


def brief_markdown(brief: Brief, lang: str) -> str:
    out = [
        f"# {t(lang, 'TITLE')}",
        "",
        t(
            lang,
            "SUBTITLE",
            organisation=organisation(brief, lang),
            generated_at=when(brief, lang),
        ),
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
    """The report in ``ctx["lang"]`` (English when not given)."""
    names = {other: t(other, f"REPORT_LANG_{other.upper()}") for other in LANGUAGES}
    ctx = {"lang": "en", **ctx, "language_names": names}
    return environment().get_template("report.html").render(**ctx)


def report_markdown(ctx: dict[str, Any]) -> str:
    """The report's overview as Markdown tables, in ``ctx["lang"]`` (English when not given)."""
    lang: str = ctx.get("lang", "en")
    ov = ctx["ov"]
    out = [f"# {t(lang, 'REPORT_TITLE')}", ""]
    if ov is None:
        out.append(t(lang, "REPORT_NO_SCAN"))
    else:
        s = ov.scan
        line = t(
            lang,
            "REPORT_SCAN_LINE",
            scan=s.id,
            label=f" “{s.label}”" if s.label else "",
            started=stamp(s.started_at, lang),
            domains=fmt(s.domains, lang),
        )
        out += [
            f"{line} {t(lang, 'REPORT_FIGURES_NOTE')}",
            "",
            f"## {t(lang, 'REPORT_BY_CAPABILITY_JURISDICTION')}",
            "",
        ]
        unknown = t(lang, "UNKNOWN")
        rows = tuple(
            (catalogued(lang, "CAPABILITY", cap), j or unknown, n)
            for cap, per in ov.by_jurisdiction.items()
            for j, n in per.items()
        )
        heads = tuple(t(lang, f"REPORT_COL_{c}") for c in ("CAPABILITY", "JURISDICTION", "DOMAINS"))
        out.append(md_table(heads, rows, limit=200, lang=lang))
        out += ["", f"## {t(lang, 'REPORT_AT_US_PROVIDER')}", ""]
        us = tuple(
            (
                catalogued(lang, "CAPABILITY", cap),
                ov.us_domains.get(cap, 0),
                f"{format_number(100 * ov.us_domains.get(cap, 0) / s.domains, lang, 1)}%"
                if s.domains
                else unknown,
            )
            for cap in ov.by_jurisdiction
        )
        heads = tuple(t(lang, f"REPORT_COL_{c}") for c in ("CAPABILITY", "DOMAINS", "SHARE"))
        out.append(md_table(heads, us, lang=lang))
        out += ["", f"## {t(lang, 'REPORT_PROVIDERS')}", ""]
        prov = tuple(
            (
                catalogued(lang, "CAPABILITY", p.capability),
                p.provider_name,
                p.parent,
                p.jurisdiction or unknown,
                p.domains,
            )
            for p in ov.providers
        )
        heads = tuple(
            t(lang, f"REPORT_COL_{c}")
            for c in ("CAPABILITY", "PROVIDER", "PARENT", "JURISDICTION", "DOMAINS")
        )
        out.append(md_table(heads, prov, 200, lang=lang))
        if len(ctx["trends"]) > 1:
            out += ["", f"## {t(lang, 'REPORT_TREND_US')}", ""]
            caps = sorted({c for tp in ctx["trends"] for c in tp.us_share})
            trows = tuple(
                (
                    f"#{tp.scan.id}",
                    stamp(tp.scan.started_at, lang),
                    *(f"{format_number(tp.us_share.get(c, 0.0), lang, 1)}%" for c in caps),
                )
                for tp in ctx["trends"]
            )
            heads = (
                t(lang, "REPORT_COL_SCAN"),
                t(lang, "REPORT_COL_STARTED"),
                *(catalogued(lang, "CAPABILITY", c) for c in caps),
            )
            out.append(md_table(heads, trows, lang=lang))
        out += ["", f"## {t(lang, 'REPORT_QUERIES')}", ""]
        out += [f"- `{k}`: `{v}`" for k, v in ov.queries.items()]
    out += [
        "",
        f"{t(lang, 'REPORT_BRIEF_LINK')} [{t(lang, 'REPORT_BRIEF_NAME')}](brief.{lang}.md).",
    ]
    return "\n".join(out) + "\n"
