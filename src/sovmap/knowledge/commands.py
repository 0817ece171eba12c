"""``sovmap knowledge``: inspect and validate the provider catalogue."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from sovmap import i18n
from sovmap.cli import CommandError
from sovmap.knowledge.catalogue import KnowledgeError, load_catalogue
from sovmap.knowledge.gaps import find_gaps
from sovmap.knowledge.refresh import (
    directory_fetcher,
    http_fetcher,
    load_prefix_sources,
    refresh_prefixes,
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "knowledge",
        help="inspect and validate the provider catalogue",
        description="Inspect and validate the provider catalogue (bundled data files plus "
        "optional directories of your own YAML files, which override by id).",
    )
    ks = p.add_subparsers(dest="knowledge_command", metavar="ACTION", required=True)
    check = ks.add_parser(
        "check",
        help="validate every provider file",
        description="Validate every provider file against the schema. Example: "
        "sovmap knowledge check --dir my-providers/",
    )
    check.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    check.add_argument(
        "--lang", choices=("en", "nl"), default=None, help="language (default: SOVMAP_LANG or en)"
    )
    check.set_defaults(func=_check)
    ls = ks.add_parser(
        "list",
        help="list providers with parent and jurisdiction",
        description="List providers. Example: sovmap knowledge list",
    )
    ls.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    ls.set_defaults(func=_list)
    rp = ks.add_parser(
        "refresh-prefixes",
        help="download the providers' published address ranges",
        description="Download the address ranges that providers publish (AWS ip-ranges.json, "
        "Google cloud.json, Cloudflare ips-v4/v6, Fastly, Oracle, GitHub Pages; see "
        "data/prefix_sources.yaml), merge them and write data/prefixes/<id>.json with the "
        "source URL and the fetch date. Example: "
        "sovmap knowledge refresh-prefixes --provider cloudflare --out /tmp/prefixes",
    )
    rp.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="ID",
        help="only sources of this provider id (or source id); repeatable",
    )
    rp.add_argument(
        "--offline-fixture",
        type=Path,
        metavar="DIR",
        help="read saved downloads from DIR/<host>/<path> instead of the network",
    )
    rp.add_argument(
        "--base-url",
        default="",
        metavar="URL",
        help="fetch URL/<host>/<path> instead of each provider's URL (a mirror)",
    )
    rp.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write here instead of the installed package's data/prefixes",
    )
    rp.add_argument("--timeout", type=float, default=30.0, help="seconds per download")
    rp.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    rp.set_defaults(func=_refresh_prefixes)
    gp = ks.add_parser(
        "gaps",
        help="the most frequent uncatalogued MX/NS/CNAME operators of a scan",
        description="List the operators (registrable domains) of a scan's MX hosts, name "
        "servers and CNAME targets that no provider file names, most domains first, with "
        "sample records: what to add to the catalogue next. Reads the latest finished scan "
        "unless --scan is given. Example: sovmap knowledge gaps --db scans.sqlite --top 20",
    )
    gp.add_argument("--db", required=True, help="the store (SQLite path or database URL)")
    gp.add_argument("--scan", type=int, default=None, help="scan id (default: latest finished)")
    gp.add_argument("--top", type=_bounded(1, 1000), default=25, help="operators per kind (1-1000)")
    gp.add_argument(
        "--samples", type=_bounded(0, 20), default=3, help="sample records per operator (0-20)"
    )
    gp.add_argument("--format", choices=("text", "json"), default="text")
    gp.add_argument("--lang", choices=("en", "nl"), default="en", help="language of the text")
    gp.add_argument("--dir", action="append", default=[], type=Path, help="extra directory")
    gp.set_defaults(func=_gaps)


def _lang(args: argparse.Namespace) -> str:
    """The language of the messages: ``--lang`` where the command has it, else
    ``SOVMAP_LANG`` (as :func:`sovmap.cli.main` chooses it for errors)."""
    chosen = getattr(args, "lang", None)
    return i18n.cli_language(chosen if chosen in i18n.LANGUAGES else None)


def _check(args: argparse.Namespace) -> int:
    lang = _lang(args)
    try:
        cat = load_catalogue(args.dir)
    except KnowledgeError as exc:
        print(i18n.t(lang, "KNOW_CHECK_INVALID", problem=exc.localised(lang)))
        return 1
    located = cat.locations.size if cat.locations else 0
    num = i18n.format_number
    print(
        i18n.t(
            lang,
            "KNOW_CHECK_OK",
            providers=num(len(cat.providers), lang),
            fingerprints=num(len(cat.fingerprints), lang),
            prefixes=num(located, lang),
            version=cat.version,
        )
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    cat = load_catalogue(args.dir)
    lang = _lang(args)
    heads = [i18n.t(lang, f"KNOW_COL_{c}") for c in ("ID", "NAME", "PARENT", "JUR", "CAPABILITIES")]
    print(f"{heads[0]:<22} {heads[1]:<28} {heads[2]:<34} {heads[3]:<4} {heads[4]}")
    for p in sorted(cat.providers.values(), key=lambda p: p.id):
        caps = ",".join(sorted(c.value for c in p.capabilities))
        print(f"{p.id:<22} {p.name[:28]:<28} {p.parent_name[:34]:<34} {p.jurisdiction:<4} {caps}")
    return 0


def _refresh_prefixes(args: argparse.Namespace) -> int:
    try:
        cat = load_catalogue(args.dir)
        sources = load_prefix_sources()
    except KnowledgeError as exc:
        raise CommandError(str(exc)) from exc
    lang = _lang(args)
    if args.provider:
        wanted = set(args.provider)
        sources = [s for s in sources if s.provider in wanted or s.id in wanted]
        if not sources:
            raise CommandError(i18n.t(lang, "KNOW_NO_PREFIX_SOURCE", ids=", ".join(sorted(wanted))))
    if args.offline_fixture is not None:
        if not args.offline_fixture.is_dir():
            raise CommandError(i18n.t(lang, "KNOW_NOT_A_DIRECTORY", path=args.offline_fixture))
        fetch = directory_fetcher(args.offline_fixture)
    else:
        fetch = http_fetcher(timeout=args.timeout, base_url=args.base_url)
    results = refresh_prefixes(sources, fetch, set(cat.providers), date.today(), args.out)
    num = i18n.format_number
    ok, failed = i18n.t(lang, "KNOW_REFRESH_OK"), i18n.t(lang, "KNOW_REFRESH_FAILED")
    width = max(len(ok), len(failed)) + 2
    for r in results:
        if r.ok:
            code = "KNOW_REFRESH_PREFIXES_REGIONS" if r.regions else "KNOW_REFRESH_PREFIXES"
            said = i18n.t(lang, code, n=num(r.prefixes, lang), regions=num(r.regions, lang))
            print(f"{ok:<{width}}{r.id:<20} {said} -> {r.path}")
        else:
            print(f"{failed:<{width}}{r.id:<20} {r.error}")
    return 0 if all(r.ok for r in results) else 1


def _bounded(lo: int, hi: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            said = i18n.t(i18n.cli_language(), "KNOW_NOT_WHOLE_NUMBER", value=text[:80])
            raise argparse.ArgumentTypeError(said) from None
        if not lo <= value <= hi:
            said = i18n.t(i18n.cli_language(), "KNOW_OUT_OF_RANGE", lo=lo, hi=hi, value=value)
            raise argparse.ArgumentTypeError(said)
        return value

    return parse


def _gaps(args: argparse.Namespace) -> int:
    from sovmap.i18n import format_number, t
    from sovmap.readers import printable
    from sovmap.store import Store
    from sovmap.store.migrate import MigrationError

    lang = args.lang
    if "://" not in args.db and not Path(args.db).is_file():
        raise CommandError(t(lang, "KNOW_NO_STORE", db=args.db))
    try:
        cat = load_catalogue(args.dir)
    except KnowledgeError as exc:
        raise CommandError(str(exc)) from exc
    try:
        try:
            store = Store(args.db, readonly=True)
        except MigrationError:  # a store that needs migrating is migrated when writable
            store = Store(args.db)
    except Exception as exc:
        raise CommandError(t(lang, "KNOW_CANNOT_OPEN_STORE", db=args.db, detail=exc)) from exc
    choice = store.choose_scan(args.scan)
    if choice.scan is None:
        if args.scan:
            raise CommandError(t(lang, "KNOW_NO_SUCH_SCAN", scan=args.scan))
        raise CommandError(t(lang, "KNOW_NO_SCAN_YET"))
    sid = choice.scan.id
    report = find_gaps(store.iter_results(sid), cat, top=args.top, samples=args.samples)
    if args.format == "json":
        import json

        doc = {
            "scan": sid,
            "domains": report.domains,
            "knowledge_version": cat.version,
            "gaps": [g.to_json() for g in report.gaps],
        }
        print(json.dumps(doc, ensure_ascii=True, indent=1))
        return 0
    lang = args.lang
    per = {k: sum(1 for g in report.gaps if g.kind == k) for k in ("MX", "NS", "CNAME")}
    print(
        t(
            lang,
            "GAPS_TITLE",
            scan=sid,
            domains=format_number(report.domains, lang),
            mx=per["MX"],
            ns=per["NS"],
            cname=per["CNAME"],
        )
    )
    if not report.gaps:
        print(t(lang, "GAPS_NONE"))
        return 0
    print(t(lang, "GAPS_HEADER"))
    for g in report.gaps:
        sample = "; ".join(f"{d}: {r}" for d, r in g.samples)
        line = (
            f"{g.kind:<6} {g.operator[:34]:<34} {format_number(len(g.domains), lang):>8} "
            f"{format_number(len(g.hosts), lang):>6}  {sample}"
        )
        print(printable(line))  # DNS data: control characters escaped
    print(t(lang, "GAPS_HINT"))
    return 0
