"""``sovmap scan``, ``reclassify``, ``explain``, ``scans`` and ``demo``: parse, call, print."""

from __future__ import annotations

import argparse
import errno
import math
import os
import shutil
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from sovmap import figures
from sovmap.classify.location import LOCATION_PROBE, data_centre
from sovmap.classify.posture import PostureFinding, describe
from sovmap.classify.stored import stored_posture
from sovmap.cli import CommandError
from sovmap.collect.active import commands as active_commands
from sovmap.collect.engine import EngineConfig, parse_resolver, system_resolvers
from sovmap.collect.inputs import InputCounts, InputProblem, check_input
from sovmap.collect.pipeline import (
    Progress,
    ScanSettings,
    in_shard,
    parse_shard,
    reclassify,
    run_scan,
)
from sovmap.collect.workers import WorkerError
from sovmap.export import render_summary, summarise_counts, write_findings, write_posture
from sovmap.i18n import cli_language, format_number, t, value
from sovmap.knowledge.catalogue import KnowledgeError, load_catalogue
from sovmap.model import Finding
from sovmap.orgs.domains import InvalidDomain, normalise_domain
from sovmap.readers import printable, summary
from sovmap.store import DEFAULT_DB, Store
from sovmap.store.snapshots import scan_info


def register(sub: Any) -> None:
    p = sub.add_parser(
        "scan",
        help="scan domains: DNS -> providers, jurisdictions, evidence",
        description="Scan every domain of INPUT (a CSV with a 'domain' column, other columns "
        "kept as attributes, or a plain list) and store raw observations and findings. "
        "Example: sovmap scan src/sovmap/data/demo/domains.csv --resolver 127.0.0.1:5300 "
        "--db sovmap.sqlite --out out.csv",
    )
    p.add_argument("input", type=Path, help="CSV or plain list of domains")
    p.add_argument(
        "--resolver",
        action="append",
        default=[],
        metavar="ADDR[:PORT]",
        help="resolver to ask (repeatable); default: the system's",
    )
    p.add_argument("--db", default=DEFAULT_DB, help=f"store path or URL (default {DEFAULT_DB})")
    p.add_argument("--out", type=Path, help="write findings to FILE (.csv, .json, .parquet)")
    p.add_argument("--shard", help="scan only shard K/N of the input (results merge by store)")
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the scan as shards on the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://HOST:PORT), into a PostgreSQL --db (see docs/cluster.md)",
    )
    p.add_argument(
        "--shard-size", type=int, metavar="N", help="with --cluster: domains per task (2000)"
    )
    p.add_argument("--knowledge", action="append", default=[], type=Path, help="extra providers")
    p.add_argument("--timeout", type=float, default=2.0, help="first-attempt timeout (s)")
    p.add_argument("--attempts", type=int, default=3, help="attempts per question")
    p.add_argument(
        "--rate",
        type=float,
        help="rate budget, queries/s per resolver (leave out: no limit; the in-flight window "
        "then follows the measured round trip)",
    )
    p.add_argument(
        "--inflight",
        type=int,
        help="max queries in flight/resolver (default 128; with --rate the window is the "
        "bandwidth-delay product unless this is given)",
    )
    p.add_argument("--active", type=int, default=2000, help="max domains in progress")
    p.add_argument(
        "--workers",
        type=int,
        help="processes that probe and classify (default: one per CPU up to 8, here "
        f"{min(8, os.cpu_count() or 1)}; with --rate one per {PER_WORKER_BUDGET:,} queries/s of "
        "the total budget)",
    )
    p.add_argument("--new", action="store_true", help="start a new scan instead of resuming")
    p.add_argument("--label", default="", help="a label for this snapshot")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="exit 1 when any input line was rejected")
    active_commands.add_scan_options(p)  # --probe, --probe-settings
    p.set_defaults(func=_scan)

    r = sub.add_parser(
        "reclassify",
        help="apply the current knowledge base to stored observations",
        description="Re-run the classifier on a stored scan without asking DNS again. "
        "Example: sovmap reclassify --db sovmap.sqlite",
    )
    r.add_argument("--db", default=DEFAULT_DB)
    r.add_argument("--scan", type=int, help="scan id (default: the latest)")
    r.add_argument("--knowledge", action="append", default=[], type=Path)
    r.add_argument("--out", type=Path, help="also write the findings to FILE")
    r.set_defaults(func=_reclassify)

    e = sub.add_parser(
        "explain",
        help="print each finding of a domain with every record behind it, its data centres "
        "and its mail security posture",
        description="Explain the findings of DOMAIN in a stored scan: each finding with the "
        "records behind it (an address in a published cloud region says its data centre), "
        "then the mail security posture (DMARC, SPF, DKIM, STARTTLS, DANE, DNSSEC, MTA-STS, "
        "TLS-RPT) with the records behind each standard. "
        "Example: sovmap explain gemeente-zonnedal.nl --db sovmap.sqlite --lang nl",
    )
    e.add_argument("domain")
    e.add_argument("--db", default=DEFAULT_DB)
    e.add_argument("--scan", type=int, help="scan id (default: the latest)")
    e.add_argument("--raw", action="store_true", help="also print every raw observation")
    e.add_argument(
        "--lang",
        choices=("en", "nl"),
        help="language of the explanation (default: SOVMAP_LANG, else English)",
    )
    e.set_defaults(func=_explain)

    s = sub.add_parser(
        "scans",
        help="list the scans (snapshots) in a store",
        description="List stored scans. Example: sovmap scans --db sovmap.sqlite",
    )
    s.add_argument("--db", default=DEFAULT_DB)
    s.set_defaults(func=_scans)

    x = sub.add_parser(
        "export",
        help="write a stored scan's findings, or its mail security posture, to a file",
        description="Export a stored scan to OUT (.csv, .json lines or .parquet): its findings "
        "(one row per domain, capability and provider; the last column, data_location, lists "
        "the cloud regions and countries of the addresses behind it) or, with --what posture, "
        "its mail security posture (one row per domain and standard: level, code, details, "
        "records). Example: sovmap export --db sovmap.sqlite out.parquet",
    )
    x.add_argument("out", type=Path)
    x.add_argument("--db", default=DEFAULT_DB)
    x.add_argument("--scan", type=int)
    x.add_argument(
        "--what",
        choices=("findings", "posture"),
        default="findings",
        help="findings (default) or posture: DMARC, SPF, DKIM, STARTTLS, DANE, DNSSEC, "
        "MTA-STS and TLS-RPT per domain",
    )
    x.set_defaults(func=_export)

    d = sub.add_parser(
        "demo",
        help="scan the bundled example list against a bundled local nameserver",
        description="Start a nameserver on a random loopback port serving the bundled example "
        "zones, scan the bundled example list through it and print the summary. "
        "Example: sovmap demo --out out/demo",
    )
    d.add_argument("--out", type=Path, default=Path("out/demo"))
    d.set_defaults(func=_demo)

    active_commands.register_posture(sub)  # sovmap posture


