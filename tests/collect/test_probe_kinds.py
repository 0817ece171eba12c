"""Probe kinds as data: one table says each kind's order, role, sharing and extractor; every
kind has a registered extractor, and an unknown kind is an error wherever it turns up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sovmap.classify.signals import (
    Extraction,
    dispatch_table,
    extract,
    extractor,
    registered_extractors,
)
from sovmap.collect.probes import ProbePlan, default_plan
from sovmap.knowledge.catalogue import default_catalogue
from sovmap.knowledge.probes import (
    ProbeKind,
    ProbeKindError,
    parse_kinds,
    probe_file,
    probe_kind,
    probe_kinds,
)
from sovmap.model import RR, Observation, Status

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scan.md"


def test_every_kind_has_a_registered_extractor() -> None:
    table = dispatch_table(probe_kinds().values())
    assert set(table) == set(probe_kinds())
    assert {k.extractor for k in probe_kinds().values()} <= registered_extractors()


def test_the_table_gives_order_role_and_sharing() -> None:
    kinds = probe_kinds()
    assert [k.order for k in kinds.values()] == list(range(len(kinds)))
    # tlsa: the DANE follow-up of --probe posture
    shared = {k.name for k in kinds.values() if k.shared}
    assert shared == {"mx-host", "spf", "spf-host", "asn", "as-name", "tlsa"}
    follow = {k.name for k in kinds.values() if k.role == "follow-up"}
    assert follow == {"mx-host", "spf", "spf-host", "asn", "as-name", "tlsa"}
    plan = default_plan()
    assert plan.shared == frozenset(shared)
    assert dict(plan.order) == {k.name: k.order for k in kinds.values()}
    # every base question of the plan is of a base kind, every always-asked base kind is
    # asked (the opt-in ones only with --probe)
    asked = {probe for probe, _, _ in plan.base}
    assert asked == {k.name for k in kinds.values() if k.role == "base" and not k.opt_in}


def test_observations_sort_in_table_order() -> None:
    key = default_plan().observation_key()
    obs = [
        Observation("asn", "1.0.0.127.origin.asn.cymru.com", "TXT", Status.NOERROR, ()),
        Observation("web", "a.nl", "A", Status.NOERROR, ()),
        Observation("mx", "a.nl", "MX", Status.NOERROR, ()),
    ]
    assert [o.probe for o in sorted(obs, key=key)] == ["mx", "web", "asn"]


def test_an_unknown_kind_is_an_error() -> None:
    with pytest.raises(ProbeKindError, match="unknown probe kind 'nope'"):
        probe_kind("nope")
    stray = Observation("nope", "a.nl", "A", Status.NOERROR, (RR("a.nl", "A", 60, "192.0.2.1"),))
    with pytest.raises(ProbeKindError, match="nope"):
        extract("a.nl", (stray,), default_catalogue())
    with pytest.raises(ProbeKindError, match="no extractor 'missing'"):
        dispatch_table([ProbeKind("x", 0, "base", False, "missing", "")])


def test_the_plan_refuses_kinds_the_table_does_not_have() -> None:
    raw = dict(probe_file())
    raw["questions"] = [*raw["questions"], {"probe": "nope", "name": "nope", "type": "A"}]
    with pytest.raises(ProbeKindError, match="'nope' is not a base kind"):
        ProbePlan.from_dict(raw)
    raw["questions"] = [{"probe": "spf", "name": "@", "type": "TXT"}]  # a follow-up kind
    with pytest.raises(ProbeKindError, match="'spf' is not a base kind"):
        ProbePlan.from_dict(raw)


def test_a_bad_table_is_refused() -> None:
    with pytest.raises(ProbeKindError, match="repeated kind 'mx'"):
        parse_kinds([{"kind": "mx", "extractor": "mx"}, {"kind": "mx", "extractor": "mx"}])
    with pytest.raises(ProbeKindError, match="role must be"):
        parse_kinds([{"kind": "mx", "role": "sometimes", "extractor": "mx"}])
    with pytest.raises(ProbeKindError, match="no extractor"):
        parse_kinds([{"kind": "mx"}])


def test_a_new_kind_needs_only_a_row_and_maybe_an_extractor() -> None:
    """What a third party does: a row in its own table, an extractor registered by name."""
    seen: list[str] = []

    @extractor("test-bimi")
    def _bimi(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
        seen.append(obs.qname)

    with pytest.raises(ValueError, match="registered twice"):
        extractor("test-bimi")(_bimi)
    kinds = parse_kinds(
        [
            *(
                {"kind": k.name, "role": k.role, "extractor": k.extractor}
                for k in probe_kinds().values()
            ),
            {"kind": "bimi", "extractor": "test-bimi"},
        ]
    )
    table = dispatch_table(kinds.values())
    answer = table["bimi"][3]
    obs = Observation(
        "bimi",
        "default._bimi.a.nl",
        "TXT",
        Status.NOERROR,
        (RR("default._bimi.a.nl", "TXT", 60, "v=BIMI1"),),
    )
    answer(obs, obs.qname, (), Extraction("a.nl", (obs,), default_catalogue()))
    assert seen == ["default._bimi.a.nl"]
    raw = dict(probe_file())
    raw["kinds"] = [*raw["kinds"], {"kind": "bimi", "extractor": "test-bimi"}]
    raw["questions"] = [
        *raw["questions"],
        {"probe": "bimi", "name": "default._bimi", "type": "TXT"},
    ]
    plan = ProbePlan.from_dict(raw)
    assert ("bimi", "default._bimi", "TXT") in plan.base
    assert plan.order["bimi"] == len(probe_kinds())


def test_docs_list_every_kind() -> None:
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("## Probe plan", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z-]+)`", table))
    assert set(probe_kinds()) <= listed
