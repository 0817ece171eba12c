"""The choropleth map: the palette, the bundled boundaries, joining organisations to areas,
the SVG, the page and its exports, and (in headless Chromium) the map of the bundled example
organisations with its legend, coloured areas, the unjoined list and a click through."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.support.storegen import add_scan
from tests.support.webstore import PASSWORD, Store, auth, fill

from sovmap import figures
from sovmap.orgs import service
from sovmap.report import palette
from sovmap.store.migrate import open_engine
from sovmap.store.snapshots import latest_finished
from sovmap.web import choropleth as ch
from sovmap.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
EXAMPLES = ROOT / "examples" / "orgs" / "bodies.csv"
EXAMPLE_DOMAINS = ("duo.nl", "rivm.nl", "cbs.nl", "utrecht.nl")
GEO = resources.files("sovmap.web") / "static" / "geo"


def _example_store(engine: Engine, db: str) -> Store:
    """Generated scans and organisations, then the bundled example organisations
    (examples/orgs/bodies.csv, through the organisation room's importer) and a newer scan
    that covers their domains too."""
    store = fill(engine, n=30)
    service.import_file(EXAMPLES, db=db)
    with engine.begin() as conn:
        doms = [(d, {}) for d in EXAMPLE_DOMAINS] + [(f"gemeente{i:06d}.nl", {}) for i in range(30)]
        store.scans.append(
            add_scan(conn, doms, seed=3, us_bias=0.6, started_at="2026-09-01T00:00:00Z")
        )
    return store


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    db = str(tmp_path / "map.db")
    engine = open_engine(db)
    yield _example_store(engine, db), db
    engine.dispose()


# -- palette -------------------------------------------------------------------------------


def test_palette_colours_are_distinct_and_contrast_with_white() -> None:
    colours = [palette.colour(c) for c in palette.CLASSES]
    assert len(set(colours)) == len(colours)
    for c in palette.CLASSES:
        assert palette.contrast(palette.colour(c), "#FFFFFF") >= 3.0, c
    assert palette.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)


def test_palette_classes_follow_the_control_rule() -> None:
    assert palette.class_of("US") == palette.US
    assert palette.class_of("IE", ["us-cloud-act"]) == palette.US
    assert palette.class_of("DE") == palette.EU
    assert palette.class_of("EU") == palette.EU
    assert palette.class_of("CN") == palette.OTHER
    assert palette.class_of("") == palette.UNKNOWN_CLASS
    assert palette.class_of("?") == palette.UNKNOWN_CLASS
    # the overview's keys: the same class (and so colour) whatever else a scan holds
    one = palette.group({"US": 3, "NL": 2, "unknown": 1})
    two = palette.group({"DE": 5, "US": 1, "CN": 4, "FR": 1})
    assert one == {"us": 3, "eu": 2, "unknown": 1}
    assert two == {"us": 1, "eu": 6, "other": 4}
    assert list(two) == ["us", "eu", "other"]


# -- bundled boundaries --------------------------------------------------------------------


def test_bundled_layers_are_small_sourced_and_complete() -> None:
    assert ch.available_layers() == ("nl-municipalities", "nl-provinces", "europe")
    total = sum((GEO / f"{n}.json").stat().st_size for n in ch.available_layers())  # type: ignore[attr-defined]
    assert total < 1_000_000
    sources = (GEO / "SOURCES.md").read_text(encoding="utf-8")
    for name in ch.available_layers():
        layer = ch.load_layer(name)
        assert layer.source and layer.licence and layer.attribution and layer.year
        assert f"`{name}.json`" in sources
    gm = ch.load_layer("nl-municipalities")
    codes = {a.code: a.name for a in gm.areas}
    assert len(codes) == 342
    assert codes["GM0363"] == "Amsterdam"
    assert codes["GM0344"] == "Utrecht"
    assert all(re.fullmatch(r"GM\d{4}", c) for c in codes)
    pv = ch.load_layer("nl-provinces")
    assert {a.code for a in pv.areas} == {f"PV{n}" for n in range(20, 32)}
    eu = ch.load_layer("europe")
    assert {"NL", "DE", "FR", "PL", "GB", "XK"} <= {a.code for a in eu.areas}
    with pytest.raises(KeyError):
        ch.load_layer("mars")


# -- joining -------------------------------------------------------------------------------


def _place(name: str, **kw: object) -> ch.Place:
    return ch.Place(id=name, name=name, href=f"/orgs/{name}", cls=palette.US, **kw)  # type: ignore[arg-type]


def test_join_by_code_name_coordinates_and_the_rest_unjoined() -> None:
    gm = ch.load_layer("nl-municipalities")
    places = [
        _place("by code", municipality_code="363"),
        _place("Gemeente Utrecht"),
        _place("Gemeente Bergen (NH.)"),
        _place("by coordinates", lat=52.0907, lon=5.1214),  # Utrecht Dom tower
        _place("at sea", lat=53.9, lon=3.2),
        _place("Dienst Uitvoering Onderwijs"),
    ]
    j = ch.join(gm, places)
    assert [(p.name, how) for p, how in j.by_area["GM0363"]] == [("by code", "code")]
    assert [(p.name, how) for p, how in j.by_area["GM0344"]] == [
        ("Gemeente Utrecht", "name"),
        ("by coordinates", "location"),
    ]
    assert [p.name for p, _ in j.by_area["GM0373"]] == ["Gemeente Bergen (NH.)"]
    assert [(p.name, r) for p, r in j.unjoined] == [
        ("at sea", "MAP_UNJOINED_OUTSIDE"),
        ("Dienst Uitvoering Onderwijs", "MAP_UNJOINED_NO_PLACE"),
    ]
    # provinces: by name only with the province prefix ("Gemeente Utrecht" is not PV26)
    pv = ch.load_layer("nl-provinces")
    j = ch.join(pv, [_place("Provincie Utrecht"), _place("Gemeente Utrecht")])
    assert [p.name for p, _ in j.by_area["PV26"]] == ["Provincie Utrecht"]
    assert [p.name for p, _ in j.unjoined] == ["Gemeente Utrecht"]
    # Europe: by country, else by coordinates
    eu = ch.load_layer("europe")
    j = ch.join(eu, [_place("a", country="DE"), _place("b", lat=48.8566, lon=2.3522)])
    assert [p.name for p, _ in j.by_area["DE"]] == ["a"]
    assert [p.name for p, _ in j.by_area["FR"]] == ["b"]
    assert ch.municipality_code("gm0363") == "GM0363"
    assert ch.municipality_code("GM12345") == ""


def test_area_class_is_the_majority_ties_to_the_first_listed() -> None:
    def members(*classes: str) -> list[tuple[ch.Place, str]]:
        return [(ch.Place(str(i), "x", "/", c), "code") for i, c in enumerate(classes)]

    assert ch.area_class(members(palette.EU, palette.EU, palette.US)) == palette.EU
    assert ch.area_class(members(palette.EU, palette.US)) == palette.US
    assert ch.area_class(members(palette.UNKNOWN_CLASS, palette.OTHER)) == palette.OTHER


def test_svg_has_titles_links_legend_and_attribution() -> None:
    pv = ch.load_layer("nl-provinces")
    places = [
        ch.Place("o1", "Provincie Utrecht", "/orgs/o1", palette.EU),
        ch.Place("o2", "Provincie Zeeland", "/orgs/o2", palette.US),
        ch.Place("o3", "Provincie Zeeland", "/orgs/o3", palette.US),
    ]
    words = ch.Words(
        "Title <x>",
        "Legend",
        {c: c.upper() for c in palette.CLASSES},
        "none",
        lambda a, m: f"{a.name}: {len(m)}",
    )
    svg = str(ch.render_svg(ch.join(pv, places), words, standalone=True))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>Title &lt;x&gt;</title>" in svg
    assert (
        f'fill="{palette.colour(palette.EU)}" stroke="#FFFFFF" stroke-width="0.6" data-area="PV26"'
        in svg
    )
    assert '<a href="/orgs/o1"' in svg and '<a href="#area-PV29"' in svg
    assert "<title>Zeeland: 2</title>" in svg
    for c in palette.CLASSES:
        assert f'data-class="{c}"><rect' in svg
    assert "CBS, Kadaster/PDOK (CC BY 4.0)" in svg
    assert svg.count("<path") == 12


# -- the page and its exports --------------------------------------------------------------


def test_map_page_of_the_example_organisations(example: tuple[Store, str]) -> None:
    store, _ = example
    with TestClient(create_app(store.engine)) as c:
        h = auth(store, "viewer")
        r = c.get("/map", headers=h)
        assert r.status_code == 200
        html = r.text
        # Gemeente Utrecht (examples/orgs/bodies.csv) on its municipality, coloured as the
        # headline figures count utrecht.nl's mailbox
        with store.engine.connect() as conn:
            scan = latest_finished(conn)
            assert scan is not None and scan.id == store.scans[-1]
            figs = figures.compute(conn, scan)
        us = {row[0] for row in figs["mailbox_us_domains"].rows}
        expected = palette.US if "utrecht.nl" in us else None
        m = re.search(
            r'<a href="/orgs/list:gemeente-utrecht"[^>]*><path [^>]*'
            r'data-area="GM0344"[^>]*data-class="(\w+)"',
            html,
        )
        assert m is not None, "Gemeente Utrecht is not drawn on GM0344"
        if expected:
            assert m.group(1) == expected
        fill_of = re.search(r'fill="(#[0-9A-F]{6})"[^>]*data-area="GM0344"', html)
        assert fill_of is not None and fill_of.group(1) == palette.colour(m.group(1))
        # the three example bodies without a place are listed under the map, with the reason
        unjoined = html.split('id="map-unjoined"')[1].split("</table>")[0]
        for name in (
            "Dienst Uitvoering Onderwijs",
            "Rijksinstituut voor Volksgezondheid en Milieu",
            "Centraal Bureau voor de Statistiek",
        ):
            assert name in unjoined
        assert "no municipality code, country, matching name or coordinates" in unjoined
        assert 'id="map-legend"' in html and "US-controlled" in html
        assert "CBS, Kadaster/PDOK" in html

        # Dutch
        c.cookies.set("sovmap_lang", "nl")
        nl = c.get("/map?layer=nl-provinces", headers=h).text
        assert "<h1>Kaart</h1>" in nl and "Onder Amerikaanse zeggenschap" in nl
        assert "Niet op deze kaart" in nl
        c.cookies.clear()

        # SVG export: standalone, named, the same map
        r = c.get("/map.svg?layer=europe", headers=h)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("image/svg+xml")
        assert re.match(
            r'attachment; filename="sovmap-europe-scan\d+-en\.svg"',
            r.headers["content-disposition"],
        )
        assert r.text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns=')
        assert 'data-area="NL"' in r.text

        # an unknown layer: 400 naming the valid ones; anonymous: refused
        r = c.get("/map?layer=mars", headers=h)
        assert r.status_code == 400
        assert "nl-municipalities, nl-provinces, europe" in r.text
        assert c.get("/map.svg", follow_redirects=False).status_code in (302, 303, 401)


# -- in the browser ------------------------------------------------------------------------

CHROMIUM = os.environ.get("SOVMAP_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed")
def test_choropleth_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright
    from tests.web.serving import serve
    from tests.web.test_a11y import axe

    db = str(tmp_path / "browser-map.db")
    engine = open_engine(db)
    _example_store(engine, db)
    engine.dispose()
    with serve(db, "--host", "127.0.0.1") as s, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            # bypass_csp: only so that the test can inject axe-core (the CSP is tested elsewhere)
            ctx = browser.new_context(
                viewport={"width": 1200, "height": 1000}, accept_downloads=True, bypass_csp=True
            )
            page = ctx.new_page()
            page.set_default_timeout(30_000)
            page.goto(s.url + "/login?next=/map")
            page.fill("#username", "viewer")
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url("**/map")
            expect(page.locator("h1")).to_have_text("Map")
            svg = page.locator("#map svg")
            expect(svg).to_be_visible()
            # legend: one entry per class (and the empty areas), in the SVG and on the page
            expect(page.locator("#map svg g.legend-item")).to_have_count(len(palette.CLASSES) + 1)
            expect(page.locator("#map-legend li")).to_have_count(len(palette.CLASSES))
            # areas coloured with the palette's colours
            coloured = page.locator("#map svg path[data-class]")
            assert coloured.count() >= 2
            fills = set(coloured.evaluate_all("ps => ps.map(p => p.getAttribute('fill'))"))
            assert fills <= {palette.colour(c) for c in palette.CLASSES}
            # WCAG 2.1 A/AA: axe-core finds nothing on any layer, in English and Dutch
            for lang in ("en", "nl"):
                page.context.add_cookies([{"name": "sovmap_lang", "value": lang, "url": s.url}])
                for layer in ch.available_layers():
                    page.goto(f"{s.url}/map?layer={layer}")
                    assert axe(page) == [], (lang, layer)
            page.context.add_cookies([{"name": "sovmap_lang", "value": "en", "url": s.url}])
            page.goto(s.url + "/map")
            page.screenshot(path=str(SHOTS / "map.png"), full_page=True)
            # the unjoined example organisations are listed
            expect(page.locator("#map-unjoined")).to_contain_text(
                "Centraal Bureau voor de Statistiek"
            )
            # hover title, then a click on Utrecht leads to the organisation's page
            utrecht = page.locator('#map svg path[data-area="GM0344"]')
            assert "Gemeente Utrecht" in (utrecht.locator("title").text_content() or "")
            utrecht.click()
            page.wait_for_url("**/orgs/list:gemeente-utrecht")
            expect(page.locator("h1")).to_contain_text("Gemeente Utrecht")
            # PNG export, drawn by the browser from the server's SVG
            page.goto(s.url + "/map?layer=nl-provinces")
            with page.expect_download() as dl:
                page.click("#map-png")
            png = tmp_path / "map.png"
            dl.value.save_as(png)
            data = png.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
            assert dl.value.suggested_filename.startswith("sovmap-nl-provinces-scan")
        finally:
            browser.close()
