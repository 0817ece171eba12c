"""Turn raw observations into signals: each a fingerprint match with the record behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, NoReturn, TypeVar

from sovmap.knowledge.catalogue import Catalogue, Match
from sovmap.knowledge.probes import (
    ProbeKind,
    ProbeKindError,
    probe_file,
    probe_kind,
    probe_kinds,
    wildcard_kinds,
)
from sovmap.model import Capability, Evidence, Observation, Status, new_evidence, slot_maker
from sovmap.records import (
    AS_NAME_MAX,
    SpfHostTerm,
    chain_end,
    is_spf,
    parse_as_name_txt,
    parse_asn_txt,
    parse_origin_txt,
    parse_spf,
    spf_host_terms,
)


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
    null_mx: bool = False  # an MX "0 ." (RFC 7505): the domain accepts no mail
    # wildcard records seen at a random label: (probe, name asked, records shown)
    wildcards: list[tuple[str, str, str]] = field(default_factory=list)
    # origin AS of MX hosts' addresses (Team Cymru): host -> [(AS number, country, address)]
    host_networks: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    # name and country of each origin AS (Team Cymru's AS-name answer): AS -> (name, country,
    # the answer as received)
    as_names: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    # origin AS of the networks in the domain's own SPF ip4:/ip6: terms:
    # [(SPF term, AS number, prefix country, the record's owner)]
    spf_networks: list[tuple[str, int, str, str]] = field(default_factory=list)
    # the a/mx terms of the domain's own SPF record, each with its record's owner, as the scan
    # read them (followed or why not); the MX hosts of each mx:<host> asked (probe spf-host);
    # the names asked for an SPF host's addresses; the origin AS of the addresses of SPF hosts
    # and (when the record has a/mx terms) of the web names: chain end -> [(AS, country,
    # address)]; a name's CNAME target where its answer ended in one
    spf_host_terms: list[tuple[str, SpfHostTerm]] = field(default_factory=list)
    spf_host_mx: dict[str, list[str]] = field(default_factory=dict)
    spf_host_asked: set[str] = field(default_factory=set)
    spf_host_networks: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    # observations whose answer is what a wildcard gives: read as no answer
    wildcard_answers: list[Observation] = field(default_factory=list)


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
_F = TypeVar("_F", bound=Callable[..., Any])
_SPF_TARGET_TERMS = frozenset({"include", "redirect", "a", "mx", "exists", "ptr"})


# -- extractors, one per probe kind --------------------------------------------------------
#
# The probe table (``sovmap/knowledge/data/probes.yaml``) names, for every kind, the extractor
# that reads its observations. An extractor is registered under its name with
# :func:`extractor`, the way a plug-in adds one; ``when`` says which observations it is given:
#
# - ``answer``: a NOERROR answer with records, as ``fn(obs, end, chain, x)`` (``end`` and
#   ``chain``: the answer's CNAME chain from the question's name)
# - ``empty``: a NOERROR answer without records, as ``fn(obs, x)``
# - ``nxdomain``: an NXDOMAIN answer, as ``fn(obs, x)``
# - ``every``: every observation first, whatever its status, as ``fn(obs, x)``
#
# ``x`` is the domain's :class:`Extraction`: its facts, the signals found so far, the catalogue.

AnswerFn = Callable[[Observation, str, tuple[str, ...], "Extraction"], None]
StatusFn = Callable[[Observation, "Extraction"], None]
WHEN = ("answer", "empty", "nxdomain", "every")


class Extraction:
    """One domain's observations being read: what the extractors share."""

    __slots__ = ("add", "cat", "domain", "facts", "observations", "out", "spf_parent")

    def __init__(self, domain: str, observations: tuple[Observation, ...], cat: Catalogue):
        self.domain = domain
        self.observations = observations
        self.cat = cat
        self.facts = Facts(domain)
        self.out: list[Signal] = []
        self.add = self.out.extend
        self.spf_parent: dict[str, str] | None = None  # made by the first SPF follow-up


_EXTRACTORS: dict[str, dict[str, Callable[..., None]]] = {}


def extractor(name: str, when: str = "answer") -> Callable[[_F], _F]:
    """Register ``fn`` as (part of) the extractor called ``name``."""
    if when not in WHEN:
        raise ValueError(f"extractor {name}: when must be one of {WHEN}, not {when!r}")

    def register(fn: _F) -> _F:
        parts = _EXTRACTORS.setdefault(name, {})
        if when in parts:
            raise ValueError(f"extractor {name} ({when}) registered twice")
        parts[when] = fn
        return fn

    return register