def _open(db: str, must_exist: bool = False, readonly: bool = False, lang: str = "en") -> Store:
    """The store at ``db``; ``readonly``: opened read-only (a store on a read-only disk can be
    read), unless it needs migrating first, which a writable store then gets."""
    if must_exist and "://" not in db and not Path(db).exists():
        raise CommandError(t(lang, "EXPLAIN_NO_STORE", db=db))
    try:
        return Store.for_reading(db) if readonly else Store(db)
    except Exception as exc:
        raise CommandError(t(lang, "EXPLAIN_STORE_UNREADABLE", db=db, error=exc)) from exc


def _scan_id(store: Store, wanted: int | None, lang: str = "en") -> int:
    """Scan ``wanted``, else the latest finished scan (the one rule of
    :mod:`sovmap.store.snapshots`); a newer running or interrupted scan is named on stderr."""
    choice = store.choose_scan(wanted)
    if choice.scan is None:
        if wanted is not None:
            raise CommandError(t(lang, "EXPLAIN_NO_SUCH_SCAN", scan=wanted))
        if choice.newer:
            raise CommandError(choice.notice(lang))
        raise CommandError(t(lang, "EXPLAIN_NO_SCAN_YET"))
    if choice.newer:
        print(t(lang, "EXPLAIN_NOTE", notice=choice.notice(lang)), file=sys.stderr)
    return choice.scan.id


class _Bar:
    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        done = p.done + p.skipped
        rate = p.rate
        if self.total:
            frac = min(1.0, done / self.total)
            eta = (self.total - done) / rate if rate > 0 else 0.0
            width = max(10, min(40, shutil.get_terminal_size().columns - 60))
            bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
            line = f"[{bar}] {done}/{self.total} {rate:,.0f} dom/s ETA {eta:,.0f}s"
        else:
            line = f"{done} domains {rate:,.0f} dom/s"
        sys.stderr.write("\r" + line + " " * 4)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


