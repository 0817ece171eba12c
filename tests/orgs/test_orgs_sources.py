"""Every source, fetched from a loopback server serving its recorded fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgs.orgs_testlib import DATA, FixtureServer
from sovmap.orgs import mapping as m
from sovmap.orgs.domains import IP_ADDRESS, NOT_A_HOSTNAME, PUBLIC_SUFFIX, UNKNOWN_TLD
from sovmap.orgs.fetch import SourceUnavailable, fetch_source
from sovmap.orgs.mapping import map_organisations, unmapped_orgs
from sovmap.orgs.sources import SourceError, load_sources, parse_problems
from sovmap.orgs.sources.almanac import SOURCE as ALMANAC
from sovmap.orgs.sources.nl_central import load_bundled
from sovmap.orgs.sources.tabular import SOURCE as TABULAR
from sovmap.orgs.sources.wikidata import SOURCE as WIKIDATA
from sovmap.orgs.sources.wikidata import build_query

#: What the almanac fixture must map to: every organisation, with its domains or its reasons.
ALMANAC_EXPECTED = {
    "nl-oo:13962": ["minszw.nl", "rijksoverheid.nl"],
    "nl-oo:13971": ["rijksoverheid.nl"],
    "nl-oo:27520": ["uwv.nl", "werk.nl"],
    "nl-oo:12583": ["cjib.nl"],
    "nl-oo:28190": ["autoriteitpersoonsgegevens.nl"],
    "nl-oo:25698": ["sudwestfryslan.nl"],
    "nl-oo:25700": ["s-hertogenbosch.nl"],
    "nl-oo:25811": ["buch.nl", "uitgeest.nl"],
    "nl-oo:25812": ["buch.nl", "heiloo.nl"],
    "nl-oo:40213": ["buch.nl"],
    "nl-oo:24010": ["fryslan.frl", "xn--frysln-0ta.frl"],
    "nl-oo:23012": ["aaenmaas.nl"],
    "nl-oo:31555": [m.NO_CONTACT],
    "nl-oo:31777": [PUBLIC_SUFFIX, IP_ADDRESS, m.NO_DOMAIN],
    "nl-oo:26100": [m.DISSOLVED],
}


def _outcome(orgs: list, mapping: object) -> dict[str, list[str]]:
    assert isinstance(mapping, m.Mapping)
    gaps = unmapped_orgs(orgs, mapping)
    out: dict[str, list[str]] = {}
    for o in orgs:
        doms = list(mapping.domains_of(o.id))
        out[o.id] = doms or [u.code for u in gaps[o.id]]
    return out


def test_builtin_sources_register_through_entry_points() -> None:
    assert {"nl-government", "nl-central", "wikidata", "list"} <= set(load_sources())


def test_almanac_fetched_over_http_every_org_mapped_or_explained(
    http_fixtures: FixtureServer, tmp_path: Path
) -> None:
    got = fetch_source(
        ALMANAC, {}, cache_dir=tmp_path / "cache", base_url=http_fixtures.base + "/archive/"
    )
    assert http_fixtures.requests[0][0] == "/archive/exportOO.xml"
    assert not got.from_cache
    orgs = list(got.organisations)
    mapping = map_organisations(orgs)
    assert _outcome(orgs, mapping) == ALMANAC_EXPECTED
    by_id = {o.id: o for o in orgs}
    # ministry -> agency/ZBO, by TOOI identifier and by name; directorates are not bodies
    assert by_id["nl-oo:27520"].parent_id == "nl-oo:13962"
    assert by_id["nl-oo:12583"].parent_id == "nl-oo:13971"
    assert by_id["nl-oo:28190"].type == "zbo"
    assert "nl-oo:14001" not in by_id
    assert by_id["nl-oo:25698"].location.place == "Sneek"
    assert by_id["nl-oo:26100"].ended == "2019-01-01"
    assert m.shared_domains(mapping)["buch.nl"] == ("nl-oo:25811", "nl-oo:25812", "nl-oo:40213")
    # the cache now holds the document
    assert (tmp_path / "cache" / "orgs" / "nl-government" / "exportOO.xml").is_file()


def test_almanac_older_per_type_export() -> None:
    name = "exportOO_zelfstandige_bestuursorganen.xml"
    orgs = ALMANAC.parse((DATA / name).read_bytes(), name, {})
    assert [(o.id, o.type, o.abbreviation) for o in orgs] == [
        ("nl-oo:27531", "zbo", "SVB"),
        ("nl-oo:27540", "zbo", "KVK"),
    ]
    mapping = map_organisations(orgs)
    assert _outcome(orgs, mapping) == {"nl-oo:27531": ["svb.nl"], "nl-oo:27540": ["kvk.nl"]}


def test_almanac_type_filter() -> None:
    orgs = ALMANAC.parse((DATA / "exportOO.xml").read_bytes(), "x", {"type": "municipality"})
    assert len(orgs) == 5 and {o.type for o in orgs} == {"municipality"}
    with pytest.raises(SourceError, match="unknown organisation type"):
        ALMANAC.parse((DATA / "exportOO.xml").read_bytes(), "x", {"type": "gemeente"})


def test_broken_xml_names_line_and_column() -> None:
    with pytest.raises(SourceError, match=r"broken\.xml: line \d+, column \d+: broken XML"):
        ALMANAC.parse((DATA / "broken.xml").read_bytes(), "broken.xml", {})
    with pytest.raises(SourceError, match="root element is 'html'"):
        ALMANAC.parse(b"<html><body>503</body></html>", "page.xml", {})


def test_wikidata_query_and_results(http_fixtures: FixtureServer, tmp_path: Path) -> None:
    opts = {"country": "NL", "type": "municipality", "lang": "nl"}
    got = fetch_source(WIKIDATA, opts, cache_dir=tmp_path, base_url=http_fixtures.base + "/sparql")
    path, query = http_fixtures.requests[0]
    assert path == "/sparql" and query["format"] == ["json"]
    sent = query["query"][0]
    assert 'wdt:P297 "NL"' in sent and "wdt:P31 wd:Q2039348" in sent
    assert "wdt:P856" in sent and "wdt:P968" in sent and "wdt:P382" in sent
    orgs = list(got.organisations)
    mapping = map_organisations(orgs)
    assert _outcome(orgs, mapping) == {
        "wd:Q9899": ["amsterdam.nl"],
        "wd:Q10001": ["utrecht.nl"],
        "wd:Q10002": ["xn--sdwest-frysln-teb26a.nl"],
        "wd:Q10003": [m.NO_CONTACT],
        "wd:Q10005": [PUBLIC_SUFFIX, m.NO_DOMAIN],
        "wd:Q10006": ["heiloo.nl"],
    }
    ams = next(o for o in orgs if o.id == "wd:Q9899")
    assert ams.websites == ("https://www.amsterdam.nl/", "https://www.amsterdam.nl/en/")
    assert (ams.location.lat, ams.location.lon, ams.location.municipality_code) == (
        52.3725,
        4.9,
        "0363",
    )
    assert next(o for o in orgs if o.id == "wd:Q10001").emails == ("Info@Utrecht.nl",)
    assert next(o for o in orgs if o.id == "wd:Q10003").parent_id == "wd:Q10004"


def test_wikidata_query_for_any_country_and_bad_parameters() -> None:
    q = build_query("is", "public-body")
    assert 'wdt:P297 "IS"' in q and "wdt:P31/wdt:P279* wd:Q2659904" in q
    with pytest.raises(SourceError, match="ISO 3166"):
        build_query("NLD", "municipality")
    with pytest.raises(SourceError, match="unknown --type"):
        build_query("NL", "school")
    with pytest.raises(SourceError, match=r"results\.bindings"):
        WIKIDATA.parse(b'{"head": {"vars": []}}', "q.json", {})
    with pytest.raises(SourceError, match=r"q\.json: line 1, column \d+"):
        WIKIDATA.parse(b'{"head": ', "q.json", {})


def test_csv_list_over_http(http_fixtures: FixtureServer, tmp_path: Path) -> None:
    got = fetch_source(
        TABULAR, {"url": http_fixtures.base + "/lists/bodies.csv"}, cache_dir=tmp_path
    )
    orgs = list(got.organisations)
    mapping = map_organisations(orgs)
    assert _outcome(orgs, mapping) == {
        "list:dienst-uitvoering-onderwijs": ["duo.nl"],
        "list:rijksinstituut-voor-volksgezondheid-en-milieu": ["rivm.nl"],
        "list:nederlandse-zorgautoriteit": ["nza.nl"],
        "list:shared-service-centrum-ict": ["ssc-ict.nl"],
        "list:belastingdienst": ["belastingdienst.nl", "toeslagen.nl"],
        "list:voorbeeld-zonder-contact": [m.NO_CONTACT],
        "list:voorbeeld-met-kaal-achtervoegsel": [PUBLIC_SUFFIX, m.NO_DOMAIN],
    }
    duo = orgs[0]
    assert (duo.type, duo.parent_id, duo.abbreviation, duo.groups) == (
        "agency",
        "nl-min:ocw",
        "DUO",
        ("debat",),
    )


def test_xlsx_list_over_http(http_fixtures: FixtureServer, tmp_path: Path) -> None:
    """The recorded workbook (tests/orgs/data/make_bodies_xlsx.py wrote it): a title row
    above the header, Dutch headers, upper-case type, two addresses in one cell."""
    pytest.importorskip("openpyxl")
    got = fetch_source(
        TABULAR, {"url": http_fixtures.base + "/lists/bodies.xlsx"}, cache_dir=tmp_path
    )
    orgs = list(got.organisations)
    assert _outcome(orgs, map_organisations(orgs)) == {
        "list:sociale-verzekeringsbank": ["svb.nl"],
        "list:logius": ["logius.nl"],
        "list:kamer-van-koophandel": ["kvk.nl"],
        "list:kapotte-invoer": [NOT_A_HOSTNAME, m.NO_DOMAIN],
        "list:nummer-als-naam": [UNKNOWN_TLD, m.NO_DOMAIN],
    }
    kvk = orgs[2]
    assert (kvk.type, kvk.parent_id, kvk.abbreviation) == ("zbo", "nl-min:ez", "KVK")
    assert kvk.emails == ("info@kvk.nl", "klantenservice@kvk.nl")


def test_title_rows_and_missing_header() -> None:
    data = b"Lijst van organisaties\n\nnaam;website\nX;x.nl\n"
    assert [o.websites for o in TABULAR.parse(data, "t.csv", {})] == [("x.nl",)]
    with pytest.raises(SourceError, match=r"t\.csv: line 1: no 'domain'"):
        TABULAR.parse(b"a\nb\nc\nd\ne\nf\n", "t.csv", {})


def test_csv_without_domain_column_is_refused() -> None:
    with pytest.raises(SourceError, match=r"line 1: no 'domain', 'website' or 'email' column"):
        TABULAR.parse((DATA / "no_domain_column.csv").read_bytes(), "no_domain_column.csv", {})
    with pytest.raises(SourceError, match=r"line 3: field 'type'"):
        TABULAR.parse(b"name,domain,type\nA,a.nl,zbo\nB,b.nl,gemeente\n", "t.csv", {})


def test_unreachable_source_uses_cache_then_fails_clearly(
    http_fixtures: FixtureServer, tmp_path: Path, dead_port: int
) -> None:
    cache = tmp_path / "cache"
    dead = f"http://127.0.0.1:{dead_port}/archive/"
    with pytest.raises(SourceUnavailable, match=r"no cached copy of exportOO\.xml"):
        fetch_source(ALMANAC, {}, cache_dir=cache, base_url=dead, timeout=2)
    with pytest.raises(SourceUnavailable, match="offline mode"):
        fetch_source(ALMANAC, {}, cache_dir=cache, offline=True)
    fetch_source(ALMANAC, {}, cache_dir=cache, base_url=http_fixtures.base + "/archive/")
    again = fetch_source(ALMANAC, {}, cache_dir=cache, base_url=dead, timeout=2)
    assert again.from_cache and again.origins[0].startswith("cache:")
    assert "cannot reach" in again.notes[0]
    assert len(again.organisations) == 15


def test_broken_download_does_not_replace_the_cache(
    http_fixtures: FixtureServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fetch_source(ALMANAC, {}, cache_dir=cache, base_url=http_fixtures.base + "/archive/")
    (tmp_path / "exportOO.xml").write_bytes((DATA / "broken.xml").read_bytes())
    with pytest.raises(SourceError, match="broken XML"):
        fetch_source(ALMANAC, {}, cache_dir=cache, base_url=http_fixtures.base + "/archive/")
    cached = (cache / "orgs" / "nl-government" / "exportOO.xml").read_bytes()
    assert cached == (DATA / "exportOO.xml").read_bytes()


def test_bundled_central_list_covers_the_debate_bodies() -> None:
    orgs = load_bundled()
    abbrevs = {
        o.abbreviation
        for o in orgs
        if o.type in ("zbo", "agency") and "nl-debate-bodies" in o.groups
    }
    assert abbrevs == {
        "UWV", "SVB", "CBS", "KVK", "DNB", "ACM", "AFM", "AP", "NZa",
        "DJI", "RWS", "RVO", "IND", "DUO", "RIVM", "CJIB", "Logius",
        "BD", "Douane", "DT",
    }  # fmt: skip
    ids = {o.id for o in orgs}
    for o in orgs:
        assert o.source_url.startswith("https://")
        assert not o.parent_id or o.parent_id in ids
    mapping = map_organisations(orgs)
    assert not unmapped_orgs(orgs, mapping)


def test_bundled_list_validation_names_the_entry() -> None:
    bad = "group: g\nbodies:\n  - id: x\n    name: X\n    type: zbo\n    website: https://x.nl\n"
    with pytest.raises(SourceError, match=r"bodies\[0\]: field 'parent'"):
        load_bundled(bad, "t.yaml")


def test_list_ids_same_names_and_duplicate_ids() -> None:
    data = (
        "name,domain\nÜberackern,ueberackern.ooe.gv.at\nSankt Johann,st.johann.at\n"
        "Sankt Johann,sankt-johann.gv.at\n"
    ).encode()
    orgs = TABULAR.parse(data, "t.csv", {})
    assert [o.id for o in orgs] == [
        "list:uberackern",
        "list:sankt-johann",
        "list:sankt-johann~sankt-johann.gv.at",
    ]
    assert m.duplicate_organisations(orgs) == [
        ("list:sankt-johann", "list:sankt-johann~sankt-johann.gv.at")
    ]
    with pytest.raises(SourceError, match=r"line 3: field 'id': 'x' is already used on line 2"):
        TABULAR.parse(b"id,domain\nx,a.nl\nx,b.nl\n", "t.csv", {})


def test_almanac_variant_with_unprefixed_elements() -> None:
    """Some exports declare the namespace for attributes only (``p:systeemId``)."""
    doc = b"""<?xml version="1.0" encoding="UTF-8"?>
