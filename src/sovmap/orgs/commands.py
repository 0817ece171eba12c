"""``sovmap orgs``, ``sovmap diff`` and ``sovmap trend``: parsing and printing only."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sovmap import i18n
from sovmap.cli import CommandError
from sovmap.i18n.said import localised
from sovmap.orgs import service
from sovmap.orgs.domains import DomainError
from sovmap.orgs.fetch import default_cache_dir
from sovmap.orgs.mapping import OverrideError
from sovmap.orgs.sources import SourceError, load_sources
from sovmap.orgs.store import DEFAULT_DB

SOURCE_OPTIONS = ("country", "type", "lang", "url", "file")


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLite path or URL (default {DEFAULT_DB})")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "orgs",
        help="organisation lists: fetch, import, map to domains, groups",
        description="Organisation sources and domain mapping. Example: "
        "sovmap orgs fetch nl-government && sovmap orgs map --out orgs.csv",
    )
    os_ = p.add_subparsers(dest="orgs_command", metavar="ACTION", required=True)

    f = os_.add_parser(
        "fetch",
        help="download (or read from cache) a source and store its organisations",
        description="Download a source when online (cached), or use the cache offline, map "
        "every organisation to domains and store them as a new snapshot. Example: "
        "sovmap orgs fetch wikidata --country NL --type municipality",
    )
    f.add_argument("source", help="source name (see: sovmap orgs sources)")
    for name in SOURCE_OPTIONS:
        f.add_argument(f"--{name}", default=None, help=f"source option {name!r}")
    f.add_argument("--base-url", default="", help="fetch from this URL instead of the default")
    f.add_argument("--cache", type=Path, default=None, help="cache directory")
    f.add_argument("--offline", action="store_true", help="use the cache only")
    f.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    f.add_argument("--overrides", type=Path, default=None, help="overrides YAML file")
    _db(f)
    f.set_defaults(func=_fetch)

    i = os_.add_parser(
        "import",
        help="import organisations from a local file (CSV, XLSX, almanac XML, SPARQL JSON)",
        description="Import a local file as a new snapshot. Example: "
        "sovmap orgs import examples/orgs/zbo.csv",
    )
    i.add_argument("file", type=Path)
    i.add_argument("--source", default="", help="source name to parse with (default: by suffix)")
    i.add_argument("--country", default=None, help="country code for SPARQL JSON files")
    i.add_argument("--type", default=None, help="organisation type for SPARQL JSON files")
    i.add_argument("--overrides", type=Path, default=None, help="overrides YAML file")
    _db(i)
    i.set_defaults(func=_import)

    ls = os_.add_parser(
        "list",
        help="list the current organisations with their domains",
        description="List organisations. Example: sovmap orgs list --group type:zbo",
    )
    ls.add_argument("--group", default="all", help="all | type:T | parent:ID | group:NAME")
    _db(ls)
    ls.set_defaults(func=_list)

    sh = os_.add_parser(
        "show",
        help="one organisation: its domains and why, and what the newest scan found",
        description="Show an organisation (by id or abbreviation) with its domains, how each "
        "was derived, the values that gave none, and the newest scan's findings for them. "
        "Example: sovmap orgs show DNB",
    )
    sh.add_argument("org", help="organisation id or abbreviation")
    _db(sh)
    sh.set_defaults(func=_show)

    m = os_.add_parser(
        "map",
        help="map organisations to domains; report gaps, shared and dead domains; export CSV",
        description="Map the current organisations to registrable domains (with overrides), "
        "report unmapped organisations with reasons, shared, duplicate and dead domains, and "
        "write the CSV that sovmap scan reads. Example: sovmap orgs map --out orgs.csv",
    )
    m.add_argument("--overrides", type=Path, default=None, help="overrides YAML file")
    m.add_argument("--out", type=Path, default=None, help="write domain,org_id,... CSV here")
    m.add_argument("--group", default="all", help="only this group")
    _db(m)
    m.set_defaults(func=_map)

    g = os_.add_parser(
        "groups",
        help="list the groups reports can be cut by",
        description="List organisation types, parents and named groups. Example: "
        "sovmap orgs groups",
    )
    _db(g)
    g.set_defaults(func=_groups)

    s = os_.add_parser(
        "sources",
        help="list the registered organisation sources",
        description="List sources registered under the sovmap.orgs.sources entry points. "
        "Example: sovmap orgs sources",
    )
    s.set_defaults(func=_sources)

    dc = os_.add_parser(
        "discover",
        help="find organisations' mail domains on their websites (opt-in, polite)",
        description="Read each organisation's website (robots.txt obeyed; the home page and "
        "one contact page; a pause per host; a timeout and a size limit per page) for "
        "published e-mail addresses (mailto: links, plain and [at]-obfuscated text) and "
        "propose their domains as the organisation's mail domains; --apply stores them, "
        "derived from e-mail with the page as the reason. Example: "
        "sovmap orgs discover --group type:municipality --apply",
    )
    dc.add_argument("--group", default="all", help="all | type:T | parent:ID | group:NAME")
    dc.add_argument("--org", action="append", default=[], help="only this id (repeatable)")
    dc.add_argument("--apply", action="store_true", help="store the new domains")
    dc.add_argument(
        "--interval", type=float, default=1.0, help="seconds between requests to a host"
    )
    dc.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    dc.add_argument("--max-bytes", type=int, default=1 << 20, help="largest page read")
    dc.add_argument("--format", choices=("text", "json"), default="text")
    dc.add_argument("--lang", choices=("en", "nl"), default="en", help="language of the text")
    _db(dc)
    dc.set_defaults(func=_discover)

    r = os_.add_parser(
        "refresh-psl",
        help="download a newer Public Suffix List into the cache",
        description="Download the Public Suffix List (or copy --file) into the cache, which "
        "mapping then prefers over the bundled copy. Example: sovmap orgs refresh-psl",
    )
    r.add_argument("--url", default="https://publicsuffix.org/list/public_suffix_list.dat")
    r.add_argument("--file", type=Path, default=None, help="use this local file instead")
    r.add_argument("--cache", type=Path, default=None, help="cache directory")
    r.set_defaults(func=_refresh_psl)

    d = sub.add_parser(
        "diff",
        help="change events between two scans (default: the two latest)",
        description="List change events per organisation (or domain) and capability between "
        "two scans: provider changed, new US dependency, dependency removed, jurisdiction "
        "changed. Example: sovmap diff --db sovmap.db 3 5",
    )
    d.add_argument("scans", nargs="*", type=int, metavar="SCAN", help="OLD NEW scan ids")
    d.add_argument("--json", action="store_true", help="one JSON object per event instead")
    _db(d)
    d.set_defaults(func=_diff)

    t = sub.add_parser(
        "trend",
        help="share of a group's organisations with mailboxes at US providers, per scan",
        description="Trend per group over every finished scan, as CSV and a PNG chart. "
        "Example: sovmap trend --group type:municipality --csv trend.csv --png trend.png",
    )
    t.add_argument("--group", action="append", required=True, help="group (repeatable)")
    t.add_argument("--csv", type=Path, default=None, help="write the series as CSV")
    t.add_argument("--png", type=Path, default=None, help="write a chart")
    _db(t)
    t.set_defaults(func=_trend)


def _fail(exc: Exception) -> CommandError:
    """A library error as the command's error (a :class:`SourceError` keeps its catalogue
    message: the command line shows it in the user's language)."""
    return CommandError(str(exc))