_OUT_SUFFIXES = (".csv", ".json", ".jsonl", ".parquet")
#: At most this many problems of one code are printed; the rest are counted.
_SHOWN_PER_CODE = 20


def _check_out(out: Path | None) -> None:
    if out is None:
        return
    if out.suffix.lower() not in _OUT_SUFFIXES:
        raise CommandError(
            f"--out {out}: unknown output format {out.suffix or '(none)'!r}: use "
            + ", ".join(_OUT_SUFFIXES)
        )
    if not out.parent.is_dir():
        raise CommandError(f"--out {out}: no directory {out.parent}")


def _check_knowledge(dirs: list[Path]) -> None:
    for d in dirs:
        if not d.is_dir():
            raise CommandError(f"--knowledge {d}: no such directory")
        if not any(d.glob("*.yaml")) and not any(d.glob("*.json")):
            # provider files, or prefix lists written by `knowledge refresh-prefixes --out`
            raise CommandError(
                f"--knowledge {d}: holds no *.yaml provider files or *.json prefix lists"
            )


def _check_scan_options(args: argparse.Namespace) -> None:
    """Every option checked before the input is read or a question asked."""
    _check_out(args.out)
    _check_knowledge(args.knowledge)
    if not 0 < args.timeout <= 60:
        raise CommandError(f"--timeout {args.timeout}: give more than 0 and at most 60 seconds")
    if not 1 <= args.attempts <= 10:
        raise CommandError(f"--attempts {args.attempts}: give 1 to 10")
    if not 1 <= args.active <= 1_000_000:
        raise CommandError(f"--active {args.active}: give 1 to 1,000,000 domains")
    if args.inflight is not None and args.inflight < 1:
        raise CommandError(f"--inflight {args.inflight}: give at least 1")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise CommandError(t(_lang(), "NET_RATE_INVALID", value=args.rate))


def _print_problems(file: str, problems: list[InputProblem], counts: InputCounts) -> None:
    """Problems (at most :data:`_SHOWN_PER_CODE` per code), a count per code and the input
    accounting, on stderr, in the CLI's language."""
    from sovmap.i18n import cli_language, format_number, t

    lang = cli_language()
    seen: Counter[str] = Counter()
    for prob in sorted(problems, key=lambda p: p.line):
        seen[prob.code] += 1
        if seen[prob.code] <= _SHOWN_PER_CODE:
            print(prob.render(lang), file=sys.stderr)
    for code, n in sorted(seen.items()):
        if n > _SHOWN_PER_CODE:
            count = format_number(n - _SHOWN_PER_CODE, lang)
            more = t(lang, "INPUT_MORE_NOT_SHOWN", count=count, kind=code)
            print(f"{file}: {more}", file=sys.stderr)
    if problems:
        print(f"{file}: {summary(problems, lang)}", file=sys.stderr)
    print(f"{file}: {counts.line(lang)}", file=sys.stderr)


def _store_write_error(exc: Exception, db: str) -> CommandError | None:
    """A full disk or a read-only store while writing: a message instead of a traceback (the
    store stays consistent: rows are written in transactions, the scan stays resumable)."""
    text = str(exc).lower()
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
    if full or "disk is full" in text or "disk i/o error" in text:
        reason = "the disk is full" if "full" in text or full else "a disk I/O error"
        return CommandError(
            f"cannot write the store {db} ({reason}; is the disk full?): what was scanned "
            "so far is stored; free space and run the same command to resume"
        )
    if "readonly database" in text or "read-only" in text:
        return CommandError(f"the store {db} is read-only: a scan needs a store it can write")
    return None


