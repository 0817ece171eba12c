"""Turn raw observations into signals: each a fingerprint match with the record behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sovmap.collect.probes import chain_end, is_spf, parse_asn_txt, parse_spf
from sovmap.knowledge.catalogue import Catalogue, Match
from sovmap.model import Capability, Evidence, Observation, Status, new_evidence, slot_maker


@dataclass(frozen=True, slots=True)
class Signal:
    provider: str
    capability: Capability
    service: str
    probe: str
    evidence: Evidence

    @property
    def weight(self) -> float:
        return self.evidence.weight


# Signal(provider, capability, service, probe, evidence) for the hot path
_new_signal = slot_maker(Signal)


@dataclass
class Facts:
    """What the observations say, before any provider is named."""

    domain: str
    exists: bool = True
    mx_hosts: list[tuple[int, str]] | None = None  # (preference, host); None = not answered
    ns_hosts: list[str] | None = None
    web_addresses: list[str] | None = None
    web_targets: list[str] | None = None  # last names of web CNAME chains
    spf_terms: list[tuple[str, str]] = field(default_factory=list)  # domain's own record
    mx_host_status: dict[str, set[Status]] = field(default_factory=dict)
    web_dangling: list[tuple[str, str]] = field(default_factory=list)  # (name, missing target)


def _ev(
    m: Match, obs: Observation, rtype: str, value: str, chain: tuple[str, ...] = ()
) -> Evidence:
    fp = m.fingerprint
    # Evidence(probe, qname, rtype, value, fingerprint, source, weight, chain)
    return new_evidence(obs.probe, obs.qname, rtype, value, fp.ref, fp.source, fp.weight, chain)


def _signals(
    matches: tuple[Match, ...],
    obs: Observation,
    rtype: str,
    value: str,
    chain: tuple[str, ...] = (),
) -> list[Signal] | tuple[()]:
    if not matches:  # the common case: nothing to build
        return ()
    return [
        _new_signal(
            m.fingerprint.provider,
            m.fingerprint.capability,
            m.fingerprint.service,
            obs.probe,
            _ev(m, obs, rtype, value, chain),
        )
        for m in matches
    ]


def _spf_path(obs: Observation, parents: dict[str, str], domain: str) -> tuple[str, ...]:
    path = [obs.qname]
    cur = obs.via
    while cur and cur != domain and len(path) < 12:
        path.append(cur)
        cur = parents.get(cur, "")
    path.append(domain)
    return tuple(reversed(path))


_NOERROR, _NXDOMAIN = Status.NOERROR, Status.NXDOMAIN
_SPF_TARGET_TERMS = frozenset({"include", "redirect", "a", "mx", "exists", "ptr"})


def extract(
    domain: str,
    observations: tuple[Observation, ...],
    cat: Catalogue,
) -> tuple[Facts, list[Signal]]:
    facts = Facts(domain)
    out: list[Signal] = []
    add = out.extend
    spf_parent: dict[str, str] | None = None  # made on the first SPF follow-up that needs it
    for obs in observations:
        probe = obs.probe
        status = obs.status
        if probe == "mx-host" and obs.qtype in ("A", "AAAA"):
            facts.mx_host_status.setdefault(obs.qname, set()).add(status)
        if status is not _NOERROR:
            if status is _NXDOMAIN:
                if probe == "mx":
                    if obs.qname == domain:
                        facts.exists = False
                elif probe == "web":
                    # a CNAME whose target does not exist: in this answer, or as a chased
                    # chain end
                    end, chain = chain_end(obs.qname, obs.answers)
                    if chain:
                        facts.web_dangling.append((obs.qname, end))
                    elif obs.via:
                        facts.web_dangling.append((obs.via, obs.qname))
            continue
        answers = obs.answers
        if not answers:
            # an empty answer says something only of the MX and NS sets
            if probe == "mx":
                facts.mx_hosts = []
            elif probe == "ns":
                facts.ns_hosts = []
            continue
        qname = obs.qname
        end, chain = chain_end(qname, answers)
        if probe == "mx":
            hosts: list[tuple[int, str]] = []
            for r in answers:
                if r.rtype != "MX" or r.name != end:
                    continue  # records for other names in the answer are not ours
                pref_s, _, host = r.data.partition(" ")
                if not host:
                    continue  # null MX (RFC 7505): the domain accepts no mail
                pref = int(pref_s) if pref_s.isdigit() else 0
                hosts.append((pref, host))
                add(_signals(cat.match_name("mx", host, probe), obs, "MX", r.data))
            facts.mx_hosts = sorted(hosts)
        elif probe == "mx-host":
            for name in chain:
                add(_signals(cat.match_name("mx", name, probe), obs, "CNAME", name, chain))
                add(_signals(cat.match_name("cname", name, probe), obs, "CNAME", name, chain))
            for r in answers:
                if r.rtype in ("A", "AAAA"):
                    add(_signals(cat.match_ip(r.data, probe), obs, r.rtype, r.data, chain))
            continue  # matched its chain with its own kinds
        elif probe in ("txt", "spf"):
            for r in answers:
                if r.rtype != "TXT" or r.name != qname:
                    continue
                if is_spf(r.data):
                    if probe == "spf":
                        if spf_parent is None:
                            spf_parent = {o.qname: o.via for o in observations if o.probe == "spf"}
                        path = _spf_path(obs, spf_parent, domain)
                    else:
                        path = (domain,)
                    for t in parse_spf(r.data):
                        if t.name in _SPF_TARGET_TERMS and t.value:
                            target = t.value.lower().rstrip(".")
                            if "%" in target:
                                continue
                            if probe == "txt":
                                facts.spf_terms.append((t.name, target))
                            add(
                                _signals(
                                    cat.match_name("spf", target, probe),
                                    obs,
                                    "TXT",
                                    f"{t.name}:{target}",
                                    path,
                                )
                            )
                elif probe == "txt":
                    add(_signals(cat.match_text("txt", r.data, probe), obs, "TXT", r.data))
        elif probe == "dmarc":
            for r in answers:
                if r.rtype == "TXT" and r.data.lower().startswith("v=dmarc1"):
                    for target in _dmarc_destinations(r.data):
                        add(_signals(cat.match_name("dmarc", target, probe), obs, "TXT", r.data))
        elif probe == "dkim":
            texts = [r.data for r in answers if r.rtype == "TXT"]
            if any(_is_dkim_key(text) for text in texts):
                # a selector name only counts when a key is published under it
                add(_signals(cat.match_name("dkim", qname, probe), obs, "TXT", qname))
            for name in chain:
                add(_signals(cat.match_name("dkim", name, probe), obs, "CNAME", name, chain))
            for text in texts:
                add(_signals(cat.match_text("dkim", text, probe), obs, "TXT", text))
            continue  # matched its chain with its own kinds
        elif probe == "ns":
            hosts_ns = [r.data for r in answers if r.rtype == "NS" and r.name == qname]
            facts.ns_hosts = hosts_ns
            for h in hosts_ns:
                add(_signals(cat.match_name("ns", h, probe), obs, "NS", h))
        elif probe == "autodiscover-srv":
            for r in answers:
                if r.rtype == "SRV":
                    target = r.data.split(" ")[-1]
                    add(_signals(cat.match_name("srv", target, probe), obs, "SRV", r.data))
        elif probe == "asn":
            _asn_signals(obs, cat, out)
            continue  # an origin-AS answer has no chain of its own to match
        # every other probe slot, including ones a user adds to the probe plan, matches its
        # CNAME chain with ``cname`` fingerprints (which may restrict themselves to slots)
        for name in chain:
            add(_signals(cat.match_name("cname", name, probe), obs, "CNAME", name, chain))
        if probe == "web":
            if chain:
                facts.web_targets = [*(facts.web_targets or []), end]
            for r in answers:
                if r.rtype in ("A", "AAAA"):
                    facts.web_addresses = [*(facts.web_addresses or []), r.data]
                    add(_signals(cat.match_ip(r.data, probe), obs, r.rtype, r.data, chain))
    return facts, out


def _asn_signals(obs: Observation, cat: Catalogue, out: list[Signal]) -> None:
    """An origin-AS answer: its signals name the host and address that led to it."""
    slot, _, rest = obs.via.partition("|")
    host, _, address = rest.partition("|")
    for r in obs.answers:
        if r.rtype != "TXT":
            continue
        asn = parse_asn_txt(r.data)
        if asn is None:
            continue
        for m in cat.match_asn(asn):
            fp = m.fingerprint
            ev = Evidence(
                probe=slot,
                qname=host,
                rtype="TXT",
                value=f"{address} in AS{asn} ({r.data})",
                fingerprint=f"asn:{fp.pattern}",
                source=fp.source,
                weight=fp.weight,
                chain=(host, address, obs.qname),
            )
            out.append(Signal(fp.provider, fp.capability, fp.service, slot, ev))


def _is_dkim_key(text: str) -> bool:
    t = text.replace(" ", "").lower()
    return t.startswith("v=dkim1") or "p=" in t


def _dmarc_destinations(record: str) -> Iterator[str]:
    for part in record.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() in ("rua", "ruf"):
            for uri in value.split(","):
                uri = uri.strip()
                if uri.lower().startswith("mailto:") and "@" in uri:
                    yield uri.split("@", 1)[1].split("!", 1)[0].strip().lower().rstrip(".")
