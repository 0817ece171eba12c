"""The REST API under ``/api/``: every route needs a token or session (or, for the
outside-in scan only, a published public view). OpenAPI at ``/openapi.json``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select

from sovmap import figures
from sovmap.classify.stored import stored_posture
from sovmap.orgs.history import EventKind
from sovmap.report import orgs as oq
from sovmap.store import queries as q
from sovmap.store.snapshots import ScanInfo
from sovmap.web import service as svc
from sovmap.web.auth import (
    MAX_TOKEN_DAYS,
    TOKEN_DAYS,
    AuthError,
    Principal,
    create_token,
    put_setting,
)
from sovmap.web.deps import PUBLIC_SCAN, Conn, audit, check_csrf, require
from sovmap.web.schemas import DomainOut, FigureOut, domain_out
from sovmap.web.service import Located, locations, pick_scan
from sovmap.web.tables import audit_log


class Problem(BaseModel):
    detail: str | list[dict[str, object]]


ERRORS: dict[int | str, dict[str, object]] = {
    400: {
        "model": Problem,
        "description": "a request the data cannot answer (e.g. a bad duration)",
    },
    401: {"model": Problem, "description": "no or unknown credentials"},
    403: {"model": Problem, "description": "the role does not allow it, or no CSRF token"},
    404: {"model": Problem, "description": "no such scan, domain or provider"},
}
router = APIRouter(prefix="/api", tags=["api"], responses=ERRORS)

Public = Annotated[Principal, Depends(require("public"))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
ScanQ = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="scan id (default: latest)")]
DomainP = Annotated[str, Path(min_length=1, max_length=253)]


@dataclass(frozen=True, slots=True)
class Me:
    username: str
    role: str
    via: str


@dataclass(frozen=True, slots=True)
class DomainPage:
    scan: ScanInfo
    total: int
    offset: int
    items: list[q.DomainSummary]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: str
    username: str
    action: str
    target: str
    detail: str


class TokenIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    days: int = Field(
        default=TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS, strict=False, description="lifetime in days"
    )


class TokenOut(BaseModel):
    name: str
    token: str
    days: int


class ProviderRef(BaseModel):
    id: str
    name: str
    jurisdiction: str


class ChangeOut(BaseModel):
    kind: EventKind
    subject: str = Field(description="organisation id or domain")
    subject_name: str
    subject_kind: Literal["org", "domain"]
    capability: str
    old: list[ProviderRef]
    new: list[ProviderRef]
    domains: list[str]
    uncertain: list[str] = Field(description="domains whose DNS answers had errors")


class ChangesPage(BaseModel):
    old_scan: int
    new_scan: int
    only_old: int = Field(description="subjects only in the old scan")
    only_new: int = Field(description="subjects only in the new scan")
    total: int
    offset: int
    events: list[ChangeOut]


class Lockout(BaseModel):
    key: str
    scope: str = Field(description="address+user, address or user")
    label: str
    attempts: int
    until: str


class PublicIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    enabled: bool


class PublicOut(BaseModel):
    enabled: bool


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _json(model: Any, value: Any) -> Response:
    """The answer serialised by pydantic straight from the typed value (the route's
    ``response_model`` still gives its schema): FastAPI would first copy a dataclass into
    dicts and validate them back, which cost more than the query on the busiest routes."""
    return Response(_adapter(model).dump_json(value), media_type="application/json")


@router.get("/me", response_model=Me)
def me(p: Public) -> Me:
    """Who the request is authenticated as."""
    return Me(p.username, p.role, p.via)


@router.get("/scans", response_model=list[ScanInfo])
def scans(p: Public, conn: Conn) -> list[ScanInfo]:
    """Every scan (dated snapshot) in the store."""
    return svc.scans(conn)


@router.get("/overview", response_model=q.Overview)
def overview(request: Request, p: Public, conn: Conn, scan: ScanQ = None) -> q.Overview:
    """Domains per capability and jurisdiction, US-controlled counts, top providers, and the
    SQL behind each figure."""
    s = pick_scan(conn, scan)
    figs = svc.scan_figures(request, conn, s)
    result: q.Overview = request.app.state.cache.get(
        ("overview",), s, lambda: q.overview(conn, s, figures.us_by_capability(figs))
    )
    return result


@router.get("/figures", response_model=dict[str, FigureOut])
def figures_json(
    request: Request, p: Public, conn: Conn, scan: ScanQ = None, lang: str = "en"
) -> dict[str, Any]:
    """The headline figures (the same object as ``sovmap figures --format json`` and the
    report's figures.json): figure id -> {value (null when unknown), definition, query, rows}.
    Each figure's rows: ``/api/figures/{id}.csv``."""
    s = pick_scan(conn, scan) if scan is not None else svc.latest(conn)
    out: dict[str, Any] = svc.scan_figures(request, conn, s).to_json("nl" if lang == "nl" else "en")
    return out


@router.get(
    "/figures/{fid}.csv",
    response_class=Response,
    responses={
        200: {
            "description": "the rows behind the figure, with a header line",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def figure_rows(request: Request, p: Public, conn: Conn, fid: str, scan: ScanQ = None) -> Response:
    """The rows behind one headline figure, as CSV: its value equals their count."""
    s = pick_scan(conn, scan) if scan is not None else svc.latest(conn)
    figs = svc.scan_figures(request, conn, s)
    try:
        fig = figs[fid]
    except KeyError:
        raise HTTPException(404, "no such figure") from None
    return Response(fig.csv_text(), media_type="text/csv; charset=utf-8")


@router.get("/domains", response_model=DomainPage)
def domains(
    *,
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
    prefix: Annotated[str, Query(max_length=253)] = "",
    provider: Annotated[str, Query(max_length=128)] = "",
    capability: Annotated[str, Query(max_length=32)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Domains of a scan by prefix, provider and/or capability, one page at a time."""
    s = pick_scan(conn, scan)
    total, items = q.search_domains(
        conn, s, q=prefix, provider=provider, capability=capability, offset=offset, limit=limit
    )
    return _json(DomainPage, DomainPage(s, total, offset, items))


@router.get("/domains/{domain}", response_model=DomainOut)
def domain(domain: DomainP, p: Public, conn: Conn, scan: ScanQ = None) -> Response:
    """One domain's findings, each with the evidence (records and fingerprints) behind it,
    and its mail security posture (one entry per standard, with the records behind it)."""
    s = pick_scan(conn, scan)
    d = q.domain_detail(conn, s, svc.domain_key(domain))
    if d is None:
        raise HTTPException(404, f"domain {domain} is not in scan {s.id}")
    found = dict(stored_posture(conn, s.id, d.domain)).get(d.domain, [])
    return _json(DomainOut, domain_out(d, found))


@router.get("/providers/{provider}", response_model=q.ProviderDetail)
def provider(
    request: Request,
    provider: Annotated[str, Path(min_length=1, max_length=128)],
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
) -> q.ProviderDetail:
    """One provider: parent, jurisdiction, and how many domains use it per capability."""
    s = pick_scan(conn, scan)
    d: q.ProviderDetail | None = request.app.state.cache.get(
        ("provider", provider), s, lambda: q.provider_detail(conn, s, provider)
    )
    if d is None:
        raise HTTPException(404, f"provider {provider} has no findings in scan {s.id}")
    return d


@router.get("/trends", response_model=list[q.TrendPoint])
def trends(request: Request, p: Public, conn: Conn) -> list[q.TrendPoint]:
    """Per scan: share of domains per capability whose primary provider is US-controlled."""
    return svc.trends(conn, request.app.state.cache)


@router.get("/trends/groups", response_model=list[oq.GroupTrend])
def trends_by_group(request: Request, p: Public, conn: Conn) -> list[oq.GroupTrend]:
    """Per scan and organisation type: organisations with a domain in the scan, and of those
    with a mailbox finding under US jurisdiction (as ``sovmap orgs trend``)."""
    return svc.group_trends(conn, request.app.state.cache)


@router.get("/changes", response_model=ChangesPage)
def changes(
    *,
    request: Request,
    p: Public,
    conn: Conn,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> Response:
    """Change events between the two latest finished scans, per organisation (or domain)
    and capability (as ``sovmap diff``), a page at a time; 404 with fewer than two scans."""
    result = svc.changes(conn, request.app.state.cache, request.app.state.engine)
    if result is None:
        raise HTTPException(404, "changes need two finished scans")
    page = {
        "old_scan": result.old.id,
        "new_scan": result.new.id,
        "only_old": result.only_old,
        "only_new": result.only_new,
        "total": len(result.events),
        "offset": offset,
        "events": [e.to_json() for e in result.events[offset : offset + limit]],
    }
    # the events' own JSON form (sovmap diff's), written as it is: validating each event into
    # ChangeOut and back doubled the cost of a page (test_openapi checks it against the schema)
    return Response(orjson.dumps(page), media_type="application/json")


@router.get("/locations", response_model=list[Located])
def located(request: Request, p: Public, conn: Conn, scan: ScanQ = None) -> list[Located]:
    """Domains whose scan input carried coordinates (for the map)."""
    s = pick_scan(conn, scan)
    result: list[Located] = request.app.state.cache.get(("loc",), s, lambda: locations(conn, s))
    return result


@dataclass(frozen=True, slots=True)
class OrgPage:
    total: int
    offset: int
    items: list[oq.OrgSummary]


@router.get("/orgs", response_model=OrgPage)
def orgs(
    *,
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
    search: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Organisations (newest import of each source) by name or domain, with their domains,
    mailbox provider and US-controlled capabilities in the scan."""
    s = svc.latest(conn) if scan is None else pick_scan(conn, scan)
    total, items = oq.search_orgs(conn, s, q=search, org_type=type, offset=offset, limit=limit)
    return _json(OrgPage, OrgPage(total, offset, items))


@router.get("/orgs/{org_id}", response_model=oq.OrgDetail)
def org(
    org_id: Annotated[str, Path(min_length=1, max_length=200)],
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
) -> Response:
    """One organisation: its domains with their findings and evidence, and the websites or
    addresses that could not be mapped to a domain (with the reason)."""
    s = svc.latest(conn) if scan is None else pick_scan(conn, scan)
    d = oq.org_detail(conn, s, org_id)
    if d is None:
        raise HTTPException(404, f"no organisation {org_id}")
    return _json(oq.OrgDetail, d)


@router.get("/audit", response_model=list[AuditEntry])
def audit_entries(
    p: Admin, conn: Conn, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AuditEntry]:
    """The newest entries of the audit log (admin only)."""
    rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).mappings()
    return [
        AuditEntry(r["id"], r["at"], r["username"], r["action"], r["target"], r["detail"])
        for r in rows
    ]


@router.post("/tokens", response_model=TokenOut, status_code=201)
def new_token(request: Request, body: TokenIn, p: Viewer, conn: Conn) -> TokenOut:
    """Create an API token for yourself; the secret is shown once. A cookie session must send
    its CSRF token in the ``X-CSRF-Token`` header."""
    check_csrf(request, p, None)
    try:
        token = create_token(conn, p.user_id, body.name, body.days)
    except AuthError as exc:
        raise HTTPException(422, str(exc)) from exc
    audit(conn, p, "token.create", p.username, {"name": body.name, "days": body.days})
    return TokenOut(name=body.name, token=token, days=body.days)


@router.get("/lockouts", response_model=list[Lockout])
def lockouts(request: Request, p: Admin, conn: Conn) -> list[Lockout]:
    """Addresses and user names locked out of log-in now, by too many attempts (admin only)."""
    return [Lockout(**row) for row in request.app.state.throttle.locked(conn)]


@router.put("/settings/public", response_model=PublicOut)
def set_public(request: Request, body: PublicIn, p: Admin, conn: Conn) -> PublicOut:
    """Publish (or withdraw) a public, read-only view of the outside-in scan (admin only)."""
    check_csrf(request, p, None)
    put_setting(conn, PUBLIC_SCAN, "1" if body.enabled else "0")
    audit(conn, p, "settings.public_scan", PUBLIC_SCAN, {"enabled": body.enabled})
    return PublicOut(enabled=body.enabled)