def _scan(args: argparse.Namespace) -> int:
    if not args.input.exists():
        raise CommandError(f"input not found: {args.input}")
    _check_scan_options(args)
    probes = active_commands.probe_settings(args)  # --probe: checked before any work
    check_input(args.input)
    try:
        resolvers = [parse_resolver(r) for r in args.resolver] or system_resolvers()
    except ValueError as exc:
        raise CommandError(f"bad --resolver: {exc}") from exc
    inflight = 128 if args.inflight is None else args.inflight
    if args.workers is None:
        args.workers = default_workers(args.rate, len(resolvers))
    if args.workers < 1 or inflight < args.workers:
        raise CommandError("--workers must be at least 1 and at most --inflight")
    try:
        shard = parse_shard(args.shard) if args.shard else None
        cat = load_catalogue(args.knowledge)
    except (ValueError, KnowledgeError) as exc:
        raise CommandError(str(exc)) from exc
    if args.cluster:  # shards as tasks on a Dask cluster: checked before a store is opened
        from sovmap.collect.cluster import check_command

        check_command(args)
    store = _open(args.db)
    show = not args.quiet and sys.stderr.isatty()
    bar = _Bar(_count_lines(args.input) if show else None, show)
    config = EngineConfig(
        resolvers=resolvers,
        timeout=args.timeout,
        attempts=args.attempts,
        rate=args.rate,
        max_inflight=inflight,
        fixed_inflight=args.inflight is not None,
    )
    try:
        settings = ScanSettings(
            config,
            workers=active_commands.scan_workers(args, probes),
            max_active=args.active,
            shard=shard,
            resume=not args.new,
            label=args.label,
            catalogue=cat,
            probes=probes,
        )
        if args.cluster:
            from sovmap.collect.cluster import scan_command

            return scan_command(args, store, settings)
        outcome = run_scan(args.input, store, settings, on_progress=bar)
    except (ValueError, FileNotFoundError, WorkerError) as exc:
        raise CommandError(str(exc)) from exc
    except (OSError, DBAPIError) as exc:
        error = _store_write_error(exc, args.db)
        if error is None:
            raise
        raise error from exc
    finally:
        bar.close()
    _print_problems(str(args.input), outcome.problems, outcome.counts)
    for line in active_commands.active_lines(outcome.engine_stats):  # --probe http/smtp
        print(line)
    verb = "resumed" if outcome.resumed else "scan"
    print(
        f"{verb} {outcome.scan_id}: {outcome.domains} domains scanned"
        + (f", {outcome.skipped} already stored" if outcome.skipped else "")
        + f" in {outcome.seconds:.1f}s ({outcome.queries} questions, "
        f"{outcome.engine_stats['timeouts']} timeouts); "
        f"{outcome.counts.rejected} input lines rejected"
    )
    for line in network_lines(outcome.engine_stats, _lang()):
        print(line)
    _finish(store, outcome.scan_id, args.out, shard)
    return 1 if args.strict and outcome.counts.rejected else 0


def _finish(store: Store, scan_id: int, out: Path | None, shard: Any = None) -> None:
    if out is not None:
        try:
            n = write_findings(out, store.iter_findings(scan_id))
        except OSError as exc:
            raise CommandError(
                f"cannot write {out}: {exc.strerror} (the scan is stored: sovmap export "
                f"{out} writes it again)"
            ) from exc
        print(f"wrote {n} findings to {out}")
    for line in summary_lines(store, scan_id):
        print(line)


def summary_lines(store: Store, scan_id: int) -> list[str]:
    """The printed scan summary: headline figures (:mod:`sovmap.figures`, counted by the
    database) and the most frequent providers."""
    with store.connect() as conn:
        scan = scan_info(conn, scan_id)
        figs = figures.compute(conn, scan, rows=False)
    domains = figs.value("domains_scanned") or 0
    counts = summarise_counts(store.finding_counts(scan_id), domains)
    return [printable(line) for line in render_summary(figs, counts)]


#: with a rate budget, one scan process per this many queries/s of the total budget
PER_WORKER_BUDGET = 20_000


def default_workers(rate: float | None, resolvers: int) -> int:
    """Processes for a scan when ``--workers`` is not given: one per CPU (up to 8); with a rate
    budget the network is the limit, not the CPU, so one per :data:`PER_WORKER_BUDGET`
    queries/s of the total budget. Each process has a fixed share of the budget, and at the
    end of the input one that runs out of domains leaves its share unused (make bench-network,
    one resolver of three dead: two processes used 0.77 of the live budget, one 0.91)."""
    cpus = min(8, os.cpu_count() or 1)
    if rate is None:
        return cpus
    return max(1, min(cpus, math.ceil(rate * resolvers / PER_WORKER_BUDGET)))


def _lang() -> str:
    """The language of the scan's messages (``SOVMAP_LANG``; English by default)."""
    return cli_language()


