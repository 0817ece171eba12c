"""Read-only questions to the store, shared by the CLI, the reports, the web pages and the API.

Each function takes a SQLAlchemy connection and returns frozen values; every aggregate can
name the query that produced it (:attr:`Overview.queries`) so a reader can trace each
number back to the rows behind it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, distinct, func, select

from sovmap.control import us_controlled
from sovmap.model import Capability, Evidence
from sovmap.store.org_tables import org_domains, org_sets
from sovmap.store.schema import findings, scan_domains
from sovmap.store.snapshots import (
    KnownCounts,
    ScanInfo,
    latest_finished,
    list_scans,
)

UNKNOWN = "unknown"


def latest_scan(conn: Connection, known: KnownCounts | None = None) -> ScanInfo | None:
    """The latest scan: the newest finished one (see :mod:`sovmap.store.snapshots`)."""
    return latest_finished(conn, known)


@dataclass(frozen=True, slots=True)
class ProviderCount:
    capability: str
    provider: str
    provider_name: str
    parent: str
    jurisdiction: str
    domains: int


@dataclass(frozen=True, slots=True)
class Overview:
    scan: ScanInfo
    #: capability -> jurisdiction ("" as "unknown") -> number of domains (primary role)
    by_jurisdiction: dict[str, dict[str, int]]
    #: capability -> number of domains whose primary provider is US-controlled
    us_domains: dict[str, int]
    providers: tuple[ProviderCount, ...]
    queries: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FindingRow:
    id: int
    domain: str
    capability: str
    provider: str
    provider_name: str
    parent: str
    jurisdiction: str
    confidence: float
    code: str
    role: str
    service: str
    tags: tuple[str, ...]
    evidence: tuple[Evidence, ...]

    @property
    def us(self) -> bool:
        return us_controlled(self.jurisdiction, self.tags)


@dataclass(frozen=True, slots=True)
class DomainSummary:
    domain: str
    attributes: dict[str, Any]
    mailbox: str  # provider name of the primary mailbox finding, "" when none
    mailbox_jurisdiction: str
    us_capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DomainDetail:
    scan: ScanInfo
    domain: str
    attributes: dict[str, Any]
    queries: int
    errors: int
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    scan: ScanInfo
    #: capability -> percentage of scanned domains whose primary provider is US-controlled
    us_share: dict[str, float]


def _sql(stmt: Any) -> str:
    return " ".join(str(stmt.compile(compile_kwargs={"literal_binds": True})).split())


def overview(
    conn: Connection, scan: ScanInfo, us_domains: dict[str, int], top: int = 15
) -> Overview:
    """Domains per capability and jurisdiction (primary role) and the top providers;
    ``us_domains`` are the headline figures of :mod:`sovmap.figures` (given by the caller, so
    the overview shows the same US counts as every other surface)."""
    jur_stmt = (
        select(
            findings.c.capability, findings.c.jurisdiction, func.count(distinct(findings.c.domain))
        )
        .where(and_(findings.c.scan_id == scan.id, findings.c.role == "primary"))
        .group_by(findings.c.capability, findings.c.jurisdiction)
    )
    by_j: dict[str, dict[str, int]] = defaultdict(dict)
    for cap, jur, n in conn.execute(jur_stmt):
        by_j[cap][jur or UNKNOWN] = int(n)
    us = {cap: n for cap, n in us_domains.items() if n}
    prov_stmt = (
        select(
            findings.c.capability,
            findings.c.provider,
            func.max(findings.c.provider_name),
            func.max(findings.c.parent),
            func.max(findings.c.jurisdiction),
            func.count(distinct(findings.c.domain)).label("n"),
        )
        .where(findings.c.scan_id == scan.id)
        .group_by(findings.c.capability, findings.c.provider)
    )
    per_cap: dict[str, list[ProviderCount]] = defaultdict(list)
    for cap, prov, name, parent, jur, n in conn.execute(prov_stmt):
        per_cap[cap].append(ProviderCount(cap, prov, name, parent, jur or "", int(n)))
    providers: list[ProviderCount] = []
    for cap in per_cap:
        providers.extend(sorted(per_cap[cap], key=lambda p: (-p.domains, p.provider))[:top])
    order = {c.value: i for i, c in enumerate(Capability)}
    return Overview(
        scan=scan,
        by_jurisdiction=dict(sorted(by_j.items(), key=lambda kv: order.get(kv[0], 99))),
        us_domains=us,
        providers=tuple(sorted(providers, key=lambda p: (order.get(p.capability, 99), -p.domains))),
        queries={
            "by_jurisdiction": _sql(jur_stmt),
            "us_domains": "the figures <capability>_us_domains (sovmap figures)",
            "providers": _sql(prov_stmt),
        },
    )


def _finding(r: Any) -> FindingRow:
    return FindingRow(
        id=int(r["id"]),
        domain=r["domain"],
        capability=r["capability"],
        provider=r["provider"],
        provider_name=r["provider_name"],
        parent=r["parent"],
        jurisdiction=r["jurisdiction"] or "",
        confidence=float(r["confidence"]),
        code=r["code"],
        role=r["role"],
        service=r["service"] or "",
        tags=tuple(json.loads(r["tags"] or "[]")),
        evidence=tuple(Evidence.from_json(e) for e in json.loads(r["evidence"] or "[]")),
    )


#: the statements of :func:`domain_detail`, built once (bound per call)
_DOMAIN_ROW = select(
    scan_domains.c.domain,
    scan_domains.c.attributes,
    scan_domains.c.queries,
    scan_domains.c.errors,
).where(
    and_(scan_domains.c.scan_id == bindparam("scan"), scan_domains.c.domain == bindparam("domain"))
)
_DOMAIN_FINDINGS = (
    select(findings)
    .where(and_(findings.c.scan_id == bindparam("scan"), findings.c.domain == bindparam("domain")))
    .order_by(findings.c.id)
)


def domain_detail(conn: Connection, scan: ScanInfo, domain: str) -> DomainDetail | None:
    params = {"scan": scan.id, "domain": domain}
    row = conn.execute(_DOMAIN_ROW, params).mappings().first()
    rows = conn.execute(_DOMAIN_FINDINGS, params).mappings().all()
    if row is None and not rows:
        return None
    order = {c.value: i for i, c in enumerate(Capability)}
    found = sorted((_finding(r) for r in rows), key=lambda f: (order.get(f.capability, 99), f.id))
    return DomainDetail(
        scan=scan,
        domain=domain,
        attributes=json.loads(row["attributes"]) if row else {},
        queries=int(row["queries"]) if row else 0,
        errors=int(row["errors"]) if row else 0,
        findings=tuple(found),
    )


def _search_statements() -> dict[str, Any]:
    """The statements of :func:`search_domains`, built once: constructing and cache-keying
    a SQLAlchemy select per call cost about a third of a search page. Parameters are bound
    per call (``scan``, ``lo``/``hi``/``pattern`` for a prefix, ``names``)."""
    sid: Any = bindparam("scan")
    by_prefix = scan_domains.c.domain.like(bindparam("pattern"), escape="\\")
    ranged = and_(  # SQLite's LIKE cannot use the (scan_id, domain) index; a binary range can
        scan_domains.c.domain >= bindparam("lo"), scan_domains.c.domain < bindparam("hi")
    )
    out: dict[str, Any] = {}
    for name, cond in (
        ("all", scan_domains.c.scan_id == sid),
        ("like", and_(scan_domains.c.scan_id == sid, by_prefix)),
        ("range", and_(scan_domains.c.scan_id == sid, by_prefix, ranged)),
    ):
        out[f"count-{name}"] = select(func.count()).select_from(scan_domains).where(cond)
        out[f"page-{name}"] = (
            select(scan_domains.c.domain, scan_domains.c.attributes)
            .where(cond)
            .order_by(scan_domains.c.domain)
            .offset(bindparam("offset"))
            .limit(bindparam("limit"))
        )
    # only the columns a summary shows: decoding every finding's evidence cost ~85 % of a
    # search (100 µs a finding) and the summary shows none of it
    summary = select(
        findings.c.domain,
        findings.c.capability,
        findings.c.role,
        findings.c.provider_name,
        findings.c.jurisdiction,
        findings.c.tags,
    )
    out["findings"] = summary.where(
        and_(
            findings.c.scan_id == bindparam("scan"),
            findings.c.domain.in_(bindparam("names", expanding=True)),
        )
    )
    # a page without provider or capability filter is a run of consecutive domains in the
    # store's order: its findings are read by that range (an IN of 50 names is expanded and
    # compiled on every call), rows of domains not on the page dropped by name
    out["findings-range"] = summary.where(
        and_(
            findings.c.scan_id == bindparam("scan"),
            findings.c.domain >= bindparam("first"),
            findings.c.domain <= bindparam("last"),
        )
    )
    return out


_SEARCH = _search_statements()


@cache
def _us_of(jurisdiction: str, tags: str) -> bool:
    """Whether a finding with this jurisdiction and stored tags (JSON) is US-controlled: the
    rule of :func:`sovmap.control.us_controlled`, remembered per distinct pair."""
    return us_controlled(jurisdiction, tuple(json.loads(tags)))


def search_domains(
    conn: Connection,
    scan: ScanInfo,
    *,
    q: str = "",
    provider: str = "",
    capability: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[DomainSummary]]:
    """Domains of a scan, by prefix and/or provider; returns (total, page)."""
    params: dict[str, Any] = {"scan": scan.id, "offset": offset, "limit": limit}
    kind = "all"
    prefix = q.lower().replace("\\", "").replace("%", "") if q else ""
    if q:
        params["pattern"] = prefix.replace("_", "\\_") + "%"
        kind = "like"
        if conn.dialect.name == "sqlite" and prefix:
            # domain names are lower-case ASCII, all below "~"
            params.update(lo=prefix, hi=prefix + "~")
            kind = "range"
    if provider or capability:
        conds: list[Any] = [scan_domains.c.scan_id == scan.id]
        if q:
            conds.append(scan_domains.c.domain.like(params["pattern"], escape="\\"))
            if kind == "range":
                conds.append(scan_domains.c.domain >= prefix)
                conds.append(scan_domains.c.domain < prefix + "~")
        sub = select(findings.c.domain).where(findings.c.scan_id == scan.id)
        if provider:
            sub = sub.where(findings.c.provider == provider)
        if capability:
            sub = sub.where(findings.c.capability == capability)
        conds.append(scan_domains.c.domain.in_(sub))
        where = and_(*conds)
        total = int(
            conn.execute(select(func.count()).select_from(scan_domains).where(where)).scalar_one()
        )
        page = conn.execute(
            select(scan_domains.c.domain, scan_domains.c.attributes)
            .where(where)
            .order_by(scan_domains.c.domain)
            .offset(offset)
            .limit(limit)
        ).all()
    else:
        total = int(conn.execute(_SEARCH[f"count-{kind}"], params).scalar_one())
        page = conn.execute(_SEARCH[f"page-{kind}"], params).all()
    per: dict[str, list[Any]] = {r[0]: [] for r in page}
    if page and (provider or capability):
        names = {"scan": scan.id, "names": list(per)}
        rows = conn.execute(_SEARCH["findings"], names).all()
    elif page:
        ends = {"scan": scan.id, "first": page[0][0], "last": page[-1][0]}
        rows = conn.execute(_SEARCH["findings-range"], ends).all()
    else:
        rows = []
    for f in rows:
        if (mine := per.get(f[0])) is not None:
            mine.append(f)
    out = []
    for name, attributes in page:
        mailbox = ""
        mailbox_jurisdiction = ""
        us: set[str] = set()
        for _domain, cap, role, provider_name, jurisdiction, tags in per.get(name, ()):
            if not mailbox and cap == "mailbox" and role == "primary":
                mailbox, mailbox_jurisdiction = provider_name, jurisdiction or ""
            if _us_of(jurisdiction or "", tags or "[]"):
                us.add(cap)
        out.append(
            DomainSummary(
                domain=name,
                attributes=json.loads(attributes) if attributes else {},
                mailbox=mailbox,
                mailbox_jurisdiction=mailbox_jurisdiction,
                us_capabilities=tuple(sorted(us)),
            )
        )
    return total, out


@dataclass(frozen=True, slots=True)
class ProviderDetail:
    scan: ScanInfo
    provider: str
    provider_name: str
    parent: str
    jurisdiction: str
    tags: tuple[str, ...]
    domains_by_capability: dict[str, int]
    query: str


def provider_detail(conn: Connection, scan: ScanInfo, provider: str) -> ProviderDetail | None:
    stmt = (
        select(
            findings.c.capability,
            func.count(distinct(findings.c.domain)),
            func.max(findings.c.provider_name),
            func.max(findings.c.parent),
            func.max(findings.c.jurisdiction),
            func.max(findings.c.tags),
        )
        .where(and_(findings.c.scan_id == scan.id, findings.c.provider == provider))
        .group_by(findings.c.capability)
    )
    rows = conn.execute(stmt).all()
    if not rows:
        return None
    return ProviderDetail(
        scan=scan,
        provider=provider,
        provider_name=rows[0][2],
        parent=rows[0][3],
        jurisdiction=rows[0][4] or "",
        tags=tuple(json.loads(rows[0][5] or "[]")),
        domains_by_capability={r[0]: int(r[1]) for r in rows},
        query=_sql(stmt),
    )


def trends(
    conn: Connection,
    share: Callable[[Connection, list[ScanInfo]], dict[int, dict[str, float]]],
    known: dict[tuple[int, str | None], int] | None = None,
) -> list[TrendPoint]:
    """Per finished scan and capability, the share of scanned domains at a US-controlled
    provider; ``share`` is :func:`sovmap.figures.us_share_by_scan` (the headline figures'
    rule), passed in by the surface."""
    done = [s for s in list_scans(conn, known) if s.finished]
    shares = share(conn, done)
    return [TrendPoint(scan=s, us_share=shares.get(s.id, {})) for s in done]


_CURRENT_SETS = select(func.max(org_sets.c.id)).group_by(org_sets.c.source)


def current_sets(conn: Connection) -> list[int]:
    """The current organisation sets: the newest imported set of each source."""
    rows = conn.execute(_CURRENT_SETS)
    return sorted(int(r[0]) for r in rows)


def org_domain_pairs(conn: Connection, sets: list[int]) -> list[tuple[str, str]]:
    return [
        (str(o), str(d))
        for o, d in conn.execute(
            select(org_domains.c.org_id, org_domains.c.domain).where(org_domains.c.set_id.in_(sets))
        )
    ]
