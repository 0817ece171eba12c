"""Fuzz the organisation readers with mutated copies of their real formats (issue 19): the
almanac XML, Wikidata SPARQL JSON and CSV/Excel lists either give organisations or raise a
SourceError naming the file, never another exception. ``SOVMAP_FUZZ_EXAMPLES`` scales it."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgs.orgs_testlib import DATA
from sovmap.orgs.sources import SourceError
from sovmap.orgs.sources.almanac import SOURCE as ALMANAC
from sovmap.orgs.sources.tabular import SOURCE as TABULAR
from sovmap.orgs.sources.wikidata import SOURCE as WIKIDATA

FUZZ = settings(
    max_examples=int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_PIECES = [b"<", b">", b"</organisatie>", b"<organisatie>", b"&", b"&amp;", b'"', b"[", b"{"]
_PIECES += [b"]", b"}", b",", b";", b"\n", b"\xff", b"\xe9", b"\x00", b"<!ENTITY a 'x'>"]


@st.composite
def _mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    blob = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, max(0, len(blob) - 1)))
        action = draw(st.sampled_from(("flip", "insert", "delete")))
        if action == "flip" and blob:
            blob[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            blob[pos:pos] = draw(st.sampled_from(_PIECES))
        else:
            del blob[pos : pos + draw(st.integers(1, 60))]
    return bytes(blob)


def _accept_or_refuse(parse: object, data: bytes, origin: str) -> None:
    assert callable(parse)
    try:
        orgs = parse(data, origin, {})
    except SourceError as exc:
        assert str(exc)
        return
    assert all(o.id and o.name for o in orgs)


@FUZZ
@given(_mutated((DATA / "exportOO.xml").read_bytes()))
def test_fuzz_almanac_xml(data: bytes) -> None:
    _accept_or_refuse(ALMANAC.parse, data, "exportOO.xml")


@FUZZ
@given(_mutated((DATA / "wikidata-nl-municipality.json").read_bytes()))
def test_fuzz_wikidata_json(data: bytes) -> None:
    _accept_or_refuse(WIKIDATA.parse, data, "q.json")


@FUZZ
@given(_mutated((DATA / "bodies.csv").read_bytes()))
def test_fuzz_csv_list(data: bytes) -> None:
    _accept_or_refuse(TABULAR.parse, data, "bodies.csv")


@settings(max_examples=max(10, FUZZ.max_examples // 5), deadline=None)
@given(_mutated((DATA / "bodies.xlsx").read_bytes()))
def test_fuzz_xlsx_list(data: bytes) -> None:
    _accept_or_refuse(TABULAR.parse, data, "bodies.xlsx")


def test_fuzz_found_an_unknown_xml_encoding() -> None:
    # found by test_fuzz_almanac_xml: a declared encoding Python does not know was a
    # LookupError traceback
    data = (DATA / "exportOO.xml").read_bytes().replace(b"UTF-8", b"U-F-8", 1)
    assert b"U-F-8" in data
    with pytest.raises(SourceError, match=r"^exportOO\.xml: line 1: not readable XML"):
        ALMANAC.parse(data, "exportOO.xml", {})
