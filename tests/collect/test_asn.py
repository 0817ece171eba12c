"""MX host and web addresses mapped to their network through Team Cymru's DNS interface,
served here by a local stand-in zone on loopback."""

from __future__ import annotations

from pathlib import Path

from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.collect.probes import asn_query_name, default_plan
from sovmap.devserver import DevServer
from sovmap.model import Capability
from sovmap.records import parse_asn_txt
from sovmap.store import Store

ORG = """$ORIGIN kommune-fjell.no.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
@ MX 10 post.kommune-fjell.no.
post A 203.0.113.25
www A 198.51.100.7
"""

# the stand-in for Team Cymru's origin.asn.cymru.com: reversed address -> "ASN | prefix | ..."
CYMRU = """$ORIGIN origin.asn.cymru.com.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
25.113.0.203 TXT "24940 | 203.0.113.0/24 | DE | ripencc | 2009-01-01"
7.100.51.198 TXT "16509 | 198.51.100.0/24 | US | arin | 2011-05-01"
"""


def test_query_names_and_answers() -> None:
    plan = default_plan()
    assert asn_query_name("192.0.2.1", plan) == "1.2.0.192.origin.asn.cymru.com"
    assert asn_query_name("2001:db8::1", plan).endswith(".8.b.d.0.1.0.0.2.origin6.asn.cymru.com")
    assert asn_query_name("not-an-ip", plan) == ""
    assert parse_asn_txt("23028 | 216.90.108.0/24 | US | arin | 1998-09-25") == 23028
    assert parse_asn_txt("701 1239 3549 | 216.90.108.0/24 | US") == 701
    assert parse_asn_txt("garbage") is None


def test_networks_name_the_providers(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "kommune-fjell.no.zone").write_text(ORG)
    (zones / "origin.asn.cymru.com.zone").write_text(CYMRU)
    (tmp_path / "in.txt").write_text("kommune-fjell.no\n")
    with DevServer(zones) as srv:
        store = Store(tmp_path / "s.sqlite")
        settings = ScanSettings(EngineConfig([(srv.host, srv.port)], timeout=0.3))
        out = run_scan(tmp_path / "in.txt", store, settings)
    found = {f.capability: f for f in store.findings(out.scan_id)}
    mailbox = found[Capability.MAILBOX]
    assert (mailbox.provider, mailbox.jurisdiction) == ("hetzner", "DE")
    assert mailbox.code == "MAILBOX_NETWORK_EU"
    assert any("AS24940" in e.value for e in mailbox.evidence)
    web = found[Capability.WEB]
    assert (web.provider, web.jurisdiction) == ("amazon", "US")
    assert any(e.chain and e.chain[-1].endswith("origin.asn.cymru.com") for e in web.evidence)
