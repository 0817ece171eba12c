"""The organisation room's library functions behind the CLI verbs (and the web app)."""

from __future__ import annotations

import csv
import hashlib
import io
import urllib.request
from collections import Counter
from collections.abc import Mapping as TMapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from sovmap.i18n.said import SaidText
from sovmap.model import Finding
from sovmap.orgs.domains import PSL_RESOURCE, PublicSuffixList, load_psl
from sovmap.orgs.fetch import USER_AGENT, default_cache_dir, fetch_source
from sovmap.orgs.history import (
    ChangeEvent,
    OrgRef,
    TrendPoint,
    diff_scans,
    domain_orgs,
    in_group,
    refs_from_orgs,
    trend_point,
)
from sovmap.orgs.mapping import (
    duplicate_organisations,
    load_overrides,
    map_organisations,
    shared_domains,
    unmapped_orgs,
)
from sovmap.orgs.model import Mapping, Organisation, OrgDomain, Unmapped
from sovmap.orgs.sources import NotFound, Source, SourceError, load_sources, parse_problems
from sovmap.orgs.store import (
    ScanInfo,
    current_set_ids,
    list_scans,
    load_mapping,
    load_orgs,
    load_scan,
    open_store,
    save_org_set,
)

#: Columns of the CSV that ``sovmap scan`` reads (extra columns are kept as attributes).
EXPORT_COLUMNS = ("domain", "org_id", "org_name", "org_type", "parent_id", "group")


def psl_for(cache_dir: Path | None) -> PublicSuffixList:
    """A refreshed list in the cache when there is one, else the bundled list."""
    if cache_dir is not None and (cache_dir / PSL_RESOURCE).is_file():
        return load_psl(cache_dir / PSL_RESOURCE)
    return load_psl()


@dataclass(frozen=True, slots=True)
class MapReport:
    organisations: int
    mapped: int
    domains: int
    unmapped: dict[Organisation, list[Unmapped]]  # organisations with no domain, and why
    rejected: tuple[Unmapped, ...]  # values of mapped organisations that gave no domain
    shared: dict[str, tuple[str, ...]]
    duplicates: list[tuple[str, ...]]
    dead: tuple[str, ...] = ()
    dead_scan: int = 0


def report(
    orgs: Sequence[Organisation], mapping: Mapping, dead: Sequence[str] = (), dead_scan: int = 0
) -> MapReport:
    by_id = {o.id: o for o in orgs}
    gaps = unmapped_orgs(orgs, mapping)
    domains = {d.domain for d in mapping.domains}
    return MapReport(
        organisations=len(orgs),
        mapped=len(orgs) - len(gaps),
        domains=len(domains),
        unmapped={by_id[k]: v for k, v in gaps.items()},
        rejected=tuple(u for u in mapping.unmapped if u.org_id not in gaps and u.value),
        shared=shared_domains(mapping),
        duplicates=duplicate_organisations(orgs),
        dead=tuple(sorted(set(dead) & domains)),
        dead_scan=dead_scan,
    )


@dataclass(frozen=True, slots=True)
class StoreResult:
    set_id: int
    report: MapReport
    origins: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def set_key(name: str, qualifier: TMapping[str, str]) -> str:
    """The key under which an import's snapshot replaces the previous one: the source plus
    its options or file name, so two lists (or two countries) are both current. At most 64
    characters."""
    parts = ",".join(f"{k}={v}" for k, v in sorted(qualifier.items()) if v)
    key = f"{name}:{parts}" if parts else name
    if len(key) > 64:
        key = f"{name}:{hashlib.sha256(parts.encode()).hexdigest()[:16]}"
    return key


def _dedupe(orgs: Sequence[Organisation]) -> tuple[list[Organisation], list[str]]:
    """One organisation per id (the first); notes name the ids given more than once."""
    kept: dict[str, Organisation] = {}
    notes: list[str] = []
    for o in orgs:
        if o.id in kept:
            first = repr(kept[o.id].name)
            notes.append(
                SaidText.of("ORGSRC_DUPLICATE_KEPT", id=o.id, name=repr(o.name), first=first)
            )
            continue
        kept[o.id] = o
    return list(kept.values()), notes


def _source(name: str) -> Source:
    sources = load_sources()
    if name not in sources:
        raise SourceError.of("ORGSRC_UNKNOWN_SOURCE", name=name, known=", ".join(sorted(sources)))
    return sources[name]


def _check_options(source: Source, options: TMapping[str, str]) -> None:
    known = {o.name for o in source.options}
    extra = set(options) - known
    if extra:
        raise SourceError(
            f"source {source.name!r} does not take --{', --'.join(sorted(extra))}"
            + (f" (it takes --{', --'.join(sorted(known))})" if known else "")
        )