def _lang(args: argparse.Namespace) -> str:
    """The language of the messages, as the command line chooses it for errors: ``--lang``
    where the command has one and it names a language (en, nl), else ``SOVMAP_LANG``."""
    chosen = getattr(args, "lang", None)
    return i18n.cli_language(chosen if chosen in i18n.LANGUAGES else None)


def _cache(args: argparse.Namespace) -> Path:
    return Path(args.cache) if args.cache else default_cache_dir()


def _print_report(report: service.MapReport, out: Any = None, lang: str = "en") -> None:
    out = out or sys.stdout

    def say(key: str, /, **params: Any) -> None:
        print(i18n.t(lang, key, **params), file=out)

    num = i18n.format_number
    say(
        "ORGSRC_MAP_SUMMARY",
        organisations=num(report.organisations, lang),
        mapped=num(report.mapped, lang),
        domains=num(report.domains, lang),
        unmapped=num(len(report.unmapped), lang),
    )
    for org, reasons in report.unmapped.items():
        codes = "; ".join(f"{u.code}" + (f" {u.value!r}" if u.value else "") for u in reasons)
        say("ORGSRC_MAP_UNMAPPED", id=org.id, name=org.name, codes=codes)
    for u in report.rejected:
        value = repr(u.value)
        say(
            "ORGSRC_MAP_REJECTED",
            id=u.org_id,
            how=u.how,
            value=value,
            reason=u.code,
            detail=u.detail,
        )
    for domain, ids in report.shared.items():
        say("ORGSRC_MAP_SHARED", domain=domain, ids=", ".join(ids))
    for ids in report.duplicates:
        if len(set(ids)) == 1:
            say("ORGSRC_MAP_DUPLICATE_ID", ids=", ".join(sorted(set(ids))))
        else:
            say("ORGSRC_MAP_POSSIBLE_DUPLICATES", ids=", ".join(ids))
    for domain in report.dead:
        say("ORGSRC_MAP_DEAD", domain=domain, scan=report.dead_scan)