def network_lines(stats: dict[str, Any], lang: str) -> list[str]:
    """The scan's answers per probe kind and per resolver, and the resolvers' health, from
    the engine statistics of a scan (:func:`sovmap.collect.workers.scan_stats`)."""
    n = format_number
    answered: dict[str, int] = stats.get("probe_answered", {})
    unanswered: dict[str, int] = stats.get("probe_unanswered", {})
    lines = [t(lang, "NET_SUMMARY_HEAD")]
    for probe in sorted(set(answered) | set(unanswered)):
        lines.append(
            t(
                lang,
                "NET_SUMMARY_PROBE",
                probe=probe,
                answered=n(answered.get(probe, 0), lang),
                unanswered=n(unanswered.get(probe, 0), lang),
            )
        )
    sent: dict[str, int] = stats.get("resolver_sent", {})
    warnings = []
    honest = [a for a in sent if not stats.get("resolver_lying", {}).get(a)]
    for addr, count in sent.items():
        state = ""
        if stats.get("resolver_lying", {}).get(addr):
            state = t(lang, "NET_STATE_LYING")
            alone = "" if honest else t(lang, "NET_WARN_LYING_ALONE")
            warnings.append(t(lang, "NET_WARN_LYING", resolver=addr, alone=alone))
        elif stats.get("resolver_revived", {}).get(addr):
            state = t(lang, "NET_STATE_REVIVED")
        elif stats.get("resolver_dead", {}).get(addr):
            state = t(lang, "NET_STATE_DEAD")
        lines.append(
            t(
                lang,
                "NET_SUMMARY_RESOLVER",
                resolver=addr,
                sent=n(count, lang),
                answered=n(stats.get("resolver_answered", {}).get(addr, 0), lang),
                failed=n(stats.get("resolver_failed", {}).get(addr, 0), lang),
                timeouts=n(stats.get("resolver_timeouts", {}).get(addr, 0), lang),
                state=state,
            )
        )
    if stats.get("retries_refused"):
        warnings.append(t(lang, "NET_WARN_RETRY_BUDGET", count=n(stats["retries_refused"], lang)))
    return lines + warnings


def _reclassify(args: argparse.Namespace) -> int:
    _check_out(args.out)
    _check_knowledge(args.knowledge)
    store = _open(args.db, must_exist=True)
    sid = _scan_id(store, args.scan)
    try:
        cat = load_catalogue(args.knowledge)
    except KnowledgeError as exc:
        raise CommandError(str(exc)) from exc
    replayed = reclassify(store, sid, catalogue=cat)
    print(
        f"reclassified {replayed.domains} domains of scan {sid} with knowledge version "
        f"{cat.version}"
    )
    if replayed.differing:
        print(
            f"note: {replayed.differing} domains were asked other questions than the stored "
            f"ones ({replayed.unanswered} without a stored answer): the probe plan changed "
            "since the scan",
            file=sys.stderr,
        )
    if args.out:
        _finish(store, sid, args.out)
    return 0


def _explain(args: argparse.Namespace) -> int:
    lang = cli_language(args.lang)
    store = _open(args.db, must_exist=True, readonly=True, lang=lang)
    sid = _scan_id(store, args.scan, lang)
    try:  # the scan's own normaliser: what the scan accepts as input, explain accepts
        domain, _notes = normalise_domain(args.domain)
    except InvalidDomain as exc:
        raise CommandError(str(exc)) from exc
    fs = store.findings(sid, domain=domain)
    results = list(store.iter_results(sid, domain=domain))
    if not results:
        raise CommandError(t(lang, "EXPLAIN_NOT_IN_SCAN", domain=domain, scan=sid))
    with store.connect() as conn:
        found = dict(stored_posture(conn, sid, domain)).get(domain, [])
    print(printable(t(lang, "EXPLAIN_HEAD", domain=domain, scan=sid)))
    if not fs:
        print(t(lang, "EXPLAIN_NO_FINDINGS"))
    for f in fs:
        for line in finding_lines(f, lang):
            print(line)
    for line in posture_lines(found, lang):
        print(line)
    if args.raw:
        print(t(lang, "EXPLAIN_RAW_HEAD"))
        for o in results[0][2]:
            ans = ", ".join(f"{r.rtype} {r.data}" for r in o.answers) or "-"
            via = t(lang, "EXPLAIN_RAW_VIA", via=o.via) if o.via else ""
            print(printable(f"    [{o.probe}] {o.qname} {o.qtype} {o.status.value}{via}: {ans}"))
    return 0


