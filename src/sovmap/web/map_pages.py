"""The map page (``/map``) and its SVG export (``/map.svg``): a choropleth of the
organisations by Dutch municipality, Dutch province or European country
(:mod:`sovmap.web.choropleth`). The PNG export is drawn from the SVG by the browser
(``static/map.js``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import Connection

from sovmap import figures, i18n
from sovmap.report import palette
from sovmap.store.snapshots import ScanInfo
from sovmap.web import choropleth as ch
from sovmap.web.auth import Principal
from sovmap.web.deps import Conn, require
from sovmap.web.i18n_web import lang_of
from sovmap.web.pages import render
from sovmap.web.service import Cache, locations, pick_scan, scan_figures

router = APIRouter(include_in_schema=False)

Public = Annotated[Principal, Depends(require("public"))]
ScanQ = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
LayerQ = Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9-]*$")]

#: the page lists at most this many organisations per area and unjoined ones (the rest
#: counted; every organisation is on /orgs)
MEMBERS_SHOWN = 10
UNJOINED_SHOWN = 500

_HOW = {
    "code": "MAP_HOW_CODE",
    "country": "MAP_HOW_COUNTRY",
    "name": "MAP_HOW_NAME",
    "location": "MAP_HOW_LOCATION",
}


def layer_name(lang: str, layer: str) -> str:
    return i18n.t(lang, "MAP_LAYER_" + layer.upper().replace("-", "_"))


def _layer(lang: str, layer: str) -> ch.Layer:
    valid = ch.available_layers()
    if not layer:
        layer = valid[0]
    if layer not in valid:
        text = i18n.t(lang, "MAP_UNKNOWN_LAYER", layer=layer, valid=", ".join(valid))
        raise HTTPException(400, text)
    return ch.load_layer(layer)


def places_of(conn: Connection, scan: ScanInfo, figs: figures.Figures) -> list[ch.Place]:
    """The organisations, or without organisations the scanned domains with coordinates;
    classes from the scan's headline figures."""
    classes = ch.mailbox_classes(figs)
    places = ch.org_places(conn, classes)
    if places:
        return places
    return [
        ch.Place(
            id=x.domain,
            name=f"{x.name} ({x.domain})" if x.name and x.name != x.domain else x.domain,
            href=f"/domains/{x.domain}",
            cls=classes.get(x.domain, palette.UNKNOWN_CLASS),
            lat=x.lat,
            lon=x.lon,
        )
        for x in locations(conn, scan)
    ]


def warm(conn: Connection, cache: Cache, scan: ScanInfo, figs: figures.Figures) -> None:
    """For the start-up warm-up (:func:`sovmap.web.service.warm`): the places and the default
    layer's join, which the first /map would otherwise wait for (seconds on large stores)."""
    places: list[ch.Place] = cache.get(("map-places",), scan, lambda: places_of(conn, scan, figs))
    default = ch.available_layers()[0]
    cache.get(("map-join", default), scan, lambda: ch.join(ch.load_layer(default), places))


def _words(lang: str, layer: ch.Layer, scan: ScanInfo) -> ch.Words:
    names = {c: i18n.t(lang, palette.LABEL_CODES[c]) for c in palette.CLASSES}

    def area_title(area: ch.Area, members: Sequence[tuple[ch.Place, str]]) -> str:
        if len(members) == 1:
            p = members[0][0]
            return i18n.t(lang, "MAP_AREA_ONE", area=area.name, org=p.name, cls=names[p.cls])
        counts = Counter(p.cls for p, _ in members)
        text = ", ".join(
            i18n.t(lang, "MAP_COUNT", cls=names[c], n=i18n.format_number(counts[c], lang))
            for c in palette.CLASSES
            if counts[c]
        )
        n = i18n.format_number(len(members), lang)
        return i18n.t(lang, "MAP_AREA_MANY", area=area.name, n=n, counts=text)

    return ch.Words(
        title=i18n.t(lang, "MAP_SVG_TITLE", layer=layer_name(lang, layer.id), scan=scan.id),
        legend_title=i18n.t(lang, "MAP_LEGEND"),
        class_names=names,
        no_orgs=i18n.t(lang, "MAP_NO_ORGS"),
        area_title=area_title,
    )


def _map(
    request: Request, conn: Connection, scan: ScanInfo, layer: ch.Layer, lang: str, standalone: bool
) -> tuple[ch.Joined, list[ch.Place], Markup]:
    cache = request.app.state.cache
    places: list[ch.Place] = cache.get(
        ("map-places",), scan, lambda: places_of(conn, scan, scan_figures(request, conn, scan))
    )
    joined: ch.Joined = cache.get(("map-join", layer.id), scan, lambda: ch.join(layer, places))
    svg: Markup = cache.get(
        ("map-svg", layer.id, lang, standalone),
        scan,
        lambda: ch.render_svg(joined, _words(lang, layer, scan), standalone=standalone),
    )
    return joined, places, svg


def _areas(layer: ch.Layer, joined: ch.Joined, lang: str) -> list[dict[str, Any]]:
    """The table under the map: each area with organisations, its colour and (some of) them."""
    names = {c: i18n.t(lang, palette.LABEL_CODES[c]) for c in palette.CLASSES}
    how_names = {k: i18n.t(lang, v) for k, v in _HOW.items()}
    out: list[dict[str, Any]] = []
    for area in layer.areas:
        members = joined.by_area.get(area.code) if area.code else None
        if members:
            cls = ch.area_class(members)
            out.append(
                {
                    "code": area.code,
                    "name": area.name,
                    "cls": cls,
                    "cls_name": names[cls],
                    "colour": palette.colour(cls),
                    "members": [
                        (pl, names[pl.cls], how_names[how]) for pl, how in members[:MEMBERS_SHOWN]
                    ],
                    "more": max(0, len(members) - MEMBERS_SHOWN),
                }
            )
    return out


@router.get("/map", response_class=HTMLResponse)
def map_page(
    request: Request, p: Public, conn: Conn, scan: ScanQ = None, layer: LayerQ = ""
) -> Response:
    lang = lang_of(request)
    s = pick_scan(conn, scan)
    lay = _layer(lang, layer)
    joined, places, svg = _map(request, conn, s, lay, lang, standalone=False)
    names = {c: i18n.t(lang, palette.LABEL_CODES[c]) for c in palette.CLASSES}
    areas: list[dict[str, Any]] = request.app.state.cache.get(
        ("map-areas", lay.id, lang), s, lambda: _areas(lay, joined, lang)
    )
    return render(
        request,
        "map.html",
        p,
        scan=s,
        layer=lay,
        layers=[(n, layer_name(lang, n)) for n in ch.available_layers()],
        layer_title=layer_name(lang, lay.id),
        chart=svg,
        total=len(places),
        placed=len(places) - len(joined.unjoined),
        areas=areas,
        unjoined=[(pl, i18n.t(lang, reason)) for pl, reason in joined.unjoined[:UNJOINED_SHOWN]],
        unjoined_total=len(joined.unjoined),
        legend=[(palette.colour(c), names[c], c) for c in palette.CLASSES],
    )


@router.get("/map.svg")
def map_svg(
    request: Request, p: Public, conn: Conn, scan: ScanQ = None, layer: LayerQ = ""
) -> Response:
    """The map as a standalone SVG file, for a publication."""
    lang = lang_of(request)
    s = pick_scan(conn, scan)
    lay = _layer(lang, layer)
    _, _, svg = _map(request, conn, s, lay, lang, standalone=True)
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg)
    name = f"sovmap-{lay.id}-scan{s.id}-{lang}.svg"
    return Response(
        body,
        media_type="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
