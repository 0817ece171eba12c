"""Mail-domain discovery against fake municipal websites served on loopback: mailto links,
plain and obfuscated addresses, one contact page, robots.txt, size and type limits, the pause
per host, and the domains stored with the page as their reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sovmap.cli import main
from sovmap.orgs.discover import (
    PageRefused,
    PoliteFetcher,
    addresses_in,
    contact_link,
    discover,
)
from sovmap.orgs.mapping import map_organisations
from sovmap.orgs.model import Derivation, Organisation
from sovmap.orgs.store import load_mapping, load_orgs, open_store, save_org_set

ZONNEDAL_HOME = """<!DOCTYPE html><html><head><title>Gemeente Zonnedal</title>
<script>var tracker = "spy@tracker.example";</script></head>
<body><nav><a href="/zonnedal/nieuws">Nieuws</a> <a href="contact">Contact</a></nav>
<p>Vragen? <a href="mailto:info@zonnedal.nl?subject=Vraag">mail ons</a></p></body></html>"""
ZONNEDAL_CONTACT = """<html><body><h1>Contact</h1>
<p>Post: post [at] gemeente-zonnedal [dot] nl</p>
<p>Klantcontact: <b>KlantContact@Gemeente-Zonnedal.NL</b></p>
<p>Burgerzaken: burgerzaken(at)zonnedal-burgerzaken(dot)nl</p></body></html>"""
HEUVELRUG_HOME = """<html><body><a href="/heuvelrug/contact-opnemen">Neem contact op</a>
<p>secretariaat&#64;heuvelrug-post.nl</p></body></html>"""

PAGES: dict[str, tuple[int, str, bytes, bool]] = {
    # path: (status, content type, body, send Content-Length)
    "/zonnedal/": (200, "text/html; charset=utf-8", ZONNEDAL_HOME.encode(), True),
    "/zonnedal/contact": (200, "text/html", ZONNEDAL_CONTACT.encode(), True),
    "/heuvelrug/": (200, "text/html", HEUVELRUG_HOME.encode(), True),
    "/groot/": (200, "text/html", b"<p>" + b"x" * 3000 + b"</p>", True),
    "/stroom/": (200, "text/html", b"<p>" + b"y" * 3000 + b"</p>", False),
    "/pdf/": (200, "application/pdf", b"%PDF-1.7", True),
}


def _handler(pages: dict[str, tuple[int, str, bytes, bool]], robots: str) -> type:
    class Handler(BaseHTTPRequestHandler):
        seen: ClassVar[list[str]] = []

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            Handler.seen.append(self.path)
            if self.path == "/robots.txt" and robots:
                status, kind, body, length = 200, "text/plain", robots.encode(), True
            else:
                status, kind, body, length = pages.get(
                    self.path, (404, "text/html", b"not found", True)
                )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _serve(handler: type) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[str, str, type]]:
    """Two sites: the municipalities' (robots.txt allows all but /intern/) and one whose
    robots.txt disallows everything."""
    open_handler = _handler(PAGES, "User-agent: *\nDisallow: /intern/\n")
    closed_handler = _handler(PAGES, "User-agent: *\nDisallow: /\n")
    a, base_a = _serve(open_handler)
    b, base_b = _serve(closed_handler)
    try:
        yield base_a, base_b, open_handler
    finally:
        for s in (a, b):
            s.shutdown()
            s.server_close()


def _orgs(base_a: str, base_b: str) -> list[Organisation]:
    def org(oid: str, site: str, domains: tuple[str, ...] = ()) -> Organisation:
        return Organisation(
            id=oid, name=oid, type="municipality", websites=(site,), domains=domains
        )

    return [
        org("gm-zonnedal", f"{base_a}/zonnedal/", ("zonnedal.nl",)),
        org("gm-heuvelrug", f"{base_a}/heuvelrug/", ("heuvelrug.nl",)),
        org("gm-groot", f"{base_a}/groot/"),
        org("gm-stroom", f"{base_a}/stroom/"),
        org("gm-pdf", f"{base_a}/pdf/"),
        org("gm-weg", f"{base_a}/bestaat-niet/"),
        org("gm-intern", f"{base_a}/intern/"),
        org("gm-gesloten", f"{base_b}/zonnedal/"),
    ]


