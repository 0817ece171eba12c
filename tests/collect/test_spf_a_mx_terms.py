"""Which SPF a/mx terms the scan follows to their hosts (the one reading shared by the probe
plan and the classifier): macro-free host names, in the record's order, within the SPF lookup
budget and the plan's limits; the limits come from the probe file."""

from __future__ import annotations

from sovmap.collect.probes import ProbePlan, default_plan
from sovmap.knowledge.probes import probe_file
from sovmap.records import spf_host_terms


def _read(text: str, terms: int = 4, lookups: int = 10) -> list[tuple[str, str, str, str]]:
    return [
        (t.term, t.mechanism, t.host, t.skipped)
        for t in spf_host_terms(text, "gemeinde.at", terms, lookups)
    ]


def test_each_form_of_the_terms_names_its_host() -> None:
    assert _read("v=spf1 a mx a:Mail.Hoster.at. mx:relay.at/24 a/24 -mx:x.at//64 -all") == [
        ("a", "a", "gemeinde.at", ""),
        ("mx", "mx", "gemeinde.at", ""),
        ("a:Mail.Hoster.at.", "a", "mail.hoster.at", ""),
        ("mx:relay.at", "mx", "relay.at", ""),  # the CIDR length is no part of the name
        ("a", "a", "gemeinde.at", "term-limit"),
        ("mx:x.at", "mx", "x.at", "term-limit"),
    ]


def test_macros_addresses_and_bad_names_are_not_followed() -> None:
    assert [s for *_, s in _read("v=spf1 a:%{i}.x.at a:192.0.2.1 a:nodot a:-x-.at a:ok.at")] == [
        "macro",
        "bad-name",
        "bad-name",
        "bad-name",
        "",
    ]
    long = "a:" + ".".join(["x" * 63] * 5)
    assert _read(f"v=spf1 {long}")[0][3] == "bad-name"  # 319 characters
    assert _read("v=spf1 ip4:192.0.2.0/24 include:x.at -all") == []


def test_the_lookup_budget_is_counted_in_the_records_order() -> None:
    record = "v=spf1 " + " ".join(f"include:i{i}.at" for i in range(8)) + " a:x.at ptr a:y.at"
    assert [(h, s) for _, _, h, s in _read(record)] == [("x.at", ""), ("y.at", "lookup-limit")]
    assert [s for *_, s in _read(record, lookups=9)] == ["", "lookup-limit"]


def test_the_plan_reads_its_limits_from_the_probe_file() -> None:
    plan = default_plan()
    assert (plan.spf_host_terms, plan.spf_host_limit) == (4, 6)
    assert "spf-host" in plan.asn_probes and "spf-host" in plan.cname_probes
    raw = dict(probe_file())
    raw["follow"] = {**raw["follow"], "spf_host_terms": 0}
    assert ProbePlan.from_dict(raw).spf_host_terms == 0  # asks no SPF host
