"""The probe plan per domain and the follow-up rules (MX host addresses, SPF includes,
CNAME chains), as a small state machine per domain. Transport-agnostic: it asks questions
through a :class:`Asker` and receives answers through :meth:`DomainScan.deliver`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any, Protocol

from sovmap.collect.wire import encode_name, fast
from sovmap.knowledge.probes import ProbeKind, ProbeKindError, parse_kinds, probe_file, probe_kinds
from sovmap.model import RR, Observation, Status, new_observation
from sovmap.records import (
    chain_end,
    is_spf,
    parse_asn_txt,
    parse_spf,
    spf_host_terms,
    spf_targets,
)


@dataclass(frozen=True, slots=True)
class Question:
    probe: str
    name: str  # "@" or a label prefix
    qtype: str


_PREFIX_OK = re.compile(r"^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$")


@dataclass(frozen=True, slots=True)
class ProbePlan:
    questions: tuple[Question, ...]
    dkim_selectors: tuple[str, ...]
    mx_address_types: tuple[str, ...]
    cname_probes: frozenset[str]
    cname_depth: int
    spf_lookup_limit: int
    max_mx_hosts: int
    asn_probes: frozenset[str] = frozenset()
    asn_zone_v4: str = ""
    asn_zone_v6: str = ""
    # the AS-name question's zone (TXT at ``AS<n>.<zone>``; "" asks none), and how many of a
    # domain's own SPF ip4:/ip6: networks get an origin-AS question
    as_name_zone: str = ""
    spf_network_limit: int = 0
    # the hosts of the domain's own SPF a/mx terms (probe ``spf-host``): how many such terms
    # are followed, and how many hosts at most get address questions (0 asks none)
    spf_host_terms: int = 0
    spf_host_limit: int = 0
    # the ``--probe`` groups this plan asks besides the always-asked kinds ("posture": the
    # posture questions and each MX host's DANE TLSA, see sovmap.collect.active)
    opt_in: frozenset[str] = frozenset()
    # the kinds of question, in order (the bundled table when not given)
    kinds: tuple[ProbeKind, ...] = field(default_factory=lambda: tuple(probe_kinds().values()))
    # derived once here: a follow-up asks ``is_base``, and hashing a plan for a cache keyed by
    # it took about 2 us a time
    _base: tuple[tuple[str, str, str], ...] = field(init=False, repr=False, compare=False)
    _base_keys: frozenset[tuple[str, str, str]] = field(init=False, repr=False, compare=False)
    _shared: frozenset[str] = field(init=False, repr=False, compare=False)
    _order: Mapping[str, int] = field(init=False, repr=False, compare=False)
    # the base questions of a kind whose addresses get an origin-AS question (the web kind):
    # name prefix -> address types; an SPF a/mx host that is such a name reuses them
    _base_addresses: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # DomainScan.start asks these without the per-question checks of follow-ups
        seen: set[tuple[str, str, str]] = set()
        names = [(q.probe, q.name, q.qtype) for q in self.questions]
        names += [("dkim", f"{s}._domainkey", "TXT") for s in self.dkim_selectors]
        derived = {
            "_base": tuple(names),
            "_base_keys": frozenset(names),
            "_shared": frozenset(k.name for k in self.kinds if k.shared),
            "_order": MappingProxyType({k.name: k.order for k in self.kinds}),
            "_base_addresses": MappingProxyType(
                {
                    n: frozenset(t for p2, n2, t in names if n2 == n and p2 in self.asn_probes)
                    for p, n, _ in names
                    if p in self.asn_probes
                }
            ),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        roles = {k.name: k.role for k in self.kinds}
        follow_kinds = {"mx-host", "spf", "asn"} | self.cname_probes | self.asn_probes
        if self.as_name_zone:
            follow_kinds.add("as-name")
        if self.spf_host_terms:
            follow_kinds.add("spf-host")
        for probe in follow_kinds:
            if probe not in roles:  # asked by the follow-up rules below
                raise ProbeKindError(f"probe plan: follow-up kind {probe!r} is not in the table")
        for probe, name, qtype in names:
            if roles.get(probe) != "base":
                raise ProbeKindError(f"probe plan: {probe!r} is not a base kind of the table")
            if name != "@" and (not _PREFIX_OK.match(name) or ".." in name):
                raise ValueError(f"probe plan: bad name {name!r} for probe {probe!r}")
            if (probe, name, qtype) in seen:
                raise ValueError(f"probe plan: {probe} {name} {qtype} asked twice")
            seen.add((probe, name, qtype))

    @property
    def base_queries(self) -> int:
        return len(self.questions) + len(self.dkim_selectors)

    @property
    def base(self) -> tuple[tuple[str, str, str], ...]:
        """Every question asked for each domain at the start, as ``(probe, name, type)``
        with ``name`` "@" or a prefix (DKIM selectors included)."""
        return self._base

    def is_base(self, probe: str, prefix: str, qtype: str) -> bool:
        return (probe, prefix, qtype) in self._base_keys

    @property
    def shared(self) -> frozenset[str]:
        """Kinds whose answers are the same for every domain (cached across domains)."""
        return self._shared

    @property
    def order(self) -> Mapping[str, int]:
        """Each kind's position: observations are stored and classified in this order."""
        return self._order

    def observation_key(self) -> Callable[[Observation], tuple[int, str, str, str]]:
        """The sort key of a domain's observations (kind, name, type, via)."""
        return _observation_key(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ProbePlan:
        """A plan from a probe file; its ``kinds`` table when it has one, else the bundled."""
        follow = raw.get("follow", {})
        kinds = parse_kinds(list(raw["kinds"])) if "kinds" in raw else probe_kinds()
        return cls(
            kinds=tuple(kinds.values()),
            questions=tuple(
                Question(str(q["probe"]), str(q["name"]), str(q["type"])) for q in raw["questions"]
            ),
            dkim_selectors=tuple(str(s) for s in raw.get("dkim_selectors", ())),
            mx_address_types=tuple(follow.get("mx_addresses", ("A", "AAAA"))),
            cname_probes=frozenset(follow.get("cname_probes", ("web", "mx-host"))),
            cname_depth=int(follow.get("cname_depth", 8)),
            spf_lookup_limit=int(follow.get("spf_lookup_limit", 10)),
            max_mx_hosts=int(follow.get("max_mx_hosts", 10)),
            asn_probes=frozenset(follow.get("asn_probes", ())),
            asn_zone_v4=str(follow.get("asn_zone_v4", "")),
            asn_zone_v6=str(follow.get("asn_zone_v6", "")),
            as_name_zone=str(follow.get("as_name_zone", "")),
            spf_network_limit=int(follow.get("spf_network_limit", 0)),
            spf_host_terms=int(follow.get("spf_host_terms", 0)),
            spf_host_limit=int(follow.get("spf_host_limit", 0)),
        )


@cache
def _observation_key(plan: ProbePlan) -> Callable[[Observation], tuple[int, str, str, str]]:
    order = dict(plan.order)

    def key(o: Observation) -> tuple[int, str, str, str]:
        return (order[o.probe], o.qname, o.qtype, o.via)

    return key


@cache
def default_plan() -> ProbePlan:
    """The bundled plan (``sovmap/knowledge/data/probes.yaml``)."""
    return ProbePlan.from_dict(probe_file())


@lru_cache(maxsize=4096)
def _spf_follow(text: str) -> tuple[int, tuple[str, ...]]:
    """For a TXT record: the DNS lookups its SPF terms cost and the domains to fetch next,
    or ``(-1, ())`` when it is not SPF (remembered, like :func:`parse_spf`)."""
    if not is_spf(text):
        return -1, ()
    terms = parse_spf(text)
    return sum(1 for t in terms if t.counts_lookup), tuple(spf_targets(terms))


def asn_query_name(address: str, plan: ProbePlan) -> str:
    """The Team Cymru origin-AS question for an address ("" when not configured/invalid)."""
    return _asn_query_name(address, plan.asn_zone_v4, plan.asn_zone_v6)


def spf_networks(text: str, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` ip4:/ip6: terms of an SPF record, as (term value, the network
    address whose origin AS stands for it); terms that are no network are skipped."""
    out: list[tuple[str, str]] = []
    if limit <= 0:
        return out
    for t in parse_spf(text):
        if t.name not in ("ip4", "ip6") or not t.value:
            continue
        try:
            net = ipaddress.ip_network(t.value, strict=False)
        except ValueError:
            continue
        if (net.version == 4) != (t.name == "ip4"):
            continue
        out.append((t.value, str(net.network_address)))
        if len(out) >= limit:
            break
    return out


@lru_cache(maxsize=65536)
def _asn_query_name(address: str, zone_v4: str, zone_v6: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if ip.version == 4 and zone_v4:
        return ".".join(reversed(address.split("."))) + "." + zone_v4
    if ip.version == 6 and zone_v6:
        nibbles = ip.exploded.replace(":", "")
        return ".".join(reversed(nibbles)) + "." + zone_v6
    return ""


_NAME_OK = re.compile(r"^[a-z0-9_.*-]+$")


# an observation's six slots set in C when the accelerator is built (the same object as
# ``Observation(...)``, a test holds both to it field by field)
_new_observation = fast.observation if fast is not None else new_observation


class Asker(Protocol):
    def ask(
        self, owner: DomainScan, probe: str, qname: str, qtype: str, via: str, depth: int
    ) -> None: ...

    def finished(self, scan: DomainScan) -> None: ...


@cache
def prefix_wire(prefix: str) -> bytes:
    """Encoded labels of a name prefix ("selector1._domainkey"), without the root label."""
    return encode_name(prefix)[:-1]


class DomainScan:
    """The probe plan of one domain, running: questions out, observations in."""

    __slots__ = (
        "_wire",
        "asked",
        "asker",
        "attributes",
        "domain",
        "errors",
        "observations",
        "pending",
        "plan",
        "position",
        "spf_hosts",
        "spf_lookups",
        "spf_networks",
    )

    def __init__(
        self,
        domain: str,
        plan: ProbePlan,
        asker: Asker,
        attributes: dict[str, str] | None = None,
        position: int = 0,
    ) -> None:
        self.domain = domain
        self.plan = plan
        self.asker = asker
        self.attributes = attributes or {}
        self.position = position
        self.observations: list[Observation] = []
        self.pending = 0
        self.errors = 0
        self.spf_lookups = 0
        self.spf_networks = 0
        self.spf_hosts = 0
        self.asked: set[tuple[str, str, str, str]] = set()
        self._wire = b""

    def wire_for(self, qname: str) -> bytes:
        """The wire form of a name, reusing the encoded domain for names below it."""
        d = self.domain
        if not self._wire:
            self._wire = encode_name(d)
        if qname == d:
            return self._wire
        if qname.endswith(d) and qname[-len(d) - 1] == "." and "\\" not in qname:
            # (a name with escapes may end in an escaped dot: the full encoder decides)
            return prefix_wire(qname[: -len(d) - 1]) + self._wire
        return encode_name(qname)

    def start(self) -> None:
        self.pending += 1  # guard: answers from a cache may arrive while we are still asking
        d = self.domain
        # the plan's own questions are distinct names below a domain the input checked; they
        # are not entered in ``asked`` (``_is_base`` knows them)
        asker = self.asker
        # (a long domain can still make a prefixed name too long: those take the checks)
        room = 253 - len(d)
        for probe, prefix, qtype in self.plan.base:
            name = d if prefix == "@" else f"{prefix}.{d}"
            if prefix != "@" and len(prefix) >= room:
                self._ask(probe, name, qtype, "", 0)
                continue
            self.pending += 1
            asker.ask(self, probe, name, qtype, "", 0)
        self._done_one()

    def _is_base(self, probe: str, qname: str, qtype: str) -> bool:
        """Whether this question is one of the plan's base questions for this domain."""
        d = self.domain
        if qname == d:
            return self.plan.is_base(probe, "@", qtype)
        if qname.endswith(d) and qname[-len(d) - 1] == ".":
            return self.plan.is_base(probe, qname[: -len(d) - 1], qtype)
        return False

    def _ask(self, probe: str, qname: str, qtype: str, via: str, depth: int) -> None:
        """A follow-up question: names taken from answers are checked first.

        An origin-AS question is kept once per (host, address) it was asked for, so two MX
        hosts on one address each get their observation whichever answer came first (the
        DNS question itself is asked once: AS answers are shared)."""
        key = (probe, qname, qtype, via if probe == "asn" else "")
        if key in self.asked or (via and self._is_base(probe, qname, qtype)):
            return
        self.asked.add(key)
        if len(qname) > 253 or not _NAME_OK.match(qname) or ".." in qname:
            self.observations.append(
                Observation(probe, qname[:300], qtype, Status.MALFORMED, (), via)
            )
            self.errors += 1
            return
        self.pending += 1
        self.asker.ask(self, probe, qname, qtype, via, depth)

    def answer(self, q: Any, status: Status, answers: tuple[RR, ...]) -> None:
        """The engine's callback for a question asked for this domain alone: :meth:`deliver`
        with ``probe``, ``qname``, ``qtype``, ``via`` and ``depth`` read from the query (any
        engine query that carries them)."""
        self.deliver(q.probe, q.qname, q.qtype, q.via, q.depth, status, answers)

    def deliver(
        self,
        probe: str,
        qname: str,
        qtype: str,
        via: str,
        depth: int,
        status: Status,
        answers: tuple[RR, ...],
    ) -> None:
        self.observations.append(_new_observation(probe, qname, qtype, status, answers, via))
        if not status.answered:
            self.errors += 1
        elif status is Status.NOERROR and answers:
            self._follow(probe, qname, qtype, depth, answers)
        self._done_one()

    def _done_one(self) -> None:
        self.pending -= 1
        if self.pending == 0:
            self.asker.finished(self)

    def _follow(
        self, probe: str, qname: str, qtype: str, depth: int, answers: tuple[RR, ...]
    ) -> None:
        plan = self.plan
        if probe == "mx":
            hosts = []
            for r in answers:
                if r.rtype == "MX":
                    host = r.data.partition(" ")[2]
                    if host and host not in hosts:
                        hosts.append(host)
            for host in hosts[: plan.max_mx_hosts]:
                for t in plan.mx_address_types:
                    self._ask("mx-host", host, t, qname, 0)
                if "posture" in plan.opt_in:  # DANE (RFC 7672): TLSA at _25._tcp.<MX host>
                    self._ask("tlsa", f"_25._tcp.{host}", "TLSA", qname, 0)
        elif probe in ("txt", "spf") and qtype == "TXT":
            for r in answers:
                if r.rtype == "TXT":
                    lookups, targets = _spf_follow(r.data)
                    if lookups < 0:
                        continue  # not an SPF record
                    if probe == "txt":
                        if plan.spf_network_limit:
                            self._spf_networks(r.name, r.data)
                        if plan.spf_host_terms:
                            self._spf_hosts(r.name, r.data)
                    self.spf_lookups += lookups
                    if self.spf_lookups > plan.spf_lookup_limit:
                        continue
                    for target in targets:
                        self._ask("spf", target, "TXT", r.name, depth + 1)
        elif probe == "spf-host" and qtype == "MX":
            # an SPF mx:<host> term: the addresses of that domain's MX hosts
            end, _ = chain_end(qname, answers)
            for r in answers:
                if r.rtype == "MX" and r.name == end:
                    host = r.data.partition(" ")[2]
                    if host:
                        self._spf_host(host, f"mx:{qname}")
        if probe in plan.asn_probes:
            end, _ = chain_end(qname, answers)
            for r in answers:
                if r.name == end and r.rtype in ("A", "AAAA"):
                    name = asn_query_name(r.data, plan)
                    if name:
                        self._ask("asn", name, "TXT", f"{probe}|{end}|{r.data}", 0)
        if probe == "asn" and plan.as_name_zone:
            # the AS's name and country, once per AS (the kind is shared across domains)
            for r in answers:
                if r.rtype == "TXT":
                    asn = parse_asn_txt(r.data)
                    if asn is not None:
                        self._ask("as-name", f"as{asn}.{plan.as_name_zone}", "TXT", "", 0)
        if probe in plan.cname_probes and depth < plan.cname_depth:
            end, chain = chain_end(qname, answers)
            if chain and not any(r.name == end and r.rtype == qtype for r in answers):
                self._ask(probe, end, qtype, qname, depth + 1)

    def _spf_networks(self, record_name: str, text: str) -> None:
        """Origin-AS questions for the networks of the domain's own SPF ip4:/ip6: terms, at
        most ``spf_network_limit`` per domain (``via``: "spf-net|<record>|<term>"; read as
        sender evidence only)."""
        room = self.plan.spf_network_limit - self.spf_networks
        for term, address in spf_networks(text, room):
            name = asn_query_name(address, self.plan)
            if name:
                self.spf_networks += 1
                self._ask("asn", name, "TXT", f"spf-net|{record_name}|{term}", 0)

    def _spf_hosts(self, record_name: str, text: str) -> None:
        """The hosts of the domain's own SPF ``a``/``mx`` terms (those
        :func:`~sovmap.records.spf_host_terms` follows): their addresses (probe ``spf-host``,
        ``via`` the term), then each address's origin AS like any ``asn_probes`` kind
        (``via`` "spf-host|<host>|<address>"). A bare ``mx`` is the domain's MX, whose hosts
        the plan asks already (``mx-host``)."""
        plan = self.plan
        for t in spf_host_terms(text, record_name, plan.spf_host_terms, plan.spf_lookup_limit):
            if t.skipped:
                continue
            if t.mechanism == "a":
                self._spf_host(t.host, t.term)
            elif t.host != self.domain or not plan.is_base("mx", "@", "MX"):
                self._ask("spf-host", t.host, "MX", t.term, 0)

    def _spf_host(self, host: str, via: str) -> None:
        """Address questions for one host of an SPF a/mx term, within ``spf_host_limit``; none
        for a name whose addresses the base plan asks anyway (the apex, ``www``). A host that is
        also one of the domain's MX hosts is asked too: whether the MX answer came before the
        SPF record is a matter of timing, and a scan must ask the same questions in any order
        (a replay compares them)."""
        plan = self.plan
        types = plan.mx_address_types
        d = self.domain
        if host == d or (host.endswith(d) and host[-len(d) - 1] == "."):
            base = plan._base_addresses.get("@" if host == d else host[: -len(d) - 1])
            if base:
                types = tuple(t for t in types if t not in base)
        if not types or ("spf-host", host, types[0], "") in self.asked:
            return
        if self.spf_hosts >= plan.spf_host_limit:
            return
        self.spf_hosts += 1
        for t in types:
            self._ask("spf-host", host, t, via, 0)
