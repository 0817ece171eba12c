"""Posture and data location on every surface: the golden zones of the posture tests
(``tests/data/posture``) and of the data-location tests (``tests/data/location``) scanned
together through the real pipeline (``--probe posture``, the region lists refreshed offline
from the recorded copies of the providers' range files) against the loopback devserver; then
``sovmap explain`` (English and Dutch), ``sovmap export`` (findings with their data location,
``--what posture``), ``/api/domains/{domain}`` and the domain page read the one store."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sovmap.classify.location import data_centre, data_location, located
from sovmap.classify.posture import describe, posture_rules
from sovmap.classify.stored import stored_posture
from sovmap.cli import main
from sovmap.collect.active import default_settings
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.devserver import DevServer
from sovmap.export import COLUMNS, POSTURE_COLUMNS
from sovmap.i18n import messages, t
from sovmap.knowledge.catalogue import default_catalogue, load_catalogue
from sovmap.knowledge.refresh import directory_fetcher, load_prefix_sources, refresh_prefixes
from sovmap.model import Finding
from sovmap.store import Store
from sovmap.web.app import create_app
from sovmap.web.auth import create_token, create_user

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
PUBLISHED = TESTS / "knowledge" / "data" / "published"
TODAY = date(2026, 12, 1)
CLOUDS = ("amazon", "microsoft", "google", "oracle")


class World:
    def __init__(self, db: Path, sid: int, store: Store) -> None:
        self.db = db
        self.sid = sid
        self.store = store

    def findings(self, domain: str) -> list[Finding]:
        return self.store.findings(self.sid, domain=domain)

    def posture(self, domain: str) -> list[Any]:
        with self.store.connect() as conn:
            return dict(stored_posture(conn, self.sid, domain))[domain]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("surfaces")
    zones = tmp / "zones"
    zones.mkdir()
    names: list[str] = []
    for part in ("posture", "location"):
        for z in sorted((DATA / part / "zones").glob("*.zone")):
            shutil.copy(z, zones / z.name)
        rows = (DATA / part / "domains.csv").read_text(encoding="utf-8").splitlines()
        names += [r.split(",")[0] for r in rows[1:] if r.strip()]
    listing = tmp / "domains.csv"
    listing.write_text("domain\n" + "\n".join(names) + "\n", encoding="utf-8")
    ranges = tmp / "ranges"
    ranges.mkdir()
    sources = [s for s in load_prefix_sources() if s.provider in CLOUDS]
    known = set(default_catalogue().providers)
    done = refresh_prefixes(sources, directory_fetcher(PUBLISHED), known, TODAY, ranges)
    assert [r.error for r in done if not r.ok] == []
    catalogue = load_catalogue([ranges])
    db = tmp / "s.sqlite"
    store = Store(db)
    with DevServer(zones) as dns:
        settings = ScanSettings(
            EngineConfig([(dns.host, dns.port)], timeout=0.5),
            resume=False,
            catalogue=catalogue,
            probes=default_settings(frozenset({"posture"})),
        )
        out = run_scan(listing, store, settings)
    assert out.domains == len(names), (out.domains, names, out.problems)
    return World(db, out.scan_id, store)


def _explain(world: World, domain: str, capsys: pytest.CaptureFixture[str], *lang: str) -> str:
    assert main(["explain", domain, "--db", str(world.db), *lang]) == 0
    out = capsys.readouterr().out
    return out


def _domains(world: World) -> list[str]:
    return [d for d, _attrs, _obs in world.store.iter_results(world.sid)]


# -- the words ----------------------------------------------------------------------------------


def test_every_posture_code_has_a_text_with_the_same_placeholders_in_both_languages() -> None:
    for code in posture_rules().levels:
        fields = {
            lang: {f for _, f, _, _ in Formatter().parse(messages(lang)[f"EXPLAIN_{code}"]) if f}
            for lang in ("en", "nl")
        }
        assert fields["en"] == fields["nl"], code


# -- sovmap explain -----------------------------------------------------------------------------


def test_explain_gives_the_posture_in_english_and_dutch(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    en = _explain(world, "gemeente-strikt.nl", capsys)
    assert "\n  mail security posture:\n" in en
    assert (
        "\n    DMARC (good): DMARC policy reject (subdomains: reject, 100% of the mail): mail "
        "that fails the check is refused [POSTURE_DMARC_REJECT]\n"
        "        dmarc _dmarc.gemeente-strikt.nl TXT 'v=DMARC1; p=reject; sp=reject;" in en
    )
    assert "\n    STARTTLS (unknown): not asked: scan with --probe smtp [POSTURE_STARTTLS" in en
    assert "\n    DNSSEC (good): the zone is signed (DNSKEY records: 1;" in en
    nl = _explain(world, "gemeente-strikt.nl", capsys, "--lang", "nl")
    assert "\n  beveiliging van de mail:\n" in nl
    assert "\n    DMARC (goed): DMARC-beleid reject (subdomeinen: reject, 100% van de mail)" in nl
    assert "\n    STARTTLS (onbekend): niet gevraagd: scan met --probe smtp" in nl
    assert "mail security posture" not in nl and "not asked" not in nl
    spf = _explain(world, "gemeente-includes.nl", capsys, "--lang", "nl")
    lookups = next(f for f in world.posture("gemeente-includes.nl") if f.standard == "spf")
    assert lookups.code == "POSTURE_SPF_TOO_MANY_LOOKUPS"
    n = dict(lookups.details)["lookups"]
    assert f"    SPF (zwak): SPF vraagt {n} DNS-opvragingen, meer dan de toegestane 10" in spf


def test_explain_shows_every_standard_of_every_golden_domain(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each posture finding of the one door (classify.stored.stored_posture), its level, text
    and records, is in the explanation of its domain in both languages."""
    seen: set[str] = set()
    for domain in _domains(world):
        found = world.posture(domain)
        for lang in ("en", "nl"):
            out = _explain(world, domain, capsys, "--lang", lang)
            for f in found:
                seen.add(f.code)
                line = next(x for x in out.splitlines() if x.endswith(f"[{f.code}]"))
                assert describe(f, lang) in line
                assert f"({t(lang, f'POSTURE_LEVEL_{f.level}')}): " in line
                for e in f.evidence:
                    assert f"        {e.probe} {e.qname} {e.rtype} {e.value!r}" in out
    # the golden zones reach most codes: every level and every standard
    assert len(seen) >= 25
    assert {c.split("_")[1] for c in seen} >= {"DMARC", "SPF", "DKIM", "DANE", "DNSSEC", "MTA"}


