"""Reading and writing organisations, and reading scans, in the shared store.

Writes are one transaction each. Scans and findings are read from the tables the scan writes
(``scans``, ``scan_domains``, ``findings``), so history works on any store the CLI or the web
app uses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping as TMapping
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from sovmap.model import Capability, Evidence, Finding, Status
from sovmap.orgs.model import Derivation, Mapping, Organisation, OrgDomain, Unmapped
from sovmap.store import DEFAULT_DB, Store, snapshots, unpack_observations
from sovmap.store.org_tables import org_domains, org_sets, org_unmapped, organisations
from sovmap.store.schema import findings, scan_domains, scans
from sovmap.store.snapshots import ScanInfo

__all__ = ["DEFAULT_DB", "ScanInfo"]


def open_store(db: str) -> Engine:
    """The engine of the shared store at ``db`` (a SQLite path or a URL), with every room's
    tables (this module imports the organisation tables onto the shared metadata)."""
    return Store(db).engine


@dataclass(frozen=True, slots=True)
class OrgSet:
    id: int
    created_at: str
    source: str
    origin: str
    organisations: int
    domains: int


def save_org_set(
    engine: Engine,
    source: str,
    orgs: Sequence[Organisation],
    mapping: Mapping,
    *,
    origin: str = "",
    params: TMapping[str, str] | None = None,
) -> int:
    """Store one import as a new snapshot, all or nothing; returns the set id."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with engine.begin() as conn:
        key = conn.execute(
            org_sets.insert().values(
                created_at=now,
                source=source,
                origin=origin,
                params=json.dumps(dict(params or {}), sort_keys=True),
                organisations=len(orgs),
                domains=len({d.domain for d in mapping.domains}),
            )
        ).inserted_primary_key
        assert key is not None
        set_id = int(key[0])
        if orgs:
            conn.execute(
                organisations.insert(),
                [
                    {
                        "set_id": set_id,
                        "org_id": o.id,
                        "name": o.name,
                        "type": o.type,
                        "parent_id": o.parent_id,
                        "country": o.country,
                        "lat": o.location.lat,
                        "lon": o.location.lon,
                        "data": json.dumps(o.to_json(), ensure_ascii=False),
                    }
                    for o in orgs
                ],
            )
        if mapping.domains:
            conn.execute(
                org_domains.insert(),
                [
                    {
                        "set_id": set_id,
                        "org_id": d.org_id,
                        "domain": d.domain,
                        "how": d.how.value,
                        "value": d.value,
                        "reason": d.reason,
                    }
                    for d in mapping.domains
                ],
            )
        if mapping.unmapped:
            conn.execute(
                org_unmapped.insert(),
                [
                    {
                        "set_id": set_id,
                        "org_id": u.org_id,
                        "value": u.value,
                        "how": u.how,
                        "code": u.code,
                        "detail": u.detail,
                    }
                    for u in mapping.unmapped
                ],
            )
    return set_id


def list_sets(engine: Engine) -> list[OrgSet]:
    with engine.connect() as conn:
        rows = conn.execute(select(org_sets).order_by(org_sets.c.id)).all()
    return [
        OrgSet(r.id, r.created_at, r.source, r.origin, r.organisations, r.domains) for r in rows
    ]


def current_set_ids(engine: Engine) -> list[int]:
    """The newest set of every source."""
    with engine.connect() as conn:
        rows = conn.execute(select(func.max(org_sets.c.id)).group_by(org_sets.c.source)).scalars()
        return sorted(int(r) for r in rows)


def load_orgs(engine: Engine, set_ids: Sequence[int] | None = None) -> list[Organisation]:
    """Organisations of the given sets (default: current); later sets win on equal ids."""
    ids = list(set_ids) if set_ids is not None else current_set_ids(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(organisations.c.data)
            .where(organisations.c.set_id.in_(ids))
            .order_by(organisations.c.set_id, organisations.c.org_id)
        ).all()
    out: dict[str, Organisation] = {}
    for r in rows:
        o = Organisation.from_json(json.loads(r.data))
        out[o.id] = o
    return list(out.values())