def registered_extractors() -> frozenset[str]:
    return frozenset(_EXTRACTORS)


_Dispatch = tuple[StatusFn | None, StatusFn | None, StatusFn | None, AnswerFn]


def dispatch_table(kinds: Iterable[ProbeKind]) -> dict[str, _Dispatch]:
    """Per kind: its extractor's (every, nxdomain, empty, answer) functions. A kind whose
    extractor is not registered is an error."""
    table: dict[str, _Dispatch] = {}
    for kind in kinds:
        parts = _EXTRACTORS.get(kind.extractor)
        if parts is None or "answer" not in parts:
            raise ProbeKindError(
                f"probe kind {kind.name}: no extractor {kind.extractor!r} is registered"
            )
        table[kind.name] = (
            parts.get("every"),
            parts.get("nxdomain"),
            parts.get("empty"),
            parts["answer"],
        )
    return table


@cache
def _bundled_table() -> dict[str, _Dispatch]:
    # extractors of other packages register when their module is imported: the modules named
    # in the ``sovmap.extractors`` entry-point group are, before the first classification
    for ep in entry_points(group="sovmap.extractors"):
        ep.load()
    return dispatch_table(probe_kinds().values())


def _unknown(obs: Observation) -> NoReturn:
    probe_kind(obs.probe)  # raises: unknown kind
    raise ProbeKindError(f"probe kind {obs.probe!r} has no extractor")  # pragma: no cover


def extract(
    domain: str,
    observations: tuple[Observation, ...],
    cat: Catalogue,
) -> tuple[Facts, list[Signal]]:
    """Facts and signals of one domain's observations, each read by its kind's extractor."""
    x = Extraction(domain, observations, cat)
    table = _bundled_table()
    guard = _wildcard_guard(observations, x.facts)
    for obs in observations:
        if (
            guard is not None
            and obs.probe in guard
            and obs.qname.endswith("." + domain)  # a wildcard answers below the domain only
            and _from_wildcard(obs, guard[obs.probe])
        ):
            x.facts.wildcard_answers.append(obs)
            continue
        parts = table.get(obs.probe)
        if parts is None:
            _unknown(obs)
        every, nxdomain, empty, answer = parts
        if every is not None:
            every(obs, x)
        status = obs.status
        if status is not _NOERROR:
            if status is _NXDOMAIN and nxdomain is not None:
                nxdomain(obs, x)
            continue
        answers = obs.answers
        if not answers:  # an empty answer says something only of the MX and NS sets
            if empty is not None:
                empty(obs, x)
            continue
        end, chain = chain_end(obs.qname, answers)
        answer(obs, end, chain, x)
    return x.facts, x.out


def _match_chain(obs: Observation, chain: tuple[str, ...], x: Extraction) -> None:
    """A CNAME chain matched with ``cname`` fingerprints (which may restrict themselves to
    probe slots)."""
    probe = obs.probe
    for name in chain:
        x.add(_signals(x.cat.match_name("cname", name, probe), obs, "CNAME", name, chain))


