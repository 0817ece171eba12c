"""SPF ``a``, ``a:<host>``, ``mx`` and ``mx:<host>`` terms followed to their hosts' networks,
on a synthetic world served on loopback with addresses and Team Cymru answers (origin AS and
AS name): the operator of the network a domain sends from is named, with its country as the
jurisdiction; hosts without addresses, terms and hosts over the limits and wildcard answers
give no finding. Scanned with both wire parsers (the C accelerator and pure Python)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.collect import wire
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.collect.probes import asn_query_name, default_plan
from sovmap.devserver import DevServer
from sovmap.model import Capability, Finding, Observation
from sovmap.records import spf_host_terms
from sovmap.store import Store

SOA = "@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"

# an own mail server without an origin answer (192.0.2.10): the mailbox is self-hosted and
# says nothing about the SPF hosts' networks
OWN_MX = "@ MX 10 mx\nmx A 192.0.2.10\n"
V6 = "2001:db8:20::1"
PLAN = default_plan()

ZONES = {
    # a:<host> at an Austrian hoster (IPv4 and IPv6 in its named AS)
    "gemeinde-ahost.at": OWN_MX + '@ TXT "v=spf1 a:Mail.Hoster-Ost.at. -all"\n',
    # a bare mx: the domain's own MX host, in an Austrian network (asked once, as mx-host)
    "gemeinde-mx.at": '@ MX 10 mx\nmx A 198.51.100.30\n@ TXT "v=spf1 mx -all"\n',
    # mx:<host>: that domain's two MX hosts, one at the Austrian hoster, one in an unnamed US AS
    "gemeinde-mxhost.at": OWN_MX + '@ TXT "v=spf1 mx:mailrelay-sued.at ~all"\n',
    # a bare a: the apex's address (asked once, as web), in the Austrian network
    "gemeinde-apex.at": OWN_MX + '@ A 198.51.100.50\n@ TXT "v=spf1 a -all"\n',
    # a:www.<domain>: the plan's own web question (reused); a bare a at an apex without address
    "gemeinde-www.at": OWN_MX
    + 'www A 198.51.100.50\n@ TXT "v=spf1 a:www.gemeinde-www.at a -all"\n',
    # a:<host> in a catalogued network (Microsoft's AS 8075): the provider is named
    "gemeinde-ms.at": OWN_MX + '@ TXT "v=spf1 a:relay.msnet-example.net -all"\n',
    # a host without an address and a domain without MX: nothing to name
    "gemeinde-leer.at": OWN_MX + '@ TXT "v=spf1 a:nix.hoster-ost.at mx:kein-mx.at -all"\n',
    # six a:<host> terms: the first four are followed, the last two are not asked
    "gemeinde-viel.at": OWN_MX
    + '@ TXT "v=spf1 '
    + " ".join(f"a:h{i}.hoster-ost.at" for i in range(1, 7))
    + ' -all"\n',
    # an mx:<host> with eight MX hosts after an a:<host>: six hosts at most get addresses
    "gemeinde-cap.at": OWN_MX + '@ TXT "v=spf1 a:mail.hoster-ost.at mx:big-relay.at -all"\n',
    # nine includes, then two a: terms: the tenth lookup is followed, the eleventh is not
    "gemeinde-budget.at": OWN_MX
    + '@ TXT "v=spf1 '
    + " ".join(f"include:i{i}.sl.at" for i in range(1, 10))
    + ' a:h1.hoster-ost.at a:h2.hoster-ost.at -all"\n',
    # a:<host> under a wildcard: the host does not exist, the wildcard answers for it
    "gemeinde-wild.at": OWN_MX + '* A 198.51.100.77\n@ TXT "v=spf1 a:mail.gemeinde-wild.at -all"\n',
    # a:<host> whose name is a CNAME to the hoster's relay (the chain is followed)
    "gemeinde-alias.at": OWN_MX
    + 'smtp CNAME out.hoster-ost.at.\n@ TXT "v=spf1 a:smtp.gemeinde-alias.at -all"\n',
    "hoster-ost.at": (
        f"mail A 203.0.113.20\nmail AAAA {V6}\nout A 203.0.113.21\n"
        + "".join(f"h{i} A 203.0.113.{100 + i}\n" for i in range(1, 7))
    ),
    "mailrelay-sued.at": "@ MX 10 out1\n@ MX 20 out2.us-relay.net.\nout1 A 203.0.113.41\n",
    "us-relay.net": "out2 A 192.0.2.42\n",
    "msnet-example.net": "relay A 192.0.2.44\n",
    "big-relay.at": "".join(f"@ MX {i} r{i}\nr{i} A 203.0.113.{60 + i}\n" for i in range(1, 9)),
    "kein-mx.at": "",
    "origin.asn.cymru.com": (
        "".join(
            f'{n}.113.0.203 TXT "64520 | 203.0.113.0/24 | AT | ripencc | 2010-01-01"\n'
            for n in (20, 21, 41, *range(61, 69), *range(101, 107))
        )
        + '30.100.51.198 TXT "64530 | 198.51.100.0/24 | AT | ripencc | 2011-01-01"\n'
        + '50.100.51.198 TXT "64530 | 198.51.100.0/24 | AT | ripencc | 2011-01-01"\n'
        + '77.100.51.198 TXT "64530 | 198.51.100.0/24 | AT | ripencc | 2011-01-01"\n'
        + '42.2.0.192 TXT "64500 | 192.0.2.0/24 | US | arin | 2010-01-01"\n'
        + '44.2.0.192 TXT "8075 | 192.0.2.0/24 | US | arin | 2010-01-01"\n'
    ),
    "origin6.asn.cymru.com": (
        asn_query_name(V6, PLAN).removesuffix(".origin6.asn.cymru.com")
        + ' TXT "64520 | 2001:db8::/32 | AT | ripencc | 2010-01-01"\n'
    ),
    # AS64500 has no name here: its prefix's country stands
    "asn.cymru.com": (
        'AS64520 TXT "64520 | AT | ripencc | 2010-01-01 | HOSTER-OST-AS, AT"\n'
        'AS64530 TXT "64530 | AT | ripencc | 2011-01-01 | ALPENNET-AS, AT"\n'
    ),
}
DOMAINS = [d for d in ZONES if d.startswith("gemeinde-")]


class _World:
    def __init__(self, db: Path) -> None:
        self.db = db
        store = Store(db)
        (scan,) = store.scans()
        self.findings = list(store.iter_findings(scan.id))
        self.observations = {d: obs for d, _, obs in store.iter_results(scan.id)}

    def senders(self, domain: str) -> dict[str, Finding]:
        return {
            f.provider: f
            for f in self.findings
            if f.domain == domain and f.capability is Capability.OUTBOUND
        }

    def probes(self, domain: str, probe: str) -> list[Observation]:
        return [o for o in self.observations[domain] if o.probe == probe]


@pytest.fixture(scope="module", params=["c", "python"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> _World:
    accelerate = request.param == "c"
    if accelerate and wire.fast is None:
        pytest.skip("C accelerator not built")
    top = tmp_path_factory.mktemp(f"world-{request.param}")
    zones = top / "zones"
    zones.mkdir()
    for origin, body in ZONES.items():
        (zones / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 3600\n{SOA}{body}")
    csv = top / "domains.csv"
    csv.write_text("domain\n" + "\n".join(DOMAINS))
    db = top / "w.sqlite"
    with DevServer(zones) as srv:
        cfg = EngineConfig([(srv.host, srv.port)], timeout=1.0, attempts=3, accelerate=accelerate)
        run_scan(csv, Store(db), ScanSettings(cfg, resume=False))
    return _World(db)


def _values(f: Finding) -> list[tuple[str, str]]:
    return [(e.fingerprint, e.value) for e in f.evidence]


def test_an_a_host_names_its_networks_operator_and_country(world: _World) -> None:
    f = world.senders("gemeinde-ahost.at")["as:64520"]
    assert (f.provider_name, f.jurisdiction, f.code, f.role) == (
        "HOSTER-OST-AS (AS64520)",
        "AT",
        "OUTBOUND_SENDER_SPF_NETWORK_OPERATOR_EU",
        "additional",
    )
    assert f.confidence == pytest.approx(0.3)  # spf_network_confidence, as for ip4: terms
    assert _values(f) == [
        (
            "rule:spf-host-network",
            f"a:Mail.Hoster-Ost.at.: mail.hoster-ost.at {V6} in AS64520 (AT)",
        ),
        (
            "rule:spf-host-network",
            "a:Mail.Hoster-Ost.at.: mail.hoster-ost.at 203.0.113.20 in AS64520 (AT)",
        ),
        ("rule:as-name", "AS64520 is HOSTER-OST-AS (AT)"),
    ]
    # the host's addresses were asked as an SPF host, their origin AS with a via naming it
    vias = sorted(o.via for o in world.probes("gemeinde-ahost.at", "asn"))
    assert f"spf-host|mail.hoster-ost.at|{V6}" in vias
    assert "spf-host|mail.hoster-ost.at|203.0.113.20" in vias
    # sender evidence only: the mailbox stays the domain's own server
    (mailbox,) = [
        x
        for x in world.findings
        if x.domain == "gemeinde-ahost.at" and x.capability is Capability.MAILBOX
    ]
    assert (mailbox.provider, mailbox.code) == ("self:gemeinde-ahost.at", "MAILBOX_SELF_HOSTED")


def test_a_bare_mx_reuses_the_mx_host_answers(world: _World) -> None:
    f = world.senders("gemeinde-mx.at")["as:64530"]
    assert (f.provider_name, f.jurisdiction) == ("ALPENNET-AS (AS64530)", "AT")
    assert _values(f)[0] == (
        "rule:spf-host-network",
        "mx: mx.gemeinde-mx.at 198.51.100.30 in AS64530 (AT)",
    )
    assert world.probes("gemeinde-mx.at", "spf-host") == []  # nothing asked a second time
    assert [o.via for o in world.probes("gemeinde-mx.at", "asn")] == [
        "mx-host|mx.gemeinde-mx.at|198.51.100.30"
    ]


def test_a_bare_a_reuses_the_apex_answers(world: _World) -> None:
    f = world.senders("gemeinde-apex.at")["as:64530"]
    assert (f.jurisdiction, f.code) == ("AT", "OUTBOUND_SENDER_SPF_NETWORK_OPERATOR_EU")
    assert _values(f)[0] == (
        "rule:spf-host-network",
        "a: gemeinde-apex.at 198.51.100.50 in AS64530 (AT)",
    )
    assert world.probes("gemeinde-apex.at", "spf-host") == []


def test_a_www_host_reuses_the_web_answers_and_an_apex_without_address_is_said(
    world: _World,
) -> None:
    f = world.senders("gemeinde-www.at")["as:64530"]
    assert _values(f)[:1] == [
        (
            "rule:spf-host-network",
            "a:www.gemeinde-www.at: www.gemeinde-www.at 198.51.100.50 in AS64530 (AT)",
        )
    ]
    assert (
        "rule:spf-host-not-followed",
        "gemeinde-www.at: not followed (no-address)",
    ) in _values(f)
    assert world.probes("gemeinde-www.at", "spf-host") == []


def test_an_mx_host_term_names_each_network_of_its_mx_hosts(world: _World) -> None:
    senders = world.senders("gemeinde-mxhost.at")
    assert set(senders) == {"as:64520", "as:64500"}
    at, us = senders["as:64520"], senders["as:64500"]
    assert (at.provider_name, at.jurisdiction) == ("HOSTER-OST-AS (AS64520)", "AT")
    assert _values(at)[0] == (
        "rule:spf-host-network",
        "mx:mailrelay-sued.at: out1.mailrelay-sued.at 203.0.113.41 in AS64520 (AT)",
    )
    # no AS name: the AS number and its prefix's registered country
    assert (us.provider_name, us.jurisdiction, us.code) == (
        "AS64500",
        "US",
        "OUTBOUND_SENDER_SPF_NETWORK_OPERATOR_US",
    )
    assert _values(us) == [
        (
            "rule:spf-host-network",
            "mx:mailrelay-sued.at: out2.us-relay.net 192.0.2.42 in AS64500 (US)",
        )
    ]


def test_a_catalogued_network_names_its_provider(world: _World) -> None:
    f = world.senders("gemeinde-ms.at")["microsoft"]
    assert (f.code, f.jurisdiction) == ("OUTBOUND_SENDER_SPF_NETWORK_US", "US")
    assert [e.value for e in f.evidence] == [
        "a:relay.msnet-example.net: relay.msnet-example.net 192.0.2.44 in AS8075 (US)"
    ]


def test_a_cname_host_is_followed_to_its_network(world: _World) -> None:
    f = world.senders("gemeinde-alias.at")["as:64520"]
    assert _values(f)[0] == (
        "rule:spf-host-network",
        "a:smtp.gemeinde-alias.at: smtp.gemeinde-alias.at 203.0.113.21 in AS64520 (AT)",
    )


def test_hosts_without_addresses_name_nothing(world: _World) -> None:
    assert world.senders("gemeinde-leer.at") == {}
    asked = {(o.qname, o.qtype) for o in world.probes("gemeinde-leer.at", "spf-host")}
    assert asked == {
        ("nix.hoster-ost.at", "A"),
        ("nix.hoster-ost.at", "AAAA"),
        ("kein-mx.at", "MX"),
    }
    # no address, no network question (the one asked is the own MX host's)
    assert [o.via for o in world.probes("gemeinde-leer.at", "asn")] == [
        "mx-host|mx.gemeinde-leer.at|192.0.2.10"
    ]


def test_terms_over_the_limit_are_not_asked_and_said_so(world: _World) -> None:
    assert PLAN.spf_host_terms == 4
    f = world.senders("gemeinde-viel.at")["as:64520"]
    hosts = [e.value.split(" ")[1] for e in f.evidence if e.fingerprint == "rule:spf-host-network"]
    assert hosts == [f"h{i}.hoster-ost.at" for i in range(1, 5)]
    assert [e.value for e in f.evidence if e.fingerprint == "rule:spf-host-not-followed"] == [
        "a:h5.hoster-ost.at: not followed (term-limit)",
        "a:h6.hoster-ost.at: not followed (term-limit)",
    ]
    asked = {o.qname for o in world.probes("gemeinde-viel.at", "spf-host")}
    assert asked == {f"h{i}.hoster-ost.at" for i in range(1, 5)}


def test_hosts_over_the_cap_are_not_asked_and_said_so(world: _World) -> None:
    assert PLAN.spf_host_limit == 6
    asked = {
        o.qname for o in world.probes("gemeinde-cap.at", "spf-host") if o.qtype in ("A", "AAAA")
    }
    assert len(asked) == 6 and "mail.hoster-ost.at" in asked
    f = world.senders("gemeinde-cap.at")["as:64520"]
    networks = [e for e in f.evidence if e.fingerprint == "rule:spf-host-network"]
    assert len(networks) == 7  # mail.hoster-ost.at's two addresses and five relay hosts
    capped = [e.value for e in f.evidence if e.fingerprint == "rule:spf-host-not-followed"]
    assert len(capped) == 3 and all(v.endswith(": not followed (host-limit)") for v in capped)
    relays = {f"r{i}.big-relay.at" for i in range(1, 9)}
    assert {v.split(":")[0] for v in capped} == relays - asked


def test_the_spf_lookup_budget_is_kept(world: _World) -> None:
    (record,) = [
        r.data
        for o in world.probes("gemeinde-budget.at", "txt")
        for r in o.answers
        if r.data.startswith("v=spf1")
    ]
    terms = spf_host_terms(record, "gemeinde-budget.at", PLAN.spf_host_terms, 10)
    assert [(t.term, t.skipped) for t in terms] == [
        ("a:h1.hoster-ost.at", ""),  # the tenth lookup
        ("a:h2.hoster-ost.at", "lookup-limit"),  # the eleventh
    ]
    asked = {o.qname for o in world.probes("gemeinde-budget.at", "spf-host")}
    assert asked == {"h1.hoster-ost.at"}
    f = world.senders("gemeinde-budget.at")["as:64520"]
    assert ("rule:spf-host-not-followed", "a:h2.hoster-ost.at: not followed (lookup-limit)") in (
        _values(f)
    )


def test_a_wildcard_answer_names_no_network(world: _World) -> None:
    assert world.senders("gemeinde-wild.at") == {}
    # the question was asked (the scan cannot know before), its answer read as the wildcard's
    (mailbox,) = [
        x
        for x in world.findings
        if x.domain == "gemeinde-wild.at" and x.capability is Capability.MAILBOX
    ]
    assert ("rule:wildcard-answer", "198.51.100.77") in [
        (e.fingerprint, e.value) for e in mailbox.evidence if e.qname == "mail.gemeinde-wild.at"
    ]


def test_no_address_is_asked_twice(world: _World) -> None:
    """An SPF host's addresses are not asked again when the plan asks them anyway (the apex,
    the domain's MX hosts); each origin-AS question is kept once per host and address."""
    for domain in DOMAINS:
        names = Counter(
            (o.qname, o.qtype)
            for o in world.observations[domain]
            if o.probe in ("web", "mx-host", "spf-host") and o.qtype in ("A", "AAAA")
        )
        assert [k for k, n in names.items() if n > 1] == [], domain
        vias = Counter(o.via for o in world.probes(domain, "asn"))
        assert [k for k, n in vias.items() if n > 1] == [], domain


def test_explain_shows_the_operator_and_the_chain(
    world: _World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "gemeinde-ahost.at", "--db", str(world.db)]) == 0
    out = capsys.readouterr().out
    assert "outbound mail: HOSTER-OST-AS (AS64520) (parent unknown, jurisdiction AT)" in out
    assert "mail.hoster-ost.at 203.0.113.20 in AS64520 (AT)" in out
