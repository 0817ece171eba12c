"""``sovmap register export --format dora-roi`` and ``sovmap register import-roi``.

Findings go to stderr as ``FILE:LINE: RULE: template.column [key]: message (from
register-file:line)``, followed by a count per rule; the exit status is 1 while a blocking
finding (an EBA rule, or sovmap's own: a parent known only by name, amounts in several
currencies without rates, a provider without a code) remains or rows were lost on import.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from sovmap.cli import CommandError
from sovmap.i18n import cli_language, format_number, t
from sovmap.readers import InputError, InputProblem, accounting, quote, read_csv, summary
from sovmap.register.dora import package as pkg
from sovmap.register.dora.export import register_to_tables
from sovmap.register.dora.importer import losses, normalise_placeholders, tables_to_register
from sovmap.register.dora.rules import Finding, finding, templates, validate_tables
from sovmap.register.identifiers import currencies
from sovmap.register.model import Register

MARKER = "NOT-FILEABLE.txt"


def default_reference_date(today: date) -> date:
    """31 December of the previous year (the ESAs' reference date for the spring filing)."""
    return date(today.year - 1, 12, 31)


def read_rates(path: Path, lang: str = "en") -> dict[str, float]:
    """``currency,rate`` rows: units of the organisation's currency per unit of ``currency``.
    A file with a bad row is refused as a whole (an export must not guess an amount), with
    every problem and the accounting (rows read = accepted + rejected)."""
    try:
        table = read_csv(path, want=("currency", "rate"))
    except InputError as exc:
        raise CommandError(exc.localised(lang)) from exc
    rates: dict[str, float] = {}
    bad: list[InputProblem] = list(table.problems)
    rejected = table.rejected
    for line, row in table.rows:
        cur = (row.get("currency") or "").strip().upper()
        text = (row.get("rate") or "").strip().replace(",", ".")
        try:
            rate = float(text)
        except ValueError:
            rate = -1.0
        if cur not in currencies() or not rate > 0:
            bad.append(
                InputProblem.of(
                    str(path), line, "BAD_RATE", "INPUT_BAD_RATE", currency=cur or "?",
                    rate=quote(text),
                )
            )  # fmt: skip
            rejected += 1
            continue
        rates[cur] = rate
    if bad:
        lines = [p.render(lang) for p in sorted(bad, key=lambda p: p.line)]
        lines.append(f"{path}: {accounting(table.read, table.read - rejected, rejected, lang)}")
        raise CommandError(t(lang, "INPUT_RATES_REFUSED") + "\n" + "\n".join(lines))
    return rates


def _emit(findings: Iterable[Finding], lang: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for f in findings:
        prefix = "" if f.blocking else f"{t(lang, 'DORA_WARNING')}: "
        print(prefix + f.render(lang), file=sys.stderr)
        counts[f.rule] += 1
    return counts


def _summary(counts: Counter[str], lang: str) -> str:
    return ", ".join(f"{rule} {format_number(n, lang)}" for rule, n in sorted(counts.items()))


def export_roi(reg: Register, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    today = now.date()
    day: date = args.date or default_reference_date(today)
    lang = cli_language(getattr(args, "lang", None))
    if day > today:
        raise CommandError(t(lang, "DORA_FUTURE_DATE", date=day.isoformat()))
    rates = read_rates(args.rates, lang) if getattr(args, "rates", None) else {}
    org = reg.organisation
    scope = args.consolidation or ("CON" if reg.entities else "IND")
    exported = register_to_tables(reg, day, rates, reported_on=today)
    for rows in exported.tables.values():
        for i, row in enumerate(rows):
            row["_line"] = str(i + 2)
    findings = [*exported.findings, *validate_tables(exported.tables)]
    if getattr(args, "gleif", None):
        from sovmap.register.dora import gleif

        findings.extend(gleif.check(exported.tables, gleif.load(args.gleif)))
    lei = org.lei.value or ""
    files = pkg.package_files(
        exported.tables, lei=lei, scope=scope, refdate=day, currency=org.currency.value or ""
    )
    name = pkg.package_name(lei or "NO-LEI", scope, org.country.value or "XX", day, now)
    out: Path = args.out
    root = out / name
    if root.exists():
        shutil.rmtree(root)
    written = pkg.write_package(files, out, name, zip_=args.zip)
    for source in [root, *([out / f"{name}.zip"] if args.zip else [])]:
        back = pkg.read_package(source)
        extra = pkg.package_findings(back, today)
        findings.extend(f for f in extra if f not in findings)
    findings.sort(key=lambda f: (not f.blocking, f.file, f.line, f.rule))
    counts = _emit(findings, lang)
    blocking = [f for f in findings if f.blocking]
    marker = out / f"{name}.{MARKER}"
    if blocking:
        marker.write_text(
            "NOT FILEABLE / NIET INDIENBAAR: "
            f"{len(blocking)} blocking finding(s)\n"
            + "\n".join(f.render() for f in blocking)
            + "\n",
            encoding="utf-8",
        )
    n_rows = sum(len(v) for v in exported.tables.values())
    print(
        t(
            lang,
            "DORA_EXPORT_WRITTEN",
            root=root,
            templates=len(templates()),
            rows=format_number(n_rows, lang),
        )
    )
    for path in written:
        if path.suffix == ".zip":
            print(path)
    if blocking:
        print(
            t(
                lang,
                "DORA_NOT_FILEABLE",
                count=format_number(len(blocking), lang),
                summary=_summary(counts, lang),
                marker=marker,
            ),
            file=sys.stderr,
        )
        return 1
    print(t(lang, "DORA_OK", warnings=format_number(len(findings), lang)))
    return 0


def import_roi(args: argparse.Namespace) -> int:
    from sovmap.register.files import check_register, write_register
    from sovmap.register.roi import BLOCKING

    lang = cli_language(getattr(args, "lang", None))
    try:
        package = pkg.read_package(args.path)
    except InputError as exc:
        raise CommandError(str(exc)) from exc
    for p in package.problems:
        print(p.render(lang), file=sys.stderr)
    missing = [t for t in templates() if t not in package.present]
    if "B_01.01" in missing:
        raise CommandError(t(lang, "DORA_NOT_ROI", path=args.path))

    def account() -> None:
        """The input accounting, always, last on stderr: rows read = accepted + rejected,
        and the problems per code."""
        line = accounting(package.read, package.accepted, package.rejected, lang)
        if package.problems:
            line += "; " + t(lang, "INPUT_PROBLEM_COUNTS", summary=summary(package.problems, lang))
        print(f"{args.path}: {line}", file=sys.stderr)

    if package.blocking:
        account()
        print(
            t(
                lang,
                "INPUT_ROI_BLOCKED",
                path=args.path,
                count=format_number(len(package.blocking), lang),
            ),
            file=sys.stderr,
        )
        return 1
    package.tables = normalise_placeholders(package.tables)
    findings = [*package.findings, *validate_tables(package.tables)]
    for template in missing:
        findings.append(finding("705", template, "", 0, "", "DORA_NO_FILE", name=template))
    counts = _emit(findings, lang)
    fatal = [f for f in findings if f.rule in BLOCKING]
    if fatal:
        account()
        print(
            t(
                lang,
                "DORA_STRUCTURAL",
                path=args.path,
                count=format_number(len(fatal), lang),
                summary=_summary(counts, lang),
            ),
            file=sys.stderr,
        )
        return 1
    ref = package.parameters.get("refPeriod", "")
    try:
        day = date.fromisoformat(ref)
    except ValueError:
        day = default_reference_date(datetime.now(UTC).date())
    tables = {t: package.tables.get(t, []) for t in templates()}
    reg = tables_to_register(tables)
    lost = losses(tables, reg, day)
    for f in lost:
        print(f.render(lang), file=sys.stderr)
    for path in write_register(reg, args.out):
        print(path)
    result = check_register(args.out)
    for problem in result.errors:
        print(f"{problem.file}:{problem.line}: {problem.code}: {problem.message}", file=sys.stderr)
    rows = sum(len(v) for v in tables.values())
    print(
        t(
            lang,
            "DORA_IMPORT_SUMMARY",
            path=args.path,
            read=format_number(rows, lang),
            kept=format_number(rows - len(lost), lang),
            lost=format_number(len(lost), lang),
        )
    )
    account()
    status = 0 if result.ok else 1
    if package.rejected and not args.allow_loss:
        count = format_number(package.rejected, lang)
        print(t(lang, "INPUT_ROI_REJECTED", count=count), file=sys.stderr)
        status = 1
    if lost and not args.allow_loss:
        print(t(lang, "DORA_IMPORT_LOSS", count=format_number(len(lost), lang)), file=sys.stderr)
        status = 1
    return status
