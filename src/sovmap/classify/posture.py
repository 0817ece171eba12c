"""Mail security posture of a domain, from its stored observations: DMARC, SPF, DKIM,
STARTTLS, DANE, DNSSEC, MTA-STS and TLS-RPT, one finding per standard with the records
behind it. Pure: no I/O, no clock.

DMARC, SPF and DKIM are read from the default plan's questions; MTA-STS, TLS-RPT, DANE and
DNSSEC need ``--probe posture`` (their kinds in ``knowledge/data/probes.yaml``), the MTA-STS
policy file ``--probe http`` and STARTTLS ``--probe smtp``. What was not asked is unknown,
never missing. The level of each finding code is data (``knowledge/data/posture.yaml``).

DNSSEC is read from the presence of DNSKEY records at the apex, not from the AD flag: the
AD flag needs a validating resolver between the scan and the zone (not every resolver
validates, the test servers are authoritative) and the scan keeps no header flags; a
DNSKEY answer shows the zone is signed through any resolver. It does not prove the chain of
trust (a DS record at the parent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap import i18n
from sovmap.classify.signals import Extraction, extractor
from sovmap.model import Evidence, Observation, Status
from sovmap.records import chain_end, is_spf, parse_spf

LEVELS = ("good", "weak", "missing", "unknown")
STANDARDS = ("dmarc", "spf", "dkim", "starttls", "dane", "dnssec", "mta-sts", "tls-rpt")
SPF_LOOKUP_LIMIT = 10  # RFC 7208 section 4.6.4


@dataclass(frozen=True, slots=True)
class PostureFinding:
    """One standard of one domain: its level, a stable code and the records behind it."""

    domain: str
    standard: str
    level: str
    code: str
    evidence: tuple[Evidence, ...] = ()
    details: tuple[tuple[str, str], ...] = ()  # (name, value): p=reject, lookups=4, ...

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "standard": self.standard,
            "level": self.level,
            "code": self.code,
            "details": dict(self.details),
            "evidence": [e.to_json() for e in self.evidence],
        }


def describe(f: PostureFinding, lang: str) -> str:
    """The finding as a reader says it, in ``lang``: the catalogue's text of its code
    (``EXPLAIN_<code>``) with its details filled in, counts in the language's number format."""
    params = {k: i18n.format_number(int(v), lang) if v.isdigit() else v for k, v in f.details}
    return i18n.t(lang, f"EXPLAIN_{f.code}", **params)


@dataclass(frozen=True, slots=True)
class PostureRules:
    sources: Mapping[str, str]
    comply_or_explain: tuple[str, ...]
    levels: Mapping[str, str]


class PostureRulesError(ValueError):
    """``posture.yaml`` names an unknown standard or level."""


@cache
def posture_rules() -> PostureRules:
    text = (resources.files("sovmap.knowledge") / "data" / "posture.yaml").read_text()
    return parse_rules(yaml.safe_load(text))


def parse_rules(raw: Mapping[str, Any]) -> PostureRules:
    stds = raw.get("standards") or {}
    if set(stds) != set(STANDARDS):
        raise PostureRulesError(f"posture.yaml: standards must be {STANDARDS}, not {list(stds)}")
    for name, row in stds.items():
        if not str(row.get("source", "")).startswith("https://"):
            raise PostureRulesError(f"posture.yaml: standard {name} has no https source")
    levels = {str(k): str(v) for k, v in (raw.get("levels") or {}).items()}
    bad = {k: v for k, v in levels.items() if v not in LEVELS or not k.startswith("POSTURE_")}
    if bad:
        raise PostureRulesError(f"posture.yaml: bad levels {bad}: a level is one of {LEVELS}")
    return PostureRules(
        sources={str(k): str(v["source"]) for k, v in stds.items()},
        comply_or_explain=tuple(k for k in STANDARDS if stds[k].get("comply_or_explain")),
        levels=levels,
    )


