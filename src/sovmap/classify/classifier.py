"""Observations + knowledge -> findings. A pure function: no I/O, no clock, no globals."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap.classify.signals import Facts, Signal, extract
from sovmap.control import us_controlled
from sovmap.knowledge.catalogue import Catalogue, Provider
from sovmap.model import (
    Capability,
    Evidence,
    Finding,
    Observation,
    Status,
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


def classify(
    domain: str,
    observations: tuple[Observation, ...],
    catalogue: Catalogue,
    attributes: dict[str, str] | None = None,
    rules: Rules | None = None,
) -> list[Finding]:
    """Findings per capability, each with the evidence behind it."""
    rules = rules or default_rules()
    facts, signals = extract(domain, observations, catalogue)
    b = _Builder(domain, catalogue, rules, attributes or {})
    if not facts.exists:
        return []
    by_cap: dict[Capability, dict[str, list[Signal]]] = defaultdict(lambda: defaultdict(list))
    for s in signals:
        if s.probe == "mx-host" and s.capability not in (C.MAILBOX, C.MAIL_GATEWAY):
            continue  # the network of a mail host says who runs the mail, nothing else
        by_cap[s.capability][s.provider].append(s)
    mailbox_providers = _mail(b, facts, signals)
    if facts.wildcards:
        _wildcard_evidence(b, facts)
    _outbound(b, signals, mailbox_providers)
    _simple(b, C.DNS, by_cap, facts.ns_hosts or [], "ns")
    _web(b, facts, by_cap)
    _each(b, C.CDN, by_cap)
    _each(b, C.IDENTITY, by_cap)
    _office(b, by_cap, mailbox_providers)
    _each(b, C.SAAS, by_cap)
    return b.out


def _wildcard_evidence(b: _Builder, facts: Facts) -> None:
    """A wildcard is evidence, never a finding: the random labels that answered and the
    answers read as the wildcard's go with the domain's mailbox finding."""
    ev = [_rule_evidence(p, q, "ANY", shown, "wildcard") for p, q, shown in facts.wildcards]
    probe = facts.wildcards[0][0]
    ev += [
        _rule_evidence(probe, o.qname, o.qtype, o.answers[0].data, "wildcard-answer")
        for o in facts.wildcard_answers
    ]
    for i, f in enumerate(b.out):
        if f.capability is C.MAILBOX and f.role != "candidate":
            b.out[i] = replace(f, evidence=f.evidence + tuple(ev))
            return


# -- mail ----------------------------------------------------------------------------------
def _mail(b: _Builder, facts: Facts, signals: list[Signal]) -> set[str]:
    """Mailbox and gateway findings; returns the providers found hosting mailboxes."""
    cat, rules = b.cat, b.rules
    if facts.mx_hosts is None:
        return set()  # the MX question was not answered: nothing to say
    mx_hosts = [(p, h) for p, h in facts.mx_hosts if not _no_mail_host(h, rules)]
    if not mx_hosts:
        _no_mail(b, facts)
        return set()
    best_pref = mx_hosts[0][0]
    primary = [h for p, h in mx_hosts if p == best_pref]
    mx_sig: dict[str, list[Signal]] = defaultdict(list)  # by host
    for s in signals:
        if s.probe in ("mx", "mx-host"):
            host = s.evidence.qname if s.probe == "mx-host" else s.evidence.value.partition(" ")[2]
            mx_sig[host].append(s)
    # what does the primary MX set say?
    mailbox_at: dict[str, list[Signal]] = defaultdict(list)
    gateway_at: dict[str, list[Signal]] = defaultdict(list)
    network_at: dict[str, list[Signal]] = defaultdict(list)
    unknown_hosts: list[str] = []
    for host in primary:
        hs = mx_sig.get(host, [])
        names = [
            s
            for s in hs
            if s.capability in (C.MAILBOX, C.MAIL_GATEWAY)
            and s.evidence.fingerprint.split(":", 1)[0] in ("mx", "cname")
        ]
        nets = [s for s in hs if s.evidence.fingerprint.startswith(("ip:", "asn:"))]
        if len(names) > 1:
            names = _most_specific(names)
        for s in names:
            (mailbox_at if s.capability is C.MAILBOX else gateway_at)[s.provider].append(s)
        if not names:
            if nets:
                for s in nets:
                    network_at[s.provider].append(s)
            else:
                unknown_hosts.append(host)
    found: set[str] = set()
    # a backup MX at a mailbox platform (Exchange Online, Google) is strong evidence that the
    # platform holds the mailboxes behind the primary MX
    signals = signals + _backup_mx(b, mx_hosts, best_pref, mx_sig)
    if mailbox_at:
        # A hoster's MX may only relay to the real mailbox platform: strong, independent
        # signals (autodiscover AND DKIM) of another provider outweigh the MX.
        override = [
            f
            for f in _candidates(b, signals, "behind-relay", exclude=set(mailbox_at))[0]
            if len(_strong_kinds(b, f)) >= rules.override_mx_min_strong_kinds
            or (_strong_kinds(b, f) and len(_all_kinds(f, signals)) >= rules.override_mx_min_kinds)
        ]
        if override:
            for pid, sig in mailbox_at.items():
                b.provider_finding(C.MAIL_GATEWAY, cat.provider(pid), sig, role="relay")
            return _settle(b, override)
        for pid, sig in mailbox_at.items():
            support = [
                s
                for s in signals
                if s.provider == pid
                and s.capability is C.MAILBOX
                and s.probe not in ("mx", "mx-host")
            ]
            b.provider_finding(C.MAILBOX, cat.provider(pid), sig + support)
            found.add(pid)
        return found
    # The MX is a gateway, a network we know, the organisation's own host or an unknown party:
    # mailboxes may still live elsewhere. Look through with non-MX signals.
    front: list[Finding] = []
    for pid, sig in gateway_at.items():
        front.append(b.provider_finding(C.MAIL_GATEWAY, cat.provider(pid), sig))
    # an unknown MX whose name says it filters (spamfilter.*, mailgate*) holds no mailboxes:
    # look through it as through a known gateway
    relay_named = rules.relay_names is not None and any(
        rules.relay_names.search(h) for h in unknown_hosts
    )
    behind, leads = _candidates(
        b,
        signals,
        "behind-gateway" if front else "behind-relay",
        gateway=bool(front) or relay_named,
    )
    if behind:
        # a relay we cannot name is still in the mail path: record it as the gateway
        if not front:
            for host in unknown_hosts[:1]:
                relay = _rule_evidence("mx", b.domain, "MX", host, "mx-not-mailbox-provider")
                b.local_finding(C.MAIL_GATEWAY, host, (relay,), role="relay")
        return _settle(b, behind)
    if front:
        # Nothing but SPF names the platform behind the gateway. SPF-only evidence never
        # decides where mailboxes are: keep the leads as candidates, the mailbox stays unknown.
        for f in leads:
            b.out.append(replace(f, role="candidate", code="MAILBOX_SPF_ONLY_CANDIDATE"))
        if not leads:
            _spf_party_lead(b, facts, primary)
            operator = _gateway_operator(b, front, gateway_at)
            if operator:
                return {operator}
        _unknown(
            b,
            C.MAILBOX,
            "MAILBOX_BEHIND_GATEWAY_SPF_ONLY" if leads else "MAILBOX_BEHIND_GATEWAY_UNKNOWN",
            tuple(e for f in front for e in f.evidence)
            + tuple(e for f in leads for e in f.evidence),
            role="behind-gateway",
        )
        return found
    for pid, sig in network_at.items():
        p = cat.provider(pid)
        b.provider_finding(
            C.MAILBOX,
            p,
            sig,
            confidence=rules.network_match_confidence,
            code=_code(C.MAILBOX, "NETWORK_" + _jclass(p.jurisdiction, p.tags)),
        )
        found.add(pid)
    if network_at:
        return found
    dangling = [
        h
        for h in primary
        if facts.mx_host_status.get(h) and facts.mx_host_status[h] == {Status.NXDOMAIN}
    ]
    if dangling and len(dangling) == len(primary):
        ev = tuple(
            _rule_evidence("mx", b.domain, "MX", f"{p} {h}", "mx-unmatched")
            for p, h in mx_hosts
            if h in dangling
        ) + tuple(_rule_evidence("mx-host", h, "A", h, "mx-host-nxdomain") for h in dangling)
        if all(registrable(h) == registrable(b.domain) for h in dangling):
            # the organisation's own name, without an address: its own (broken or
            # unrecorded) mail host, not a third party's
            b.local_finding(
                C.MAILBOX,
                dangling[0],
                ev,
                confidence=rules.unresolved_own_mx_confidence,
                code="MAILBOX_SELF_HOSTED_MX_UNRESOLVED",
            )
        else:
            _unknown(b, C.MAILBOX, "MAILBOX_MX_DANGLING", ev)
        return found
    if unknown_hosts:
        host = unknown_hosts[0]
        mx_ev = tuple(
            _rule_evidence("mx", b.domain, "MX", f"{p} {h}", "mx-unmatched")
            for p, h in mx_hosts
            if p == best_pref
        )
        b.local_finding(C.MAILBOX, host, mx_ev)
    return found


def _most_specific(names: list[Signal]) -> list[Signal]:
    """Where one provider's patterns name one host both as gateway and as mailbox host
    (``securemx.a1.net`` under ``a1.net``), the longest pattern says which it is."""
    caps: dict[str, set[Capability]] = defaultdict(set)
    for s in names:
        caps[s.provider].add(s.capability)
    if all(len(c) == 1 for c in caps.values()):
        return names
    longest: dict[str, int] = {}
    for s in names:
        longest[s.provider] = max(longest.get(s.provider, 0), len(s.evidence.fingerprint))
    return [
        s
        for s in names
        if len(caps[s.provider]) == 1 or len(s.evidence.fingerprint) == longest[s.provider]
    ]


def _gateway_operator(
    b: _Builder, front: list[Finding], gateway_at: dict[str, list[Signal]]
) -> str:
    """Nothing behind the gateway names a platform, and the gateway's operator also hosts
    mailboxes (a regional IT provider, a telecom): the mailbox goes to the operator, at low
    confidence and with its own code, rather than to "unknown". Returns its id ("" if none)."""
    for f in front:
        p = b.cat.provider(f.provider)
        if C.MAILBOX in p.capabilities:
            b.provider_finding(
                C.MAILBOX,
                p,
                gateway_at[p.id],
                role="behind-gateway",
                confidence=b.rules.gateway_operator_confidence,
                code=_code(C.MAILBOX, "GATEWAY_OPERATOR_" + _jclass(p.jurisdiction, p.tags)),
            )
            return p.id
    return ""


def _no_mail_host(host: str, rules: Rules) -> bool:
    """A host under a top-level domain reserved never to resolve (``.invalid``, RFC 6761),
    such as Microsoft's verification MX ``msNNNN.msv1.invalid``: no mail goes there."""
    return host.rpartition(".")[2] in rules.no_mail_tlds


