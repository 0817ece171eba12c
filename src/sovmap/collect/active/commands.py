"""The command-line side of the opt-in probes: ``sovmap scan --probe ... [--probe-settings
FILE]`` (options checked before any work) and ``sovmap posture`` (the mail security
posture of a stored scan, per domain or summarised per group)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sovmap.classify.posture import (
    LEVELS,
    STANDARDS,
    PostureFinding,
    posture,
    posture_rules,
    summarise,
)
from sovmap.cli import CommandError
from sovmap.collect.active.settings import (
    ActiveSettings,
    ProbeSettingsError,
    default_settings,
    parse_groups,
    with_overrides,
)
from sovmap.i18n import format_number, t
from sovmap.orgs.domains import InvalidDomain, normalise_domain
from sovmap.readers import InputError, load_yaml, printable
from sovmap.store import DEFAULT_DB, Store

MAX_SETTINGS_BYTES = 64 * 1024


def add_scan_options(p: argparse.ArgumentParser) -> None:
    """``--probe`` and ``--probe-settings`` of ``sovmap scan``."""
    p.add_argument(
        "--probe",
        metavar="GROUPS",
        help="opt-in probes besides the DNS plan, comma-separated: posture (MTA-STS, TLS-RPT, "
        "DNSSEC, DANE questions), http (Microsoft tenant, Google sign-in, MTA-STS policy), "
        "smtp (banner, STARTTLS certificate of each MX host); http and smtp run in one "
        "process, one request per host at a time (see docs/scan.md)",
    )
    p.add_argument(
        "--probe-settings",
        type=Path,
        metavar="FILE",
        help="YAML with endpoints (URLs with {domain}) and limits (timeout, min_interval, "
        "budget, smtp_port, ...) for --probe http/smtp",
    )


def probe_settings(args: argparse.Namespace) -> ActiveSettings | None:
    """The scan's opt-in probes from its options, every value checked (exit 2 when wrong)."""
    try:
        if not args.probe:
            if args.probe_settings is not None:
                raise ProbeSettingsError("PROBE_NEEDS_GROUP")
            return None
        settings = default_settings(parse_groups(args.probe))
        if args.probe_settings is not None:
            if not settings.active:
                raise ProbeSettingsError("PROBE_NEEDS_GROUP")
            try:
                raw = load_yaml(args.probe_settings, max_bytes=MAX_SETTINGS_BYTES)
            except InputError as exc:
                raise ProbeSettingsError(
                    "PROBE_SETTINGS_UNREADABLE", path=args.probe_settings, problem=str(exc)
                ) from exc
            settings = with_overrides(settings, raw)
    except ProbeSettingsError as exc:
        raise CommandError(str(exc)) from exc
    if getattr(args, "cluster", None):  # the cluster's shards run the default plan only
        raise CommandError(t("en", "PROBE_CLUSTER", groups=args.probe))
    return settings


def scan_workers(args: argparse.Namespace, probes: ActiveSettings | None) -> int:
    """``--workers``, or 1 with HTTP/SMTP probes (one request per host at a time; said on
    stderr when more were asked)."""
    if probes is None or not probes.active or args.workers == 1:
        return int(args.workers)
    print(t("en", "PROBE_ONE_PROCESS", groups=args.probe, workers=args.workers), file=sys.stderr)
    return 1


def active_lines(stats: dict[str, Any], lang: str = "en") -> list[str]:
    """The active probes' line of the scan report (none without them)."""
    got = stats.get("active")
    if not isinstance(got, dict):
        return []
    return [
        t(
            lang,
            "PROBE_SUMMARY",
            requests=format_number(got.get("requests", 0), lang),
            failed=format_number(got.get("failed", 0), lang),
            skipped=format_number(got.get("skipped", 0), lang),
        )
    ]


# -- sovmap posture --------------------------------------------------------------------------


def register_posture(sub: Any) -> None:
    p = sub.add_parser(
        "posture",
        help="mail security posture (DMARC, SPF, DKIM, STARTTLS, DANE, DNSSEC, MTA-STS, "
        "TLS-RPT) of a stored scan, per group or per domain",
        description="The mail security posture of every domain of a stored scan, read from "
        "its observations (no DNS is asked), summarised per group (--group ATTRIBUTE: a "
        "column of the scan's input, e.g. type) or for one --domain with the records behind "
        "each finding. MTA-STS, TLS-RPT, DANE and DNSSEC need a scan with --probe posture, "
        "STARTTLS one with --probe smtp. Example: sovmap posture --db sovmap.sqlite --group "
        "type --format json",
    )
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--scan", type=int, help="scan id (default: the latest finished)")
    p.add_argument("--group", metavar="ATTRIBUTE", help="summarise per value of this column")
    p.add_argument(
        "--org-type",
        action="store_true",
        help="summarise per type of the organisations the store maps each domain to (sovmap "
        "orgs import/fetch); a domain of several types counts in each",
    )
    p.add_argument("--domain", help="one domain's findings with their evidence")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--lang", choices=("en", "nl"), default="en")
    p.set_defaults(func=_posture)