def test_addresses_from_mailto_plain_and_obfuscated_text() -> None:
    assert addresses_in(ZONNEDAL_HOME) == ["info@zonnedal.nl"]  # not the one in <script>
    assert addresses_in(ZONNEDAL_CONTACT) == [
        "post@gemeente-zonnedal.nl",
        "klantcontact@gemeente-zonnedal.nl",
        "burgerzaken@zonnedal-burgerzaken.nl",
    ]
    assert addresses_in(HEUVELRUG_HOME) == ["secretariaat@heuvelrug-post.nl"]
    assert addresses_in('<a href="mailto:a@x.nl,b@y.nl">two</a>') == ["a@x.nl", "b@y.nl"]
    assert addresses_in("<p>not@an address, user@localhost, x@y</p>") == []


def test_contact_link_stays_on_the_site() -> None:
    base = "https://www.zonnedal.nl/"
    assert contact_link(ZONNEDAL_HOME, base) == "https://www.zonnedal.nl/contact"
    away = '<a href="https://elders.example/contact">Contact</a>'
    assert contact_link(away, base) == ""
    assert contact_link('<a href="mailto:contact@x.nl">contact</a>', base) == ""


def test_discover_reads_home_and_one_contact_page(sites: tuple[str, str, type]) -> None:
    base_a, base_b, _ = sites
    fetcher = PoliteFetcher(interval=0, timeout=5, max_bytes=2048)
    result = discover(_orgs(base_a, base_b), fetcher)
    domains = {o: [f.domain for f in fs] for o, fs in result.domains().items()}
    assert domains["gm-zonnedal"] == [
        "zonnedal.nl",
        "gemeente-zonnedal.nl",
        "zonnedal-burgerzaken.nl",
    ]
    assert domains["gm-heuvelrug"] == ["heuvelrug-post.nl"]
    pages = {(f.org_id, f.domain): f.page for f in result.found}
    assert pages[("gm-zonnedal", "gemeente-zonnedal.nl")] == f"{base_a}/zonnedal/contact"
    failures = {f.org_id: (f.code, f.params) for f in result.failures}
    assert failures["gm-groot"] == ("DISCOVER_TOO_LARGE", {"limit": 2048})
    assert failures["gm-stroom"] == ("DISCOVER_TOO_LARGE", {"limit": 2048})  # no length given
    assert failures["gm-pdf"] == ("DISCOVER_NOT_HTML", {"kind": "application/pdf"})
    assert failures["gm-weg"] == ("DISCOVER_HTTP", {"status": 404})
    assert failures["gm-intern"][0] == "DISCOVER_ROBOTS"
    assert failures["gm-gesloten"][0] == "DISCOVER_ROBOTS"
    assert (
        "gm-heuvelrug",
        f"{base_a}/heuvelrug/contact-opnemen",
        "DISCOVER_HTTP",
        {"status": 404},
    ) in [(f.org_id, f.url, f.code, f.params) for f in result.failures]
    assert result.pages == 3  # zonnedal home + contact, heuvelrug home


def test_robots_is_read_once_per_site_and_disallowed_pages_never(
    sites: tuple[str, str, type],
) -> None:
    base_a, base_b, handler = sites
    handler.seen.clear()
    fetcher = PoliteFetcher(interval=0, timeout=5)
    discover(_orgs(base_a, base_b), fetcher)
    assert handler.seen.count("/robots.txt") == 1
    assert "/intern/" not in handler.seen