def load_mapping(engine: Engine, set_ids: Sequence[int] | None = None) -> Mapping:
    ids = list(set_ids) if set_ids is not None else current_set_ids(engine)
    with engine.connect() as conn:
        drows = conn.execute(
            select(org_domains).where(org_domains.c.set_id.in_(ids)).order_by(org_domains.c.set_id)
        ).all()
        urows = conn.execute(
            select(org_unmapped).where(org_unmapped.c.set_id.in_(ids)).order_by(org_unmapped.c.id)
        ).all()
    domains = {
        (r.org_id, r.domain): OrgDomain(r.org_id, r.domain, Derivation(r.how), r.value, r.reason)
        for r in drows
    }
    unmapped = tuple(Unmapped(r.org_id, r.value, r.how, r.code, r.detail) for r in urows)
    return Mapping(tuple(domains.values()), unmapped)


# --- scans -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanData:
    """What history needs of one scan: its domains, their attributes and findings."""

    info: ScanInfo
    domains: tuple[str, ...]
    attributes: dict[str, dict[str, str]]
    findings: tuple[Finding, ...]
    dead: tuple[str, ...]  # domains that do not exist (every question about them: NXDOMAIN)
    incomplete: tuple[str, ...] = ()  # a question about the domain's own name went unanswered


def list_scans(engine: Engine, *, finished_only: bool = True) -> list[ScanInfo]:
    """The store's scans (see :mod:`sovmap.store.snapshots`), by default only finished ones."""
    with engine.connect() as conn:
        every = snapshots.list_scans(conn)
    return [s for s in every if s.finished] if finished_only else every


def _own_status(domain: str, blob: bytes) -> tuple[bool, bool]:
    """(dead, incomplete) from the answers about the domain's own name."""
    try:
        obs = unpack_observations(blob)
    except (ValueError, TypeError, KeyError):
        return False, True
    statuses = {o.status for o in obs if o.qname.rstrip(".") == domain}
    dead = bool(statuses) and statuses == {Status.NXDOMAIN}
    return dead, any(not s.answered for s in statuses)


def load_scan(engine: Engine, scan_id: int, *, with_evidence: bool = False) -> ScanData:
    """One stored scan; history needs no evidence, so it is only read when asked for."""
    with engine.connect() as conn:
        row = conn.execute(select(scans).where(scans.c.id == scan_id)).first()
        if row is None:
            from sovmap.orgs.sources import NotFound

            raise NotFound.of("ORGSRC_NO_SCAN_ID", id=scan_id)
        drows = conn.execute(
            select(scan_domains.c.domain, scan_domains.c.attributes, scan_domains.c.observations)
            .where(scan_domains.c.scan_id == scan_id)
            .order_by(scan_domains.c.domain)
        ).all()
        frows = conn.execute(
            select(findings).where(findings.c.scan_id == scan_id).order_by(findings.c.id)
        ).all()
    attrs: dict[str, dict[str, str]] = {}
    dead: list[str] = []
    incomplete: list[str] = []
    for r in drows:
        try:
            raw = json.loads(r.attributes or "{}")
        except ValueError:
            raw = {}
        attrs[r.domain] = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        is_dead, is_incomplete = _own_status(r.domain, r.observations)
        if is_dead:
            dead.append(r.domain)
        if is_incomplete:
            incomplete.append(r.domain)
    found = tuple(
        Finding(
            domain=r.domain,
            capability=Capability(r.capability),
            provider=r.provider,
            provider_name=r.provider_name,
            parent=r.parent,
            jurisdiction=r.jurisdiction,
            confidence=float(r.confidence),
            code=r.code,
            evidence=tuple(Evidence.from_json(e) for e in json.loads(r.evidence or "[]"))
            if with_evidence
            else (),
            tags=tuple(json.loads(r.tags or "[]")),
            service=r.service or "",
            role=r.role,
        )
        for r in frows
    )
    with engine.connect() as conn:
        info = snapshots.scan_info(conn, scan_id)
    assert info is not None  # read above in the same store
    return ScanData(
        info, tuple(d.domain for d in drows), attrs, found, tuple(dead), tuple(incomplete)
    )
