"""The network fallback on a synthetic world served on loopback: an MX host the catalogue
does not know is named by the origin AS of its address (Team Cymru's DNS interface) and the
country its prefix is registered in, not by a guess from its domain name."""

from __future__ import annotations

import pytest

from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.devserver import DevServer
from sovmap.model import Capability, Finding
from sovmap.store import Store

SOA = "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"

ZONES = {
    # municipalities: MX at a Dutch hoster, at a US mail host, at a relay in Microsoft's
    # network (a catalogued AS), at their own server, at a host whose prefix has no country
    "gemeente-noord.nl": "@ MX 10 mx.hoster-noord.net.\n",
    "gemeente-west.nl": "@ MX 10 mx.mailhost-west.net.\n",
    "gemeente-oost.nl": "@ MX 10 relay.msnet-example.net.\n",
    "gemeente-eigen.nl": "@ MX 10 mail\nmail A 198.51.100.99\n",
    "gemeente-zuid.nl": "@ MX 10 mx.eurelay.net.\n",
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
    ),
}


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finding]:
    zones = tmp_path_factory.mktemp("world")
    for origin, body in ZONES.items():
        (zones / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 3600\n{SOA}{body}")
    csv = zones.parent / "domains.csv"
    csv.write_text("domain\n" + "\n".join(d for d in ZONES if d.startswith("gemeente-")))
    store = Store(zones.parent / "w.sqlite")
    with DevServer(zones) as srv:
        cfg = EngineConfig([(srv.host, srv.port)], timeout=0.5, attempts=2)
        outcome = run_scan(csv, store, ScanSettings(cfg, resume=False))
    return {
        f.domain: f
        for f in store.iter_findings(outcome.scan_id)
        if f.capability is Capability.MAILBOX and f.role != "candidate"
    }


def test_an_unknown_host_in_a_european_network_is_named_by_its_network(
    mailbox: dict[str, Finding],
) -> None:
    f = mailbox["gemeente-noord.nl"]
    assert (f.provider, f.provider_name, f.jurisdiction, f.code) == (
        "as:64511",
        "AS64511",
        "NL",
        "MAILBOX_NETWORK_OPERATOR_EU",
    )
    assert f.confidence == pytest.approx(0.45)
    (net,) = [e for e in f.evidence if e.fingerprint == "rule:network-operator"]
    assert net.value == "198.51.100.25 in AS64511 (NL)"


def test_a_us_network_gives_us_jurisdiction(mailbox: dict[str, Finding]) -> None:
    f = mailbox["gemeente-west.nl"]
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