def test_pause_between_requests_to_one_host() -> None:
    now = [100.0]
    slept: list[float] = []

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    def fetch(url: str) -> tuple[int, dict[str, str], Any]:
        now[0] += 0.25  # each request takes a quarter second
        return 200, {"content-type": "text/html"}, lambda n: b"<p>x</p>"

    fetcher = PoliteFetcher(interval=1.0, fetch=fetch, clock=clock, sleep=sleep)
    fetcher.page("https://a.example/")
    fetcher.page("https://a.example/contact")
    fetcher.page("https://b.example/")
    # a.example: robots, home, contact -> two pauses; b.example: robots, home -> one; each
    # request took 0.25 s of the 1 s interval
    assert slept == [0.75, 0.75, 0.75]
    assert fetcher.requests == 5


def test_network_error_is_reported_not_raised() -> None:
    def fetch(url: str) -> tuple[int, dict[str, str], Any]:
        raise OSError("connection refused")

    fetcher = PoliteFetcher(interval=0, fetch=fetch)
    with pytest.raises(PageRefused) as info:
        fetcher.page("https://down.example/")
    assert info.value.code == "DISCOVER_NETWORK"


def _store(tmp_path: Path, orgs: list[Organisation]) -> str:
    db = str(tmp_path / "orgs.sqlite")
    engine = open_store(db)
    save_org_set(engine, "list", orgs, map_organisations(orgs, []))
    return db


def test_cli_proposes_then_applies_with_the_page_as_reason(
    sites: tuple[str, str, type], tmp_path: Path, capsys: Any
) -> None:
    base_a, base_b, _ = sites
    db = _store(tmp_path, _orgs(base_a, base_b))
    args = ["orgs", "discover", "--db", db, "--interval", "0", "--max-bytes", "2048"]
    assert main([*args, "--org", "gm-zonnedal"]) == 0
    out = capsys.readouterr().out
    assert "gm-zonnedal: gemeente-zonnedal.nl is new" in out
    assert "gm-zonnedal: zonnedal.nl (from" in out  # already known: not new
    assert "2 new mail domains proposed; add them with --apply." in out
    engine = open_store(db)
    assert "gemeente-zonnedal.nl" not in {d.domain for d in load_mapping(engine).domains}

    assert main([*args, "--org", "gm-zonnedal", "--apply", "--lang", "nl"]) == 0
    assert "2 maildomeinen toegevoegd" in capsys.readouterr().out
    assert main([*args, "--org", "gm-heuvelrug", "--apply"]) == 0
    capsys.readouterr()
    mapping = load_mapping(engine)
    added = {(d.org_id, d.domain): d for d in mapping.domains if d.how is Derivation.EMAIL}
    zon = added[("gm-zonnedal", "gemeente-zonnedal.nl")]
    assert zon.value == "post@gemeente-zonnedal.nl"
    assert zon.reason == f"published on {base_a}/zonnedal/contact"
    # the second run kept the first run's discoveries
    assert ("gm-heuvelrug", "heuvelrug-post.nl") in added
    assert ("gm-zonnedal", "zonnedal-burgerzaken.nl") in added
    orgs = {o.id: o for o in load_orgs(engine)}
    assert "post@gemeente-zonnedal.nl" in orgs["gm-zonnedal"].emails
    # the scan input written by `orgs map` names the discovered domains
    export = tmp_path / "orgs.csv"
    assert main(["orgs", "map", "--db", db, "--out", str(export)]) == 0
    capsys.readouterr()
    assert "gemeente-zonnedal.nl" in export.read_text(encoding="utf-8")
    # nothing new the third time
    assert main([*args, "--org", "gm-zonnedal", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["new"] == [] and doc["applied_set"] is None and doc["pages"] == 2


def test_cli_refuses_bad_limits_and_unknown_org(tmp_path: Path, capsys: Any) -> None:
    db = _store(tmp_path, [Organisation(id="x", name="x", websites=("https://x.example",))])
    assert main(["orgs", "discover", "--db", db, "--max-bytes", "5"]) == 2
    assert "--max-bytes" in capsys.readouterr().err
    assert main(["orgs", "discover", "--db", db, "--org", "nobody"]) == 2
    assert "no organisation nobody" in capsys.readouterr().err
