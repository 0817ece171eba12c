"""Fuzz the organisation readers with mutated copies of their real formats (issue 19): the
almanac XML, Wikidata SPARQL JSON and CSV/Excel lists either give organisations or raise a
SourceError naming the file, never another exception. ``SOVMAP_FUZZ_EXAMPLES`` scales it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from orgs.orgs_testlib import DATA
from sovmap.orgs.sources import SourceError, parse_problems
from sovmap.orgs.sources.almanac import SOURCE as ALMANAC
from sovmap.orgs.sources.tabular import SOURCE as TABULAR
from sovmap.orgs.sources.wikidata import SOURCE as WIKIDATA
from support.mutate import mutated

FUZZ = settings(
    max_examples=int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _accept_or_refuse(parse: object, data: bytes, origin: str) -> None:
    assert callable(parse)
    try:
        orgs = parse(data, origin, {})
    except SourceError as exc:
        assert str(exc)
        return
    assert all(o.id and o.name for o in orgs)


@FUZZ
@given(mutated((DATA / "exportOO.xml").read_bytes()))
def test_fuzz_almanac_xml(data: bytes) -> None:
    _accept_or_refuse(ALMANAC.parse, data, "exportOO.xml")


@FUZZ
@given(mutated((DATA / "wikidata-nl-municipality.json").read_bytes()))
def test_fuzz_wikidata_json(data: bytes) -> None:
    _accept_or_refuse(WIKIDATA.parse, data, "q.json")


@FUZZ
@given(mutated((DATA / "bodies.csv").read_bytes()))
def test_fuzz_csv_list(data: bytes) -> None:
    _accept_or_refuse(TABULAR.parse, data, "bodies.csv")


@settings(max_examples=max(10, FUZZ.max_examples // 5), deadline=None)
@given(mutated((DATA / "bodies.xlsx").read_bytes()))
def test_fuzz_xlsx_list(data: bytes) -> None:
    _accept_or_refuse(TABULAR.parse, data, "bodies.xlsx")


def test_fuzz_found_an_unknown_xml_encoding() -> None:
    # found by test_fuzz_almanac_xml: a declared encoding Python does not know was a
    # LookupError traceback
    data = (DATA / "exportOO.xml").read_bytes().replace(b"UTF-8", b"U-F-8", 1)
    assert b"U-F-8" in data
    with pytest.raises(SourceError, match=r"^exportOO\.xml: line 1: not readable XML"):
        ALMANAC.parse(data, "exportOO.xml", {})


# -- input accounting of the XML and JSON sources: errors in the middle, the rest imported --

_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<overheidsorganisaties '
    b'xmlns:p="https://organisaties.overheid.nl/static/schema/oo/export/2.6.9">\n<organisaties>\n'
)
_TAIL = b"</organisaties>\n</overheidsorganisaties>\n"


def _body(n: int, name: str = "") -> bytes:
    naam = f"<naam>{name}</naam>" if name else ""
    return (
        f'<organisatie p:systeemId="{n}">{naam}<types><type>Agentschap</type></types>'
        "</organisatie>\n"
    ).encode()


def test_almanac_accounts_for_every_body_with_a_broken_one_in_the_middle() -> None:
    doc = _HEAD + _body(1, "A") + _body(2) + _body(3, "C") + _body(4) + _body(5, "E") + _TAIL
    orgs = ALMANAC.parse(doc, "a.xml", {})
    assert [o.id for o in orgs] == ["nl-oo:1", "nl-oo:3", "nl-oo:5"]
    problems = parse_problems(orgs)
    assert problems[-1] == "a.xml: rows read: 5 = accepted 3 + rejected 2"
    assert len(problems) == 3 and all("missing field 'naam'" in p for p in problems[:2])


def _binding(n: int) -> dict[str, object]:
    return {
        "org": {"type": "uri", "value": f"http://www.wikidata.org/entity/Q{n}"},
        "orgLabel": {"type": "literal", "value": f"Gemeente {n}"},
        "website": {"type": "uri", "value": f"https://g{n}.example"},
    }


def test_wikidata_skips_a_broken_result_in_the_middle_and_accounts_for_it() -> None:
    rows: list[object] = [_binding(1), ["not", "an", "object"], _binding(2), {"orgLabel": {}}]
    rows.append(_binding(3))
    doc = json.dumps({"head": {"vars": ["org"]}, "results": {"bindings": rows}}).encode()
    orgs = WIKIDATA.parse(doc, "q.json", {"country": "NL"})
    assert [o.id for o in orgs] == ["wd:Q1", "wd:Q2", "wd:Q3"]
    assert parse_problems(orgs) == [
        "q.json: results.bindings[1] is not an object; skipped",
        "q.json: results.bindings[3]: field 'org' missing; skipped",
        "q.json: rows read: 5 = accepted 3 + rejected 2 (results; 3 organisations)",
    ]
    only_broken = json.dumps({"head": {}, "results": {"bindings": [1, 2]}}).encode()
    with pytest.raises(SourceError, match=r"bindings\[0\] is not an object; skipped; no result"):
        WIKIDATA.parse(only_broken, "q.json", {})


def test_orgs_import_prints_the_almanac_accounting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sovmap.cli import main

    path = tmp_path / "exportOO.xml"
    path.write_bytes(_HEAD + _body(1, "A") + _body(2) + _body(3, "C") + _TAIL)
    argv = ["orgs", "import", str(path), "--source", "nl-government"]
    assert main([*argv, "--db", str(tmp_path / "s.sqlite")]) == 0
    out = capsys.readouterr().out
    assert f"note: {path}: rows read: 3 = accepted 2 + rejected 1" in out
