"""Server-rendered pages: overview, domains, providers, trends, changes, map and organisations
(account and admin pages: :mod:`sovmap.web.account_pages`)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from sovmap import figures, i18n
from sovmap.classify.location import LOCATION_PROBE, data_centre
from sovmap.classify.posture import describe
from sovmap.classify.stored import stored_posture
from sovmap.control import us_controlled
from sovmap.exitplan.catalogue import options_for
from sovmap.i18n import t
from sovmap.knowledge import default_catalogue
from sovmap.model import Capability
from sovmap.report import orgs as oq
from sovmap.report import palette, svg
from sovmap.store import queries as q
from sovmap.store.snapshots import choose_scan
from sovmap.web.auth import (
    Principal,
)
from sovmap.web.deps import Conn, require
from sovmap.web.export import Col, Tables, page_of
from sovmap.web.finding_rows import FindingRows
from sovmap.web.i18n_web import LANG_COOKIE, Words, context, lang_of
from sovmap.web.notes_routes import notes_of, page_message
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


def fragment(request: Request, name: str, **ctx: Any) -> Markup:
    """A template rendered on its own (part of a page), with the page's words (``t``, ``w``,
    ``lang``) and ``request``."""
    env = request.app.state.templates.env
    return Markup(env.get_template(name).render({**context(request), "request": request, **ctx}))


def render(request: Request, name: str, p: Principal | None, **ctx: Any) -> HTMLResponse:
    templates = request.app.state.templates
    ctx.update(request=request, p=p, features=request.app.state.features)
    response: HTMLResponse = templates.TemplateResponse(request, name, ctx)
    return response


def _overview_charts(ov: q.Overview, w: Words) -> dict[str, Any]:
    # one colour per jurisdiction class, the same in every scan (report/palette.py)
    colours = palette.legend(w.lang)
    stacks = [
        svg.Stack(w.cap(cap), palette.stack(per, w.lang), href=f"/domains?capability={cap}")
        for cap, per in ov.by_jurisdiction.items()
    ]

    def share(cap: str) -> float:
        n = ov.us_domains.get(cap, 0)
        return round(100.0 * n / ov.scan.domains, 1) if ov.scan.domains else 0

    us = [
        svg.Bar(
            w.cap(cap),
            share(cap),
            colour=svg.US_COLOUR,
            note=w.t(
                "WEB_CHART_OF_DOMAINS",
                n=w.num(ov.us_domains.get(cap, 0)),
                total=w.num(ov.scan.domains),
            ),
            shown=f"{w.num(share(cap))}%",
        )
        for cap in ov.by_jurisdiction
    ]
    return {
        "jur_chart": svg.stacked_bars(stacks, title=w.t("WEB_CHART_JURISDICTION"), colours=colours),
        "us_chart": svg.bar_chart(us, title=w.t("WEB_CHART_US_SHARE"), unit="%"),
    }


#: the columns of each table (query-string name, header code, numeric)
JURISDICTION_COLS = (
    Col("capability", "WEB_COL_CAPABILITY"),
    Col("jurisdiction", "WEB_COL_JURISDICTION"),
    Col("domains", "WEB_COL_DOMAINS", num=True),
)
PROVIDER_COLS = (
    Col("capability", "WEB_COL_CAPABILITY"),
    Col("provider", "WEB_COL_PROVIDER"),
    Col("parent", "WEB_COL_PARENT"),
    Col("jurisdiction", "WEB_COL_JURISDICTION"),
    Col("domains", "WEB_COL_DOMAINS", num=True),
)
DOMAIN_COLS = (
    Col("domain", "WEB_COL_DOMAIN"),
    Col("organisation", "WEB_COL_ORGANISATION"),
    Col("mailbox", "WEB_COL_MAILBOX"),
    Col("us", "WEB_COL_US_CAPS"),
)
ORG_COLS = (
    Col("name", "WEB_COL_ORGANISATION"),
    Col("type", "WEB_COL_TYPE"),
    Col("domains", "WEB_COL_DOMAINS"),
    Col("mailbox", "WEB_COL_MAILBOX"),
    Col("us", "WEB_COL_US_CAPS"),
)
CHANGE_COLS = (
    Col("event", "WEB_COL_EVENT"),
    Col("subject", "WEB_COL_SUBJECT"),
    Col("capability", "WEB_COL_CAPABILITY"),
    Col("before", "WEB_COL_BEFORE"),
    Col("after", "WEB_COL_AFTER"),
    Col("domains", "WEB_COL_DOMAINS"),
)
GROUP_COLS = (
    Col("scan", "WEB_COL_SCAN", num=True),
    Col("type", "WEB_COL_TYPE"),
    Col("organisations", "WEB_COL_ORGANISATIONS", num=True),
    Col("us_mailbox", "WEB_COL_US_MAILBOX", num=True),
    Col("share", "WEB_COL_SHARE", num=True),
)
FINDING_COLS = (
    Col("capability", "WEB_COL_CAPABILITY"),
    Col("role", "WEB_COL_ROLE"),
    Col("provider", "WEB_COL_PROVIDER"),
    Col("parent", "WEB_COL_PARENT"),
    Col("jurisdiction", "WEB_COL_JURISDICTION"),
    Col("confidence", "WEB_COL_CONFIDENCE", num=True),
    Col("code", "WEB_COL_CODE"),
)
#: rows fetched at a time when a sorted or exported table needs all of them (bounds the
#: memory of one step: 20,000 domain summaries peak at 55 MiB while read)
CHUNK = 5_000


def _all(fetch: Any, total: int) -> list[Any]:
    """Every row of a paged query, fetched in chunks (for sorting and export)."""
    out: list[Any] = []
    while len(out) < total:
        _, part = fetch(len(out), CHUNK)
        if not part:
            break
        out.extend(part)
    return out


def _names(w: Words, caps: Any) -> str:
    return ", ".join(w.cap(c) for c in caps)


@router.get("/lang", include_in_schema=False)
def switch_language(request: Request, set: Annotated[str, Query(max_length=8)] = "en") -> Response:
    """The language switch in the header: remembered in a cookie (a year), then back to the
    page it was clicked on (the same-site Referer; the query string never goes into a link)."""
    if set not in i18n.LANGUAGES:
        valid = ", ".join(i18n.LANGUAGES)
        raise HTTPException(400, t(lang_of(request), "WEB_ERR_LANG", valid=valid))
    ref = urlsplit(request.headers.get("referer", "")[:2048])
    target = "/"
    if ref.netloc == request.url.netloc and ref.path.startswith("/") and ref.path != "/lang":
        target = ref.path + (f"?{ref.query}" if ref.query else "")
    if target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        target = "/"
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(LANG_COOKIE, set, max_age=365 * 86400, samesite="lax", path="/")
    return resp


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, p: Public, conn: Conn, scan: ScanQ = None) -> Response:
    s = latest(conn) if scan is None else pick_scan(conn, scan)
    if s is None:
        return render(request, "empty.html", p)
    w = Words(lang_of(request))
    figs = scan_figures(request, conn, s)
    cache = request.app.state.cache
    ov: q.Overview = cache.get(
        ("overview",), s, lambda: q.overview(conn, s, figures.us_by_capability(figs))
    )
    tables = Tables(request, w.lang, ("scan",))
    rows = [(cap, j, n) for cap, per in ov.by_jurisdiction.items() for j, n in per.items()]
    jur = tables.add("jurisdiction", JURISDICTION_COLS, lambda r: (w.cap(r[0]), r[1], r[2]), rows)
    provs = tables.add(
        "providers",
        PROVIDER_COLS,
        lambda c: (w.cap(c.capability), c.provider_name, c.parent, c.jurisdiction, c.domains),
        ov.providers,
    )
    if (export := tables.answer("overview")) is not None:
        return export
    all_scans = scans(conn)
    body_ctx = {"ov": ov, "figs": figs, "grids": {"jurisdiction": jur, "providers": provs}}

    def body() -> Markup:
        # the charts depend on the scan's aggregates and the language only
        charts = cache.get(("overview-charts", w.lang), s, lambda: _overview_charts(ov, w))
        return fragment(request, "_overview_body.html", **body_ctx, **charts)

    if jur.sort or provs.sort:  # another order than the default: rendered for this request
        shown = body()
    else:  # the same for every reader of this scan in this language (and filter links)
        shown = cache.get(("overview-body", w.lang, tuple(jur.base)), s, body)
    return render(
        request,
        "overview.html",
        p,
        ov=ov,
        choice=choose_scan(conn, scan, known_counts(conn), all_scans),
        scans=all_scans,
        body=shown,
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
    w = Words(lang_of(request))
    tables = Tables(request, w.lang, ("scan", "prefix", "provider", "capability"))

    def fetch(offset: int, limit: int) -> tuple[int, list[q.DomainSummary]]:
        return q.search_domains(
            conn,
            s,
            q=search_prefix(prefix),
            provider=provider,
            capability=capability,
            offset=offset,
            limit=limit,
        )

    def cells(d: q.DomainSummary) -> tuple[Any, ...]:
        org = d.attributes.get("name") or d.attributes.get("organisation") or ""
        mbox = f"{d.mailbox} ({d.mailbox_jurisdiction})" if d.mailbox_jurisdiction else d.mailbox
        return (d.domain, str(org), mbox, _names(w, d.us_capabilities))

    grid = tables.add("domains", DOMAIN_COLS, cells)
    if tables.wants("domains"):
        # the whole filtered result, sorted; a finished scan's unfiltered list is kept in the
        # cache (one per scan: filtered lists are smaller and read again)
        total = fetch(0, 0)[0]
        if prefix or provider or capability:
            grid.rows = _all(fetch, total)
        else:
            grid.rows = request.app.state.cache.get(("domains-all",), s, lambda: _all(fetch, total))
        if (export := tables.answer("domains")) is not None:
            return export
        items, pages = page_of(grid.sorted(), page, PAGE)
    else:
        tables.answer("domains")
        total, items = fetch((page - 1) * PAGE, PAGE)
        pages = max(1, (total + PAGE - 1) // PAGE)
    return render(
        request,
        "domains.html",
        p,
        scan=s,
        total=total,
        items=items,
        grid=grid,
        page=page,
        pages=pages,
        prefix=prefix,
        provider=provider,
        capability=capability,
        caps=[c.value for c in Capability],
    )


@router.get("/domains/{domain}", response_class=HTMLResponse)
def domain_page(
    request: Request, domain: str, p: Public, conn: Conn, scan: ScanQ = None
) -> Response:
    s = pick_scan(conn, scan)
    d = q.domain_detail(conn, s, domain_key(domain))
    if d is None:
        w = Words(lang_of(request))
        raise HTTPException(404, w.t("WEB_ERR_NO_DOMAIN", domain=domain[:253], scan=s.id))
    w = Words(lang_of(request))
    tables = Tables(request, w.lang, ("scan",))
    grid = tables.add(
        "findings",
        FINDING_COLS,
        lambda f: (
            w.cap(f.capability),
            f.role,
            f.provider_name,
            f.parent,
            f.jurisdiction,
            round(f.confidence, 2),
            f.code,
        ),
        d.findings,
    )
    if (export := tables.answer(d.domain)) is not None:
        return export
    # the mail security posture, once per request (like the findings, not cached: one domain)
    found = dict(stored_posture(conn, s.id, d.domain)).get(d.domain, [])
    editor = p.can("editor")
    rows = FindingRows(
        w,
        domain=d.domain,
        notes=notes_of(request, d.domain),
        editor=editor,
        csrf=p.csrf,
        location_probe=LOCATION_PROBE,
        place=lambda e: data_centre(e, w.lang),
    )
    return render(
        request,
        "domain.html",
        p,
        d=d,
        grid=grid,
        rows=rows.html(grid.sorted()),
        editor=editor,
        notes_message=page_message(request),
        posture=found,
        say=lambda f: describe(f, w.lang),
    )


@router.get("/providers/{provider}", response_class=HTMLResponse)
def provider_page(
    request: Request, provider: str, p: Public, conn: Conn, scan: ScanQ = None
) -> Response:
    s = pick_scan(conn, scan)
    w = Words(lang_of(request))
    d = request.app.state.cache.get(
        ("provider", provider[:128]), s, lambda: q.provider_detail(conn, s, provider[:128])
    )
    if d is None:
        raise HTTPException(404, w.t("WEB_ERR_NO_PROVIDER", provider=provider[:128], scan=s.id))
    tables = Tables(request, w.lang, ("scan",))
    grid = tables.add(
        "capabilities",
        (Col("capability", "WEB_COL_CAPABILITY"), Col("domains", "WEB_COL_DOMAINS", num=True)),
        lambda r: (w.cap(r[0]), r[1]),
        list(d.domains_by_capability.items()),
    )
    if (export := tables.answer("provider")) is not None:
        return export
    bars = [
        svg.Bar(w.cap(cap), n, href=f"/domains?provider={d.provider}&capability={cap}")
        for cap, n in d.domains_by_capability.items()
    ]
    chart = svg.bar_chart(bars, title=w.t("WEB_CHART_PROVIDER", provider=d.provider_name))
    known = default_catalogue().providers.get(d.provider)
    options = {}
    if us_controlled(d.jurisdiction, d.tags):
        options = {cap: options_for(cap) for cap in d.domains_by_capability}
        options = {cap: alts for cap, alts in options.items() if alts}
    return render(
        request,
        "provider.html",
        p,
        d=d,
        chart=chart,
        known=known,
        options=options,
        grids={"capabilities": grid},
    )


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, p: Public, conn: Conn) -> Response:
    w = Words(lang_of(request))
    points = trends(conn, request.app.state.cache)
    caps = sorted({c for pt in points for c in pt.us_share})
    xs = [f"#{pt.scan.id} {w.day(pt.scan.started_at[:10])}" for pt in points]
    series = {w.cap(c): [pt.us_share.get(c, 0.0) for pt in points] for c in caps}
    chart = svg.line_chart(xs, series, title=w.t("WEB_CHART_TRENDS"))
    groups = group_trends(conn, request.app.state.cache)
    tables = Tables(request, w.lang)
    cols = [
        Col("scan", "WEB_COL_SCAN", num=True),
        Col("started", "WEB_COL_STARTED"),
        Col("domains", "WEB_COL_DOMAINS", num=True),
        *(
            Col(c, "WEB_COL_US_SHARE", num=True, text=w.t("WEB_COL_US_SHARE", capability=w.cap(c)))
            for c in caps
        ),
    ]
    grid = tables.add(
        "trends",
        cols,
        lambda pt: (
            pt.scan.id,
            pt.scan.started_at,
            pt.scan.domains,
            *(round(pt.us_share.get(c, 0.0), 1) for c in caps),
        ),
        points,
    )
    gg = tables.add(
        "groups",
        GROUP_COLS,
        lambda g: (g.scan_id, g.group, g.organisations, g.us_mailbox, round(g.share, 1)),
        groups,
    )
    if (export := tables.answer("trends")) is not None:
        return export
    group_chart = None
    if groups:
        ids = [pt.scan.id for pt in points]
        by = {(g.scan_id, g.group): g.share for g in groups}
        names = sorted({g.group for g in groups})
        group_chart = svg.line_chart(
            xs,
            {n: [by.get((i, n), 0.0) for i in ids] for n in names},
            title=w.t("WEB_CHART_GROUPS"),
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
        grids={"trends": grid, "groups": gg},
    )


@router.get("/changes", response_class=HTMLResponse)
def changes_page(
    request: Request,
    p: Public,
    conn: Conn,
    kind: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    w = Words(lang_of(request))
    result = changes(conn, request.app.state.cache, request.app.state.engine)
    events = [e for e in result.events if not kind or e.kind.value == kind] if result else []
    kinds = Counter(e.kind.value for e in result.events) if result else Counter()

    def side(xs: Any) -> str:
        return ", ".join(f"{x.name or x.id} ({x.jurisdiction or '?'})" for x in xs)

    tables = Tables(request, w.lang, ("kind",))
    grid = tables.add(
        "changes",
        CHANGE_COLS,
        lambda e: (
            w.value("event", e.kind.value),
            e.subject_name if e.subject_kind == "org" else e.subject,
            w.cap(e.capability.value),
            side(e.old),
            side(e.new),
            ", ".join(e.domains),
        ),
        events,
    )
    if (export := tables.answer("changes")) is not None:
        return export
    size = 200
    shown, pages = page_of(grid.sorted(), page, size)
    return render(
        request,
        "changes.html",
        p,
        result=result,
        events=shown,
        grid=grid,
        total=len(events),
        kinds=sorted(kinds.items()),
        kind=kind,
        page=page,
        pages=pages,
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
    w = Words(lang_of(request))
    tables = Tables(request, w.lang, ("scan", "search", "type"))

    def fetch(offset: int, limit: int) -> tuple[int, list[oq.OrgSummary]]:
        return oq.search_orgs(conn, s, q=search, org_type=type, offset=offset, limit=limit)

    def cells(o: oq.OrgSummary) -> tuple[Any, ...]:
        return (o.name, o.type, ", ".join(o.domains), o.mailbox, _names(w, o.us_capabilities))

    grid = tables.add("orgs", ORG_COLS, cells)
    if tables.wants("orgs"):
        total = fetch(0, 0)[0]
        if s is None or search or type:
            grid.rows = _all(fetch, total)
        else:  # unfiltered, a finished scan and the same organisation sets: cached
            key = ("orgs-all", tuple(q.current_sets(conn)))
            grid.rows = request.app.state.cache.get(key, s, lambda: _all(fetch, total))
        if (export := tables.answer("orgs")) is not None:
            return export
        items, pages = page_of(grid.sorted(), page, PAGE)
    else:
        tables.answer("orgs")
        total, items = fetch((page - 1) * PAGE, PAGE)
        pages = max(1, (total + PAGE - 1) // PAGE)
    return render(
        request,
        "orgs.html",
        p,
        scan=s,
        total=total,
        items=items,
        grid=grid,
        page=page,
        pages=pages,
        search=search,
        type=type,
        loaded=oq.has_orgs(conn),
    )


@router.get("/orgs/{org_id:path}", response_class=HTMLResponse)
def org_page(request: Request, org_id: str, p: Public, conn: Conn, scan: ScanQ = None) -> Response:
    s = latest(conn) if scan is None else pick_scan(conn, scan)
    d = oq.org_detail(conn, s, org_id[:200])
    if d is None:
        raise HTTPException(404, t(lang_of(request), "WEB_ERR_NO_ORG", org=org_id[:200]))
    return render(request, "org.html", p, o=d, scan=s)