@extractor("cname")
def _cname(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """A name asked for its CNAME chain (autodiscover, lyncdiscover, ...)."""
    if chain:
        _match_chain(obs, chain, x)


@extractor("mx")
def _mx(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    hosts: list[tuple[int, str]] = []
    cat, probe = x.cat, obs.probe
    for r in obs.answers:
        if r.rtype != "MX" or r.name != end:
            continue  # records for other names in the answer are not ours
        pref_s, _, host = r.data.partition(" ")
        if not host:
            x.facts.null_mx = True  # null MX (RFC 7505): the domain accepts no mail
            continue
        pref = int(pref_s) if pref_s.isdigit() else 0
        hosts.append((pref, host))
        x.add(_signals(cat.match_name("mx", host, probe), obs, "MX", r.data))
    x.facts.mx_hosts = sorted(hosts)
    if chain:
        _match_chain(obs, chain, x)


@extractor("mx", when="empty")
def _mx_empty(obs: Observation, x: Extraction) -> None:
    x.facts.mx_hosts = []


@extractor("mx", when="nxdomain")
def _mx_nxdomain(obs: Observation, x: Extraction) -> None:
    if obs.qname == x.domain:
        x.facts.exists = False


@extractor("mx-host", when="every")
def _mx_host_status(obs: Observation, x: Extraction) -> None:
    if obs.qtype in ("A", "AAAA"):
        x.facts.mx_host_status.setdefault(obs.qname, set()).add(obs.status)


@extractor("mx-host")
def _mx_host(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """An MX host's chain, matched as mail and as CNAME, and its addresses."""
    cat, probe = x.cat, obs.probe
    if chain:
        x.facts.aliases[obs.qname] = end
    for name in chain:
        x.add(_signals(cat.match_name("mx", name, probe), obs, "CNAME", name, chain))
        x.add(_signals(cat.match_name("cname", name, probe), obs, "CNAME", name, chain))
    for r in obs.answers:
        if r.rtype in ("A", "AAAA"):
            x.add(_signals(cat.match_ip(r.data, probe), obs, r.rtype, r.data, chain))


def _spf_record(obs: Observation, text: str, path: tuple[str, ...], x: Extraction) -> None:
    cat, probe = x.cat, obs.probe
    own = probe == "txt"
    for t in parse_spf(text):
        if t.name in _SPF_TARGET_TERMS and t.value:
            target = t.value.lower().rstrip(".")
            if "%" in target:
                continue
            if own:
                x.facts.spf_terms.append((t.name, target))
            x.add(
                _signals(
                    cat.match_name("spf", target, probe), obs, "TXT", f"{t.name}:{target}", path
                )
            )


@extractor("txt")
def _txt(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """The domain's own TXT records: its SPF record, verification tokens."""
    qname = obs.qname
    for r in obs.answers:
        if r.rtype != "TXT" or r.name != qname:
            continue
        if is_spf(r.data):
            _spf_record(obs, r.data, (x.domain,), x)
            terms, lookups = _spf_host_limits()
            if terms:
                for t in spf_host_terms(r.data, qname, terms, lookups):
                    x.facts.spf_host_terms.append((qname, t))
        else:
            x.add(_signals(x.cat.match_text("txt", r.data, obs.probe), obs, "TXT", r.data))
    if chain:
        _match_chain(obs, chain, x)


@extractor("spf")
def _spf(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """An SPF include or redirect target, with the path of includes that led to it."""
    qname = obs.qname
    for r in obs.answers:
        if r.rtype != "TXT" or r.name != qname or not is_spf(r.data):
            continue
        if x.spf_parent is None:
            x.spf_parent = {o.qname: o.via for o in x.observations if o.probe == "spf"}
        _spf_record(obs, r.data, _spf_path(obs, x.spf_parent, x.domain), x)
    if chain:
        _match_chain(obs, chain, x)


@extractor("dmarc")
def _dmarc(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    for r in obs.answers:
        if r.rtype == "TXT" and r.data.lower().startswith("v=dmarc1"):
            for target in _dmarc_destinations(r.data):
                x.add(_signals(x.cat.match_name("dmarc", target, obs.probe), obs, "TXT", r.data))
    if chain:
        _match_chain(obs, chain, x)


@extractor("dkim")
def _dkim(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """A DKIM selector: its name (when a key is published), its chain and its key, matched
    with ``dkim`` fingerprints."""
    cat, probe, qname = x.cat, obs.probe, obs.qname
    texts = [r.data for r in obs.answers if r.rtype == "TXT"]
    if any(_is_dkim_key(text) for text in texts):
        # a selector name only counts when a key is published under it
        x.add(_signals(cat.match_name("dkim", qname, probe), obs, "TXT", qname))
    for name in chain:
        x.add(_signals(cat.match_name("dkim", name, probe), obs, "CNAME", name, chain))
    for text in texts:
        x.add(_signals(cat.match_text("dkim", text, probe), obs, "TXT", text))


@extractor("ns")
def _ns(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    qname = obs.qname
    hosts = [r.data for r in obs.answers if r.rtype == "NS" and r.name == qname]
    x.facts.ns_hosts = hosts
    for h in hosts:
        x.add(_signals(x.cat.match_name("ns", h, obs.probe), obs, "NS", h))
    if chain:
        _match_chain(obs, chain, x)


@extractor("ns", when="empty")
def _ns_empty(obs: Observation, x: Extraction) -> None:
    x.facts.ns_hosts = []


@extractor("srv")
def _srv(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    for r in obs.answers:
        if r.rtype == "SRV":
            target = r.data.split(" ")[-1]
            x.add(_signals(x.cat.match_name("srv", target, obs.probe), obs, "SRV", r.data))
    if chain:
        _match_chain(obs, chain, x)


@extractor("web")
def _web(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """The apex and ``www``: CNAME chain and addresses (web hosting, CDN)."""
    if chain:
        _match_chain(obs, chain, x)
    facts = x.facts
    if chain:
        facts.web_targets = [*(facts.web_targets or []), end]
        facts.aliases[obs.qname] = end
    for r in obs.answers:
        if r.rtype in ("A", "AAAA"):
            facts.web_addresses = [*(facts.web_addresses or []), r.data]
            x.add(_signals(x.cat.match_ip(r.data, obs.probe), obs, r.rtype, r.data, chain))


@extractor("web", when="every")
def _web_asked(obs: Observation, x: Extraction) -> None:
    if x.facts.spf_host_terms:  # a bare SPF "a" (or a:www.<domain>) reads these answers
        x.facts.spf_host_asked.add(obs.qname)


@extractor("web", when="nxdomain")
def _web_nxdomain(obs: Observation, x: Extraction) -> None:
    # a CNAME whose target does not exist: in this answer, or as a chased chain end
    end, chain = chain_end(obs.qname, obs.answers)
    if chain:
        x.facts.web_dangling.append((obs.qname, end))
    elif obs.via:
        x.facts.web_dangling.append((obs.via, obs.qname))


@extractor("asn")
def _asn(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """An origin-AS answer (no chain of its own to match); for an MX host, its network is
    kept as a fact too (the network fallback for hosts the catalogue does not know). The
    network of an SPF ip4:/ip6: term (``spf-net``) is a fact only: sender evidence, read by
    the outbound findings, never a signal that could name a mailbox host."""
    slot, _, rest = obs.via.partition("|")
    if slot == "spf-net":
        record, _, term = rest.partition("|")
        for r in obs.answers:
            if r.rtype == "TXT":
                net = parse_origin_txt(r.data)
                if net is not None:
                    x.facts.spf_networks.append((term, *net, record))
        return
    if slot == "spf-host" or (slot == "web" and x.facts.spf_host_terms):
        # the network of an SPF a/mx term's host (or of the apex, for a bare "a"): a fact
        # for the outbound findings only (spf-host is never a signal)
        host, _, address = rest.partition("|")
        for r in obs.answers:
            if r.rtype == "TXT":
                net = parse_origin_txt(r.data)
                if net is not None:
                    x.facts.spf_host_networks.setdefault(host, []).append((*net, address))
        if slot == "spf-host":
            return
    _asn_signals(obs, x.cat, x.out)
    if slot == "mx-host":
        host, _, address = rest.partition("|")
        for r in obs.answers:
            if r.rtype == "TXT":
                net = parse_origin_txt(r.data)
                if net is not None:
                    x.facts.host_networks.setdefault(host, []).append((*net, address))


@extractor("spf-host", when="every")
def _spf_host_asked(obs: Observation, x: Extraction) -> None:
    if obs.qtype in ("A", "AAAA"):
        x.facts.spf_host_asked.add(obs.qname)


@extractor("spf-host")
def _spf_host(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """A host of the domain's own SPF a/mx terms: the MX hosts of an ``mx:<host>`` term, a
    CNAME chain (its addresses' networks come as ``asn`` observations); never a signal."""
    if chain:
        x.facts.aliases[obs.qname] = end
    if obs.qtype == "MX":
        hosts = [r.data.partition(" ")[2] for r in obs.answers if r.rtype == "MX" and r.name == end]
        x.facts.spf_host_mx[obs.qname] = [h for h in hosts if h]


@cache
def _spf_host_limits() -> tuple[int, int]:
    """How many SPF a/mx terms the scan follows and its SPF lookup budget (the bundled probe
    plan's follow settings: the classifier reads the terms as the scan asked them)."""
    follow = probe_file().get("follow", {})
    return int(follow.get("spf_host_terms", 0)), int(follow.get("spf_lookup_limit", 10))


@dataclass(frozen=True, slots=True)
class SpfHostNetwork:
    """The network of one address of a host named by an SPF a/mx term."""

    record: str  # the SPF record's owner
    term: str  # "a:mail.example.at", "mx", ...
    host: str
    address: str
    asn: int
    cc: str  # the prefix's registered country ("" when none)


def spf_host_networks(
    facts: Facts,
) -> tuple[list[SpfHostNetwork], list[tuple[str, str, str]]]:
    """The networks of the hosts of the domain's own SPF a/mx terms, from the scan's answers:
    a bare ``a`` is the apex (its web addresses), a bare ``mx`` the domain's MX hosts, an
    ``mx:<host>`` that domain's MX hosts. Also what was not followed, as (record, term or host,
    why): ``macro``/``bad-name``/``lookup-limit``/``term-limit`` (the term), ``host-limit``
    (the host was over the per-domain cap: not asked), ``no-address`` (asked, no address
    answered), ``wildcard`` (its address answer was a wildcard's: discarded)."""
    domain = facts.domain
    wild = {o.qname for o in facts.wildcard_answers if o.probe == "spf-host"}
    out: list[SpfHostNetwork] = []
    notes: list[tuple[str, str, str]] = []
    for record, t in facts.spf_host_terms:
        if t.skipped:
            notes.append((record, t.term, t.skipped))
            continue
        if t.mechanism == "a":
            hosts = [t.host]
        elif t.host == domain and facts.mx_hosts is not None:
            hosts = [h for _, h in facts.mx_hosts]
        else:
            hosts = facts.spf_host_mx.get(t.host, [])
        for host in hosts:
            if host in wild:
                notes.append((record, host, "wildcard"))
                continue
            nets = _networks_of(facts, host)
            if nets:
                out.extend(SpfHostNetwork(record, t.term, host, a, n, c) for n, c, a in nets)
            elif host in facts.spf_host_asked or host in facts.mx_host_status:
                notes.append((record, host, "no-address"))
            else:
                notes.append((record, host, "host-limit"))
    return out, notes


def _networks_of(facts: Facts, host: str) -> list[tuple[int, str, str]]:
    """The origin AS of a name's addresses, following the CNAME chains seen (at most 8)."""
    for _ in range(8):
        nets = facts.spf_host_networks.get(host) or facts.host_networks.get(host)
        if nets:
            return nets
        nxt = facts.aliases.get(host)
        if nxt is None or nxt == host:
            return []
        host = nxt
    return []


@extractor("as-name")
def _as_name(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """An AS-name answer: the operator's name and country, kept for the network fallback."""
    for r in obs.answers:
        if r.rtype == "TXT":
            parsed = parse_as_name_txt(r.data)
            if parsed is not None and parsed[2]:
                asn, cc, name = parsed
                x.facts.as_names.setdefault(asn, (name, cc, r.data[: AS_NAME_MAX * 2]))


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


# -- wildcards ------------------------------------------------------------------------------
#
# The plan asks a random label (and a random DKIM selector) per domain: an answer there can
# only come from a wildcard. Which probe kinds a wildcard can answer for is data
# (``wildcard_guard`` in the probe file); an answer of theirs that holds the same records
# as the wildcard's is the wildcard speaking, and is read as no answer.

_Owned = dict[str, frozenset[str]]  # record type -> data, of the records owned by the name asked


@extractor("wildcard")
def _wildcard(obs: Observation, end: str, chain: tuple[str, ...], x: Extraction) -> None:
    """The answer at a random label: its records are what a wildcard gives (read by
    :func:`_wildcard_guard` before the other observations; nothing to match here)."""


def _owned(obs: Observation) -> _Owned:
    by_type: dict[str, set[str]] = {}
    q = obs.qname
    for r in obs.answers:
        if r.name == q:
            by_type.setdefault(r.rtype, set()).add(r.data)
    return {t: frozenset(v) for t, v in by_type.items()}


def _wildcard_guard(
    observations: tuple[Observation, ...], facts: Facts
) -> dict[str, list[_Owned]] | None:
    """Per guarded probe kind, the record sets a wildcard gives; None when no random label
    was answered (the common case: one set lookup per observation)."""
    kinds = wildcard_kinds()
    guard: dict[str, list[_Owned]] | None = None
    for obs in observations:
        if obs.probe not in kinds or obs.status is not _NOERROR:
            continue
        owned = _owned(obs)
        shown = (
            "; ".join(f"{t} {d}" for t, ds in sorted(owned.items()) for d in sorted(ds))
            or "(no records of this type: a wildcard of another type)"
        )
        facts.wildcards.append((obs.probe, obs.qname, shown))
        if not owned:
            continue
        if guard is None:
            guard = {}
        for probe in kinds[obs.probe]:
            guard.setdefault(probe, []).append(owned)
    return guard


def _from_wildcard(obs: Observation, shown: list[_Owned]) -> bool:
    """Whether an answer holds only what a wildcard gives: every record type it owns has
    the wildcard's records of that type (a CNAME is compared whatever type was asked)."""
    if obs.status is not _NOERROR or not obs.answers:
        return False
    owned = _owned(obs)
    if not owned:
        return False
    return any(all(w.get(t) == ds for t, ds in owned.items()) for w in shown)


# the opt-in kinds' extractors register on import (posture kinds; http-tenant and smtp-banner
# of --probe): imported here, below everything they use from this module
from sovmap.classify import active as _active  # noqa: E402,F401
from sovmap.classify import posture as _posture  # noqa: E402,F401