def _no_mail(b: _Builder, facts: Facts) -> None:
    """The domain has no MX that can receive mail: say so (no MX at all, a null MX, or only
    hosts that never resolve), so every existing domain has a mailbox finding. Certain as a
    fact about DNS (confidence 1), it names no provider and no jurisdiction."""
    assert facts.mx_hosts is not None
    if facts.mx_hosts or facts.null_mx:
        ev = tuple(
            _rule_evidence("mx", b.domain, "MX", f"{p} {h}", "mx-never-resolves")
            for p, h in facts.mx_hosts
        )
        if facts.null_mx:
            ev = (_rule_evidence("mx", b.domain, "MX", "0 .", "null-mx"), *ev)
        _unknown(b, C.MAILBOX, "MAILBOX_NO_MAIL", ev, provider="none", confidence=1.0)
    else:
        ev = (_rule_evidence("mx", b.domain, "MX", "", "no-mx"),)
        _unknown(b, C.MAILBOX, "MAILBOX_NO_MX", ev, provider="none", confidence=1.0)


def _backup_mx(
    b: _Builder, mx_hosts: list[tuple[int, str]], best: int, mx_sig: dict[str, list[Signal]]
) -> list[Signal]:
    """Mailbox signals of lower-preference MX hosts at a mailbox platform (provider kinds in
    ``backup_mx_kinds``), as their own kind of evidence (``mx-backup``)."""
    out: list[Signal] = []
    kinds = b.rules.backup_mx_kinds
    for pref, host in mx_hosts:
        if pref == best:
            continue
        for s in mx_sig.get(host, ()):
            if (
                s.capability is C.MAILBOX
                and s.probe == "mx"
                and b.cat.provider(s.provider).kind in kinds
            ):
                out.append(Signal(s.provider, s.capability, s.service, "mx-backup", s.evidence))
    return out