<overheidsorganisaties xmlns:p="https://organisaties.overheid.nl/static/schema/oo/export/2.6.9">
<organisaties>
  <organisatie p:systeemId="12583">
    <naam>Centraal Justitieel Incassobureau</naam>
    <afkorting>CJIB</afkorting>
    <types><type>Agentschap</type></types>
    <contact><emailadressen><emailadres><email>info@cjib.nl</email></emailadres></emailadressen>
    </contact>
    <functies><functie p:systeemId="63319"><naam>Algemeen directeur</naam></functie></functies>
  </organisatie>
</organisaties>
</overheidsorganisaties>"""
    orgs = ALMANAC.parse(doc, "v.xml", {})
    assert [(o.id, o.type, o.emails) for o in orgs] == [
        ("nl-oo:12583", "agency", ("info@cjib.nl",))
    ]


def test_case19_1_unterminated_quote_never_merges_bodies() -> None:
    # issue 19 case 1: the quote on line 3 used to swallow lines 4-5 into one body's name
    data = b'name,domain\nA,a.nl\n"Gemeente B,b.nl\nC,c.nl\nD,d.nl\n'
    with pytest.raises(SourceError) as caught:
        TABULAR.parse(data, "t.csv", {})
    message = str(caught.value)
    assert message.startswith("t.csv: rows read: 4 = accepted 3 + rejected 1; ")
    assert "line 3: UNTERMINATED_QUOTE: a quote opened on this line is not closed" in message


def test_case19_latin1_and_oversized_fields_name_their_lines() -> None:
    data = b"name;domain\nCaf\xe9;a.nl\nB;" + b"x" * 200_000 + b"\nC;c.nl\n"
    with pytest.raises(SourceError) as caught:
        TABULAR.parse(data, "t.csv", {})
    message = str(caught.value)
    assert "rows read: 3 = accepted 1 + rejected 2" in message
    assert "line 2: ENCODING: byte 0xe9" in message and "line 3: FIELD_TOO_LARGE" in message
    assert len(message) < 600


def test_case19_header_comma_sniffing_and_utf16_lists() -> None:
    data = "naam;website;opmerking, met, komma's\nGemeente A, B;a.nl;x\n".encode("utf-16")
    (org,) = TABULAR.parse(data, "t.csv", {})
    assert (org.name, org.websites) == ("Gemeente A, B", ("a.nl",))
    with pytest.raises(SourceError, match=r"t\.csv:1: DUPLICATE_HEADER: column 'Domain'"):
        TABULAR.parse(b"domain,name,Domain\na.nl,A,b.nl\n", "t.csv", {})


_ALMANAC_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<overheidsorganisaties '
    b'xmlns:p="https://organisaties.overheid.nl/static/schema/oo/export/2.6.9">\n<organisaties>\n'
)
_ALMANAC_TAIL = b"</organisaties>\n</overheidsorganisaties>\n"


def test_case19_25_almanac_body_without_name_is_reported_and_the_rest_imported() -> None:
    doc = (
        _ALMANAC_HEAD
        + b'<organisatie p:systeemId="1"><naam>A</naam><types><type>Agentschap</type></types>'
        b"</organisatie>\n"
        b'<organisatie p:systeemId="2"><types><type>Agentschap</type></types></organisatie>\n'
        b'<organisatie p:systeemId="3"><naam>C</naam><types><type>Agentschap</type></types>'
        b"</organisatie>\n" + _ALMANAC_TAIL
    )
    orgs = ALMANAC.parse(doc, "a.xml", {})
    assert [o.id for o in orgs] == ["nl-oo:1", "nl-oo:3"]
    assert parse_problems(orgs) == [
        "a.xml: <organisatie> '2': missing field 'naam'; skipped (its sub-organisations are read)",
        "a.xml: rows read: 3 = accepted 2 + rejected 1",
    ]


def test_case19_17_almanac_with_50000_nested_bodies_is_read_without_recursion() -> None:
    depth = 50_000
    opening = b"".join(
        b'<organisatie p:systeemId="%d"><naam>O%d</naam><types><type>Agentschap</type>'
        b"</types><organisaties>" % (i, i)
        for i in range(depth)
    )
    closing = b"</organisaties></organisatie>" * depth
    orgs = ALMANAC.parse(_ALMANAC_HEAD + opening + closing + _ALMANAC_TAIL, "deep.xml", {})
    assert len(orgs) == depth
    assert orgs[-1].parent_id == f"nl-oo:{depth - 2}"


def test_case19_17_wikidata_json_nested_100000_deep_is_refused() -> None:
    with pytest.raises(SourceError, match=r"q\.json: nested too deeply"):
        WIKIDATA.parse(b"[" * 100_000 + b"]" * 100_000, "q.json", {})


def test_case19_list_import_prints_its_accounting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sovmap.cli import main

    path = tmp_path / "l.csv"
    path.write_text("# lijst, versie 1\nname,domain\nA,a.nl\n\nB,b.nl\n", encoding="utf-8")
    assert main(["orgs", "import", str(path), "--db", str(tmp_path / "s.sqlite")]) == 0
    assert f"note: {path}: rows read: 2 = accepted 2 + rejected 0" in capsys.readouterr().out
    path.write_text('name,domain\nA,a.nl\n"B,b.nl\nC,c.nl\n', encoding="utf-8")
    assert main(["orgs", "import", str(path), "--db", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "rows read: 3 = accepted 2 + rejected 1" in err and "line 3: UNTERMINATED_QUOTE" in err