@extractor("posture")
def _posture_kind(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """Posture kinds name no provider: read by :func:`posture`, not by the classifier."""


class _Domain:
    def __init__(self, domain: str, observations: Iterable[Observation]) -> None:
        self.domain = domain
        self.by_probe: dict[str, list[Observation]] = {}
        for o in observations:
            self.by_probe.setdefault(o.probe, []).append(o)
        self.rules = posture_rules()
        self.out: list[PostureFinding] = []

    def get(self, probe: str) -> list[Observation]:
        return self.by_probe.get(probe, [])

    def add(
        self,
        standard: str,
        code: str,
        evidence: Iterable[tuple[Observation, str, str]] = (),
        **details: object,
    ) -> None:
        source = self.rules.sources[standard]
        ev = tuple(
            Evidence(o.probe, o.qname, rtype, value, f"posture:{code}", source, 0.0, ())
            for o, rtype, value in evidence
        )
        level = self.rules.levels.get(code)
        if level is None:
            raise PostureRulesError(f"posture.yaml: no level for {code}")
        self.out.append(
            PostureFinding(
                self.domain,
                standard,
                level,
                code,
                ev,
                tuple((k, str(v)) for k, v in details.items()),
            )
        )


def _own(o: Observation, rtype: str) -> list[str]:
    """Records of ``rtype`` at the end of the answer's CNAME chain (the name's own data),
    sorted: a server may give an RRset in any order."""
    end, _ = chain_end(o.qname, o.answers)
    return sorted(r.data for r in o.answers if r.rtype == rtype and r.name == end)


def _tags(record: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in record.split(";"):
        k, sep, v = part.partition("=")
        if sep:
            out.setdefault(k.strip().lower(), v.strip())
    return out


def _answered(obs: list[Observation]) -> bool:
    return bool(obs) and all(o.status.answered for o in obs)


def _dmarc(d: _Domain) -> None:
    obs = [o for o in d.get("dmarc") if o.qname == f"_dmarc.{d.domain}"]
    if not _answered(obs):
        d.add("dmarc", "POSTURE_DMARC_UNANSWERED", [(o, o.qtype, o.status.value) for o in obs])
        return
    records = [(o, t) for o in obs for t in _own(o, "TXT") if t.lower().startswith("v=dmarc1")]
    if not records:
        d.add("dmarc", "POSTURE_DMARC_MISSING", [(o, "TXT", o.status.value) for o in obs])
        return
    ev = [(o, "TXT", t) for o, t in records]
    tags = _tags(records[0][1])
    policy = tags.get("p", "").lower()
    if len(records) > 1 or policy not in ("none", "quarantine", "reject"):
        d.add("dmarc", "POSTURE_DMARC_INVALID", ev, records=len(records))
        return
    pct = tags.get("pct", "100")
    details = {
        "p": policy,
        "sp": tags.get("sp", policy).lower(),
        "pct": pct,
        "rua": "yes" if tags.get("rua") else "no",
        "adkim": tags.get("adkim", "r").lower(),  # RFC 7489 6.3: relaxed unless said
        "aspf": tags.get("aspf", "r").lower(),
    }
    if policy == "none":
        code = "POSTURE_DMARC_NONE"
    elif pct.strip() != "100":
        code = "POSTURE_DMARC_PARTIAL"
    else:
        code = "POSTURE_DMARC_REJECT" if policy == "reject" else "POSTURE_DMARC_QUARANTINE"
    d.add("dmarc", code, ev, **details)


def _spf(d: _Domain) -> None:
    own = [o for o in d.get("txt") if o.qname == d.domain]
    if not _answered(own):
        d.add("spf", "POSTURE_SPF_UNANSWERED", [(o, o.qtype, o.status.value) for o in own])
        return
    records = [(o, t) for o in own for t in _own(o, "TXT") if is_spf(t)]
    if not records:
        d.add("spf", "POSTURE_SPF_MISSING", [(o, "TXT", o.status.value) for o in own])
        return
    ev = [(o, "TXT", t) for o, t in records]
    if len(records) > 1:
        d.add("spf", "POSTURE_SPF_INVALID", ev, records=len(records))
        return
    # the include/redirect tree the scan fetched (probe spf): lookups counted over all of it
    fetched: dict[str, str] = {}
    for o in d.get("spf"):
        for t in _own(o, "TXT"):
            if is_spf(t):
                fetched.setdefault(o.qname, t)
    lookups, seen = 0, set[str]()
    todo = [records[0][1]]
    all_term = ""
    first = True
    while todo and len(seen) < 100:
        text = todo.pop()
        terms = parse_spf(text)
        lookups += sum(1 for t in terms if t.counts_lookup)
        for term in terms:
            if term.name in ("include", "redirect") and term.value:
                target = term.value.lower().rstrip(".")
                if target in fetched and target not in seen:
                    seen.add(target)
                    todo.append(fetched[target])
        if first:
            alls = [t.qualifier for t in terms if t.name == "all"]
            redirect = next(
                (t.value.lower().rstrip(".") for t in terms if t.name == "redirect"), ""
            )
            if alls:
                all_term = alls[0]
            elif redirect in fetched:  # RFC 7208 6.1: the redirect's record decides
                alls = [t.qualifier for t in parse_spf(fetched[redirect]) if t.name == "all"]
                all_term = alls[0] if alls else ""
            first = False
    ev += [
        (o, "TXT", t) for o in d.get("spf") for t in _own(o, "TXT") if is_spf(t) and o.qname in seen
    ][:12]
    details = {"all": f"{all_term}all" if all_term else "-", "lookups": lookups}
    if lookups > SPF_LOOKUP_LIMIT:
        code = "POSTURE_SPF_TOO_MANY_LOOKUPS"
    else:
        code = {
            "-": "POSTURE_SPF_HARDFAIL",
            "~": "POSTURE_SPF_SOFTFAIL",
            "+": "POSTURE_SPF_PASS_ALL",
        }.get(all_term, "POSTURE_SPF_NEUTRAL")
    d.add("spf", code, ev, **details)


def _is_key(text: str) -> bool:
    t = text.replace(" ", "").lower()
    return t.startswith("v=dkim1") or t.startswith("k=") or ";p=" in t or t.startswith("p=")


def _dkim(d: _Domain) -> None:
    wild = [o for o in d.get("wildcard-dkim") if o.status is Status.NOERROR and o.answers]
    if wild:
        d.add("dkim", "POSTURE_DKIM_WILDCARD", [(o, "TXT", o.answers[0].data) for o in wild])
        return
    keys = [(o, "TXT", t) for o in d.get("dkim") for t in _own(o, "TXT") if _is_key(t)]
    if keys:
        selectors = sorted({o.qname.split("._domainkey", 1)[0] for o, _, _ in keys})
        d.add("dkim", "POSTURE_DKIM_FOUND", keys[:6], selectors=" ".join(selectors))
    else:
        d.add("dkim", "POSTURE_DKIM_NOT_FOUND", [], selectors_asked=len(d.get("dkim")))


def _mx_hosts(d: _Domain) -> list[str] | None:
    """The domain's MX hosts (None: the MX question was not answered)."""
    obs = [o for o in d.get("mx") if o.qname == d.domain]
    if not _answered(obs):
        return None
    hosts = []
    for o in obs:
        for data in _own(o, "MX"):
            host = data.partition(" ")[2]
            if host and host not in hosts:
                hosts.append(host)
    return hosts


def _starttls(d: _Domain, hosts: list[str] | None) -> None:
    if not hosts:
        d.add("starttls", "POSTURE_NO_MX")
        return
    probed = [o for o in d.get("smtp-banner") if o.status is Status.NOERROR]
    if not probed:
        d.add("starttls", "POSTURE_STARTTLS_NOT_ASKED")
        return
    offered = [
        o for o in probed if any(r.rtype == "STARTTLS" and r.data == "offered" for r in o.answers)
    ]
    ev = [
        (o, r.rtype, r.data)
        for o in probed
        for r in o.answers
        if r.rtype in ("STARTTLS", "TLS", "CERT-SUBJECT", "CERT-ISSUER", "CERT-NOT-AFTER")
    ]
    code = (
        "POSTURE_STARTTLS_ALL"
        if len(offered) == len(probed)
        else "POSTURE_STARTTLS_SOME"
        if offered
        else "POSTURE_STARTTLS_NONE"
    )
    d.add("starttls", code, ev, hosts=len(probed), offered=len(offered))


def _dane(d: _Domain, hosts: list[str] | None) -> None:
    if not hosts:
        d.add("dane", "POSTURE_NO_MX")
        return
    obs = {o.qname: o for o in d.get("tlsa")}
    if not obs:
        d.add("dane", "POSTURE_DANE_NOT_ASKED")
        return
    with_tlsa = []
    ev = []
    for host in hosts:
        o = obs.get(f"_25._tcp.{host}")
        if o is None:
            continue
        records = _own(o, "TLSA")
        ev += [(o, "TLSA", t) for t in records] or [(o, "TLSA", o.status.value)]
        if records:
            with_tlsa.append(host)
    asked = sum(1 for h in hosts if f"_25._tcp.{h}" in obs)
    code = (
        "POSTURE_DANE_ALL"
        if with_tlsa and len(with_tlsa) == asked
        else "POSTURE_DANE_SOME"
        if with_tlsa
        else "POSTURE_DANE_NONE"
    )
    d.add("dane", code, ev, hosts=asked, with_tlsa=len(with_tlsa))


def _dnssec(d: _Domain) -> None:
    obs = [o for o in d.get("dnssec") if o.qname == d.domain]
    if not _answered(obs):
        d.add("dnssec", "POSTURE_DNSSEC_NOT_ASKED", [(o, o.qtype, o.status.value) for o in obs])
        return
    keys = [(o, "DNSKEY", k) for o in obs for k in _own(o, "DNSKEY")]
    if keys:
        d.add("dnssec", "POSTURE_DNSSEC_SIGNED", keys[:4], dnskeys=len(keys))
    else:
        d.add("dnssec", "POSTURE_DNSSEC_UNSIGNED", [(o, "DNSKEY", o.status.value) for o in obs])


def _mta_sts(d: _Domain) -> None:
    obs = [o for o in d.get("mta-sts") if o.qname == f"_mta-sts.{d.domain}"]
    if not _answered(obs):
        d.add("mta-sts", "POSTURE_MTA_STS_NOT_ASKED")
        return
    records = [
        (o, "TXT", t) for o in obs for t in _own(o, "TXT") if t.lower().startswith("v=stsv1")
    ]
    if not records:
        d.add("mta-sts", "POSTURE_MTA_STS_MISSING", [(o, "TXT", o.status.value) for o in obs])
        return
    policy = d.get("http-mta-sts")
    if not policy:
        d.add("mta-sts", "POSTURE_MTA_STS_RECORD_ONLY", records)
        return
    p = policy[0]
    fields = {r.rtype: r.data for r in p.answers}
    ev = records + [(p, r.rtype, r.data) for r in p.answers]
    mode = fields.get("mode", "").lower()
    if p.status is not Status.NOERROR or fields.get("HTTP") != "200" or not mode:
        d.add("mta-sts", "POSTURE_MTA_STS_POLICY_UNREACHABLE", ev, url=p.via)
        return
    code = {
        "enforce": "POSTURE_MTA_STS_ENFORCE",
        "testing": "POSTURE_MTA_STS_TESTING",
    }.get(mode, "POSTURE_MTA_STS_NONE_MODE")
    d.add("mta-sts", code, ev, mode=mode)


def _tls_rpt(d: _Domain) -> None:
    obs = [o for o in d.get("tls-rpt") if o.qname == f"_smtp._tls.{d.domain}"]
    if not _answered(obs):
        d.add("tls-rpt", "POSTURE_TLS_RPT_NOT_ASKED")
        return
    records = [
        (o, "TXT", t) for o in obs for t in _own(o, "TXT") if t.lower().startswith("v=tlsrptv1")
    ]
    if not records:
        d.add("tls-rpt", "POSTURE_TLS_RPT_MISSING", [(o, "TXT", o.status.value) for o in obs])
    elif any(_tags(t).get("rua") for _, _, t in records):
        d.add("tls-rpt", "POSTURE_TLS_RPT_PRESENT", records)
    else:
        d.add("tls-rpt", "POSTURE_TLS_RPT_NO_RUA", records)


def posture(domain: str, observations: Iterable[Observation]) -> list[PostureFinding]:
    """One finding per standard (in :data:`STANDARDS` order) for ``domain``."""
    d = _Domain(domain, observations)
    mx = d.get("mx")
    if mx and all(o.status is Status.NXDOMAIN for o in mx if o.qname == domain):
        return []  # the domain does not exist
    hosts = _mx_hosts(d)
    _dmarc(d)
    _spf(d)
    _dkim(d)
    _starttls(d, hosts)
    _dane(d, hosts)
    _dnssec(d)
    _mta_sts(d)
    _tls_rpt(d)
    return d.out


@dataclass
class PostureSummary:
    """Counts per group, standard and level."""

    groups: dict[str, int]  # group -> domains
    counts: dict[tuple[str, str, str], int]  # (group, standard, level) -> domains

    def add(self, group: str, findings: list[PostureFinding]) -> None:
        if not findings:
            return
        self.groups[group] = self.groups.get(group, 0) + 1
        for f in findings:
            key = (group, f.standard, f.level)
            self.counts[key] = self.counts.get(key, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            g: {
                "domains": n,
                "standards": {
                    s: {lv: self.counts.get((g, s, lv), 0) for lv in LEVELS} for s in STANDARDS
                },
            }
            for g, n in sorted(self.groups.items())
        }


def summarise(items: Iterable[tuple[str, list[PostureFinding]]]) -> PostureSummary:
    """``(group, findings of one domain)`` pairs -> counts per group, standard and level."""
    out = PostureSummary({}, {})
    for group, findings in items:
        out.add(group, findings)
    return out


__all__ = [
    "LEVELS",
    "STANDARDS",
    "PostureFinding",
    "PostureSummary",
    "describe",
    "posture",
    "posture_rules",
    "summarise",
]