def _kind(s: Signal) -> str:
    """The kind of signal: SPF evidence counts as ``spf`` whichever TXT probe found it."""
    return "spf" if s.evidence.fingerprint.startswith("spf:") else s.probe


def _all_kinds(f: Finding, signals: list[Signal]) -> set[str]:
    """Independent kinds of evidence for a mailbox candidate, its platform's token included."""
    kinds = {"spf" if e.fingerprint.startswith("spf:") else e.probe for e in f.evidence}
    if any(
        s.provider == f.provider and s.probe == "txt" and s.capability is C.OFFICE for s in signals
    ):
        kinds.add("txt")
    return kinds


def _strong_kinds(b: _Builder, f: Finding) -> set[str]:
    kinds = {"spf" if e.fingerprint.startswith("spf:") else e.probe for e in f.evidence}
    return kinds & b.rules.strong_mailbox_probes


def _settle(b: _Builder, candidates: list[Finding]) -> set[str]:
    """Keep the best-supported provider behind a gateway/relay; an exact tie stays open."""
    ranked = sorted(candidates, key=lambda f: (-len(_strong_kinds(b, f)), -f.confidence))
    top = ranked[0]
    ties = [
        f
        for f in ranked[1:]
        if len(_strong_kinds(b, f)) == len(_strong_kinds(b, top))
        and abs(f.confidence - top.confidence) < 1e-9
    ]
    if ties:
        for f in [top, *ties]:
            b.out.append(replace(f, role="candidate", code="MAILBOX_AMBIGUOUS_CANDIDATE"))
        b.out.append(
            Finding(
                domain=b.domain,
                capability=C.MAILBOX,
                provider="unknown",
                provider_name="unknown",
                parent="",
                jurisdiction="",
                confidence=0.0,
                code="MAILBOX_AMBIGUOUS",
                evidence=tuple(e for f in [top, *ties] for e in f.evidence),
                role=top.role,
            )
        )
        return set()
    b.out.append(top)
    for f in ranked[1:]:
        b.out.append(replace(f, role="candidate", code="MAILBOX_WEAKER_CANDIDATE"))
    return {top.provider}