def fetch_and_store(
    name: str,
    options: TMapping[str, str],
    *,
    db: str,
    cache_dir: Path,
    base_url: str = "",
    offline: bool = False,
    overrides: Path | None = None,
    timeout: float = 60.0,
) -> StoreResult:
    """Fetch a source, map its organisations and store them; nothing is stored on error."""
    source = _source(name)
    _check_options(source, options)
    psl = psl_for(cache_dir)
    ov = load_overrides(overrides, psl) if overrides else []
    fetched = fetch_source(
        source, options, cache_dir=cache_dir, base_url=base_url, offline=offline, timeout=timeout
    )
    orgs, dupes = _dedupe(fetched.organisations)
    mapping = map_organisations(orgs, ov, psl)
    engine = open_store(db)
    set_id = save_org_set(
        engine,
        set_key(name, options),
        orgs,
        mapping,
        origin="\n".join(fetched.origins),
        params=options,
    )
    return StoreResult(set_id, report(orgs, mapping), fetched.origins, (*fetched.notes, *dupes))


SUFFIX_SOURCES = {".csv": "list", ".xlsx": "list", ".xml": "nl-government", ".json": "wikidata"}


def import_file(
    path: Path,
    *,
    source: str = "",
    options: TMapping[str, str] | None = None,
    db: str,
    overrides: Path | None = None,
) -> StoreResult:
    """Parse a local file with the source its suffix (or ``source``) names, map, store."""
    name = source or SUFFIX_SOURCES.get(path.suffix.lower(), "")
    if not name:
        known = ", ".join(sorted(load_sources()))
        raise SourceError.of("ORGSRC_UNKNOWN_SUFFIX", path, known=known)
    src = _source(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError.of("ORGSRC_CANNOT_READ", path, detail=exc.strerror) from exc
    psl = psl_for(default_cache_dir())
    ov = load_overrides(overrides, psl) if overrides else []
    parsed = src.parse(data, str(path), dict(options or {}))
    orgs, dupes = _dedupe(parsed)
    dupes = [*parse_problems(parsed), *dupes]
    mapping = map_organisations(orgs, ov, psl)
    engine = open_store(db)
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    key = set_key(name, {"file": f"{path.name}@{where}", **(options or {})})
    set_id = save_org_set(engine, key, orgs, mapping, origin=str(path), params=options or {})
    return StoreResult(set_id, report(orgs, mapping), (str(path),), tuple(dupes))


def list_orgs(db: str, group: str = "all") -> list[tuple[Organisation, tuple[str, ...]]]:
    engine = open_store(db)
    orgs = load_orgs(engine)
    mapping = load_mapping(engine)
    refs = refs_from_orgs(orgs)
    return [(o, mapping.domains_of(o.id)) for o in orgs if in_group(refs[o.id], group)]


def export_csv(orgs: Sequence[Organisation], mapping: Mapping) -> str:
    """One row per domain: the CSV ``sovmap scan`` reads (org columns kept as attributes).
    A domain serving several organisations lists them ``;``-separated."""
    by_id = {o.id: o for o in orgs}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    for domain, ids in mapping.orgs_by_domain().items():
        members = [by_id[i] for i in ids if i in by_id]
        groups = dict.fromkeys(g for o in members for g in o.groups)
        w.writerow(
            [
                domain,
                ";".join(o.id for o in members),
                ";".join(o.name.replace(";", ",") for o in members),
                ";".join(o.type for o in members),
                ";".join(o.parent_id for o in members),
                ";".join(groups),
            ]
        )
    return buf.getvalue()


def map_current(
    db: str, overrides: Path | None = None, group: str = "all"
) -> tuple[MapReport, str]:
    """Re-map the current organisations (with overrides) and report; returns the export CSV."""
    engine = open_store(db)
    orgs = load_orgs(engine)
    refs = refs_from_orgs(orgs)
    orgs = [o for o in orgs if in_group(refs[o.id], group)]
    psl = psl_for(default_cache_dir())
    mapping = map_organisations(orgs, load_overrides(overrides, psl) if overrides else [], psl)
    scans = list_scans(engine)
    dead: tuple[str, ...] = ()
    dead_scan = 0
    if scans:
        dead_scan = scans[-1].id
        dead = load_scan(engine, dead_scan).dead
    return report(orgs, mapping, dead, dead_scan), export_csv(orgs, mapping)


def groups(db: str) -> list[tuple[str, str, int]]:
    """(kind, name, organisations) for every type, parent and named group."""
    engine = open_store(db)
    orgs = load_orgs(engine)
    names = {o.id: o.name for o in orgs}
    out: list[tuple[str, str, int]] = []
    for kind, counter in (
        ("type", Counter(o.type for o in orgs)),
        ("parent", Counter(o.parent_id for o in orgs if o.parent_id)),
        ("group", Counter(g for o in orgs for g in o.groups)),
    ):
        for name, n in sorted(counter.items()):
            label = f"{name} ({names[name]})" if kind == "parent" and name in names else name
            out.append((kind, label, n))
    return out


def refresh_psl(cache_dir: Path, *, url: str, file: Path | None = None) -> tuple[Path, str]:
    """Fetch (or copy) a Public Suffix List, validate it, and save it in the cache."""
    if file is not None:
        data = file.read_bytes()
    else:
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = resp.read()
    psl = PublicSuffixList.parse(data.decode("utf-8"))
    if len(psl.rules) < 1000:
        raise SourceError.of("ORGSRC_PSL_INCOMPLETE", rules=len(psl.rules))
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / PSL_RESOURCE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    load_psl.cache_clear()
    return target, psl.version


@dataclass(frozen=True, slots=True)
class DiffResult:
    old: ScanInfo
    new: ScanInfo
    events: list[ChangeEvent]
    only_old: int
    only_new: int


def _orgs_of(
    engine: Engine, domains: Sequence[str], attributes: TMapping[str, TMapping[str, str]]
) -> dict[str, tuple[OrgRef, ...]]:
    orgs = load_orgs(engine) if current_set_ids(engine) else []
    mapping = load_mapping(engine) if orgs else Mapping((), ())
    return domain_orgs(domains, attributes, mapping.orgs_by_domain(), refs_from_orgs(orgs))


@dataclass(frozen=True, slots=True)
class OrgView:
    """One organisation with its domains, gaps and (when scanned) its findings."""

    org: Organisation
    domains: tuple[OrgDomain, ...]
    gaps: tuple[Unmapped, ...]
    scan: ScanInfo | None
    findings: tuple[Finding, ...]


def show(db: str, org_id: str) -> OrgView:
    """An organisation by id (or unique abbreviation), with the newest scan's findings for
    its domains."""
    engine = open_store(db)
    orgs = load_orgs(engine)
    match = [o for o in orgs if o.id == org_id] or [
        o for o in orgs if o.abbreviation and o.abbreviation.lower() == org_id.lower()
    ]
    if len(match) != 1:
        if match:
            raise NotFound.of("ORGSRC_ORG_AMBIGUOUS", n=len(match), org=org_id)
        raise NotFound.of("ORGSRC_ORG_UNKNOWN", org=org_id)
    org = match[0]
    mapping = load_mapping(engine)
    domains = tuple(d for d in mapping.domains if d.org_id == org.id)
    gaps = tuple(u for u in mapping.unmapped if u.org_id == org.id)
    scans = list_scans(engine)
    if not scans:
        return OrgView(org, domains, gaps, None, ())
    data = load_scan(engine, scans[-1].id)
    mine = {d.domain for d in domains}
    return OrgView(
        org, domains, gaps, data.info, tuple(f for f in data.findings if f.domain in mine)
    )


def organisations_of_scan(db: str, scan_id: int) -> dict[str, tuple[OrgRef, ...]]:
    """The organisations of every domain of a stored scan, for reports cut by group (see
    :func:`sovmap.orgs.history.in_group`)."""
    engine = open_store(db)
    data = load_scan(engine, scan_id)
    return _orgs_of(engine, data.domains, data.attributes)


def diff(db: str | Engine, old_id: int | None = None, new_id: int | None = None) -> DiffResult:
    """Change events between two scans (default: the two latest finished ones). ``db`` is a
    store path/URL or an open store's engine (the web app passes its engine, never a URL)."""
    engine = open_store(db) if isinstance(db, str) else db
    if old_id is None or new_id is None:
        scans = list_scans(engine)
        if len(scans) < 2:
            raise NotFound.of("ORGSRC_DIFF_NEEDS_TWO", n=len(scans))
        old_id, new_id = scans[-2].id, scans[-1].id
    old, new = load_scan(engine, old_id), load_scan(engine, new_id)
    domains = sorted(set(old.domains) | set(new.domains))
    attrs = {**old.attributes, **new.attributes}
    orgs_of = _orgs_of(engine, domains, attrs)
    events = diff_scans(
        old.findings,
        new.findings,
        old_domains=old.domains,
        new_domains=new.domains,
        orgs_of=orgs_of,
        incomplete=set(old.incomplete) | set(new.incomplete),
    )
    return DiffResult(
        old.info,
        new.info,
        events,
        len(set(old.domains) - set(new.domains)),
        len(set(new.domains) - set(old.domains)),
    )


def trend(db: str, group_names: Sequence[str]) -> list[TrendPoint]:
    """One point per finished scan and group."""
    engine = open_store(db)
    scans = list_scans(engine)
    if not scans:
        raise NotFound.of("ORGSRC_NO_FINISHED_SCAN", db=db)
    points: list[TrendPoint] = []
    for info in scans:
        data = load_scan(engine, info.id)
        orgs_of = _orgs_of(engine, data.domains, data.attributes)
        for g in group_names:
            points.append(trend_point(info.id, info.started_at, g, data.findings, orgs_of))
    return points
