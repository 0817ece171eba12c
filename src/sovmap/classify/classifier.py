"""Observations + knowledge -> findings. A pure function: no I/O, no clock, no globals.

The rules and the finding builder live in :mod:`sovmap.classify.findings`, mail (mailbox,
gateway, outbound senders) in :mod:`sovmap.classify.mail`; the other capabilities here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from sovmap.classify.findings import (
    Rules,
    _Builder,
    _rule_evidence,
    _unknown,
    default_rules,
)
from sovmap.classify.location import with_locations
from sovmap.classify.mail import _mail, _outbound
from sovmap.classify.signals import Facts, Signal, extract
from sovmap.knowledge.catalogue import Catalogue
from sovmap.model import (
    Capability,
    Finding,
    Observation,
)
from sovmap.records import registrable

C = Capability


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
    _outbound(b, signals, mailbox_providers, facts)
    _simple(b, C.DNS, by_cap, facts.ns_hosts or [], "ns")
    _web(b, facts, by_cap)
    _each(b, C.CDN, by_cap)
    _each(b, C.IDENTITY, by_cap)
    _office(b, by_cap, mailbox_providers)
    _each(b, C.SAAS, by_cap)
    return with_locations(b.out, observations, catalogue)


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