def _spf_party_lead(b: _Builder, facts: Facts, primary: list[str]) -> None:
    """Behind a gateway, the one unknown party an SPF record names, kept as a candidate."""
    gw_regs = {registrable(h) for h in primary}
    own = registrable(b.domain)
    parties = {
        registrable(target): (mech, target)
        for mech, target in facts.spf_terms
        if mech in ("include", "redirect", "a", "mx")
        and registrable(target) not in gw_regs
        and registrable(target) != own
    }
    if len(parties) != 1:
        return
    _, (mech, target) = next(iter(parties.items()))
    ev = (_rule_evidence("spf", b.domain, "TXT", f"{mech}:{target}", "spf-behind-gateway"),)
    b.local_finding(
        C.MAILBOX,
        target,
        ev,
        role="candidate",
        confidence=b.rules.behind_gateway_spf_unknown_confidence,
        code="MAILBOX_SPF_ONLY_CANDIDATE",
    )


def _candidates(
    b: _Builder,
    signals: list[Signal],
    role: str,
    exclude: set[str] | None = None,
    gateway: bool | None = None,
) -> tuple[list[Finding], list[Finding]]:
    """Providers that non-MX signals name as mailbox host (not yet added to the output),
    and the leads that SPF alone names (never enough to decide). ``gateway``: the MX in
    front holds no mailboxes (a known gateway, or a relay by its name), so the gateway's
    thresholds apply (default: when ``role`` is behind-gateway)."""
    if gateway is None:
        gateway = role == "behind-gateway"
    rules = b.rules
    per: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        if s.capability is C.MAILBOX and s.probe not in ("mx", "mx-host"):
            if exclude and s.provider in exclude:
                continue
            per[s.provider].append(s)
    out: list[Finding] = []
    leads: list[Finding] = []
    for pid, sig in per.items():
        strong = [s for s in sig if _kind(s) in rules.strong_mailbox_probes]
        weak_kinds = {_kind(s) for s in sig if _kind(s) in rules.weak_mailbox_probes}
        # Tokens (TXT) of an office suite agree with SPF of the same provider
        weak_kinds |= {
            "txt"
            for s in signals
            if s.provider == pid and s.probe == "txt" and s.capability is C.OFFICE
        }
        p = b.cat.provider(pid)
        spf_factor = rules.spf_specificity.get(p.kind, 1.0)
        conf = _kind_confidence(sig, spf_factor)
        if gateway:
            enough = len(weak_kinds) >= rules.behind_gateway_min_weak_kinds
        else:
            enough = len(weak_kinds) >= rules.see_through_min_weak_kinds
            enough = enough and conf >= rules.see_through_min_confidence
        spf_only = not strong and weak_kinds == {"spf"}
        if spf_only and not (gateway and rules.spf_decides_behind_gateway):
            enough = False
        if strong or enough or spf_only:
            f = b.provider_finding(
                C.MAILBOX,
                p,
                sig,
                role=role,
                confidence=conf,
                code=_code(
                    C.MAILBOX,
                    "BEHIND_" + _jclass(p.jurisdiction, p.tags) + ("_SPF_ONLY" if spf_only else ""),
                ),
                emit=False,
            )
            (out if (strong or enough) else leads).append(f)
    if gateway and not out and not leads and rules.token_decides_behind_gateway:
        out.extend(_token_leads(b, signals, role, exclude))
    return out, leads


