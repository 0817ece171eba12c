"""Fuzz the organisation readers with mutated copies of their real formats (issue 19): the
almanac XML, Wikidata SPARQL JSON and CSV/Excel lists either give organisations or raise a
SourceError naming the file, never another exception. ``SOVMAP_FUZZ_EXAMPLES`` scales it."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from orgs.orgs_testlib import DATA
from sovmap.orgs.sources import SourceError
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