def _fetch(args: argparse.Namespace) -> int:
    options = {k: getattr(args, k) for k in SOURCE_OPTIONS if getattr(args, k) is not None}
    try:
        result = service.fetch_and_store(
            args.source,
            options,
            db=args.db,
            cache_dir=_cache(args),
            base_url=args.base_url,
            offline=args.offline,
            overrides=args.overrides,
            timeout=args.timeout,
        )
    except (SourceError, OverrideError, KeyError) as exc:
        raise _fail(exc) from exc
    lang = _lang(args)
    for note in result.notes:
        print(i18n.t(lang, "ORGSRC_NOTE", note=localised(note, lang)))
    print(i18n.t(lang, "ORGSRC_SOURCE_FROM", source=args.source, origins=", ".join(result.origins)))
    _print_report(result.report, lang=lang)
    print(i18n.t(lang, "ORGSRC_STORED", set=result.set_id, db=args.db))
    return 0


def _import(args: argparse.Namespace) -> int:
    options = {k: v for k in ("country", "type") if (v := getattr(args, k)) is not None}
    try:
        result = service.import_file(
            args.file, source=args.source, options=options, db=args.db, overrides=args.overrides
        )
    except (SourceError, OverrideError, KeyError) as exc:
        raise _fail(exc) from exc
    lang = _lang(args)
    for note in result.notes:
        print(i18n.t(lang, "ORGSRC_NOTE", note=localised(note, lang)))
    _print_report(result.report, lang=lang)
    print(i18n.t(lang, "ORGSRC_STORED", set=result.set_id, db=args.db))
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = service.list_orgs(args.db, args.group)
    lang = _lang(args)
    heads = [i18n.t(lang, f"ORGSRC_COL_{c}") for c in ("ID", "TYPE", "PARENT", "NAME", "DOMAINS")]
    print(f"{heads[0]:<18} {heads[1]:<18} {heads[2]:<14} {heads[3]:<44} {heads[4]}")
    for org, domains in rows:
        name = org.name[:44]
        print(f"{org.id:<18} {org.type:<18} {org.parent_id:<14} {name:<44} {' '.join(domains)}")
    print(i18n.t(lang, "ORGSRC_COUNT", n=i18n.format_number(len(rows), lang)))
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        view = service.show(args.db, args.org)
    except LookupError as exc:
        raise _fail(exc) from exc
    o = view.org
    lang = _lang(args)

    def say(key: str, /, **params: Any) -> None:
        print(i18n.t(lang, key, **params))

    abbreviation = f" ({o.abbreviation})" if o.abbreviation else ""
    print(f"{o.name} [{o.id}]{abbreviation}")
    if o.parent_id:
        say("ORGSRC_SHOW_TYPE_PARENT", type=o.type, parent=o.parent_id)
    else:
        say("ORGSRC_SHOW_TYPE", type=o.type)
    if o.groups:
        say("ORGSRC_SHOW_GROUPS", groups=", ".join(o.groups))
    say("ORGSRC_SHOW_SOURCE", source=f"{o.source} {o.source_url}".rstrip())
    for d in view.domains:
        value = repr(d.value)
        if d.reason:
            say(
                "ORGSRC_SHOW_DOMAIN_WHY",
                domain=d.domain,
                how=d.how.value,
                value=value,
                why=d.reason,
            )
        else:
            say("ORGSRC_SHOW_DOMAIN", domain=d.domain, how=d.how.value, value=value)
    for u in view.gaps:
        say(
            "ORGSRC_SHOW_GAP", how=u.how or "-", value=repr(u.value), reason=u.code, detail=u.detail
        )
    if view.scan is None:
        say("ORGSRC_SHOW_NOT_SCANNED")
        return 0
    say("ORGSRC_SHOW_SCAN", scan=view.scan.id, started=view.scan.started_at)
    for f in sorted(view.findings, key=lambda f: (f.capability.value, f.domain, f.provider)):
        confidence = i18n.format_number(f.confidence, lang, 2)
        print(
            f"    {f.capability.value:<16} {f.domain:<28} {f.provider_name or f.provider} "
            f"({f.jurisdiction or '?'}) {confidence}"
        )
    return 0


