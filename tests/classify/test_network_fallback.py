"""The network fallback on a synthetic world served on loopback: an MX host the catalogue
does not know is named by the origin AS of its address (Team Cymru's DNS interface) and the
country its prefix is registered in, not by a guess from its domain name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.collect.probes import default_plan, spf_networks
from sovmap.devserver import DevServer
from sovmap.model import Capability, Finding
from sovmap.readers.text import printable
from sovmap.records import AS_NAME_MAX, parse_as_name_txt, parse_asn_txt, parse_origin_txt
from sovmap.store import Store

SOA = "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"

# a hostile AS name: a terminal escape, a bell, and 10 KB in 255-byte TXT strings
HOSTILE = "\\027]0;pwned\\007" + '" "' + '" "'.join(["A" * 255] * 40)

ZONES = {
    # municipalities: MX at a Dutch hoster, at a US mail host, at a relay in Microsoft's
    # network (a catalogued AS), at their own server, at a host whose prefix has no country
    "gemeente-noord.nl": "@ MX 10 mx.hoster-noord.net.\n",
    "gemeente-west.nl": "@ MX 10 mx.mailhost-west.net.\n",
    "gemeente-oost.nl": "@ MX 10 relay.msnet-example.net.\n",
    "gemeente-eigen.nl": "@ MX 10 mail\nmail A 198.51.100.99\n",
    "gemeente-zuid.nl": "@ MX 10 mx.eurelay.net.\n",
    # MX at a hoster whose AS name is hostile (control bytes, 10 KB); SPF ip4 networks: one in
    # the named Dutch AS, one in Microsoft's network (catalogued), one in an AS without a name
    "gemeente-vreemd.nl": "@ MX 10 mx.vreemd-host.net.\n",
    "gemeente-afzender.nl": (
        "@ MX 10 mail\nmail A 198.51.100.99\n"
        '@ TXT "v=spf1 ip4:198.51.100.0/25 ip4:192.0.2.44 ip4:203.0.113.0/24 ip4:bad -all"\n'
    ),
    "vreemd-host.net": "mx A 203.0.113.66\n",
    "hoster-noord.net": "mx A 198.51.100.25\n",
    "mailhost-west.net": "mx A 203.0.113.7\n",
    "msnet-example.net": "relay A 192.0.2.44\n",
    "eurelay.net": "mx A 192.0.2.77\n",
    # Team Cymru's origin-AS interface: "ASN | prefix | CC | RIR | allocated"
    "origin.asn.cymru.com": (
        '25.100.51.198 TXT "64511 | 198.51.100.0/24 | NL | ripencc | 2010-01-01"\n'
        '99.100.51.198 TXT "64511 | 198.51.100.0/24 | NL | ripencc | 2010-01-01"\n'
        '7.113.0.203 TXT "64500 | 203.0.113.0/24 | US | arin | 2010-01-01"\n'
        '44.2.0.192 TXT "8075 | 192.0.2.0/24 | US | arin | 2010-01-01"\n'
        '77.2.0.192 TXT "64502 | 192.0.2.0/24 | EU | ripencc | 2010-01-01"\n'
        '66.113.0.203 TXT "64503 | 203.0.113.0/24 | DE | ripencc | 2010-01-01"\n'
        '0.100.51.198 TXT "64511 | 198.51.100.0/24 | NL | ripencc | 2010-01-01"\n'
        '0.113.0.203 TXT "64500 | 203.0.113.0/24 | US | arin | 2010-01-01"\n'
    ),
    # Team Cymru's AS-name interface: "ASN | CC | RIR | allocated | NAME"; AS64500 and
    # AS64502 have no name here (the fallback then names the AS number)
    "asn.cymru.com": (
        'AS64511 TXT "64511 | NL | ripencc | 2010-01-01 | HOSTER-NOORD-AS, NL"\n'
        f'AS64503 TXT "64503 | DE | ripencc | 2010-01-01 | {HOSTILE}"\n'
    ),
}


@pytest.fixture(scope="module")
def scan_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    zones = tmp_path_factory.mktemp("world")
    for origin, body in ZONES.items():
        (zones / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 3600\n{SOA}{body}")
    csv = zones.parent / "domains.csv"
    csv.write_text("domain\n" + "\n".join(d for d in ZONES if d.startswith("gemeente-")))
    store = Store(zones.parent / "w.sqlite")
    with DevServer(zones) as srv:
        cfg = EngineConfig([(srv.host, srv.port)], timeout=0.5, attempts=2)
        run_scan(csv, store, ScanSettings(cfg, resume=False))
    return zones.parent / "w.sqlite"


@pytest.fixture(scope="module")
def world(scan_db: Path) -> list[Finding]:
    store = Store(scan_db)
    (scan,) = store.scans()
    return list(store.iter_findings(scan.id))


@pytest.fixture(scope="module")
def mailbox(world: list[Finding]) -> dict[str, Finding]:
    return {
        f.domain: f for f in world if f.capability is Capability.MAILBOX and f.role != "candidate"
    }


def test_an_unknown_host_in_a_european_network_is_named_by_its_network(
    mailbox: dict[str, Finding],
) -> None:
    f = mailbox["gemeente-noord.nl"]
    assert (f.provider, f.provider_name, f.jurisdiction, f.code) == (
        "as:64511",
        "HOSTER-NOORD-AS (AS64511)",
        "NL",
        "MAILBOX_NETWORK_OPERATOR_NAMED_EU",
    )
    # below a catalogued network match (0.6), above the unnamed network (0.45)
    assert f.confidence == pytest.approx(0.5)
    # the chain: MX record -> host's address and origin AS -> the AS's name
    assert [e.fingerprint for e in f.evidence] == [
        "rule:mx-unmatched",
        "rule:network-operator",
        "rule:as-name",
    ]
    mx, net, name = f.evidence
    assert mx.value == "10 mx.hoster-noord.net"
    assert (net.qname, net.value) == ("mx.hoster-noord.net", "198.51.100.25 in AS64511 (NL)")
    assert name.value == "AS64511 is HOSTER-NOORD-AS (NL)"
    assert name.chain == ("AS64511", "64511 | NL | ripencc | 2010-01-01 | HOSTER-NOORD-AS, NL")


def test_a_us_network_gives_us_jurisdiction(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-west.nl"]
    assert f.provider_name == "AS64500"  # no AS-name answer: the number, as before
    assert (f.provider, f.jurisdiction, f.code) == (
        "as:64500",
        "US",
        "MAILBOX_NETWORK_OPERATOR_US",
    )


def test_a_catalogued_network_is_named_as_its_provider(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-oost.nl"]
    assert (f.provider, f.code) == ("microsoft", "MAILBOX_NETWORK_US")


def test_the_organisations_own_host_stays_self_hosted(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-eigen.nl"]
    assert (f.provider, f.code) == ("self:gemeente-eigen.nl", "MAILBOX_SELF_HOSTED")


def test_a_prefix_without_a_country_gives_no_jurisdiction(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-zuid.nl"]
    assert (f.provider, f.jurisdiction, f.code) == (
        "as:64502",
        "",
        "MAILBOX_NETWORK_OPERATOR_UNKNOWN",
    )


def test_a_hostile_as_name_is_cut_and_escaped_when_shown(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-vreemd.nl"]
    assert (f.provider, f.jurisdiction, f.code) == (
        "as:64503",
        "DE",
        "MAILBOX_NETWORK_OPERATOR_NAMED_EU",
    )
    name = f.provider_name
    # kept as DNS said it (the store holds the raw bytes), cut to the limit
    assert name.startswith("\x1b]0;pwned\x07AAAA") and name.endswith(" (AS64503)")
    assert len(name) == AS_NAME_MAX + len(" (AS64503)")
    shown = printable(name)
    assert "\x1b" not in shown and "\x07" not in shown and shown.startswith("\\x1b]0;pwned")


def test_explain_shows_the_chain_and_escapes_the_hostile_name(
    scan_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "gemeente-vreemd.nl", "--db", str(scan_db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "mailbox: \\x1b]0;pwned\\x07AAA" in out
    assert "MAILBOX_NETWORK_OPERATOR_NAMED_EU" in out
    assert "'AS64503 is \\x1b]0;pwned\\x07" in out
    assert main(["explain", "gemeente-noord.nl", "--db", str(scan_db)]) == 0
    out = capsys.readouterr().out
    assert "HOSTER-NOORD-AS (AS64511) (parent unknown, jurisdiction NL)" in out
    assert "'198.51.100.25 in AS64511 (NL)'" in out
    assert "'AS64511 is HOSTER-NOORD-AS (NL)' via AS64511 -> 64511 | NL | ripencc" in out


def test_spf_networks_name_their_senders_but_never_the_mailbox(world: list[Finding]) -> None:
    senders = {
        f.provider: f
        for f in world
        if f.domain == "gemeente-afzender.nl" and f.capability is Capability.OUTBOUND
    }
    noord = senders["as:64511"]
    assert (noord.provider_name, noord.jurisdiction, noord.code, noord.role) == (
        "HOSTER-NOORD-AS (AS64511)",
        "NL",
        "OUTBOUND_SENDER_SPF_NETWORK_OPERATOR_EU",
        "additional",
    )
    assert noord.confidence == pytest.approx(0.3)
    assert [(e.fingerprint, e.qname, e.value) for e in noord.evidence] == [
        ("rule:spf-network", "gemeente-afzender.nl", "198.51.100.0/25 in AS64511 (NL)"),
        ("rule:as-name", "gemeente-afzender.nl", "AS64511 is HOSTER-NOORD-AS (NL)"),
    ]
    ms = senders["microsoft"]  # a catalogued network names its provider
    assert (ms.code, ms.jurisdiction) == ("OUTBOUND_SENDER_SPF_NETWORK_US", "US")
    assert [e.value for e in ms.evidence] == ["192.0.2.44 in AS8075 (US)"]
    us = senders["as:64500"]
    assert (us.provider_name, us.jurisdiction, us.code) == (
        "AS64500",
        "US",
        "OUTBOUND_SENDER_SPF_NETWORK_OPERATOR_US",
    )
    assert len(senders) == 3  # "ip4:bad" is no network: no question, no finding
    # the mailbox still comes from the MX (the hoster's network), not from the SPF networks
    mailbox = [
        f
        for f in world
        if f.domain == "gemeente-afzender.nl" and f.capability is Capability.MAILBOX
    ]
    assert [(f.provider, f.code) for f in mailbox] == [
        ("self:gemeente-afzender.nl", "MAILBOX_SELF_HOSTED")
    ]


def test_spf_network_questions_are_bounded_per_domain() -> None:
    plan = default_plan()
    assert plan.spf_network_limit == 4
    record = "v=spf1 " + " ".join(f"ip4:198.51.{i}.0/24" for i in range(50)) + " -all"
    assert [a for _, a in spf_networks(record, plan.spf_network_limit)] == [
        "198.51.0.0",
        "198.51.1.0",
        "198.51.2.0",
        "198.51.3.0",
    ]
    assert spf_networks("v=spf1 ip6:192.0.2.0/24 ip4:2001:db8::/32 ip4:x -all", 4) == []


def test_the_as_name_parser_keeps_to_its_limits() -> None:
    assert parse_as_name_txt("15169 | US | arin | 2000-03-30 | GOOGLE, US") == (
        15169,
        "US",
        "GOOGLE",
    )
    assert parse_as_name_txt("64502 | EU | ripencc | 2010-01-01 | EURELAY") == (
        64502,
        "EU",  # a code, not a country: the classifier's not_a_country list decides
        "EURELAY",
    )
    for bad in ("", "no AS", "64511 | NL | ripencc", "x" * 100_000):
        assert parse_as_name_txt(bad) is None
    big = parse_as_name_txt("1 | NL | ripencc | 2010-01-01 | " + "\x00" * 100_000)
    assert big == (1, "NL", "\x00" * AS_NAME_MAX)


def test_an_origin_answer_with_no_as_number_is_ignored() -> None:
    assert parse_asn_txt("4200000000 | 192.0.2.0/24 | NL | ripencc | 2010-01-01") == 4200000000
    for bad in ("\u00b2 | 192.0.2.0/24", "\u0661\u0662 | x", "9" * 5000, "4294967296 | x", ""):
        assert parse_asn_txt(bad) is None
        assert parse_origin_txt(bad) is None
        assert parse_as_name_txt(bad) is None
