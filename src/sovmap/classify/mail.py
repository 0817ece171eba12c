"""Mailbox hosting and the filtering gateway in front of it: the primary MX, what lies
behind a gateway or relay, backup MX, no mail, candidates and their ranking."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from sovmap.classify.findings import (
    Rules,
    _Builder,
    _code,
    _jclass,
    _rule_evidence,
    _unknown,
    noisy_or,
)
from sovmap.classify.signals import Facts, Signal, spf_host_networks
from sovmap.control import eu_controlled, us_controlled
from sovmap.model import (
    Capability,
    Evidence,
    Finding,
    Status,
)
from sovmap.records import registrable

C = Capability


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
        # smtp-banner (--probe smtp): the MX host's own banner or certificate names it
        if s.probe in ("mx", "mx-host", "smtp-banner"):
            host = s.evidence.value.partition(" ")[2] if s.probe == "mx" else s.evidence.qname
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
            and s.evidence.fingerprint.split(":", 1)[0] in ("mx", "cname", "active")
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
        if not _network_operator(b, host, facts, mx_ev):
            b.local_finding(C.MAILBOX, host, mx_ev)
    return found


def _network_operator(b: _Builder, host: str, facts: Facts, evidence: tuple[Evidence, ...]) -> bool:
    """A third party's MX host the catalogue does not know, whose address's origin AS is
    known (Team Cymru): the network's operator and the country its prefix is registered in
    name the mailbox host (``MAILBOX_NETWORK_OPERATOR_<J>``, provider ``as:<n>``), rather
    than a guess from the host name's country-code domain. With the AS's name (the
    ``as-name`` probe) the operator is named and its AS's country is the jurisdiction
    (``MAILBOX_NETWORK_OPERATOR_NAMED_<J>``)."""
    nets = facts.host_networks.get(host)
    if not nets or registrable(host) == registrable(b.domain):
        return False
    asn, cc, address = nets[0]
    if b.cat.match_asn(asn):
        return False  # a catalogued network: matched as such already
    name, jur, named_ev = _network_name(b, facts, asn, cc, "asn", host)
    ev = (
        *evidence,
        _rule_evidence(
            "asn", host, "TXT", f"{address} in AS{asn} ({cc or 'no country'})", "network-operator"
        ),
        *named_ev,
    )
    kind = "NETWORK_OPERATOR_NAMED_" if named_ev else "NETWORK_OPERATOR_"
    b.out.append(
        Finding(
            domain=b.domain,
            capability=C.MAILBOX,
            provider=f"as:{asn}",
            provider_name=name,
            parent="",
            jurisdiction=jur,
            confidence=b.rules.network_operator_named_confidence
            if named_ev
            else b.rules.network_operator_confidence,
            code=f"MAILBOX_{kind}{_network_class(jur)}",
            evidence=ev,
            tags=(),
            role="primary",
        )
    )
    return True


def _network_class(jur: str) -> str:
    if not jur:
        return "UNKNOWN"
    return "US" if us_controlled(jur) else "EU" if eu_controlled(jur) else "OTHER"


def _network_name(
    b: _Builder, facts: Facts, asn: int, prefix_cc: str, probe: str, qname: str
) -> tuple[str, str, tuple[Evidence, ...]]:
    """An uncatalogued network's display name, jurisdiction and the AS-name evidence (none
    when its name was not answered): ``"HOSTER-NOORD-AS (AS64511)"`` with the AS's own
    country, else ``"AS64511"`` with the country its prefix is registered in."""
    known = facts.as_names.get(asn)
    if known is None:
        jur = prefix_cc if prefix_cc.lower() not in b.rules.not_a_country else ""
        return f"AS{asn}", jur, ()
    name, as_cc, answer = known
    cc = as_cc or prefix_cc
    jur = cc if cc and cc.lower() not in b.rules.not_a_country else ""
    ev = _rule_evidence(
        probe, qname, "TXT", f"AS{asn} is {name} ({as_cc or 'no country'})", "as-name"
    )
    return f"{name} (AS{asn})", jur, (replace(ev, chain=(f"AS{asn}", answer)),)


def _spf_network_senders(b: _Builder, facts: Facts) -> None:
    """Senders from the networks of the domain's own SPF record (their origin AS): of its
    ip4:/ip6: terms, and of the addresses of the hosts its a/mx terms name (``a``: the apex,
    ``mx``: its MX hosts, ``a:<host>``, ``mx:<host>``). A catalogued network names its
    provider, another its operator (``as:<n>``, named by the AS-name answer when there is one,
    with the AS's country as jurisdiction). Sender evidence only, one finding per network not
    already named for this domain; never a mailbox verdict. The a/mx terms and hosts that were
    not followed (over a limit, no address, a wildcard's answer) are said in the evidence of
    the findings from a/mx hosts."""
    hosts, notes = spf_host_networks(facts) if facts.spf_host_terms else ([], [])
    if not facts.spf_networks and not hosts:
        return
    named = {f.provider for f in b.out}
    by_asn: dict[int, list[tuple[str, str, str, str]]] = {}
    for term, asn, cc, record in facts.spf_networks:
        by_asn.setdefault(asn, []).append((term, cc, record, "spf-network"))
    for h in hosts:
        shown = f"{h.term}: {h.host} {h.address}"
        by_asn.setdefault(h.asn, []).append((shown, h.cc, h.record, "spf-host-network"))
    unfollowed = tuple(
        _rule_evidence("spf", r, "TXT", f"{what}: not followed ({why})", "spf-host-not-followed")
        for r, what, why in notes
    )
    confidence = b.rules.spf_network_confidence
    for asn, terms in sorted(by_asn.items()):
        term, cc, record, _ = terms[0]
        ev = tuple(
            _rule_evidence("spf", r, "TXT", f"{t} in AS{asn} ({c or 'no country'})", rule)
            for t, c, r, rule in terms
        )
        if any(rule == "spf-host-network" for *_, rule in terms):
            ev += unfollowed
        matches = b.cat.match_asn(asn)
        if matches:
            p = b.cat.provider(matches[0].fingerprint.provider)
            if p.id in named:
                continue
            named.add(p.id)
            b.provider_finding(
                C.OUTBOUND,
                p,
                [],
                role="additional",
                confidence=confidence,
                extra=ev,
                code=_code(C.OUTBOUND, "SPF_NETWORK_" + _jclass(p.jurisdiction, p.tags)),
            )
            continue
        if f"as:{asn}" in named:
            continue
        named.add(f"as:{asn}")
        name, jur, named_ev = _network_name(b, facts, asn, cc, "spf", record)
        b.out.append(
            Finding(
                domain=b.domain,
                capability=C.OUTBOUND,
                provider=f"as:{asn}",
                provider_name=name,
                parent="",
                jurisdiction=jur,
                confidence=confidence,
                code=_code(C.OUTBOUND, "SPF_NETWORK_OPERATOR_" + _network_class(jur)),
                evidence=(*ev, *named_ev),
                tags=(),
                role="additional",
            )
        )


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


def _outbound(
    b: _Builder, signals: list[Signal], mailbox: set[str], facts: Facts | None = None
) -> None:
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
    if facts is not None:
        _spf_network_senders(b, facts)
