"""Run the probe plans of many domains through one transport, with bounded memory.

At most ``max_active`` domains are in progress at once; new domains are pulled from the input
iterator only as others finish, so memory does not grow with the input. Follow-up questions
that many domains share (SPF includes of large providers, MX host addresses) are answered from
a bounded cache, and identical questions in flight are coalesced.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sovmap.collect.engine import Query
from sovmap.collect.inputs import DomainInput
from sovmap.collect.probes import DomainScan, ProbePlan, prefix_wire
from sovmap.collect.transport import Transport
from sovmap.collect.wire import type_code
from sovmap.model import RR, DomainResult, Status

_Waiter = tuple[DomainScan, str, str, int]  # owner, probe, via, depth

#: An input iterator may yield this for "nothing new yet" (the input is not exhausted).
WAIT: DomainInput = DomainInput("", 0)


class _ProbeQuery(Query):
    __slots__ = ("depth", "probe", "via")
    probe: str
    via: str
    depth: int


class _SharedQuery(Query):
    __slots__ = ("probe", "waiters")
    probe: str  # the first waiter's
    waiters: list[_Waiter]


@dataclass
class ScanCounters:
    domains: int = 0
    queries: int = 0
    cache_hits: int = 0
    errors: int = 0
    # per probe kind: [questions answered (NOERROR/NXDOMAIN), unanswered], finished domains
    by_probe: dict[str, list[int]] = field(default_factory=dict)


class Scanner:
    def __init__(
        self,
        transport: Transport,
        plan: ProbePlan,
        *,
        max_active: int = 2000,
        cache_size: int = 20_000,
    ) -> None:
        self.transport = transport
        self.plan = plan
        self.max_active = max_active
        self.cache_size = cache_size
        self.counters = ScanCounters()
        self._cache: OrderedDict[tuple[str, str], tuple[Status, tuple[RR, ...]]] = OrderedDict()
        self._inflight: dict[tuple[str, str], _SharedQuery] = {}
        self._done: list[DomainScan] = []
        self._active = 0
        # the plan's base questions, prepared once: (probe, "prefix." or "", type, type
        # code, encoded prefix, what the engine sends after the name)
        self._base = [
            (
                probe,
                "" if prefix == "@" else prefix + ".",
                qtype,
                code,
                b"" if prefix == "@" else prefix_wire(prefix),
                transport.question_tail(code),
            )
            for probe, prefix, qtype in plan.base
            for code in (type_code(qtype),)
        ]
        self._longest = max((len(p) for _, p, *_ in self._base), default=0)
        # kinds whose answers are the same for every domain (the probe table's ``shared``)
        self._shared = plan.shared
        self._shared_base = any(b[0] in self._shared for b in self._base)

    @property
    def active(self) -> int:
        """Domains whose probe plan is still running."""
        return self._active

    # -- Asker protocol ----------------------------------------------------------------
    def ask(
        self, owner: DomainScan, probe: str, qname: str, qtype: str, via: str, depth: int
    ) -> None:
        self.counters.queries += 1
        if probe in self._shared:
            key = (qname, qtype)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.counters.cache_hits += 1
                owner.deliver(probe, qname, qtype, via, depth, hit[0], hit[1])
                return
            shared = self._inflight.get(key)
            if shared is None:
                shared = _SharedQuery(qname, qtype, self._on_shared, owner.wire_for(qname))
                shared.probe = probe
                shared.waiters = [(owner, probe, via, depth)]
                self._inflight[key] = shared
                self.transport.submit(shared)
            else:
                self.counters.cache_hits += 1
                shared.waiters.append((owner, probe, via, depth))
            return
        q = _ProbeQuery(qname, qtype, owner.answer, owner.wire_for(qname))
        q.probe = probe
        q.via = via
        q.depth = depth
        self.transport.submit(q)

    def _start(self, scan: DomainScan) -> None:
        """Ask a domain's base questions in one go: the queries are made here, with their
        wire form from the prepared pieces, and queued together. A domain so long that a
        prefixed name could pass 253 characters, or a plan that is empty or shares base answers
        across domains, takes the general path (:meth:`DomainScan.start`)."""
        d = scan.domain
        if not self._base or self._shared_base or len(d) + self._longest > 253:
            scan.start()
            return
        dwire = scan.wire_for(d)
        new = _ProbeQuery.__new__
        cb = scan.answer
        queries: list[Query] = []
        for probe, prefix, qtype, code, pwire, tail in self._base:
            q = new(_ProbeQuery)
            q.qname = prefix + d
            q.qtype = qtype
            q.qtype_code = code
            q.wire = wire = pwire + dwire
            q.body = wire + tail
            q.answers_cb = cb
            q.attempt = q.depth = q.deadline_gen = 0
            q.resolver = -1
            q.probe = probe
            q.via = ""
            queries.append(q)
        scan.pending += len(queries)
        self.counters.queries += len(queries)
        self.transport.submit_prepared(queries)

    def finished(self, scan: DomainScan) -> None:
        self._done.append(scan)

    # -- transport callbacks -----------------------------------------------------------
    def _on_shared(self, q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        assert isinstance(q, _SharedQuery)
        key = (q.qname, q.qtype)
        self._inflight.pop(key, None)
        if status.answered or status is Status.SERVFAIL:
            self._cache[key] = (status, answers)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        waiters: list[_Waiter] = q.waiters
        for owner, probe, via, depth in waiters:
            owner.deliver(probe, q.qname, q.qtype, via, depth, status, answers)

    # -- driving -----------------------------------------------------------------------
    def run(
        self,
        inputs: Iterable[DomainInput],
        on_result: Callable[[DomainResult], None],
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        source: Iterator[DomainInput] = iter(inputs)
        exhausted = False
        transport = self.transport
        checked = False
        by_probe = self.counters.by_probe
        answered = (Status.NOERROR, Status.NXDOMAIN)
        while True:
            while not exhausted and self._active < self.max_active:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                if item is WAIT:
                    break
                if not checked:
                    # the resolvers are asked for a name that cannot exist under the first
                    # domain's parent zone before any of its questions (lying-resolver check)
                    checked = True
                    parent = item.domain.partition(".")[2]
                    if parent:
                        transport.check_resolvers(parent)
                self._active += 1
                self._start(DomainScan(item.domain, self.plan, self, item.attributes, item.line))
            if self._done:
                done, self._done = self._done, []
                for scan in done:
                    self._active -= 1
                    self.counters.domains += 1
                    self.counters.errors += scan.errors
                    for o in scan.observations:
                        counts = by_probe.get(o.probe)
                        if counts is None:
                            counts = by_probe[o.probe] = [0, 0]
                        counts[0 if o.status in answered else 1] += 1
                    on_result(
                        DomainResult(
                            domain=scan.domain,
                            observations=tuple(scan.observations),
                            attributes=scan.attributes,
                            queries=len(scan.observations),
                            errors=scan.errors,
                            position=scan.position,
                        )
                    )
                if on_tick is not None:
                    on_tick()
                continue
            if exhausted and self._active == 0:
                break
            transport.poll(0.1)
            if on_tick is not None:
                on_tick()
