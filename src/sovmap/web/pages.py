"""Server-rendered pages: overview, domains, providers, trends, changes, map and organisations
(account and admin pages: :mod:`sovmap.web.account_pages`)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from sovmap import figures
from sovmap.control import us_controlled
from sovmap.exitplan.catalogue import options_for
from sovmap.knowledge import default_catalogue
from sovmap.model import Capability
from sovmap.report import orgs as oq
from sovmap.report import svg
from sovmap.report.svg import jurisdiction_colours
from sovmap.store import queries as q
from sovmap.store.snapshots import choose_scan
from sovmap.web.auth import (
    Principal,
)
from sovmap.web.deps import Conn, require
from sovmap.web.service import (
    changes,
    domain_key,
    group_trends,
    known_counts,
    latest,
    pick_scan,
    scan_figures,
    scans,
    search_prefix,
    trends,
)

router = APIRouter(include_in_schema=False)

Public = Annotated[Principal, Depends(require("public"))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
ScanQ = Annotated[int | None, Query(ge=1, le=2**31 - 1)]

PAGE = 50


def render(request: Request, name: str, p: Principal | None, **ctx: Any) -> HTMLResponse:
    templates = request.app.state.templates
    ctx.update(request=request, p=p, features=request.app.state.features)
    response: HTMLResponse = templates.TemplateResponse(request, name, ctx)
    return response


def _overview_charts(ov: q.Overview) -> dict[str, Any]:
    keys = {j for per in ov.by_jurisdiction.values() for j in per}
    colours = jurisdiction_colours(keys)
    stacks = [
        svg.Stack(
            cap,
            tuple((k, float(per.get(k, 0))) for k in colours),
            href=f"/domains?capability={cap}",
        )
        for cap, per in ov.by_jurisdiction.items()
    ]
    us = [
        svg.Bar(
            cap,
            round(100.0 * ov.us_domains.get(cap, 0) / ov.scan.domains, 1) if ov.scan.domains else 0,
            colour=svg.US_COLOUR,
            note=f"{ov.us_domains.get(cap, 0)} of {ov.scan.domains} domains",
        )
        for cap in ov.by_jurisdiction
    ]
    return {
        "jur_chart": svg.stacked_bars(
            stacks, title="Domains per capability, by jurisdiction", colours=colours
        ),
        "us_chart": svg.bar_chart(us, title="Share at a US-controlled provider", unit="%"),
    }


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, p: Public, conn: Conn, scan: ScanQ = None) -> Response:
    s = latest(conn) if scan is None else pick_scan(conn, scan)
    if s is None:
        return render(request, "empty.html", p)
    figs = scan_figures(request, conn, s)
    ov: q.Overview = request.app.state.cache.get(
        ("overview",), s, lambda: q.overview(conn, s, figures.us_by_capability(figs))
    )
    return render(
        request,
        "overview.html",
        p,
        ov=ov,
        figs=figs,
        choice=choose_scan(conn, scan, known_counts(conn)),
        scans=scans(conn),
        caps=[c.value for c in Capability],
        **_overview_charts(ov),
    )


@router.get("/domains", response_class=HTMLResponse)
def domains_page(
    *,
    request: Request,
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
    prefix: Annotated[str, Query(max_length=253)] = "",
    provider: Annotated[str, Query(max_length=128)] = "",
    capability: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=200_000)] = 1,
) -> Response:
    s = pick_scan(conn, scan)
    total, items = q.search_domains(
        conn,
        s,
        q=search_prefix(prefix),
        provider=provider,
        capability=capability,
        offset=(page - 1) * PAGE,
        limit=PAGE,
    )
    return render(
        request,
        "domains.html",
        p,
        scan=s,
        total=total,
        items=items,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        prefix=prefix,
        provider=provider,
        capability=capability,
    )


@router.get("/domains/{domain}", response_class=HTMLResponse)
def domain_page(
    request: Request, domain: str, p: Public, conn: Conn, scan: ScanQ = None
) -> Response:
    s = pick_scan(conn, scan)
    d = q.domain_detail(conn, s, domain_key(domain))
    if d is None:
        raise HTTPException(404, f"domain {domain} is not in scan {s.id}")
    return render(request, "domain.html", p, d=d)


@router.get("/providers/{provider}", response_class=HTMLResponse)
def provider_page(
    request: Request, provider: str, p: Public, conn: Conn, scan: ScanQ = None
) -> Response:
    s = pick_scan(conn, scan)
    d = request.app.state.cache.get(
        ("provider", provider[:128]), s, lambda: q.provider_detail(conn, s, provider[:128])
    )
    if d is None:
        raise HTTPException(404, f"provider {provider} has no findings in scan {s.id}")
    bars = [
        svg.Bar(cap, n, href=f"/domains?provider={d.provider}&capability={cap}")
        for cap, n in d.domains_by_capability.items()
    ]
    chart = svg.bar_chart(bars, title=f"Domains using {d.provider_name}, per capability")
    known = default_catalogue().providers.get(d.provider)
    options = {}
    if us_controlled(d.jurisdiction, d.tags):
        options = {cap: options_for(cap) for cap in d.domains_by_capability}
        options = {cap: alts for cap, alts in options.items() if alts}
    return render(request, "provider.html", p, d=d, chart=chart, known=known, options=options)


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, p: Public, conn: Conn) -> Response:
    points = trends(conn, request.app.state.cache)
    caps = sorted({c for t in points for c in t.us_share})
    xs = [f"#{t.scan.id} {t.scan.started_at[:10]}" for t in points]
    series = {c: [t.us_share.get(c, 0.0) for t in points] for c in caps}
    chart = svg.line_chart(xs, series, title="Share of domains at a US-controlled provider")
    groups = group_trends(conn, request.app.state.cache)
    group_chart = None
    if groups:
        ids = [t.scan.id for t in points]
        by = {(g.scan_id, g.group): g.share for g in groups}
        names = sorted({g.group for g in groups})
        group_chart = svg.line_chart(
            xs,
            {n: [by.get((i, n), 0.0) for i in ids] for n in names},
            title="Organisations with mailboxes at a US provider, by type",
        )
    return render(
        request,
        "trends.html",
        p,
        points=points,
        caps=caps,
        chart=chart,
        groups=groups,
        group_chart=group_chart,
    )


@router.get("/changes", response_class=HTMLResponse)
def changes_page(
    request: Request,
    p: Public,
    conn: Conn,
    kind: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    result = changes(conn, request.app.state.cache, request.app.state.engine)
    events = [e for e in result.events if not kind or e.kind.value == kind] if result else []
    kinds = Counter(e.kind.value for e in result.events) if result else Counter()
    size = 200
    return render(
        request,
        "changes.html",
        p,
        result=result,
        events=events[(page - 1) * size : page * size],
        total=len(events),
        kinds=sorted(kinds.items()),
        kind=kind,
        page=page,
        pages=max(1, (len(events) + size - 1) // size),
    )


@router.get("/orgs", response_class=HTMLResponse)
def orgs_page(
    *,
    request: Request,
    p: Public,
    conn: Conn,
    scan: ScanQ = None,
    search: Annotated[str, Query(max_length=200)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=200_000)] = 1,
) -> Response:
    s = latest(conn) if scan is None else pick_scan(conn, scan)
    total, items = oq.search_orgs(
        conn, s, q=search, org_type=type, offset=(page - 1) * PAGE, limit=PAGE
    )
    return render(
        request,
        "orgs.html",
        p,
        scan=s,
        total=total,
        items=items,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        search=search,
        type=type,
        loaded=oq.has_orgs(conn),
    )


@router.get("/orgs/{org_id:path}", response_class=HTMLResponse)
def org_page(request: Request, org_id: str, p: Public, conn: Conn, scan: ScanQ = None) -> Response:
    s = latest(conn) if scan is None else pick_scan(conn, scan)
    d = oq.org_detail(conn, s, org_id[:200])
    if d is None:
        raise HTTPException(404, f"no organisation {org_id}")
    return render(request, "org.html", p, o=d, scan=s)
