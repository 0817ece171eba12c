"""The bundled Dutch public sector, offline: every ministry with its main agencies and ZBOs,
the 12 provinces, the 21 water boards and the 342 municipalities of 2025 with valid CBS codes
(the map joins on them), each with a source, and a domain wherever one could be sourced."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sovmap.cli import main
from sovmap.orgs.mapping import NO_CONTACT, map_organisations
from sovmap.orgs.model import Organisation
from sovmap.orgs.sources import SourceError
from sovmap.orgs.sources.nl_central import SOURCE, load_bundled, load_regional

NAMED = {
    "BD": "Belastingdienst",
    "Douane": "Douane",
    "DT": "Dienst Toeslagen",
    "DUO": "Dienst Uitvoering Onderwijs",
    "RVO": "Rijksdienst voor Ondernemend Nederland",
    "RDW": "Dienst Wegverkeer",
    "UWV": "Uitvoeringsinstituut Werknemersverzekeringen",
    "SVB": "Sociale Verzekeringsbank",
    "CJIB": "Centraal Justitieel Incassobureau",
    "DJI": "Dienst Justitiële Inrichtingen",
    "IND": "Immigratie- en Naturalisatiedienst",
    "COA": "Centraal Orgaan opvang asielzoekers",
    "RWS": "Rijkswaterstaat",
    "KNMI": "Koninklijk Nederlands Meteorologisch Instituut",
    "RIVM": "Rijksinstituut voor Volksgezondheid en Milieu",
    "Logius": "Logius",
    "SSC-ICT": "SSC-ICT",
}
MISSING_DOMAINS = {"GM1980", "GM1982", "GM1991", "GM1992"}  # merged after the 2022 list


@pytest.fixture(scope="module")
def everything() -> list[Organisation]:
    orgs = SOURCE.parse(b"", "", {})
    return orgs


def test_ministries_and_their_named_bodies(everything: list[Organisation]) -> None:
    by_abbr = {o.abbreviation: o for o in everything if o.abbreviation}
    for abbr, name in NAMED.items():
        assert abbr in by_abbr, abbr
        assert by_abbr[abbr].name == name
    ministries = {o.id: o for o in everything if o.type == "ministry"}
    assert len(ministries) == 15  # the ministries of 2025, Asiel en Migratie included
    central = [o for o in everything if o.type in ("agency", "zbo", "advisory-body")]
    assert len(central) >= 55
    for o in central:
        assert o.parent_id in ministries, o.id
        assert o.source_url.startswith("https://") and o.websites
    assert {by_abbr[a].parent_id for a in ("BD", "Douane", "DT")} == {"nl-min:fin"}
    assert "nl-debate-bodies" in by_abbr["BD"].groups
    assert "nl-central-government" in by_abbr["KNMI"].groups


def test_provinces_water_boards_and_municipalities(everything: list[Organisation]) -> None:
    types = Counter(o.type for o in everything)
    assert types["province"] == 12
    assert types["water-board"] == 21
    assert types["municipality"] == 342
    provinces = {o.source_id for o in everything if o.type == "province"}
    assert provinces == {f"PV{n}" for n in range(20, 32)}
    munis = [o for o in everything if o.type == "municipality"]
    codes = [o.location.municipality_code for o in munis]
    assert len(set(codes)) == 342
    assert all(re.fullmatch(r"GM\d{4}", c) for c in codes)
    by_code = {o.location.municipality_code: o for o in munis}
    assert by_code["GM0363"].name == "Gemeente Amsterdam"
    assert by_code["GM0363"].domains == ("amsterdam.nl",)
    assert by_code["GM0518"].name == "Gemeente 's-Gravenhage"
    assert by_code["GM0518"].domains == ("denhaag.nl",)
    assert by_code["GM1992"].name == "Gemeente Voorne aan Zee"
    # a domain wherever one was sourced; the four later mergers have none (not invented)
    without = {o.location.municipality_code for o in munis if not o.domains}
    assert without == MISSING_DOMAINS
    for o in everything:
        assert o.source_url.startswith("https://"), o.id
    assert len({o.id for o in everything}) == len(everything)


def test_mapping_leaves_only_the_unsourced_municipalities(everything: list[Organisation]) -> None:
    mapping = map_organisations(everything)
    unmapped = {u.org_id: u.code for u in mapping.unmapped}
    assert unmapped == {f"nl-gm:{c}": NO_CONTACT for c in MISSING_DOMAINS}
    domains = {d.domain for d in mapping.domains}
    assert {"belastingdienst.nl", "douane.nl", "rdw.nl", "coa.nl", "knmi.nl"} <= domains
    assert {"brabant.nl", "hhnk.nl", "rijnland.net", "fryslan.frl"} <= domains


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (("code: GM0363", "code: GM363"), "not a CBS municipality code"),
        (
            ("province: PV27, domain: amsterdam.nl", "province: PV99, domain: amsterdam.nl"),
            "unknown province",
        ),
        (
            ("domain_source: contact-2022}", "domain_source: elsewhere}"),
            "unknown source 'elsewhere'",
        ),
        (("domain: amsterdam.nl", "domain: amsterdam nl"), "not a domain name"),
        (("code: PV20", "code: P20"), "not a CBS province code"),
    ],
)
def test_regional_list_validation_names_the_entry(patch: tuple[str, str], message: str) -> None:
    from importlib.resources import files

    text = files("sovmap.orgs.data").joinpath("nl_regional.yaml").read_text(encoding="utf-8")
    old, new = patch
    assert old in text
    with pytest.raises(SourceError, match=r"t\.yaml: (municipalities|provinces)\[\d+\]") as info:
        load_regional(text.replace(old, new, 1), "t.yaml")
    assert message in str(info.value)


def test_central_list_alone_still_loads() -> None:
    assert len(load_bundled()) == 74


def test_first_offline_fetch_lists_the_whole_public_sector(tmp_path: Path, capsys: Any) -> None:
    db = str(tmp_path / "s.sqlite")
    assert main(["orgs", "fetch", "nl-central", "--db", db, "--cache", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["orgs", "list", "--db", db, "--group", "type:municipality"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("342 organisations") and "amsterdam.nl" in out
    export = tmp_path / "orgs.csv"
    assert main(["orgs", "map", "--db", db, "--out", str(export)]) == 0
    capsys.readouterr()
    text = export.read_text(encoding="utf-8")
    assert "belastingdienst.nl" in text and "hhnk.nl" in text and "zwolle.nl" in text
