"""Data location: published cloud regions per address, from recorded copies of the providers'
range files (``data/published``: hand-made excerpts in the published shapes, see its README)
served on loopback; golden zones scanned through the real pipeline against a loopback
nameserver; the ``sovmap locations`` summary in English and Dutch."""

from __future__ import annotations

import functools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sovmap.classify.location import by_country, located, located_hosts, with_locations
from sovmap.cli import main
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.devserver import DevServer
from sovmap.knowledge.catalogue import KnowledgeError, default_catalogue, load_catalogue
from sovmap.knowledge.refresh import (
    PrefixSource,
    directory_fetcher,
    http_fetcher,
    load_prefix_sources,
    refresh_prefixes,
)
from sovmap.knowledge.regions import RegionIndex, load_regions, region_entries
from sovmap.model import Capability, Finding
from sovmap.store import Store

PUBLISHED = Path(__file__).parent / "data" / "published"
DATA = Path(__file__).resolve().parents[1] / "data"
ZONES = DATA / "location" / "zones"
INPUT = DATA / "location" / "domains.csv"
GOLDEN = DATA / "golden" / "locations.json"
REGEN = os.environ.get("SOVMAP_REGEN_GOLDEN") == "1"
TODAY = date(2026, 12, 1)
CLOUD_PROVIDERS = ("amazon", "microsoft", "google", "oracle")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    shutil.copytree(PUBLISHED, root, dirs_exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _cloud_sources() -> list[PrefixSource]:
    return [s for s in load_prefix_sources() if s.provider in CLOUD_PROVIDERS]


@pytest.fixture(scope="module")
def ranges(served: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud providers' lists refreshed over HTTP from the recorded copies."""
    out = tmp_path_factory.mktemp("prefixes")
    known = set(default_catalogue().providers)
    results = refresh_prefixes(_cloud_sources(), http_fetcher(5, served), known, TODAY, out)
    assert [r.error for r in results if not r.ok] == []
    return out


def _read(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


# -- the region table ----------------------------------------------------------------------


def test_bundled_region_table_names_countries_and_cities() -> None:
    clouds = load_regions(known_providers=set(default_catalogue().providers))
    assert {c: clouds[c].provider for c in clouds} == {
        "aws": "amazon",
        "azure": "microsoft",
        "gcp": "google",
        "oci": "oracle",
    }
    we = clouds["azure"].regions["westeurope"]
    assert (we.name, we.country, we.city) == ("West Europe", "NL", "Amsterdam area")
    fra = clouds["aws"].regions["eu-central-1"]
    assert (fra.country, fra.city) == ("DE", "Frankfurt")
    assert clouds["gcp"].regions["europe-west4"].country == "NL"
    assert clouds["oci"].regions["eu-amsterdam-1"].country == "NL"
    assert clouds["azure"].regions["norwayeast"].country == "NO"  # not YAML's boolean
    assert clouds["gcp"].regions["us-central1"].city == "Council Bluffs, Iowa"
    for cloud in clouds.values():
        assert cloud.source.startswith("https://")
        for r in cloud.regions.values():
            assert len(r.country) == 2 and r.country.isupper() and r.city
    unknown = clouds["aws"].region("eu-future-9")
    assert not unknown.known and unknown.country == "" and unknown.ref == "region:aws:eu-future-9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clouds: []", "field clouds: expected a mapping"),
        (
            "clouds: {aws: {provider: amazon, name: AWS, source: x, regions: {a: {}}}}",
            "source: not a URL",
        ),
        (
            "clouds: {x: {provider: nobody, name: X, source: 'https://x', regions: {a: {}}}}",
            "unknown provider 'nobody'",
        ),
        (
            "clouds: {azure: {provider: microsoft, name: Azure, source: 'https://x',"
            " regions: {norwayeast: {name: N, country: NO, city: Oslo}}}}",
            "regions/norwayeast/country: missing or empty",
        ),
        (
            "clouds: {gcp: {provider: google, name: G, source: 'https://x',"
            " regions: {us-east1: {name: u, country: US, city: Moncks Corner, South Carolina}}}}",
            "unknown field 'South Carolina'",
        ),
        (
            "clouds: {gcp: {provider: google, name: G, source: 'https://x',"
            " regions: {r: {name: r, country: usa, city: c}}}}",
            "not an ISO 3166 code",
        ),
    ],
)
def test_region_table_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "regions.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"regions\.yaml") as info:
        load_regions(path, known_providers={"amazon", "microsoft", "google"})
    assert message in str(info.value)