def _token_leads(
    b: _Builder, signals: list[Signal], role: str, exclude: set[str] | None
) -> list[Finding]:
    """Behind a gateway (which holds no mailboxes) with nothing else to go on: a mailbox
    platform's own verification token (``MS=``) names it, at the low confidence of a token
    alone and with the code ``MAILBOX_BEHIND_<J>_TOKEN_ONLY``."""
    per: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        if (
            s.probe == "txt"
            and s.capability is C.OFFICE
            and not (exclude and s.provider in exclude)
        ):
            per[s.provider].append(s)
    out: list[Finding] = []
    for pid, sig in per.items():
        p = b.cat.provider(pid)
        if C.MAILBOX not in p.capabilities:
            continue
        conf = min(b.rules.token_only_confidence, max(s.weight for s in sig))
        out.append(
            b.provider_finding(
                C.MAILBOX,
                p,
                sig,
                role=role,
                confidence=conf,
                code=_code(C.MAILBOX, "BEHIND_" + _jclass(p.jurisdiction, p.tags) + "_TOKEN_ONLY"),
                emit=False,
            )
        )
    return out


def _kind_confidence(sig: list[Signal], spf_factor: float) -> float:
    """Noisy-or over one piece of evidence per kind (the strongest): a provider's SPF include
    repeated, or two of its DKIM selectors, count once."""
    best: dict[str, float] = {}
    for s in sig:
        k = _kind(s)
        w = s.weight * (spf_factor if k == "spf" else 1.0)
        if w > best.get(k, -1.0):
            best[k] = w
    return noisy_or(best.values())


