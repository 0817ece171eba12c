"""``sovmap register``: check, import and export the inside-out register."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sovmap.cli import CommandError
from sovmap.i18n import cli_language, format_number, t
from sovmap.register.codec import build_schema
from sovmap.register.files import check_register, load_register, register_to_data, write_register
from sovmap.register.model import Origin, Register
from sovmap.register.problems import Problem, RegisterError, Severity
from sovmap.register.yamlio import dump_yaml

EXAMPLE = "examples/register"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "register",
        help="check, import and export the inside-out register",
        description="The inside-out register: processes, services, providers, data and "
        f"contracts as a directory of YAML/CSV files. Example: sovmap register check {EXAMPLE}",
    )
    rs = p.add_subparsers(dest="register_command", metavar="ACTION", required=True)

    c = rs.add_parser(
        "check",
        help="validate a register directory",
        description="Validate a register directory: schema, references, identifiers (LEI, "
        "EUID, ISO codes), and report what is missing or unconfirmed. "
        f"Example: sovmap register check {EXAMPLE}",
    )
    c.add_argument("path", type=Path, help="register directory")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument(
        "--lang", choices=("en", "nl"), default=None, help="language (default: SOVMAP_LANG or en)"
    )
    c.set_defaults(func=_check)

    s = rs.add_parser(
        "schema",
        help="print the JSON Schema of register files",
        description="Print the JSON Schema every register YAML file follows. "
        "Example: sovmap register schema",
    )
    s.set_defaults(func=_schema)

    i = rs.add_parser(
        "import-scan",
        help="propose services and providers from scan findings",
        description="Turn the findings of a scan on the organisation's domains into proposed "
        "services and providers, marked inferred, written to PATH/scan-import.yaml; values "
        "a person entered are never overwritten. "
        f"Example: sovmap register import-scan {EXAMPLE} --db out/demo/demo.sqlite",
    )
    i.add_argument("path", type=Path, help="register directory")
    i.add_argument("--db", required=True, help="store: SQLite file or PostgreSQL URL")
    i.add_argument("--scan", type=int, help="scan id (default: the latest)")
    i.set_defaults(func=_import_scan)

    e = rs.add_parser(
        "export",
        help="export as DORA register of information or CycloneDX",
        description="Export a register: dora-roi writes the EBA plain-CSV package as filed "
        "(root folder <LEI>.<IND|CON>_<CC>_DORA010100_DORA_<date>_<timestamp> with all 15 "
        "templates, and with --zip the zip beside it), checked against the EBA validation "
        "rules: exit 1 while a blocking finding remains (the package is still written, marked "
        "not fileable); cyclonedx writes a CycloneDX 1.6 BOM of the services; yaml writes the "
        "register as one YAML file per section. "
        "Example: sovmap register export examples/bank-register --format dora-roi --out out/roi "
        "--date 2025-12-31 --zip",
    )
    e.add_argument("path", type=Path, help="register directory")
    e.add_argument("--format", choices=("dora-roi", "cyclonedx", "yaml"), required=True)
    e.add_argument("--out", type=Path, required=True, help="output directory")
    e.add_argument(
        "--date",
        type=date.fromisoformat,
        help="reference date (default: 31 December of the previous year; never in the future)",
    )
    e.add_argument("--zip", action="store_true", help="dora-roi: also write the zip")
    e.add_argument(
        "--consolidation",
        choices=("IND", "CON"),
        help="dora-roi: individual or consolidated (default: CON when the register holds "
        "group entities, else IND)",
    )
    e.add_argument(
        "--rates",
        type=Path,
        help="dora-roi: CSV currency,rate (units of the organisation's currency per unit) to "
        "total a provider's contracts in several currencies",
    )
    e.add_argument(
        "--gleif",
        metavar="FILE|URL",
        help="dora-roi: check LEIs, status, legal names and ultimate parents against GLEIF "
        "(a JSON file of GLEIF records, or the API base URL, e.g. https://api.gleif.org/api/v1)",
    )
    e.add_argument(
        "--lang",
        choices=("en", "nl"),
        default=None,
        help="dora-roi: language of the findings (default: $SOVMAP_LANG, else en)",
    )
    e.set_defaults(func=_export)

    r = rs.add_parser(
        "import-roi",
        help="read a DORA register of information into a register directory",
        description="Read a DORA register of information (package directory, its root folder "
        "or the zip): every template and identifier type, placeholders, several entities, "
        "branches and intra-group arrangements. Every row the register cannot represent is "
        "listed and makes the command exit 1 (unless --allow-loss); a duplicated key or a "
        "structural error writes nothing and exits 1. "
        "Example: sovmap register import-roi examples/roi --out out/roi-register",
    )
    r.add_argument("path", type=Path, help="RoI package directory or zip")
    r.add_argument("--out", type=Path, required=True, help="register directory to write")
    r.add_argument(
        "--allow-loss", action="store_true", help="exit 0 although some rows were not kept"
    )
    r.add_argument(
        "--lang",
        choices=("en", "nl"),
        default=None,
        help="language of the findings (default: $SOVMAP_LANG, else en)",
    )
    r.set_defaults(func=_import_roi)


def _print_problems(problems: list[Problem] | tuple[Problem, ...], lang: str = "en") -> None:
    for p in problems:
        print(f"{p.severity.value}: {p.render(lang)}")


def quality(register: Register) -> dict[str, Any]:
    """Counts of entered / inferred / missing values and unconfirmed inferences."""
    counts: Counter[str] = Counter()
    unconfirmed: list[str] = []
    for eid, name, v in register.values():
        counts[v.origin.value] += 1
        if v.origin is Origin.INFERRED and not v.confirmed_by:
            unconfirmed.append(f"{eid}.{name}")
    return {"values": dict(counts), "unconfirmed": unconfirmed}


def _check(args: argparse.Namespace) -> int:
    # the input layer's messages, the summary and the accounting: --lang, else SOVMAP_LANG
    lang = cli_language(args.lang)
    result = check_register(args.path)
    q = quality(result.register) if result.register is not None else None
    if args.format == "json":
        out = {
            "ok": result.ok,
            "problems": [p.to_json() for p in result.problems],
            "quality": q,
        }
        print(json.dumps(out, indent=2))
        return 0 if result.ok else 1
    _print_problems(result.errors, lang)
    if result.register is not None and q is not None:
        r = result.register

        def n(count: int) -> str:
            return format_number(count, lang)

        print(
            t(
                lang,
                "REGCHECK_OK" if result.ok else "REGCHECK_INVALID",
                processes=n(len(r.processes)),
                services=n(len(r.services)),
                providers=n(len(r.providers)),
                data_assets=n(len(r.data_assets)),
                contracts=n(len(r.contracts)),
            )
        )
        v = q["values"]
        warnings = [p for p in result.problems if p.severity is Severity.WARNING]
        expected = sum(1 for p in warnings if p.code == "MISSING_VALUE")
        print(
            t(
                lang,
                "REGCHECK_VALUES",
                entered=n(v.get("entered", 0)),
                inferred=n(v.get("inferred", 0)),
                unconfirmed=n(len(q["unconfirmed"])),
                missing=n(v.get("missing", 0)),
                expected=n(expected),
            )
        )
        if warnings:
            print(t(lang, "REGCHECK_WARNINGS", n=n(len(warnings))))
            _print_problems(warnings, lang)
    else:
        print(t(lang, "REGCHECK_UNREADABLE"))
    for line in result.accounting(lang):  # CSV files: rows read = accepted + rejected
        print(line)
    return 0 if result.ok else 1


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(build_schema(), indent=1))
    return 0


def _load(path: Path) -> Register:
    try:
        return load_register(path)
    except RegisterError as exc:
        lang = cli_language()
        _print_problems(exc.problems, lang)
        n = format_number(len(exc.problems), lang)
        raise CommandError(t(lang, "REGCHECK_ERRORS", path=path, n=n)) from exc


def _import_scan(args: argparse.Namespace) -> int:
    from sovmap.knowledge.catalogue import default_catalogue
    from sovmap.register.scanimport import SCAN_FILE, propose
    from sovmap.store import Store

    scan_file = args.path / SCAN_FILE
    if scan_file.exists():  # proposals are regenerated: read the register without them
        previous = scan_file.read_bytes()
        scan_file.unlink()
    else:
        previous = None
    try:
        reg = _load(args.path)
    except CommandError:
        if previous is not None:
            scan_file.write_bytes(previous)
        raise
    store = Store(args.db)
    try:
        latest = store.latest_finished()
        scan_id = args.scan if args.scan is not None else latest.id if latest else None
        if scan_id is None:
            raise CommandError(t(cli_language(), "REGCHECK_NO_SCAN", db=args.db))
        findings = store.findings(scan_id)
    finally:
        store.close()
    props = propose(reg, findings, default_catalogue(), scan_id)
    ids = [s.id for s in props.services] + [p.id for p in props.providers]
    from sovmap.register.scanimport import proposals_register

    data = register_to_data(proposals_register(reg, props), only=ids)
    header = f"# proposals from scan {scan_id}, written by `sovmap register import-scan`;\n"
    header += "# regenerated on every import: confirm a value by copying it to your own files\n"
    scan_file.write_text(header + dump_yaml(data), encoding="utf-8")
    new = sum(1 for s in props.services if s.id not in reg.services)
    lang = cli_language()
    print(
        t(
            lang,
            "REGCHECK_PROPOSED",
            scan=scan_id,
            findings=format_number(len(findings), lang),
            services=format_number(len(props.services), lang),
            new=format_number(new, lang),
            providers=format_number(len(props.providers), lang),
            file=scan_file,
        )
    )
    for line in props.skipped:
        print(t(lang, "REGCHECK_SKIPPED", line=line))
    result = check_register(args.path)
    _print_problems(result.errors, cli_language())
    return 0 if result.ok else 1


def _export(args: argparse.Namespace) -> int:
    reg = _load(args.path)
    day = args.date or datetime.now(UTC).date()
    out: Path = args.out
    if args.format == "yaml":
        for path in write_register(reg, out):
            print(path)
        return 0
    if args.format == "cyclonedx":
        from sovmap.register.cyclonedx import (
            register_to_cyclonedx,
            validate_cyclonedx,
        )

        stamp = datetime(day.year, day.month, day.day, tzinfo=UTC)
        bom = register_to_cyclonedx(reg, stamp)
        errors = validate_cyclonedx(bom)
        if errors:
            said = "; ".join(errors[:5])
            raise CommandError(t(cli_language(), "REGCHECK_CYCLONEDX_INVALID", errors=said))
        out.mkdir(parents=True, exist_ok=True)
        path = out / "services.cdx.json"
        path.write_text(json.dumps(bom, indent=2) + "\n", encoding="utf-8")
        lang = cli_language()
        services = format_number(len(bom["services"]), lang)
        dependencies = format_number(len(bom["dependencies"]), lang)
        print(t(lang, "REGCHECK_CYCLONEDX_WROTE", path=path, services=services, deps=dependencies))
        return 0
    from sovmap.register.dora.cli import export_roi

    return export_roi(reg, args)


def _import_roi(args: argparse.Namespace) -> int:
    from sovmap.register.dora.cli import import_roi

    return import_roi(args)