# -- refresh keeps the region of every prefix ------------------------------------------------


def test_refresh_over_http_keeps_regions(ranges: Path) -> None:
    ec2 = _read(ranges / "amazon-ec2.json")
    assert ec2["cloud"] == "aws"
    assert ec2["regions"] == {
        "eu-central-1": ["3.120.0.0/14", "2a05:d014::/36"],
        "eu-future-9": ["15.220.0.0/19"],
        "eu-west-1": ["52.208.0.0/13"],
        "us-east-1": ["44.192.0.0/11"],
    }
    # CloudFront is GLOBAL (anycast edges): its prefixes are kept, no region is claimed
    cf = _read(ranges / "amazon-cloudfront.json")
    assert cf["prefixes"] == ["18.64.0.0/14", "2600:9000::/28"] and "regions" not in cf
    azure = _read(ranges / "microsoft-azure.json")
    # the weekly file is found through the link on the download page; only AzureCloud tags
    assert azure["regions"] == {
        "germanywestcentral": ["20.52.0.0/16"],
        "westeurope": ["13.69.0.0/17", "20.103.0.0/16", "2603:1020:200::/46"],
    }
    assert "20.38.108.0/23" not in azure["prefixes"]  # Storage.WestEurope is not AzureCloud
    assert azure["fetched"] == "2026-12-01" and azure["service"] == "azure"
    google = _read(ranges / "google-cloud.json")
    assert google["regions"]["europe-west4"] == ["34.90.0.0/15", "2600:1900:4060::/44"]
    oracle = _read(ranges / "oracle-oci.json")
    assert oracle["regions"] == {
        "eu-amsterdam-1": ["134.70.64.0/22", "192.29.0.0/20"],
        "eu-frankfurt-1": ["130.61.0.0/16"],
    }


def test_refresh_from_saved_downloads_matches_http(ranges: Path, tmp_path: Path) -> None:
    known = set(default_catalogue().providers)
    results = refresh_prefixes(
        _cloud_sources(), directory_fetcher(PUBLISHED), known, TODAY, tmp_path
    )
    assert all(r.ok for r in results)
    assert {r.id: r.regions for r in results}["amazon-ec2"] == 4
    for r in results:
        assert _read(Path(r.path)) == _read(ranges / Path(r.path).name)


def test_azure_page_without_link_fails_and_keeps_the_old_file(tmp_path: Path) -> None:
    root = tmp_path / "saved"
    shutil.copytree(PUBLISHED, root)
    page = root / "www.microsoft.com" / "en-us" / "download" / "details.aspx"
    page.write_text("<html><body>moved</body></html>", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "microsoft-azure.json").write_text("{}", encoding="utf-8")
    [src] = [s for s in load_prefix_sources() if s.id == "microsoft-azure"]
    [r] = refresh_prefixes([src], directory_fetcher(root), {"microsoft"}, TODAY, out)
    assert not r.ok and "no link matching" in r.error and "the page has changed" in r.error
    assert (out / "microsoft-azure.json").read_text(encoding="utf-8") == "{}"


