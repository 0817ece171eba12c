"""The classifier's building blocks: its rules (data/rules.yaml), noisy-or, codes, and the
builder that makes findings for catalogued providers, local hosts and unknowns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap.classify.signals import Signal
from sovmap.control import us_controlled
from sovmap.knowledge.catalogue import Catalogue, Provider
from sovmap.model import (
    Capability,
    Evidence,
    Finding,
    new_evidence,
    new_finding,
)
from sovmap.records import is_address, registrable

C = Capability


@dataclass(frozen=True)
class Rules:
    strong_mailbox_probes: frozenset[str]
    weak_mailbox_probes: frozenset[str]
    see_through_min_weak_kinds: int
    behind_gateway_min_weak_kinds: int
    behind_gateway_spf_unknown_confidence: float
    override_mx_min_strong_kinds: int
    override_mx_min_kinds: int
    spf_decides_behind_gateway: bool
    unresolved_own_mx_confidence: float
    spf_specificity: dict[str, float]
    see_through_min_confidence: float
    self_hosted_confidence: float
    unknown_third_party_confidence: float
    network_match_confidence: float
    outbound_probes: frozenset[str]
    not_a_country: frozenset[str]
    cctld_map: dict[str, str]
    cctld_confidence: float
    no_mail_tlds: frozenset[str] = frozenset({"invalid"})
    backup_mx_kinds: frozenset[str] = frozenset()
    gateway_operator_confidence: float = 0.35
    token_decides_behind_gateway: bool = False
    token_only_confidence: float = 0.3
    network_operator_confidence: float = 0.45
    network_operator_named_confidence: float = 0.5
    spf_network_confidence: float = 0.3
    # host names that say "filtering relay" (spamfilter.*, mailgate*, ...), one alternation
    relay_names: re.Pattern[str] | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Rules:
        mb, cc = raw["mailbox"], raw["cctld"]
        return cls(
            strong_mailbox_probes=frozenset(mb["strong_probes"]),
            weak_mailbox_probes=frozenset(mb["weak_probes"]),
            see_through_min_weak_kinds=int(mb["see_through_min_weak_kinds"]),
            behind_gateway_min_weak_kinds=int(mb["behind_gateway_min_weak_kinds"]),
            behind_gateway_spf_unknown_confidence=float(
                mb["behind_gateway_spf_unknown_confidence"]
            ),
            override_mx_min_strong_kinds=int(mb["override_mx_min_strong_kinds"]),
            override_mx_min_kinds=int(mb["override_mx_min_kinds"]),
            spf_decides_behind_gateway=bool(mb["spf_decides_behind_gateway"]),
            unresolved_own_mx_confidence=float(mb["unresolved_own_mx_confidence"]),
            spf_specificity={str(k): float(v) for k, v in mb["spf_specificity"].items()},
            see_through_min_confidence=float(mb["see_through_min_confidence"]),
            self_hosted_confidence=float(mb["self_hosted_confidence"]),
            unknown_third_party_confidence=float(mb["unknown_third_party_confidence"]),
            network_match_confidence=float(mb["network_match_confidence"]),
            outbound_probes=frozenset(raw["outbound"]["probes"]),
            not_a_country=frozenset(cc["not_a_country"]),
            cctld_map=dict(cc.get("map", {})),
            cctld_confidence=float(cc["confidence"]),
            no_mail_tlds=frozenset(mb.get("no_mail_tlds", ("invalid",))),
            backup_mx_kinds=frozenset(mb.get("backup_mx_kinds", ())),
            gateway_operator_confidence=float(mb.get("gateway_operator_confidence", 0.35)),
            token_decides_behind_gateway=bool(mb.get("token_decides_behind_gateway", False)),
            token_only_confidence=float(mb.get("token_only_confidence", 0.3)),
            network_operator_confidence=float(mb.get("network_operator_confidence", 0.45)),
            network_operator_named_confidence=float(
                mb.get("network_operator_named_confidence", 0.5)
            ),
            spf_network_confidence=float(raw["outbound"].get("spf_network_confidence", 0.3)),
            relay_names=_relay_names(mb.get("relay_host_patterns") or ()),
        )


def _relay_names(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """The relay host-name patterns as one case-insensitive alternation (None: none)."""
    pats = [str(p) for p in patterns]
    if not pats:
        return None
    return re.compile("|".join(f"(?:{p})" for p in pats), re.I)


@cache
def default_rules() -> Rules:
    text = (resources.files("sovmap.classify") / "data" / "rules.yaml").read_text()
    return Rules.from_dict(yaml.safe_load(text))


def noisy_or(weights: Iterable[float]) -> float:
    p = 1.0
    for w in weights:
        p *= 1.0 - max(0.0, min(1.0, w))
    return 1.0 - p


def _jclass(j: str, tags: tuple[str, ...]) -> str:
    if not j:
        return "UNKNOWN"
    if us_controlled(j, tags):
        return "US"
    if "eu-member-state" in tags or "eu-gdpr" in tags:
        return "EU"
    return "OTHER"


def _code(cap: Capability, kind: str) -> str:
    return f"{cap.value.upper().replace('-', '_')}_{kind}"


class _Builder:
    def __init__(self, domain: str, cat: Catalogue, rules: Rules, attrs: dict[str, str]) -> None:
        self.domain = domain
        self.cat = cat
        self.rules = rules
        self.attrs = attrs
        self.out: list[Finding] = []

    def provider_finding(
        self,
        cap: Capability,
        p: Provider,
        signals: list[Signal],
        *,
        role: str = "primary",
        confidence: float | None = None,
        extra: tuple[Evidence, ...] = (),
        code: str = "",
        emit: bool = True,
    ) -> Finding:
        """A finding for a catalogued provider; ``emit=False`` builds it without adding it to
        the output (a candidate still to be weighed)."""
        evidence = tuple(_dedupe([s.evidence for s in signals] + list(extra)))
        conf = noisy_or(e.weight for e in evidence) if confidence is None else confidence
        services = [s.service for s in signals if s.service]
        # Finding(domain, capability, provider, provider_name, parent, jurisdiction,
        #         confidence, code, evidence, tags, service, role)
        f = new_finding(
            self.domain,
            cap,
            p.id,
            p.name,
            p.parent_name,
            p.jurisdiction,
            round(conf, 4),
            code or _code(cap, _jclass(p.jurisdiction, p.tags) + "_JURISDICTION"),
            evidence,
            p.tags,
            _most_common(services),
            role,
        )
        if emit:
            self.out.append(f)
        return f

    def country_of(self, name: str) -> str:
        tld = name.rsplit(".", 1)[-1].lower()
        if len(tld) != 2 or tld in self.rules.not_a_country:
            return ""
        return self.rules.cctld_map.get(tld, tld.upper())

    def local_finding(
        self,
        cap: Capability,
        host: str,
        evidence: tuple[Evidence, ...],
        role: str = "primary",
        *,
        confidence: float | None = None,
        code: str = "",
    ) -> Finding:
        """A host we have no fingerprint for: the organisation's own, or an unknown party.
        ``confidence`` and ``code`` replace the defaults of that kind of host."""
        reg = registrable(host)
        own = reg == registrable(self.domain)
        odd = _odd_name(host)
        if odd:
            # an address literal, or a name with bytes no host name has (control bytes, an
            # escape sequence): never a provider name; the record stays in the evidence
            f = Finding(
                domain=self.domain,
                capability=cap,
                provider="unknown",
                provider_name="unknown",
                parent="",
                jurisdiction="",
                confidence=0.0,
                code=_code(cap, odd),
                evidence=evidence,
                tags=(),
                role=role,
            )
        elif own:
            country = self.attrs.get("country", "").upper() or self.country_of(self.domain)
            f = Finding(
                domain=self.domain,
                capability=cap,
                provider=f"self:{self.domain}",
                provider_name="self-hosted",
                parent=self.attrs.get("name", self.domain),
                jurisdiction=country,
                confidence=self.rules.self_hosted_confidence,
                code=_code(cap, "SELF_HOSTED"),
                evidence=evidence,
                tags=(),
                role=role,
            )
        else:
            country = self.country_of(reg)
            f = Finding(
                domain=self.domain,
                capability=cap,
                provider=f"unknown:{reg}",
                provider_name=reg,
                parent="",
                jurisdiction=country,
                confidence=self.rules.cctld_confidence
                if country
                else self.rules.unknown_third_party_confidence,
                code=_code(cap, "UNKNOWN_PROVIDER_CCTLD" if country else "UNKNOWN_PROVIDER"),
                evidence=evidence,
                tags=(),
                role=role,
            )
        if confidence is not None or code:
            f = replace(
                f,
                confidence=f.confidence if confidence is None else confidence,
                code=code or f.code,
            )
        self.out.append(f)
        return f


_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")


def _odd_name(host: str) -> str:
    """Why ``host`` cannot name a provider ("" when it can)."""
    if is_address(host):
        return "ADDRESS_LITERAL"
    if not _HOST_NAME.fullmatch(host.lower()):
        return "INVALID_NAME"
    return ""


def _most_common(values: list[str]) -> str:
    """The most frequent value; a tie goes to the one seen first (signals come in the sorted
    observations' order), so the result never depends on string hashing."""
    best, count = "", 0
    for v in values:
        n = values.count(v)
        if n > count:
            best, count = v, n
    return best


def _dedupe(evs: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Evidence] = []
    for e in evs:
        k = (e.probe, e.qname, e.value, e.fingerprint)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def _rule_evidence(probe: str, qname: str, rtype: str, value: str, rule: str) -> Evidence:
    return new_evidence(probe, qname, rtype, value, f"rule:{rule}", "", 0.0, ())


def _unknown(
    b: _Builder,
    cap: Capability,
    code: str,
    evidence: tuple[Evidence, ...],
    role: str = "primary",
    provider: str = "unknown",
    confidence: float = 0.0,
) -> Finding:
    f = Finding(
        domain=b.domain,
        capability=cap,
        provider=provider,
        provider_name=provider,
        parent="",
        jurisdiction="",
        confidence=confidence,
        code=code,
        evidence=evidence,
        role=role,
    )
    b.out.append(f)
    return f