def _open(db: str) -> Store:
    if "://" not in db and not Path(db).exists():
        raise CommandError(f"no store at {db} (run 'sovmap scan ... --db {db}' first)")
    try:
        return Store.for_reading(db)
    except Exception as exc:
        raise CommandError(f"cannot open store {db}: {exc}") from exc


def _posture(args: argparse.Namespace) -> int:
    lang = args.lang
    store = _open(args.db)
    choice = store.choose_scan(args.scan)
    if choice.scan is None:
        raise CommandError(t(lang, "POSTURE_NO_SCAN"))
    sid = choice.scan.id
    if args.domain:
        try:
            domain, _notes = normalise_domain(args.domain)
        except InvalidDomain as exc:
            raise CommandError(str(exc)) from exc
        results = list(store.iter_results(sid, domain=domain))
        if not results:
            raise CommandError(t(lang, "POSTURE_NOT_IN_SCAN", domain=domain, scan=sid))
        found = posture(domain, results[0][2])
        if args.format == "json":
            print(json.dumps([f.to_json() for f in found], indent=2, ensure_ascii=False))
        else:
            print(printable(t(lang, "POSTURE_DOMAIN", domain=domain, scan=sid)))
            for line in _domain_lines(found, lang):
                print(line)
        return 0

    if args.group and args.org_type:
        raise CommandError(t(lang, "POSTURE_ONE_GROUPING"))
    types = _org_types(store) if args.org_type else {}

    def items() -> Iterator[tuple[str, list[PostureFinding]]]:
        for domain, attrs, obs in store.iter_results(sid):
            found = posture(domain, obs)
            if args.org_type:
                for group in types.get(domain, ("",)):
                    yield group, found
            else:
                yield (attrs.get(args.group, "") if args.group else ""), found

    summary = summarise(items())
    if args.format == "json":
        out = {
            "scan": sid,
            "group_by": "organisation type" if args.org_type else (args.group or None),
            "comply_or_explain": list(posture_rules().comply_or_explain),
            "groups": summary.to_json(),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    total = sum(summary.groups.values())
    print(t(lang, "POSTURE_TITLE", scan=sid, domains=format_number(total, lang)))
    print(t(lang, "POSTURE_COMPLY"))
    for group, n in sorted(summary.groups.items()):
        if args.org_type:
            name = group or t(lang, "POSTURE_NO_ORG")
        elif args.group:
            name = group or t(lang, "POSTURE_NO_GROUP_VALUE")
        else:
            name = t(lang, "POSTURE_ALL")
        print()
        print(printable(t(lang, "POSTURE_GROUP", group=name, domains=format_number(n, lang))))
        header = t(lang, "POSTURE_HEADER").split("|")
        print(f"  {header[0]:<10}" + "".join(f"{h:>11}" for h in header[1:]))
        for std in STANDARDS:
            cells = [summary.counts.get((group, std, lv), 0) for lv in LEVELS]
            label = t(lang, f"POSTURE_STD_{std}")
            print(f"  {label:<10}" + "".join(f"{format_number(c, lang):>11}" for c in cells))
    return 0


def _org_types(store: Store) -> dict[str, tuple[str, ...]]:
    """Domain -> the types of the organisations the store's current sets map it to."""
    from sovmap.orgs.store import load_mapping, load_orgs

    kind = {o.id: o.type for o in load_orgs(store.engine)}
    out: dict[str, set[str]] = {}
    for d in load_mapping(store.engine).domains:
        if d.org_id in kind:
            out.setdefault(d.domain, set()).add(kind[d.org_id])
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _domain_lines(found: list[PostureFinding], lang: str) -> Iterator[str]:
    for f in found:
        level = t(lang, f"POSTURE_LEVEL_{f.level}")
        details = " ".join(f"{k}={v}" for k, v in f.details)
        std = t(lang, f"POSTURE_STD_{f.standard}")
        line = t(lang, "POSTURE_LINE", standard=std, level=level, finding=f.code)
        yield printable(line + (f" ({details})" if details else ""))
        for e in f.evidence:  # DNS/HTTP/SMTP data: control characters escaped
            yield printable(
                t(lang, "POSTURE_EVIDENCE", probe=e.probe, qname=e.qname, rtype=e.rtype,
                  value=repr(e.value))
            )  # fmt: skip


__all__ = [
    "active_lines",
    "add_scan_options",
    "probe_settings",
    "register_posture",
    "scan_workers",
]