def test_refresh_prefixes_command_reports_regions(tmp_path: Path, capsys: Any) -> None:
    code = main(
        [
            "knowledge",
            "refresh-prefixes",
            "--provider",
            "microsoft",
            "--offline-fixture",
            str(PUBLISHED),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "microsoft-azure" in capsys.readouterr().out
    assert _read(tmp_path / "microsoft-azure.json")["cloud"] == "azure"


# -- the index ----------------------------------------------------------------------------------


def test_index_answers_the_most_specific_prefix() -> None:
    clouds = load_regions()
    doc = {
        "provider": "microsoft",
        "cloud": "azure",
        "regions": {"westeurope": ["20.0.0.0/8"], "northeurope": ["20.54.0.0/16"]},
    }
    index = RegionIndex(region_entries(doc, "x.json", clouds))
    located_in = index.locate("20.54.1.1")
    assert located_in is not None and located_in.id == "northeurope"
    other = index.locate("20.1.1.1")
    assert other is not None and other.country == "NL"
    assert index.locate("21.0.0.1") is None
    assert index.locate("2001:db8::1") is None
    assert index.locate("not-an-address") is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"provider": "amazon", "cloud": "nimbus", "regions": {}}, "unknown cloud 'nimbus'"),
        ({"provider": "amazon", "cloud": "azure", "regions": {}}, "belongs to microsoft"),
        ({"provider": "amazon", "cloud": "aws", "regions": {"x": ["300.1.1.0/24"]}}, "regions/x/0"),
        ({"provider": "amazon", "cloud": "aws", "regions": []}, "expected a mapping"),
    ],
)
def test_region_documents_are_checked(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(KnowledgeError, match=r"bad\.json") as info:
        region_entries(doc, "bad.json", load_regions())
    assert message in str(info.value)


def test_user_prefix_dir_with_a_bad_region_document_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(
        json.dumps(
            {
                "provider": "amazon",
                "capability": "web-hosting",
                "source": "https://example.org/",
                "prefixes": ["3.120.0.0/14"],
                "cloud": "azure",
                "regions": {"westeurope": ["3.120.0.0/14"]},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError, match=r"mine\.json"):
        load_catalogue([tmp_path])


def test_without_region_data_findings_are_unchanged() -> None:
    cat = default_catalogue()
    f = Finding("x.nl", Capability.WEB, "microsoft", "Microsoft", "Microsoft", "US", 0.6, "X")
    findings = [f]
    assert not cat.locations or cat.locations.size == 0
    assert with_locations(findings, (), cat) is findings


# -- golden zones through the real scan ---------------------------------------------------------


def project(f: Finding) -> dict[str, Any]:
    return {
        "domain": f.domain,
        "capability": f.capability.value,
        "provider": f.provider,
        "jurisdiction": f.jurisdiction,
        "located": sorted(
            [e.qname, e.value, e.fingerprint, e.chain[2], e.chain[3]] for e in located(f)
        ),
    }


@pytest.fixture(scope="module")
def scanned(ranges: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Finding]]:
    cat = load_catalogue([ranges])
    assert cat.locations is not None and cat.locations.size > 0
    db = tmp_path_factory.mktemp("loc") / "loc.sqlite"
    with DevServer(ZONES) as srv:
        store = Store(db)
        engine = EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.3, attempts=2)
        outcome = run_scan(INPUT, store, ScanSettings(engine, resume=False, catalogue=cat))
        findings = list(store.iter_findings(outcome.scan_id))
        store.close()
    rows = sorted(
        (project(f) for f in findings),
        key=lambda p: (p["domain"], p["capability"], p["provider"]),
    )
    if REGEN:
        GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return db, findings


def test_golden_location_findings(scanned: tuple[Path, list[Finding]]) -> None:
    _, findings = scanned
    rows = sorted(
        (project(f) for f in findings),
        key=lambda p: (p["domain"], p["capability"], p["provider"]),
    )
    assert rows == json.loads(GOLDEN.read_text(encoding="utf-8"))
    by = {(f.domain, f.capability.value): f for f in findings}
    web = by[("gemeente-azuurdam.nl", "web-hosting")]
    assert web.provider == "microsoft" and web.us_controlled
    assert {e.fingerprint for e in located(web)} == {"region:azure:westeurope"}
    mail = by[("gemeente-azuurdam.nl", "mailbox")]
    assert {(e.qname, e.chain[2]) for e in located(mail)} == {("mail.gemeente-azuurdam.nl", "DE")}
    assert not located(by[("waterschap-edgeveen.nl", "cdn")])  # anycast: no country claimed


def test_summary_by_country(scanned: tuple[Path, list[Finding]]) -> None:
    _, findings = scanned
    counts = {c.country: c for c in by_country(located_hosts(findings))}
    assert counts["NL"].hosts == 3 and counts["NL"].domains == 2
    assert counts["NL"].us_controlled_hosts == 3
    assert counts["DE"].hosts == 2 and counts["US"].hosts == 1
    assert counts[""].hosts == 1  # the region the table does not know


def test_locations_command_text_en_and_nl(scanned: tuple[Path, list[Finding]], capsys: Any) -> None:
    db, _ = scanned
    assert main(["locations", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert (
        "Microsoft (US control), Azure West Europe, data centre in the Netherlands (Amsterdam area)"
        in out
    )
    assert "Google (US control), Google Cloud europe-west4, data centre in the Netherlands" in out
    assert "AWS eu-future-9, data centre in an unknown country" in out
    assert "the Netherlands: 3 hosts of 2 domains, 3 of them for a US-controlled provider" in out
    assert main(["locations", "--db", str(db), "--lang", "nl"]) == 0
    out = capsys.readouterr().out
    assert "Microsoft (Amerikaanse zeggenschap), Azure West Europe, datacentrum in Nederland" in out
    assert "Nederland: 3 hosts van 2 domeinen" in out


def test_locations_command_json(scanned: tuple[Path, list[Finding]], capsys: Any) -> None:
    db, _ = scanned
    assert main(["locations", "--db", str(db), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hosts"] == 7 and doc["domains"] == 3
    unknown = [r for r in doc["locations"] if r["region"] == "eu-future-9"]
    assert unknown and unknown[0]["country"] is None and unknown[0]["city"] is None
    assert {c["country"] for c in doc["by_country"]} == {"NL", "DE", "US", None}


def test_locations_command_bad_store(tmp_path: Path, capsys: Any) -> None:
    assert main(["locations", "--db", str(tmp_path / "missing.sqlite")]) == 2
    assert "no store at" in capsys.readouterr().err


def test_documented_example_runs(scanned: tuple[Path, list[Finding]], capsys: Any) -> None:
    import argparse
    import shlex

    from sovmap.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    description = sub.choices["locations"].description or ""
    argv = shlex.split(description.split("Example: ", 1)[1])[1:]
    db, _ = scanned
    argv = [str(db) if a == "scans.sqlite" else a for a in argv]
    assert main(argv) == 0
    assert "datacentrum in Nederland" in capsys.readouterr().out


def test_reclassify_with_refreshed_ranges_adds_locations(
    ranges: Path, tmp_path: Path, capsys: Any
) -> None:
    """A scan made without region data gets its location evidence from `sovmap reclassify
    --knowledge DIR`, DIR holding only the refreshed prefix lists (no DNS asked again)."""
    db = tmp_path / "plain.sqlite"
    with DevServer(ZONES) as srv:
        store = Store(db)
        engine = EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.3, attempts=2)
        outcome = run_scan(INPUT, store, ScanSettings(engine, resume=False))
        assert not any(located(f) for f in store.iter_findings(outcome.scan_id))
        store.close()
    assert main(["locations", "--db", str(db)]) == 0
    assert "sovmap knowledge refresh-prefixes" in capsys.readouterr().out  # LOC_NO_RANGES
    assert main(["reclassify", "--db", str(db), "--knowledge", str(ranges)]) == 0
    capsys.readouterr()
    assert main(["locations", "--db", str(db)]) == 0
    assert "Azure West Europe, data centre in the Netherlands" in capsys.readouterr().out