def _outbound(b: _Builder, signals: list[Signal], mailbox: set[str]) -> None:
    per: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        if s.provider in mailbox:
            continue
        sender_token = s.probe == "txt" and s.capability is C.OUTBOUND
        if _kind(s) not in b.rules.outbound_probes and not sender_token:
            continue
        if s.capability in (C.OUTBOUND, C.MAILBOX, C.MAIL_GATEWAY):
            per[s.provider].append(s)
    for pid, sig in sorted(per.items()):
        p = b.cat.provider(pid)
        if (
            C.OUTBOUND not in p.capabilities
            and C.MAILBOX not in p.capabilities
            and C.MAIL_GATEWAY not in p.capabilities
        ):
            continue
        b.provider_finding(C.OUTBOUND, p, sig, role="additional")


# -- other capabilities ------------------------------------------------------------------
def _each(b: _Builder, cap: Capability, by_cap: dict[Capability, dict[str, list[Signal]]]) -> None:
    for pid, sig in sorted(by_cap.get(cap, {}).items()):
        b.provider_finding(cap, b.cat.provider(pid), sig)


def _simple(
    b: _Builder,
    cap: Capability,
    by_cap: dict[Capability, dict[str, list[Signal]]],
    hosts: list[str],
    probe: str,
) -> None:
    matched = by_cap.get(cap, {})
    _each(b, cap, by_cap)
    covered = {s.evidence.value for sig in matched.values() for s in sig}
    rest = [h for h in hosts if h not in covered]
    if rest and not matched:
        ev = tuple(_rule_evidence(probe, b.domain, "NS", h, "ns-unmatched") for h in rest)
        b.local_finding(cap, rest[0], ev)


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


def _web(b: _Builder, facts: Facts, by_cap: dict[Capability, dict[str, list[Signal]]]) -> None:
    if by_cap.get(C.WEB):
        _each(b, C.WEB, by_cap)
        return
    if facts.web_dangling:
        name, target = facts.web_dangling[0]
        dangling = (_rule_evidence("web", name, "CNAME", target, "cname-target-nxdomain"),)
        _unknown(b, C.WEB, "WEB_HOSTING_DANGLING", dangling)
        return
    cdn = by_cap.get(C.CDN)
    if cdn:
        # the site is served through a CDN; the origin behind it is not visible in DNS
        _unknown(
            b,
            C.WEB,
            "WEB_HOSTING_BEHIND_CDN",
            tuple(s.evidence for sig in cdn.values() for s in sig),
        )
        return
    own = registrable(b.domain)
    foreign = [t for t in facts.web_targets or [] if registrable(t) != own]
    if foreign:
        target = foreign[0]
        b.local_finding(
            C.WEB, target, (_rule_evidence("web", b.domain, "CNAME", target, "web-unmatched"),)
        )
    elif facts.web_addresses:
        addr_ev = tuple(
            _rule_evidence("web", b.domain, "A", a, "web-address-unmatched")
            for a in facts.web_addresses[:4]
        )
        _unknown(b, C.WEB, "WEB_HOSTING_UNKNOWN_PROVIDER", addr_ev)


def _office(
    b: _Builder, by_cap: dict[Capability, dict[str, list[Signal]]], mailbox: set[str]
) -> None:
    direct = by_cap.get(C.OFFICE, {})
    for pid in sorted(set(direct) | mailbox):
        p = b.cat.provider(pid)
        if C.OFFICE not in p.capabilities:
            continue
        mail_ev = [
            e for f in b.out if f.capability is C.MAILBOX and f.provider == pid for e in f.evidence
        ]
        sig = direct.get(pid, [])
        if not sig and not mail_ev:
            continue
        b.provider_finding(C.OFFICE, p, sig, extra=tuple(mail_ev))