def finding_lines(f: Finding, lang: str) -> list[str]:
    """One finding and every record behind it, in ``lang``; a location evidence says its data
    centre (:func:`sovmap.classify.location.data_centre`) instead of the raw chain. DNS data
    is printed with its control characters escaped, never sent raw."""
    unknown = t(lang, "UNKNOWN")
    head = t(
        lang,
        "EXPLAIN_FINDING",
        capability=value(lang, "capability", f.capability.value),
        provider=unknown if f.provider == "unknown" else f.provider_name,
        parent=f.parent or unknown,
        jurisdiction=f.jurisdiction or unknown,
        tags=f" [{', '.join(f.tags)}]" if f.tags else "",
        confidence=format_number(f.confidence, lang, 2),
        finding=f.code,
        role=t(lang, "EXPLAIN_ROLE", role=value(lang, "role", f.role))
        if f.role != "primary"
        else "",
    )
    lines = [printable(head)]
    for e in f.evidence:
        if e.probe == LOCATION_PROBE and e.fingerprint.startswith("region:"):
            via = t(lang, "EXPLAIN_LOCATED", place=data_centre(e, lang))
        elif e.chain:
            via = t(lang, "EXPLAIN_VIA", chain=" -> ".join(e.chain))
        else:
            via = ""
        ev = t(lang, "EXPLAIN_EVIDENCE", probe=e.probe, qname=e.qname, rtype=e.rtype,
               value=repr(e.value), via=via)  # fmt: skip
        lines.append(printable(ev))
        matched = t(lang, "EXPLAIN_MATCHED", fingerprint=e.fingerprint,
                    weight=format_number(e.weight, lang, 2),
                    source=f" <{e.source}>" if e.source else "")  # fmt: skip
        lines.append(printable(matched))
    return lines


def posture_lines(found: list[PostureFinding], lang: str) -> list[str]:
    """The mail security posture section of ``sovmap explain``: per standard its level, the
    text of its code and the records behind it."""
    if not found:
        return [t(lang, "EXPLAIN_POSTURE_NONE")]
    lines = [t(lang, "EXPLAIN_POSTURE_HEAD")]
    for f in found:
        line = t(
            lang,
            "EXPLAIN_POSTURE_LINE",
            standard=t(lang, f"POSTURE_STD_{f.standard}"),
            level=t(lang, f"POSTURE_LEVEL_{f.level}"),
            text=describe(f, lang),
            finding=f.code,
        )
        lines.append(printable(line))
        for e in f.evidence:
            ev = t(lang, "EXPLAIN_POSTURE_EVIDENCE", probe=e.probe, qname=e.qname,
                   rtype=e.rtype, value=repr(e.value))  # fmt: skip
            lines.append(printable(ev))
    return lines


def _scans(args: argparse.Namespace) -> int:
    store = _open(args.db, must_exist=True, readonly=True)
    for s in store.scans():
        print(
            f"{s.id:>4} {s.started_at} {s.state:<11} {s.domains:>8} domains "
            f"{s.shard or '-':<6} kv={s.knowledge_version} {s.input} {s.label}"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    _check_out(args.out)
    store = _open(args.db, must_exist=True, readonly=True)
    sid = _scan_id(store, args.scan)
    try:
        if args.what == "posture":
            with store.connect() as conn:
                found = (p for _, ps in stored_posture(conn, sid) for p in ps)
                n = write_posture(args.out, found)
            print(f"wrote {n} posture findings of scan {sid} to {args.out}")
            return 0
        n = write_findings(args.out, store.iter_findings(sid))
    except (ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote {n} findings of scan {sid} to {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sovmap.devserver import DevServer

    base = Path(str(resources.files("sovmap") / "data" / "demo"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.sqlite"
    if db.exists():
        db.unlink()
    with DevServer(base / "zones") as srv:
        print(f"nameserver with {len(srv.zones.zones)} zones on {srv.address}")
        store = Store(db)
        settings = ScanSettings(EngineConfig([(srv.host, srv.port)], timeout=0.5), resume=False)
        outcome = run_scan(base / "domains.csv", store, settings)
    for prob in outcome.problems:
        print(prob.render())
    print(f"scanned {outcome.domains} domains in {outcome.seconds:.1f}s")
    for name in ("demo.csv", "demo.json"):
        n = write_findings(out / name, store.iter_findings(outcome.scan_id))
        print(f"wrote {n} findings to {out / name}")
    print()
    for line in summary_lines(store, outcome.scan_id):
        print(line)
    print(f"\nexplain one: sovmap explain <domain> --db {db}")
    return 0


__all__ = ["in_shard", "register"]