def _map(args: argparse.Namespace) -> int:
    try:
        report, csv_text = service.map_current(args.db, args.overrides, args.group)
    except OverrideError as exc:
        raise _fail(exc) from exc
    lang = _lang(args)
    if report.organisations == 0:
        raise CommandError(i18n.t(lang, "ORGSRC_NO_ORGANISATIONS", db=args.db))
    _print_report(report, lang=lang)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(csv_text, encoding="utf-8")
        domains = i18n.format_number(report.domains, lang)
        print(i18n.t(lang, "ORGSRC_MAP_WROTE", out=args.out, domains=domains))
    return 0


def _groups(args: argparse.Namespace) -> int:
    for kind, name, count in service.groups(args.db):
        print(f"{kind}:{name:<40} {count:>6}")
    return 0


def _sources(args: argparse.Namespace) -> int:
    for name, src in load_sources().items():
        opts = " ".join(f"--{o.name}" for o in src.options)
        print(f"{name:<16} {src.help}" + (f"  [{opts}]" if opts else ""))
    return 0


def _refresh_psl(args: argparse.Namespace) -> int:
    try:
        path, version = service.refresh_psl(_cache(args), url=args.url, file=args.file)
    except (SourceError, DomainError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    lang = _lang(args)
    said = version or i18n.t(lang, "ORGSRC_PSL_NO_VERSION")
    print(i18n.t(lang, "ORGSRC_PSL_SAVED", version=said, path=path))
    return 0


def _diff(args: argparse.Namespace) -> int:
    scans: Sequence[int] = args.scans
    lang = _lang(args)
    if len(scans) not in (0, 2):
        raise CommandError(i18n.t(lang, "ORGSRC_DIFF_SCANS"))
    try:
        result = service.diff(args.db, scans[0] if scans else None, scans[1] if scans else None)
    except LookupError as exc:
        raise _fail(exc) from exc
    if args.json:
        for ev in result.events:
            print(
                json.dumps({"old_scan": result.old.id, "new_scan": result.new.id, **ev.to_json()})
            )
        return 0
    num = i18n.format_number
    print(
        i18n.t(
            lang,
            "ORGSRC_DIFF_HEAD",
            old=result.old.id,
            old_at=result.old.started_at,
            new=result.new.id,
            new_at=result.new.started_at,
            n=num(len(result.events), lang),
        )
    )
    for ev in result.events:
        print(ev.render())
    if result.only_old or result.only_new:
        only_old, only_new = num(result.only_old, lang), num(result.only_new, lang)
        print(i18n.t(lang, "ORGSRC_DIFF_NOT_COMPARED", only_old=only_old, only_new=only_new))
    return 0


def _trend(args: argparse.Namespace) -> int:
    try:
        points = service.trend(args.db, args.group)
    except LookupError as exc:
        raise _fail(exc) from exc
    from sovmap.orgs.history import trend_csv

    empty = [g for g in args.group if not any(p.organisations for p in points if p.group == g)]
    if empty:
        raise CommandError(i18n.t(_lang(args), "ORGSRC_TREND_EMPTY", groups=", ".join(empty)))
    text = trend_csv(points)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(text, encoding="utf-8")
        print(i18n.t(_lang(args), "ORGSRC_WROTE", path=args.csv))
    else:
        print(text, end="")
    if args.png:
        from sovmap.orgs.chart import write_trend_png

        write_trend_png(points, args.png)
        print(i18n.t(_lang(args), "ORGSRC_WROTE", path=args.png))
    return 0


def _discover(args: argparse.Namespace) -> int:
    from sovmap.i18n import format_number, t
    from sovmap.orgs.discover import PoliteFetcher, run_discovery
    from sovmap.readers import printable

    if not 0 <= args.interval <= 3600 or not 0 < args.timeout <= 600:
        raise CommandError(t(args.lang, "ORGSRC_DISCOVER_TIMING"))
    if not 1024 <= args.max_bytes <= 64 << 20:
        raise CommandError(t(args.lang, "ORGSRC_DISCOVER_MAX_BYTES"))
    fetcher = PoliteFetcher(interval=args.interval, timeout=args.timeout, max_bytes=args.max_bytes)
    try:
        run = run_discovery(args.db, fetcher, group=args.group, org_ids=args.org, apply=args.apply)
    except LookupError as exc:
        raise _fail(exc) from exc
    result = run.result
    lang = args.lang
    if args.format == "json":
        doc = {
            "organisations": result.orgs,
            "pages": result.pages,
            "found": [
                {"org_id": f.org_id, "address": f.address, "domain": f.domain, "page": f.page}
                for f in result.found
            ],
            "new": [{"org_id": f.org_id, "domain": f.domain, "page": f.page} for f in run.new],
            "failures": [
                {
                    "org_id": x.org_id,
                    "url": x.url,
                    "code": x.code,
                    "reason": t(lang, x.code, **x.params),
                }
                for x in result.failures
            ],
            "applied_set": run.set_id or None,
        }
        print(json.dumps(doc, ensure_ascii=True, indent=1))
        return 0
    print(
        t(
            lang,
            "DISCOVER_TITLE",
            orgs=format_number(result.orgs, lang),
            pages=format_number(result.pages, lang),
        )
    )
    new = {(f.org_id, f.domain) for f in run.new}
    for org_id, entries in result.domains().items():
        for f in entries:
            code = "DISCOVER_NEW" if (org_id, f.domain) in new else "DISCOVER_ROW"
            print(printable(t(lang, code, org=org_id, domain=f.domain, page=f.page)))
    if not result.found:
        print(t(lang, "DISCOVER_NONE"))
    for x in result.failures:
        reason = t(lang, x.code, **x.params)
        print(printable(t(lang, "DISCOVER_FAILED", org=x.org_id, url=x.url, reason=reason)))
    if run.new:
        code = "DISCOVER_ADDED" if args.apply else "DISCOVER_PROPOSED"
        print(t(lang, code, count=format_number(len(run.new), lang)))
    return 0
