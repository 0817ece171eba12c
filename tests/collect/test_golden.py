"""Golden scan: 92 hand-written realistic cases against a real nameserver on loopback.

``tests/data/zones/*.zone`` holds one case per zone (its first comment line says what the case
is and what a careful analyst concludes), ``faults.yaml`` the injected faults (SERVFAIL,
timeouts, truncation, hostile answers) and ``tests/data/domains.csv`` the input, bad lines
included. One ``run_scan`` asks everything through :class:`sovmap.devserver.DevServer`; the
findings are compared per (domain, capability) with ``tests/data/golden/findings.json``, in a
stable projection (no confidences, no evidence details: those are tuned) plus the set of
evidence probes behind each finding.

Regenerate the golden file only on purpose, and read every change before committing it::

    SOVMAP_REGEN_GOLDEN=1 pytest tests/collect/test_golden.py

Entries listed in ``KNOWN_WRONG`` hold the CORRECT expectation, written by hand, where the
current code is wrong: they are strict xfails (they flip to failures once fixed, then drop
them from the list) and regeneration keeps them as they are.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sovmap.cli import main as cli_main
from sovmap.collect.engine import EngineConfig
from sovmap.collect.inputs import InputProblem, read_domains
from sovmap.collect.pipeline import Progress, ScanOutcome, ScanSettings, reclassify, run_scan
from sovmap.devserver import DevServer
from sovmap.knowledge.catalogue import default_catalogue
from sovmap.model import Capability, Finding, Observation, Status
from sovmap.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ZONES = DATA / "zones"
INPUT = DATA / "domains.csv"
GOLDEN = DATA / "golden" / "findings.json"
REGEN = os.environ.get("SOVMAP_REGEN_GOLDEN") == "1"

# (domain, capability) -> why the current output is wrong; the golden file holds the right one.
# Fixed since first written: CDN edge names as web hosts, dangling www CNAME, apex-SPF senders,
# IDNA 2008 (sharp s), TC for oversized UDP answers in the devserver.
KNOWN_WRONG: dict[tuple[str, str], str] = {}

CAPABILITIES = [c.value for c in Capability]

# gateway cases: domain -> (gateway provider, provider found behind it or "unknown")
GATEWAYS = {
    "provincie-zuidrand.nl": ("proofpoint", "microsoft"),
    "stadt-bergfeld.de": ("mimecast", "microsoft"),
    "gemeinde-seetal.at": ("barracuda", "google"),
    "region-midtby.dk": ("cisco", "microsoft"),
    "waterschap-polderland.nl": ("trend-micro", "microsoft"),
    "kunta-jarvela.fi": ("sophos", "microsoft"),
    "landkreis-talheim.de": ("hornetsecurity", "microsoft"),
    "stadt-wiesenau.de": ("seppmail", "microsoft"),
    "stadtwerke-lindenau.de": ("retarus", "google"),
    "comune-valdoro.it": ("libraesva", "microsoft"),
    "kommun-norrvik.se": ("fortinet", "microsoft"),
    "stad-kortemeer.be": ("broadcom", "microsoft"),
    "gemeente-lindewaard.nl": ("mimecast", "unknown"),
    "kommune-sandvik.dk": ("hornetsecurity", "microsoft"),
    "sportbond-wadden.nl": ("cloudflare", "unknown"),
    "marktgemeinde-wallhof.at": ("ikarus", "microsoft"),
    "gemeinde-sicherpost.at": ("a1-telekom", "microsoft"),
    "kunta-suodin.fi": ("d-fence", "unknown"),
}


# -- projection ------------------------------------------------------------------------------
def project(f: Finding) -> dict[str, Any]:
    """The stable part of a finding, and which probes its evidence came from."""
    return {
        "domain": f.domain,
        "capability": f.capability.value,
        "provider": f.provider,
        "jurisdiction": f.jurisdiction,
        "role": f.role,
        "code": f.code,
        "probes": sorted({e.probe for e in f.evidence}),
    }


def _key(p: dict[str, Any]) -> tuple[str, ...]:
    return (p["domain"], p["capability"], p["provider"], p["role"], p["code"])


def _known_wrong(domain: str, capability: str) -> str | None:
    return KNOWN_WRONG.get((domain, capability)) or KNOWN_WRONG.get((domain, "*"))


def _input_domains() -> list[str]:
    return [d.domain for d in read_domains(INPUT, [])]


def _golden() -> list[dict[str, Any]]:
    if not GOLDEN.exists():
        return []
    data: list[dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


# Every (domain, capability) pair the golden file or a correct scan could name. Domains the
# scan should have but cannot (known-wrong normalisation) come from the golden file.
_DOMAINS = sorted(set(_input_domains()) | {g["domain"] for g in _golden()})


# -- the scan, once per module ----------------------------------------------------------------
@dataclass
class GoldenScan:
    store: Store
    db: Path
    outcome: ScanOutcome
    findings: list[Finding]
    observations: dict[str, tuple[Observation, ...]]

    def of(self, domain: str) -> list[Finding]:
        return [f for f in self.findings if f.domain == domain]

    def obs(self, domain: str, probe: str, qtype: str, qname: str | None = None) -> Observation:
        qn = qname or domain
        for o in self.observations[domain]:
            if o.probe == probe and o.qtype == qtype and o.qname == qn:
                return o
        raise AssertionError(f"no {probe} {qn} {qtype} observation for {domain}")


def engine_config(srv: DevServer) -> EngineConfig:
    # a small in-flight cap keeps the threaded devserver from dropping datagrams under load,
    # so the only timeouts are the injected ones
    return EngineConfig(
        resolvers=[(srv.host, srv.port)], timeout=0.3, attempts=2, max_inflight=64, min_inflight=8
    )


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(ZONES) as srv:
        yield srv


@pytest.fixture(scope="module")
def scan(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> GoldenScan:
    db = tmp_path_factory.mktemp("golden") / "golden.sqlite"
    store = Store(db)
    outcome = run_scan(INPUT, store, ScanSettings(engine_config(server), resume=False))
    findings = list(store.iter_findings(outcome.scan_id))
    observations = {d: obs for d, _attrs, obs in store.iter_results(outcome.scan_id)}
    if REGEN:
        _regenerate(findings)
    return GoldenScan(store, db, outcome, findings, observations)


def _regenerate(findings: list[Finding]) -> None:
    """Write the golden file from this scan, keeping hand-written KNOWN_WRONG expectations."""
    kept = [g for g in _golden() if _known_wrong(g["domain"], g["capability"])]
    fresh = [p for p in map(project, findings) if not _known_wrong(p["domain"], p["capability"])]
    rows = sorted(kept + fresh, key=_key)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# -- golden comparison, per (domain, capability) -------------------------------------------------
def _cases() -> Iterator[Any]:
    for domain in _DOMAINS:
        for cap in CAPABILITIES:
            reason = KNOWN_WRONG.get((domain, cap))
            if reason is None and any(
                g["domain"] == domain and g["capability"] == cap for g in _golden()
            ):
                reason = KNOWN_WRONG.get((domain, "*"))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(domain, cap, id=f"{domain}:{cap}", marks=marks)


@pytest.mark.parametrize(("domain", "capability"), list(_cases()))
def test_golden(scan: GoldenScan, domain: str, capability: str) -> None:
    expected = sorted(
        (g for g in _golden() if g["domain"] == domain and g["capability"] == capability),
        key=_key,
    )
    actual = sorted(
        (project(f) for f in scan.of(domain) if f.capability.value == capability), key=_key
    )
    assert actual == expected


def test_golden_file_is_sorted_and_complete() -> None:
    rows = _golden()
    assert rows, "golden file missing: run with SOVMAP_REGEN_GOLDEN=1 and review it"
    assert rows == sorted(rows, key=_key)
    assert len({_key(r) for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == {
            "domain",
            "capability",
            "provider",
            "jurisdiction",
            "role",
            "code",
            "probes",
        }
        assert r["capability"] in CAPABILITIES
        assert r["probes"] == sorted(set(r["probes"]))
    # every case zone is in the input, every input domain has a zone (or is the NXDOMAIN case)
    zones = {p.name.removesuffix(".zone") for p in ZONES.glob("*.zone")}
    helpers = {"is", "webhuis-hosting.nl"}
    assert len(zones - helpers) >= 45
    assert zones - helpers <= set(_DOMAINS)
    # no zone: the NXDOMAIN case, and the IDNA2003 spelling of the sharp-s case (until fixed)
    assert "hreppur-horfinn.is" in _DOMAINS
    assert set(_DOMAINS) - zones <= {"hreppur-horfinn.is", "strassenmeisterei-nordheide.de"}


def test_zone_files_say_what_they_test() -> None:
    for path in sorted(ZONES.glob("*.zone")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("; ") and len(first) > 40, path.name


# -- input handling ------------------------------------------------------------------------------
def test_bad_input_lines_are_reported_with_line_numbers(scan: GoldenScan) -> None:
    problems = {(p.line, p.code) for p in scan.outcome.problems}
    assert problems == {
        (4, "NORMALISED"),  # URL reduced to its host, www. removed
        (68, "NORMALISED"),  # IDN to punycode
        (69, "NORMALISED"),
        (94, "DUPLICATE"),
        (95, "PUBLIC_SUFFIX"),
        (96, "PUBLIC_SUFFIX"),
        (97, "INVALID"),  # space inside
        (98, "INVALID"),  # label starts with a hyphen
        (99, "COLUMNS"),  # wrong column count
        (100, "EMPTY"),
    }
    by_line: dict[int, InputProblem] = {p.line: p for p in scan.outcome.problems}
    assert (
        by_line[94]
        .render()
        .endswith("domains.csv:94: DUPLICATE: gemeente-veldhoven-noord.nl already listed")
    )
    assert "gemeente veldhoven" in by_line[97].render()
    # the run went on: every accepted line was scanned and stored exactly once
    done = scan.store.done_domains(scan.outcome.scan_id)
    assert done == set(_input_domains())
    assert scan.outcome.domains == len(done) == 92


def test_url_uppercase_trailing_dot_and_idn_inputs_are_normalised(scan: GoldenScan) -> None:
    done = scan.store.done_domains(scan.outcome.scan_id)
    assert {"provincie-zuidrand.nl", "gemeente-hoofdletter.nl", "xn--kommune-rby-h9a9u.dk"} <= done
    assert any(f.capability is Capability.MAILBOX for f in scan.of("xn--kommune-rby-h9a9u.dk"))
    assert any(f.provider == "microsoft" for f in scan.of("gemeente-hoofdletter.nl"))


def test_idn_sharp_s_uses_idna2008(scan: GoldenScan) -> None:
    assert "xn--straenmeisterei-nordheide-y9b.de" in scan.store.done_domains(scan.outcome.scan_id)


# -- mail rules that must hold -------------------------------------------------------------------
def test_ses_sender_only_is_not_aws_mailbox(scan: GoldenScan) -> None:
    fs = scan.of("ziekenhuis-westerkwartier.nl")
    assert not [f for f in fs if f.capability is Capability.MAILBOX and f.provider == "amazon"]
    assert [f.provider for f in fs if f.capability is Capability.MAILBOX] == [
        "self:ziekenhuis-westerkwartier.nl"
    ]
    # ... while real WorkMail (MX + autodiscover) is AWS mailbox hosting
    workmail = scan.of("vereniging-noordlicht.nl")
    assert any(f.capability is Capability.MAILBOX and f.provider == "amazon" for f in workmail)


@pytest.mark.parametrize(
    "domain",
    ["gemeente-grootveen.nl"],
)
def test_spf_only_microsoft_is_not_microsoft_mailbox(scan: GoldenScan, domain: str) -> None:
    assert not [
        f
        for f in scan.of(domain)
        if f.capability is Capability.MAILBOX and f.provider == "microsoft"
    ]


def test_spf_agreement_behind_a_known_gateway_is_labelled_as_such(scan: GoldenScan) -> None:
    # The MX is a filtering gateway (it holds no mailboxes), and SPF names the platform the
    # domain sends through: the classifier names it, with SPF's low confidence and a code
    # that says SPF alone decided (rules.yaml: spf_decides_behind_gateway).
    mailbox = [f for f in scan.of("kommune-sandvik.dk") if f.capability is Capability.MAILBOX]
    assert [(f.provider, f.role, f.code) for f in mailbox] == [
        ("microsoft", "behind-gateway", "MAILBOX_BEHIND_US_SPF_ONLY")
    ]
    assert mailbox[0].confidence <= 0.35


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param(d, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[(d, "mailbox")]))
        if (d, "mailbox") in KNOWN_WRONG
        else d
        for d in sorted(GATEWAYS)
    ],
)
def test_gateway_and_what_is_behind_it(scan: GoldenScan, domain: str) -> None:
    gateway, behind = GATEWAYS[domain]
    fs = scan.of(domain)
    gws = [f for f in fs if f.capability is Capability.MAIL_GATEWAY]
    assert [f.provider for f in gws] == [gateway]
    mailbox = [f for f in fs if f.capability is Capability.MAILBOX]
    assert [(f.provider, f.role) for f in mailbox] == [(behind, "behind-gateway")]
    if behind == "unknown":
        assert mailbox[0].code == "MAILBOX_BEHIND_GATEWAY_UNKNOWN"
        assert mailbox[0].jurisdiction == ""
    else:
        # the see-through needs more than the MX: the evidence names a non-MX record
        assert {e.probe for e in mailbox[0].evidence} - {"mx", "mx-host"}


def test_null_mx_and_nxdomain_give_no_mailbox(scan: GoldenScan) -> None:
    null = scan.obs("parkeervergunning-example.nl", "mx", "MX")
    assert null.status is Status.NOERROR
    assert [r.data.partition(" ")[2] for r in null.answers] == [""]  # MX 0 . (RFC 7505)
    # a null MX says "no mail here": a finding that says so, with no provider or jurisdiction
    mailbox = [
        f for f in scan.of("parkeervergunning-example.nl") if f.capability is Capability.MAILBOX
    ]
    assert [(f.provider, f.code, f.jurisdiction) for f in mailbox] == [
        ("none", "MAILBOX_NO_MAIL", "")
    ]
    nx = scan.obs("hreppur-horfinn.is", "mx", "MX")
    assert nx.status is Status.NXDOMAIN
    assert scan.of("hreppur-horfinn.is") == []


# -- faults and hostile answers ------------------------------------------------------------
def test_faults_are_kept_as_observations(scan: GoldenScan) -> None:
    assert scan.obs("gemeente-storing.nl", "mx", "MX").status is Status.SERVFAIL
    assert scan.obs("kommune-halvfeil.no", "mx", "MX").status is Status.SERVFAIL
    assert scan.obs("kommune-halvfeil.no", "txt", "TXT").status is Status.NOERROR
    assert scan.obs("gemeente-stilte.nl", "mx", "MX").status is Status.TIMEOUT
    assert scan.obs("kunta-hiljainen.fi", "txt", "TXT").status is Status.TIMEOUT
    assert scan.obs("gemeente-ruis.nl", "mx", "MX").status is Status.MALFORMED
    assert scan.obs("gemeinde-schleife.at", "web", "A").status is Status.MALFORMED
    # answers with the wrong ID or the wrong question are never accepted: the question times out
    assert scan.obs("kommune-forfalsket.dk", "mx", "MX").status is Status.TIMEOUT
    assert scan.obs("stad-verkeerd.be", "ns", "NS").status is Status.TIMEOUT
    for domain in ("gemeente-storing.nl", "gemeente-stilte.nl"):
        assert scan.of(domain) == []
    stats = {k: v for k, v in scan.outcome.engine_stats.items() if isinstance(v, int)}
    assert stats["mismatched"] >= 4  # wrong-id and wrong-question, two attempts each
    assert stats["malformed"] >= 4  # garbage and pointer loop, two attempts each
    assert stats["tcp"] >= 1


def test_truncated_answer_is_fetched_over_tcp(scan: GoldenScan) -> None:
    txt = scan.obs("gemeente-tekstrijk.nl", "txt", "TXT")
    assert txt.status is Status.NOERROR
    assert len(txt.records("TXT")) == 4
    mailbox = [f for f in scan.of("gemeente-tekstrijk.nl") if f.capability is Capability.MAILBOX]
    assert [f.provider for f in mailbox] == ["google"]
    assert "txt" in {e.probe for e in mailbox[0].evidence}


def test_oversized_txt_rrset_is_fetched_over_tcp(scan: GoldenScan) -> None:
    txt = scan.obs("omgevingsdienst-veelwoord.nl", "txt", "TXT")
    assert txt.status is Status.NOERROR
    assert len(txt.records("TXT")) == 61


# -- SPF resolution --------------------------------------------------------------------------------
def test_spf_nested_includes_keep_the_chain(scan: GoldenScan) -> None:
    out = {
        f.provider: f
        for f in scan.of("gemeente-klaverveld.nl")
        if f.capability is Capability.OUTBOUND
    }
    assert set(out) == {"sendgrid", "mailchimp"}
    chain = out["sendgrid"].evidence[0].chain
    assert chain == (
        "gemeente-klaverveld.nl",
        "_spf.gemeente-klaverveld.nl",
        "_spf2.gemeente-klaverveld.nl",
    )


def test_spf_redirect_is_followed(scan: GoldenScan) -> None:
    spf = [o for o in scan.observations["waterschap-rivierduin.nl"] if o.probe == "spf"]
    assert [(o.qname, o.via) for o in spf if o.qname == "_spf.webhuis-hosting.nl"] == [
        ("_spf.webhuis-hosting.nl", "waterschap-rivierduin.nl")
    ]
    assert any(
        f.provider == "mailjet" and f.capability is Capability.OUTBOUND
        for f in scan.of("waterschap-rivierduin.nl")
    )


def test_spf_include_loop_and_lookup_limit(scan: GoldenScan) -> None:
    loop = [o for o in scan.observations["stichting-kringloop.nl"] if o.probe == "spf"]
    names = Counter(o.qname for o in loop)
    assert names["_spf.stichting-kringloop.nl"] == 1
    assert names["_spf2.stichting-kringloop.nl"] == 1
    assert len(loop) <= 10
    # 12 lookups in one record: RFC 7208 permerror; no more than 10 are chased
    over = [o for o in scan.observations["omroep-kustland.nl"] if o.probe == "spf"]
    assert len(over) <= 10


# -- findings are well-formed and explained --------------------------------------------
def _named(f: Finding) -> bool:
    return f.provider in default_catalogue().providers


def test_confidences_and_sources(scan: GoldenScan) -> None:
    assert scan.findings
    for f in scan.findings:
        assert 0.0 <= f.confidence <= 1.0, f
        if f.provider != "unknown":
            assert 0.0 < f.confidence <= 1.0, f
        assert f.evidence, f
        if _named(f):
            assert any(e.source.startswith("https://") for e in f.evidence), f


def test_explain_prints_every_record_behind_each_finding(
    scan: GoldenScan, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = "provincie-zuidrand.nl"
    assert cli_main(["explain", domain, "--db", str(scan.db)]) == 0
    out = capsys.readouterr().out
    fs = scan.of(domain)
    assert {f.capability for f in fs} >= {Capability.MAIL_GATEWAY, Capability.MAILBOX}
    for f in fs:
        assert f.code in out
        for e in f.evidence:
            assert f"{e.probe} {e.qname} {e.rtype} {e.value!r}" in out
            if e.source:
                assert e.source in out


def test_reclassify_gives_the_same_findings(scan: GoldenScan) -> None:
    before = sorted(json.dumps(f.to_json(), sort_keys=True) for f in scan.findings)
    replayed = reclassify(scan.store, scan.outcome.scan_id)
    assert replayed.domains == len(scan.observations)
    assert replayed.differing == replayed.unanswered == 0
    after = sorted(
        json.dumps(f.to_json(), sort_keys=True)
        for f in scan.store.iter_findings(scan.outcome.scan_id)
    )
    assert after == before


class _Interrupt(Exception):
    pass


def test_interrupted_scan_resumes_without_duplicates(
    server: DevServer, scan: GoldenScan, tmp_path: Path
) -> None:
    store = Store(tmp_path / "resume.sqlite")

    def stop_early(p: Progress) -> None:
        if p.done >= 20:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        # domains finish a few at a time, so the stop comes mid-scan
        settings = ScanSettings(engine_config(server), batch_size=5, max_active=10)
        run_scan(INPUT, store, settings, on_progress=stop_early)
    first = store.scans()[-1].id
    assert store.latest_finished() is None  # the interrupted scan is no result
    partial = store.done_domains(first)
    assert 0 < len(partial) < len(scan.observations)
    again = run_scan(INPUT, store, ScanSettings(engine_config(server)))
    assert again.resumed and again.scan_id == first
    assert again.skipped == len(partial)
    assert again.domains == len(scan.observations) - len(partial)
    assert store.done_domains(first) == set(scan.observations)
    assert [s.status for s in store.scans() if s.id == first] == ["done"]
    rows = list(store.iter_findings(first))
    assert len(rows) == len(scan.findings)
    assert sorted(map(_key, map(project, rows))) == sorted(map(_key, map(project, scan.findings)))


# -- wildcards, legacy tokens, hosts that cannot be mail hosts (issue 17) ----------------------
def _mailbox(scan: GoldenScan, domain: str) -> list[Finding]:
    return [
        f for f in scan.of(domain) if f.capability is Capability.MAILBOX and f.role != "candidate"
    ]


@pytest.mark.parametrize("domain", ["gemeente-sterrenwacht.nl", "gemeente-overal.nl"])
def test_a_wildcard_never_creates_a_finding(scan: GoldenScan, domain: str) -> None:
    named = {f.provider for f in scan.of(domain)}
    assert not named & {"google", "microsoft", "hornetsecurity", "mailjet", "dmarcian"}
    # the wildcard answered: the DKIM selectors (or autodiscover) were asked and answered...
    answered = [o for o in scan.observations[domain] if o.probe in ("dkim", "autodiscover")]
    assert any(o.answers for o in answered)
    # ... and is kept as evidence with the mailbox finding, which stays the organisation's own
    (mailbox,) = _mailbox(scan, domain)
    assert mailbox.provider == f"self:{domain}"
    rules = {e.fingerprint for e in mailbox.evidence}
    assert {"rule:wildcard", "rule:wildcard-answer"} <= rules


def test_a_record_of_its_own_beside_a_wildcard_still_counts(scan: GoldenScan) -> None:
    # www has its own address in the wildcard-CNAME zone: web hosting is read from it
    web = [f for f in scan.of("gemeente-overal.nl") if f.capability is Capability.WEB]
    assert web and all(f.provider != "microsoft" for f in web)
    assert any(e.value == "192.0.2.80" for f in web for e in f.evidence)


def test_legacy_microsoft_tokens_and_verification_mx(scan: GoldenScan) -> None:
    office = [f for f in scan.of("gemeinde-altlegat.at") if f.capability is Capability.OFFICE]
    assert [f.provider for f in office] == ["microsoft"]
    values = {e.value for e in office[0].evidence}
    assert "MS=4C2A9E1F7B3D5A6C8E0F1A2B3C4D5E6F7A8B9C0D" in values
    assert "32767 ms73889594.msv1.invalid" in values
    # the .invalid MX is no mail host: the mailbox is the real MX's (A1, Austria)
    assert [f.provider for f in _mailbox(scan, "gemeinde-altlegat.at")] == ["a1-telekom"]


def test_mx_hosts_that_never_resolve_mean_no_mail(scan: GoldenScan) -> None:
    (f,) = _mailbox(scan, "marktgemeinde-nirgendpost.at")
    assert (f.provider, f.code, f.jurisdiction) == ("none", "MAILBOX_NO_MAIL", "")


def test_a_domain_without_mx_gets_a_mailbox_finding(scan: GoldenScan) -> None:
    (f,) = _mailbox(scan, "dorpshuis-zondermx.nl")
    assert (f.provider, f.code, f.jurisdiction) == ("none", "MAILBOX_NO_MX", "")
    # every domain whose MX question was answered has one (coverage 1)
    for domain, obs in scan.observations.items():
        mx = [o for o in obs if o.probe == "mx" and o.qname == domain]
        if mx and mx[0].status is Status.NOERROR:
            assert _mailbox(scan, domain), domain


def test_duplicated_spf_terms_count_once(scan: GoldenScan) -> None:
    fs = sorted(
        (f for f in scan.of("gemeinde-doppelspf.at") if f.capability is Capability.MAILBOX),
        key=lambda f: f.provider,
    )
    assert [(f.provider, f.role) for f in fs] == [
        ("a1-telekom", "candidate"),
        ("microsoft", "behind-gateway"),
    ]
    a1 = fs[0]
    assert a1.confidence < fs[1].confidence
    assert a1.confidence == pytest.approx(0.3 * 0.6)  # one include, however often named


def test_backup_mx_at_exchange_online_names_the_platform(scan: GoldenScan) -> None:
    (f,) = _mailbox(scan, "stad-reservepost.be")
    assert (f.provider, f.role) == ("microsoft", "behind-relay")
    gw = [x for x in scan.of("stad-reservepost.be") if x.capability is Capability.MAIL_GATEWAY]
    assert [(x.provider, x.role) for x in gw] == [("self:stad-reservepost.be", "relay")]


def test_an_address_literal_mx_is_no_provider(scan: GoldenScan) -> None:
    (f,) = _mailbox(scan, "kommune-adressepost.no")
    assert (f.provider, f.code, f.jurisdiction) == ("unknown", "MAILBOX_ADDRESS_LITERAL", "")
    assert all(x.provider_name != "2.1" for x in scan.of("kommune-adressepost.no"))


def test_control_bytes_never_name_a_provider_and_the_store_keeps_them(scan: GoldenScan) -> None:
    domain = "gemeinde-steuerzeichen.de"
    for f in scan.of(domain):
        for text in (f.provider, f.provider_name, f.parent):
            assert text.isprintable(), f
    codes = {f.capability: f.code for f in scan.of(domain) if f.role != "candidate"}
    assert codes[Capability.MAILBOX] == "MAILBOX_INVALID_NAME"
    assert codes[Capability.DNS] == "DNS_HOSTING_INVALID_NAME"
    mx = scan.obs(domain, "mx", "MX")
    # a name keeps its octets in presentation format (issue 19 case 21): ESC and BEL as \DDD
    assert "\\027]0;owned\\007.mail.example" in mx.answers[0].data


def test_a_gateway_operator_that_hosts_mailboxes_gets_them_when_nothing_else_is_named(
    scan: GoldenScan,
) -> None:
    (f,) = _mailbox(scan, "gemeinde-waldpost.at")
    assert (f.provider, f.role, f.code) == (
        "wvnet",
        "behind-gateway",
        "MAILBOX_GATEWAY_OPERATOR_EU",
    )
    assert f.confidence == pytest.approx(0.35)


def test_a_tenant_token_alone_names_the_platform_behind_a_gateway_weakly(
    scan: GoldenScan,
) -> None:
    (f,) = _mailbox(scan, "kommune-tokenby.dk")
    assert (f.provider, f.role, f.code) == (
        "microsoft",
        "behind-gateway",
        "MAILBOX_BEHIND_US_TOKEN_ONLY",
    )
    assert f.confidence <= 0.3  # below the figures' threshold (0.5): counted as unknown


def test_control_bytes_are_escaped_in_explain_and_csv(
    scan: GoldenScan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = "gemeinde-steuerzeichen.de"
    assert cli_main(["explain", domain, "--db", str(scan.db), "--raw"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\027]0;owned\\007" in out  # the raw MX host, in presentation format
    csv_path = tmp_path / "f.csv"
    assert cli_main(["export", str(csv_path), "--db", str(scan.db)]) == 0
    text = csv_path.read_text(encoding="utf-8")
    assert domain in text and "\x1b" not in text and "\x07" not in text
