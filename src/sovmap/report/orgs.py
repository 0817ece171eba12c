"""Organisations (from ``sovmap orgs``) joined with scan findings: lists, pages and locations.

The current organisations are the newest imported set of each source. An organisation's
findings are those of its domains in the chosen scan.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from sovmap.counting import counts_as_us
from sovmap.figures import capability_domains
from sovmap.model import Capability, Finding
from sovmap.store.org_tables import org_domains, org_unmapped, organisations
from sovmap.store.queries import DomainDetail, current_sets, domain_detail, org_domain_pairs
from sovmap.store.schema import findings, scan_domains
from sovmap.store.snapshots import ScanInfo, list_scans


@dataclass(frozen=True, slots=True)
class OrgSummary:
    org_id: str
    name: str
    type: str
    domains: tuple[str, ...]
    mailbox: str  # provider names of primary mailbox findings, joined
    us_capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unmapped:
    value: str
    how: str
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrgDetail:
    org_id: str
    name: str
    type: str
    parent_id: str
    country: str
    lat: float | None
    lon: float | None
    data: dict[str, Any]
    domains: tuple[DomainDetail, ...]
    missing_domains: tuple[str, ...]  # mapped but not in the scan
    unmapped: tuple[Unmapped, ...]


def has_orgs(conn: Connection) -> bool:
    return bool(current_sets(conn))


#: the statements of an organisation's page, built once (bound per call; ``sets`` and
#: ``orgs`` are expanding lists)
_SETS: Any = bindparam("sets", expanding=True)
_ORG_DOMAINS = (
    select(org_domains.c.org_id, org_domains.c.domain)
    .where(
        and_(
            org_domains.c.set_id.in_(_SETS),
            org_domains.c.org_id.in_(bindparam("orgs", expanding=True)),
        )
    )
    .order_by(org_domains.c.domain)
)
_ORG_ROW = (
    select(organisations)
    .where(and_(organisations.c.set_id.in_(_SETS), organisations.c.org_id == bindparam("org")))
    .order_by(organisations.c.set_id.desc())
)
_ORG_UNMAPPED = (
    select(org_unmapped.c.value, org_unmapped.c.how, org_unmapped.c.code, org_unmapped.c.detail)
    .where(and_(org_unmapped.c.set_id.in_(_SETS), org_unmapped.c.org_id == bindparam("org")))
    .order_by(org_unmapped.c.id)
)


def _domains_of(conn: Connection, sets: list[int], org_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if not org_ids:
        return out
    for oid, dom in conn.execute(_ORG_DOMAINS, {"sets": sets, "orgs": org_ids}):
        if dom not in out[oid]:
            out[oid].append(dom)
    return out


def search_orgs(
    conn: Connection,
    scan: ScanInfo | None,
    *,
    q: str = "",
    org_type: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[OrgSummary]]:
    sets = current_sets(conn)
    if not sets:
        return 0, []
    conds: list[Any] = [organisations.c.set_id.in_(sets)]
    if q:
        pat = "%" + q.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        conds.append(
            or_(
                func.lower(organisations.c.name).like(pat, escape="\\"),
                organisations.c.org_id.in_(
                    select(org_domains.c.org_id).where(
                        and_(
                            org_domains.c.set_id.in_(sets),
                            org_domains.c.domain.like(pat, escape="\\"),
                        )
                    )
                ),
            )
        )
    if org_type:
        conds.append(organisations.c.type == org_type)
    where = and_(*conds)
    # an organisation in several sources' sets is one organisation (as the listing shows it)
    total = int(
        conn.execute(
            select(func.count(func.distinct(organisations.c.org_id))).where(where)
        ).scalar_one()
    )
    rows = conn.execute(
        select(organisations.c.org_id, organisations.c.name, organisations.c.type)
        .where(where)
        .order_by(organisations.c.name, organisations.c.org_id)
        .offset(offset)
        .limit(limit)
    ).all()
    doms = _domains_of(conn, sets, [r[0] for r in rows])
    per_dom: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
    all_doms = sorted({d for ds in doms.values() for d in ds})
    if scan is not None and all_doms:
        for dom, cap, name, jur, tags, role, conf in conn.execute(
            select(
                findings.c.domain,
                findings.c.capability,
                findings.c.provider_name,
                findings.c.jurisdiction,
                findings.c.tags,
                findings.c.role,
                findings.c.confidence,
            ).where(and_(findings.c.scan_id == scan.id, findings.c.domain.in_(all_doms)))
        ):
            f = Finding(
                dom,
                Capability(cap),
                "",
                name,
                "",
                jur,
                float(conf),
                "",
                (),
                tuple(json.loads(tags or "[]")),
                "",
                role,
            )
            per_dom[dom].append((cap, name, jur, "us" if counts_as_us(f) else "", role))
    out = []
    seen: set[str] = set()
    for oid, name, typ in rows:
        if oid in seen:  # an organisation in several sources' sets
            continue
        seen.add(oid)
        fs = [f for d in doms.get(oid, []) for f in per_dom.get(d, [])]
        mail = sorted({f[1] for f in fs if f[0] == "mailbox" and f[4] == "primary"})
        us = sorted({f[0] for f in fs if f[3] == "us"})
        out.append(OrgSummary(oid, name, typ, tuple(doms.get(oid, [])), ", ".join(mail), tuple(us)))
    return total, out


def org_detail(conn: Connection, scan: ScanInfo | None, org_id: str) -> OrgDetail | None:
    sets = current_sets(conn)
    if not sets:
        return None
    row = conn.execute(_ORG_ROW, {"sets": sets, "org": org_id}).mappings().first()
    if row is None:
        return None
    doms = _domains_of(conn, sets, [org_id]).get(org_id, [])
    details: list[DomainDetail] = []
    missing: list[str] = []
    for d in doms:
        dd = domain_detail(conn, scan, d) if scan is not None else None
        if dd is None:
            missing.append(d)
        else:
            details.append(dd)
    unm = conn.execute(_ORG_UNMAPPED, {"sets": sets, "org": org_id}).all()
    data = json.loads(row["data"] or "{}")
    return OrgDetail(
        org_id=row["org_id"],
        name=row["name"],
        type=row["type"],
        parent_id=row["parent_id"] or "",
        country=row["country"] or "",
        lat=row["lat"],
        lon=row["lon"],
        data=data if isinstance(data, dict) else {},
        domains=tuple(details),
        missing_domains=tuple(missing),
        unmapped=tuple(Unmapped(*u) for u in unm),
    )


@dataclass(frozen=True, slots=True)
class GroupTrend:
    scan_id: int
    group: str  # organisation type
    organisations: int  # organisations of the type with a domain in the scan
    us_mailbox: int  # of those, with a domain counted in mailbox_us_domains

    @property
    def share(self) -> float:
        return 100.0 * self.us_mailbox / self.organisations if self.organisations else 0.0


def mailbox_domains(conn: Connection, scan_id: int) -> set[str]:
    """Domains of a scan counted in ``mailbox_us_domains`` (:mod:`sovmap.figures`)."""
    return capability_domains(conn, scan_id, "mailbox")


def group_trends(conn: Connection) -> list[GroupTrend]:
    """Per finished scan and organisation type, organisations with mailboxes at a US provider
    (counted in ``mailbox_us_domains``, :mod:`sovmap.figures`).

    Combined in Python from indexed queries: SQLite without statistics would join findings
    to the organisations' domains through the wrong index."""
    sets = current_sets(conn)
    if not sets:
        return []
    types = {
        str(o): str(t)
        for o, t in conn.execute(
            select(organisations.c.org_id, organisations.c.type).where(
                organisations.c.set_id.in_(sets)
            )
        )
    }
    pairs = org_domain_pairs(conn, sets)
    out: list[GroupTrend] = []
    # finished scans only, as the trend chart: a running or interrupted scan is not a state
    scan_ids = [s.id for s in list_scans(conn) if s.finished]
    for sid in scan_ids:
        scanned = set(
            conn.execute(
                select(scan_domains.c.domain).where(scan_domains.c.scan_id == sid)
            ).scalars()
        )
        us = mailbox_domains(conn, sid)
        members: dict[str, set[str]] = defaultdict(set)
        us_members: dict[str, set[str]] = defaultdict(set)
        for oid, dom in pairs:
            if dom in scanned:
                t = types.get(oid, "")
                members[t].add(oid)
                if dom in us:
                    us_members[t].add(oid)
        out.extend(GroupTrend(sid, t, len(members[t]), len(us_members[t])) for t in sorted(members))
    return out