def test_explain_says_the_data_centre_instead_of_the_raw_chain(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    en = _explain(world, "gemeente-azuurdam.nl", capsys)
    assert (
        "      location gemeente-azuurdam.nl A '20.103.12.34' — data centre: West Europe "
        "(Amsterdam area, the Netherlands) of Azure\n"
        "          matched region:azure:westeurope weight 0.00" in en
    )
    assert (
        "location mail.gemeente-azuurdam.nl A '3.121.7.25' — data centre: Europe (Frankfurt) "
        "(Frankfurt, Germany) of AWS" in en
    )
    assert "via Azure" not in en and "via AWS" not in en  # not the raw chain
    assert "confidence 0.60 MAILBOX_NETWORK_US" in en
    nl = _explain(world, "gemeente-azuurdam.nl", capsys, "--lang", "nl")
    assert "— datacentrum: West Europe (Amsterdam area, Nederland) van Azure" in nl
    assert "zekerheid 0,60 MAILBOX_NETWORK_US" in nl and "gewicht 0,60" in nl  # Dutch numbers
    assert "  webhosting: Microsoft (moederbedrijf Microsoft Corporation, jurisdictie US" in nl
    unknown = _explain(world, "waterschap-edgeveen.nl", capsys)
    assert "— data centre: eu-future-9 (country unknown) of AWS" in unknown
    unknown = _explain(world, "waterschap-edgeveen.nl", capsys, "--lang", "nl")
    assert "— datacentrum: eu-future-9 (land onbekend) van AWS" in unknown
    # every location evidence of the scan is said this way
    for domain in _domains(world):
        for lang in ("en", "nl"):
            out = _explain(world, domain, capsys, "--lang", lang)
            for f in world.findings(domain):
                for e in located(f):
                    assert f"{e.value!r} — {data_centre(e, lang)}\n" in out


def test_explain_of_a_domain_not_in_the_scan_in_dutch(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explain", "elders.nl", "--db", str(world.db), "--lang", "nl"])
    assert code == 2
    assert "elders.nl zit niet in scan" in capsys.readouterr().err
    code = main(["explain", "elders.nl", "--db", str(world.db), "--scan", "99", "--lang", "nl"])
    assert code == 2
    assert "de opslag bevat geen scan 99" in capsys.readouterr().err


# -- sovmap export ------------------------------------------------------------------------------


def test_export_findings_carry_their_data_location(world: World, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert main(["export", str(out), "--db", str(world.db)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert COLUMNS[-1] == "data_location"  # appended: the other columns keep their places
    rows = list(csv.DictReader(text.splitlines()))
    by = {(r["domain"], r["capability"], r["provider"]): r["data_location"] for r in rows}
    assert by[("gemeente-azuurdam.nl", "web-hosting", "microsoft")] == "azure:westeurope NL"
    assert by[("gemeente-azuurdam.nl", "mailbox", "amazon")] == "aws:eu-central-1 DE"
    assert (
        by[("provincie-eemsland.nl", "web-hosting", "google")]
        == "gcp:europe-west4 NL; gcp:us-central1 US"
    )
    assert by[("waterschap-edgeveen.nl", "web-hosting", "amazon")] == "aws:eu-future-9 unknown"
    located_rows = {k for k, v in by.items() if v}
    assert len(located_rows) == 4  # the rest: no address in a published region
    js = tmp_path / "f.json"
    assert main(["export", str(js), "--db", str(world.db)]) == 0
    docs = [json.loads(line) for line in js.read_text(encoding="utf-8").splitlines()]
    web = next(
        d
        for d in docs
        if (d["domain"], d["capability"], d["provider"], d["role"])
        == ("waterschap-edgeveen.nl", "web-hosting", "amazon", "primary")
    )
    assert web["data_location"] == [{"region": "aws:eu-future-9", "country": None}]
    for d in docs:
        f = next(
            f
            for f in world.findings(d["domain"])
            if (f.capability.value, f.provider, f.role)
            == (d["capability"], d["provider"], d["role"])
        )
        assert d["data_location"] == [
            {"region": r, "country": c or None} for r, c in data_location(f)
        ]


def test_export_posture(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = [f for d in _domains(world) for f in world.posture(d)]
    assert len(expected) == 8 * len(_domains(world))
    out = tmp_path / "p.csv"
    assert main(["export", str(out), "--db", str(world.db), "--what", "posture"]) == 0
    assert f"wrote {len(expected)} posture findings of scan {world.sid}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(POSTURE_COLUMNS)
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["domain"], r["standard"], r["level"], r["code"]) for r in rows] == [
        (f.domain, f.standard, f.level, f.code) for f in expected
    ]
    strikt = {r["standard"]: r for r in rows if r["domain"] == "gemeente-strikt.nl"}
    assert strikt["dmarc"]["details"] == "p=reject sp=reject pct=100 rua=yes adkim=s aspf=s"
    assert strikt["dmarc"]["evidence"].startswith("dmarc:_dmarc.gemeente-strikt.nl TXT v=DMARC1;")
    js = tmp_path / "p.jsonl"
    assert main(["export", str(js), "--db", str(world.db), "--what", "posture"]) == 0
    docs = [json.loads(line) for line in js.read_text(encoding="utf-8").splitlines()]
    assert docs == [f.to_json() for f in expected]
    pq = pytest.importorskip("pyarrow.parquet")
    pa_out = tmp_path / "p.parquet"
    assert main(["export", str(pa_out), "--db", str(world.db), "--what", "posture"]) == 0
    table = pq.read_table(str(pa_out))
    assert table.num_rows == len(expected) and table.column_names == list(POSTURE_COLUMNS)
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error, exit 2
        main(["export", str(out), "--db", str(world.db), "--what", "risks"])
    assert usage.value.code == 2
    assert "invalid choice: 'risks'" in capsys.readouterr().err


# -- the API and the web page -------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(world: World) -> Any:
    with world.store.engine.begin() as conn:
        uid = create_user(conn, "lezer", "correct horse battery", "viewer")
        token = create_token(conn, uid, "test")
    app = create_app(world.store.engine)
    with TestClient(app, base_url="http://testserver") as client:
        yield client, {"Authorization": f"Bearer {token}"}


def test_api_domain_has_its_posture(world: World, web: Any) -> None:
    client, headers = web
    for domain in _domains(world):
        r = client.get(f"/api/domains/{domain}", headers=headers)
        assert r.status_code == 200, r.text
        got = r.json()["posture"]
        assert got == [
            {
                "standard": f.standard,
                "level": f.level,
                "code": f.code,
                "details": dict(f.details),
                "evidence": [
                    {"probe": e.probe, "qname": e.qname, "rtype": e.rtype, "value": e.value,
                     "source": e.source}
                    for e in f.evidence
                ],
            }
            for f in world.posture(domain)
        ]  # fmt: skip
    strikt = client.get("/api/domains/gemeente-strikt.nl", headers=headers).json()
    assert [p["standard"] for p in strikt["posture"]] == [
        "dmarc", "spf", "dkim", "starttls", "dane", "dnssec", "mta-sts", "tls-rpt"
    ]  # fmt: skip
    assert strikt["posture"][0]["details"]["p"] == "reject"
    schema = client.get("/openapi.json", headers=headers).json()
    answer = schema["paths"]["/api/domains/{domain}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/DomainOut")
    assert "posture" in schema["components"]["schemas"]["DomainOut"]["properties"]


def test_domain_page_shows_posture_and_data_centres(world: World, web: Any) -> None:
    client, headers = web
    for lang, good, unknown, place, title in (
        ("en", "good", "unknown", "data centre: West Europe (Amsterdam area, the Netherlands) "
         "of Azure", "Mail security posture"),
        ("nl", "goed", "onbekend", "datacentrum: West Europe (Amsterdam area, Nederland) van "
         "Azure", "Beveiliging van de mail"),
    ):  # fmt: skip
        client.cookies.set("sovmap_lang", lang)
        page = client.get("/domains/gemeente-strikt.nl", headers=headers)
        assert page.status_code == 200, page.text
        html = page.text
        assert f'<h2 id="posture">{title}</h2>' in html
        section = html.split('<table id="table-posture">', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r"<tr class=\"posture-(\w+)\">(.*?)</tr>", section, re.S)
        found = world.posture("gemeente-strikt.nl")
        assert [lv for lv, _ in rows] == [f.level for f in found]
        for (_, row), f in zip(rows, found, strict=True):
            # the level as text, not only as a colour; the code's text and the records
            level = {"good": good, "unknown": unknown}.get(f.level)
            if level:
                assert f"<td>{level}</td>" in row
            assert describe(f, lang).replace("'", "&#39;") in row and f.code in row
            for e in f.evidence:
                assert f"{e.qname} {e.rtype}" in row
        azure = client.get("/domains/gemeente-azuurdam.nl", headers=headers).text
        assert place in azure
        assert "Azure → West Europe" not in azure  # not the raw chain
    client.cookies.clear()
