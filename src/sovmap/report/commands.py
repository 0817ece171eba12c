"""``sovmap report``: HTML and Markdown report plus the parliamentary brief (NL/EN)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sovmap import figures, i18n
from sovmap.cli import CommandError
from sovmap.register.files import load_register_dir
from sovmap.report.build import ReportOptions, build_report, store_label
from sovmap.store import Store
from sovmap.store.migrate import DEFAULT_DB, MigrationError
from sovmap.store.notes import disputed_notes, disputed_rows


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write the HTML/Markdown report and the parliamentary brief (NL/EN)",
        description="Write a self-contained HTML report (inline SVG charts, sortable tables, "
        "every finding expandable to its evidence), a Markdown report, and the parliamentary "
        "brief in Dutch and English laid out as the six questions, with the rows and query "
        "behind every number under DIR/data/. With --register, the brief also answers the "
        "inside-out questions (processes, cut-off, data exposure, exit plan). Example: "
        "sovmap report --db sovmap.sqlite --register examples/register --out out/report",
    )
    p.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    p.add_argument("--register", type=Path, help="register directory")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--deadline", default="9mo", help="exit deadline (default 9mo)")
    p.add_argument("--scenario-settings", type=Path, help="cut-off scenario settings YAML")
    p.add_argument("--exit-settings", type=Path, help="exit-plan settings YAML")
    p.add_argument("--runs", type=int, default=10_000, help="Monte-Carlo runs of the exit plan")
    p.add_argument(
        "--max-domains",
        type=int,
        default=2000,
        help="domains listed with their findings in report.html (default 2000)",
    )
    p.set_defaults(func=_report)

    f: argparse.ArgumentParser = sub.add_parser(
        "figures",
        help="print the headline figures of the latest finished scan (and a register)",
        description="Print the headline figures: the numbers the scan summary, the web app, "
        "the API, the report and the brief all show, each with its definition and query. "
        "Unknown figures are null (JSON) or 'unknown' (text). With --rows DIR, each figure's "
        "rows are written as DIR/<figure>.csv; every figure equals its CSV's row count. "
        "Example: sovmap figures --db out/demo/demo.sqlite --format json",
    )
    f.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    f.add_argument("--register", type=Path, help="register directory")
    f.add_argument("--scan", type=int, help="scan id (default: the latest finished scan)")
    f.add_argument("--format", choices=("text", "json"), default="text")
    f.add_argument("--lang", choices=("en", "nl"), default="en", help="language of definitions")
    f.add_argument("--rows", type=Path, metavar="DIR", help="write each figure's rows as CSV")
    f.set_defaults(func=_figures)


def _figures(args: argparse.Namespace) -> int:
    if "://" not in args.db and not Path(args.db).exists():
        raise CommandError(i18n.t(i18n.cli_language(args.lang), "REPORT_NO_STORE", db=args.db))
    register = load_register_dir(args.register) if args.register is not None else None
    try:
        store = Store.for_reading(args.db)
    except MigrationError as exc:
        raise CommandError(str(exc)) from exc
    try:
        choice = store.choose_scan(args.scan)
        if args.scan is not None and choice.scan is None:
            raise CommandError(i18n.t(args.lang, "REPORT_NO_SUCH_SCAN", scan=args.scan))
        if choice.newer:
            print(i18n.t(args.lang, "REPORT_NOTE", note=choice.notice(args.lang)), file=sys.stderr)
        with store.connect() as conn:
            figs = figures.compute(conn, choice.scan, register)
            disputes = set(disputed_notes(conn))
    finally:
        store.close()
    if args.rows is not None:
        args.rows.mkdir(parents=True, exist_ok=True)
        for fig in figs:
            (args.rows / f"{fig.id}.csv").write_text(fig.csv_text(), encoding="utf-8")
    if args.format == "json":
        print(json.dumps(figs.to_json(args.lang), indent=2, ensure_ascii=False))
        return 0
    for line in figures.render_text(figs, args.lang):
        print(line)
    # disputed findings (sovmap findings): stated beside the figures, never subtracted
    for fig in figs:
        n = disputed_rows(fig.rows, disputes) if disputes else 0
        if n:
            said = i18n.t(args.lang, "NOTE_DISPUTED_ROWS", n=i18n.format_number(n, args.lang))
            print(f"{fig.id:<40} {said}")
    return 0


def _report(args: argparse.Namespace) -> int:
    lang = i18n.cli_language()
    if args.register is not None and not args.register.is_dir():
        raise CommandError(i18n.t(lang, "REPORT_NOT_A_DIRECTORY", path=args.register))
    for opt in ("scenario_settings", "exit_settings"):
        f = getattr(args, opt)
        if f is not None and not f.is_file():
            option = f"--{opt.replace('_', '-')}"
            raise CommandError(i18n.t(lang, "REPORT_NO_SUCH_FILE", option=option, path=f))
    if "://" not in args.db and not Path(args.db).exists():
        raise CommandError(i18n.t(lang, "REPORT_NO_STORE", db=args.db))
    try:
        engine = Store.for_reading(args.db).engine  # the one store door, read-only where it can
    except MigrationError as exc:
        raise CommandError(str(exc)) from exc
    opts = ReportOptions(
        register_dir=args.register,
        deadline=args.deadline,
        scenario_settings=args.scenario_settings,
        exit_settings=args.exit_settings,
        runs=args.runs,
        max_domains=args.max_domains,
    )
    files = build_report(engine, store_label(args.db), args.out, opts)
    engine.dispose()
    names = [f"report.{lang}.html" for lang in i18n.LANGUAGES] + ["report.html"]
    names += [f"brief.{lang}.html" for lang in i18n.LANGUAGES]
    names += [f"{kind}.{lang}.md" for kind in ("report", "brief") for lang in i18n.LANGUAGES]
    said = i18n.format_number(len(files), lang)
    print(i18n.t(lang, "REPORT_WROTE", n=said, out=args.out, names=", ".join(names)))
    return 0
