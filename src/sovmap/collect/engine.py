"""The DNS engine: its own non-blocking sockets in one epoll loop, many queries in flight.

Answers are matched by socket (each UDP socket is connected to one resolver, so the kernel
drops datagrams from any other source), by message ID and by the echoed question; anything
else is counted and dropped. Truncated answers are retried over TCP in the same loop.
Timeouts are kept in one FIFO per attempt number (every entry of a FIFO has the same timeout,
so the FIFO is ordered by deadline): there is no timer per query.

Politeness: each resolver has an in-flight cap and an optional rate limit. The cap behaves like
a TCP congestion window: it starts small and grows by one per answer (slow start) until the
first loss; a timeout halves it (down to a floor) and sets the threshold above which it grows
only by one per window of answers. SERVFAIL and REFUSED halve it too, but only when they are more
than ``failure_share`` of a window's answers: an isolated failure says something about the name
asked (a broken delegation, a name the resolver will not serve), a wave of them says the
resolver is overloaded or limiting us. A failed query is retried on the next resolver.

On real networks (see docs/scan.md, "Real networks"):

- Round trips are measured per resolver (one sampled query per round; SRTT and RTTVAR as in
  TCP, RFC 6298) and a query's timeout is ``SRTT + 4 RTTVAR`` (at least ``min_timeout``, at
  most ``timeout``; doubled per attempt, and after each timeout while nothing is heard from
  the resolver, up to 8 times).
- With a rate budget (``rate``) the in-flight window is the bandwidth-delay product, the
  budget times the timeout, so the pipe stays full at the measured round trip; the rate,
  not the window, limits the load. A REFUSED or SERVFAIL storm halves that resolver's rate
  (it climbs back a tenth per clean window) and the refused questions rotate to the others.
- A resolver from which nothing at all was heard for ``dead_after`` seconds, while at least
  ``dead_timeouts`` of its queries timed out, is marked dead: its queries move to the others
  (without costing an attempt) and it is probed again every ``probe_every`` seconds. When
  every resolver is dead and none was heard for ``give_up_after`` seconds, :meth:`poll`
  raises :class:`~sovmap.errors.NetworkError` (exit 3).
- Retries are budgeted: each question sent earns ``retry_share`` of a retry, and a question
  retried when the budget is spent ends with its most informative status.
- :meth:`check_resolvers` asks every resolver for a random name under a real zone; one that
  answers it (NXDOMAIN rewriting) is not used while an honest resolver is alive.
- A question that fails on several resolvers ends with its most informative status (an answer
  beats SERVFAIL beats REFUSED beats TIMEOUT), not the last one.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import math
import os
import random
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sovmap.collect.wire import (
    DEFAULT_EDNS_PAYLOAD,
    WireError,
    build_query,
    encode_name,
    fast,
    parse_response,
    parse_response_py,
    question_bytes,
    type_code,
)
from sovmap.errors import NetworkError
from sovmap.i18n import t
from sovmap.model import RR, Status

_STATUS_BY_RCODE = {
    0: Status.NOERROR,
    1: Status.FORMERR,
    2: Status.SERVFAIL,
    3: Status.NXDOMAIN,
    4: Status.NOTIMP,
    5: Status.REFUSED,
}
_U16 = struct.Struct("!H")
_QUERY_HEADER = struct.Struct("!HHHHHH")
_TYPE_CODES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
#: how much a failed question's status says: the most informative of its attempts is kept
_INFORMATIVE = {
    Status.NOERROR: 9,
    Status.NXDOMAIN: 9,
    Status.SERVFAIL: 6,
    Status.REFUSED: 5,
    Status.NOTIMP: 4,
    Status.FORMERR: 4,
    Status.MALFORMED: 3,
    Status.TIMEOUT: 2,
    Status.OTHER: 1,
}
#: per-resolver counters (:attr:`EngineStats.resolvers`), in this order
RESOLVER_COUNTERS = (
    "sent", "answered", "failed", "timeouts", "dead", "lying", "revived", "health_checks",
)  # fmt: skip
_SENT, _ANSWERED, _FAILED, _TIMEOUTS, _DEAD, _LYING, _REVIVED, _HEALTH_CHECKS = range(8)
_MAX_WINDOW = 8192


def parse_resolver(text: str, default_port: int = 53) -> tuple[str, int]:
    """``ADDR``, ``ADDR:PORT``, ``[V6]:PORT`` or a bare IPv6 address."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    else:
        host, port = text, default_port
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        raise ValueError(f"not an IP address: {host!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def system_resolvers(path: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    try:
                        out.append(parse_resolver(parts[1].split("%")[0]))
                    except ValueError:
                        continue
    except OSError:
        pass
    return out or [("127.0.0.1", 53)]


@dataclass(frozen=True)
class EngineConfig:
    resolvers: list[tuple[str, int]]
    timeout: float = 2.0  # first attempt; later attempts double it
    attempts: int = 3
    tcp_timeout: float = 5.0
    max_inflight: int = 128  # per resolver (256 overflowed a default 208 KiB server buffer)
    start_inflight: int = 64  # the cap starts here and grows with every answer (slow start)
    min_inflight: int = 8
    # SERVFAIL/REFUSED halve the window when more than this share of a window's answers
    failure_share: float = 0.25
    rate: float | None = None  # queries per second per resolver; None = no limit
    edns_payload: int = DEFAULT_EDNS_PAYLOAD
    sockets_per_resolver: int = 4
    recv_buffer: int = 8 * 1024 * 1024
    # batch datagrams with sendmmsg/recvmmsg and parse in C when the accelerator is built
    accelerate: bool = True
    # real networks: timeouts from measured round trips, health, budgets (module docstring)
    min_timeout: float = 0.2
    fixed_inflight: bool = False  # True: max_inflight caps the window even with a rate
    dead_after: float = 3.0
    dead_timeouts: int = 8
    probe_every: float = 2.0
    give_up_after: float = 10.0
    retry_share: float = 0.2
    retry_floor: int = 200

    def __post_init__(self) -> None:
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"rate {self.rate!r}: give more than 0 queries/s, or None (no limit)")
        if not (self.timeout > 0 and self.min_timeout > 0 and self.attempts >= 1):
            raise ValueError("timeout and min_timeout must be more than 0, attempts at least 1")


@dataclass
class EngineStats:
    sent: int = 0
    answered: int = 0
    timeouts: int = 0
    retries: int = 0
    tcp: int = 0
    mismatched: int = 0
    malformed: int = 0
    fallbacks: int = 0
    final_errors: int = 0
    retries_refused: int = 0  # retries the budget did not allow
    wire_errors: dict[str, int] = field(default_factory=dict)
    # address -> counters in the order of RESOLVER_COUNTERS (kept current by the engine)
    resolvers: dict[str, list[int]] = field(default_factory=dict)


class Query:
    """One question in flight. ``callback(query, status, answers)`` receives the outcome."""

    __slots__ = (
        "answers_cb",
        "attempt",
        "best",
        "body",
        "deadline_gen",
        "qname",
        "qtype",
        "qtype_code",
        "resolver",
        "wire",
    )
    best: Status | None  # set on the first failure only (read with getattr)

    def __init__(
        self,
        qname: str,
        qtype: str,
        callback: Callable[[Query, Status, tuple[RR, ...]], None],
        wire: bytes | None = None,
    ) -> None:
        self.qname = qname
        self.qtype = qtype
        self.qtype_code = _TYPE_CODES.get(qtype) or type_code(qtype)
        self.wire = wire if wire is not None else encode_name(qname)
        self.answers_cb = callback
        self.body = b""  # question + EDNS record as sent (built by the engine on submit)
        self.attempt = 0
        self.resolver = -1
        self.deadline_gen = 0
        # ``best``, the most informative failure so far, is set on the first failure only
        # (read with getattr: nothing is spent on the questions that never fail)

    @property
    def question(self) -> bytes:
        """The question section as the parsers report it (name lower-case), for matching."""
        return question_bytes(self.wire, self.qtype_code)


if fast is not None:
    fast.bind_query(Query)


class ResolversDead(NetworkError):
    """Every resolver is dead (or nothing listens at any of their addresses): exit 3."""

    def localised(self, lang: str) -> str:
        return t(lang, self.code, **self.params) if self.code else str(self)


def _ignore_answer(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
    """A health check's outcome needs no handling: hearing the answer is the point."""


class _Pinned(Query):
    """A question the engine asks of one resolver for itself (never retried or moved)."""

    __slots__ = ("pin",)
    pin: int


class _LieCheck(_Pinned):
    """A question for a name that cannot exist, asked of one resolver."""

    __slots__ = ()


class _HealthCheck(_Pinned):
    """A question this resolver answered before, asked again while it is silent: an answer
    proves the resolver alive, so the questions that time out on it are the names' own
    (a zone whose servers never answer), not the resolver's."""

    __slots__ = ()


class _Resolver:
    __slots__ = (
        "addr",
        "batches",
        "batches_seen",
        "cap",
        "counts",
        "dead",
        "dead_since",
        "failures",
        "family",
        "grown",
        "inflight",
        "known",
        "last_heard",
        "lying",
        "next_probe",
        "rate",
        "rto",
        "rto_backoff",
        "rttvar",
        "silent",
        "sockets",
        "srtt",
        "ssthresh",
        "tokens",
        "unreachable",
        "updated",
        "usable",
        "verdict_pending",
        "window",
    )

    def __init__(self, addr: tuple[str, int], cap: int, rate: float | None, rto: float) -> None:
        self.addr = addr
        self.counts = [0] * len(RESOLVER_COUNTERS)
        self.rate = rate  # this resolver's current rate (halved on REFUSED storms)
        self.srtt = 0.0  # no sample yet
        self.rttvar = 0.0
        self.rto = rto
        self.rto_backoff = 1
        self.last_heard = 0.0  # set at the first query sent
        self.silent = 0  # timeouts since anything was heard
        self.dead = False
        self.dead_since = 0.0
        self.next_probe = 0.0
        self.known: tuple[str, str, bytes] | None = None  # a question it answered (health)
        self.batches = self.batches_seen = 0  # received batches (_health turns them into time)
        self.lying = False
        self.verdict_pending = False
        self.usable = True
        self.unreachable = False
        self.family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.cap = cap
        self.ssthresh = 1 << 30
        self.grown = 0
        self.window = 0  # answers counted in the current window
        self.failures = 0  # of which SERVFAIL or REFUSED
        self.inflight = 0
        self.sockets: list[_UdpSocket] = []
        self.tokens = 0.0
        self.updated = time.monotonic()


def _addr_text(addr: tuple[str, int]) -> str:
    return f"[{addr[0]}]:{addr[1]}" if ":" in addr[0] else f"{addr[0]}:{addr[1]}"


def shuffled_ids() -> list[int]:
    """The 65,536 message IDs in an unpredictable order: a permutation drawn from the OS's
    entropy (in C when the accelerator is built; in Python about 25 ms a socket)."""
    if fast is not None:
        return fast.shuffled_ids()  # type: ignore[no-any-return]
    ids = list(range(65536))
    random.Random(os.urandom(32)).shuffle(ids)
    return ids


class _UdpSocket:
    __slots__ = ("fd", "free_ids", "pending", "resolver", "sock")

    def __init__(self, sock: socket.socket, resolver: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.resolver = resolver
        self.free_ids: deque[int] = deque(shuffled_ids())
        self.pending: dict[int, Query] = {}


class _TcpConn:
    __slots__ = ("buf", "deadline", "query", "resolver", "sent", "sock", "wire")

    def __init__(self, sock: socket.socket, query: Query, resolver: int, wire: bytes) -> None:
        self.sock = sock
        self.query = query
        self.resolver = resolver
        self.wire = _U16.pack(len(wire)) + wire
        self.sent = False
        self.buf = bytearray()
        self.deadline = 0.0


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        if not config.resolvers:
            raise ValueError("no resolver given")
        self.config = config
        self.stats = EngineStats()
        self._ep = select.epoll()
        self._resolvers = [
            _Resolver(
                a, min(config.start_inflight, config.max_inflight), config.rate, config.timeout
            )
            for a in config.resolvers
        ]
        for r in self._resolvers:
            self.stats.resolvers[_addr_text(r.addr)] = r.counts
        self._samples: dict[Query, float] = {}  # round-trip samples in flight: send time
        self._retry_tokens = float(config.retry_floor)
        self._retry_share = config.retry_share  # earned per question sent
        self._unsampled_rto = config.timeout
        self._next_health = 0.0
        self._batches = 0
        self._last_heard_any = 0.0
        self._udp: dict[int, _UdpSocket] = {}
        self._tcp: dict[int, _TcpConn] = {}
        self._queue: deque[Query] = deque()  # first attempts (follow-ups), sent before
        self._fresh: deque[Query] = deque()  # new domains' base questions (submit_prepared)
        self._retries: deque[Query] = deque()  # later attempts, sent first
        # the rounds sent, by deadline: (deadline, sequence, socket fd, entries), each entry
        # (id, query, generation); a generation that moved on means "answered"
        self._timeouts: list[tuple[float, int, int, list[tuple[int, Query, int]]]] = []
        self._seq = 0
        self._next_resolver = 0
        self._tails: dict[int, bytes] = {}  # question type + class + OPT, by type
        self._fast = fast if config.accelerate else None
        self._inflight = 0  # UDP queries in flight, all resolvers
        self._round = 0
        for ri, r in enumerate(self._resolvers):
            for _ in range(max(1, config.sockets_per_resolver)):
                s = socket.socket(r.family, socket.SOCK_DGRAM)
                s.setblocking(False)
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, config.recv_buffer)
                s.connect(r.addr)
                us = _UdpSocket(s, ri)
                r.sockets.append(us)
                self._udp[us.fd] = us
                self._ep.register(s.fileno(), select.EPOLLIN)

    # -- public ------------------------------------------------------------------------
    def submit(self, query: Query) -> None:
        if not query.body:
            query.body = query.wire + self.question_tail(query.qtype_code)
        self._queue.append(query)

    def submit_prepared(self, queries: list[Query]) -> None:
        """Queue queries whose ``body`` the caller built as ``wire + question_tail(code)``
        (a domain's base questions, made in one go). They go out after the questions given to
        :meth:`submit` (follow-ups of domains under way): when the window or the rate budget
        is the limit, domains under way finish first instead of waiting behind every new
        domain's questions."""
        self._fresh.extend(queries)

    def check_resolvers(self, zone: str) -> None:
        """Ask every resolver for a random name directly under ``zone`` (a real zone without
        a wildcard, e.g. the registry of the first domain scanned): the answer must be
        NXDOMAIN. Until its answer comes, a resolver is not used (when others are); one that
        answers with data is marked lying and not used while an honest resolver is alive."""
        zone = zone.strip(".")
        if not zone or len(zone) > 200:
            return
        now = time.monotonic()
        for ri, r in enumerate(self._resolvers):
            label = "sovmap-nx-" + os.urandom(8).hex()
            q = _LieCheck(f"{label}.{zone}", "A", self._lie_verdict)
            q.pin = ri
            q.body = q.wire + self.question_tail(q.qtype_code)
            r.verdict_pending = True
            self._send_to(ri, q, now)
        self._update_usable()

    def _lie_verdict(self, q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        assert isinstance(q, _LieCheck)
        r = self._resolvers[q.pin]
        r.verdict_pending = False
        if status is Status.NOERROR and any(a.rtype in ("A", "AAAA", "CNAME") for a in answers):
            r.lying = True
            r.counts[_LYING] = 1
        self._update_usable()

    def _send_to(self, ri: int, q: Query, now: float) -> None:
        """Send one query to resolver ``ri`` now, outside the queues and the rate budget."""
        r = self._resolvers[ri]
        us = r.sockets[0]
        if not us.free_ids:
            return
        qid = us.free_ids.popleft()
        msg = _QUERY_HEADER.pack(qid, 0x0100, 1, 0, 0, 1 if self.config.edns_payload else 0)
        try:
            us.sock.send(msg + q.body)
        except OSError:
            us.free_ids.append(qid)
            self._final(q, Status.OTHER)
            return
        r.inflight += 1
        self._sent(us, [(qid, q)], now)

    def question_tail(self, qtype_code: int) -> bytes:
        """What follows the name in a query as this engine sends it: type, class and the
        EDNS0 record when configured."""
        tail = self._tails.get(qtype_code)
        if tail is None:
            tail = self._tails[qtype_code] = build_query(
                0, b"", qtype_code, edns_payload=self.config.edns_payload
            )[12:]
        return tail

    @property
    def outstanding(self) -> int:
        return (
            len(self._queue)
            + len(self._fresh)
            + len(self._retries)
            + self._inflight
            + len(self._tcp)
        )

    def close(self) -> None:
        for us in self._udp.values():
            us.sock.close()
        for conn in self._tcp.values():
            conn.sock.close()
        self._ep.close()

    def poll(self, wait: float = 0.05) -> None:
        """Send what may be sent, wait up to ``wait`` s for answers, handle expiries.

        Raises :class:`~sovmap.errors.NetworkError` when every resolver is dead."""
        self._send_queued()
        now = time.monotonic()
        nearest = self._nearest_deadline()
        if nearest is not None:
            wait = max(0.0, min(wait, nearest - now))
        queued = self._queue or self._fresh or self._retries
        if queued and any(r.inflight < r.cap and r.usable for r in self._resolvers):
            wait = 0.0 if self.config.rate is None else min(wait, 0.005)
        elif queued:
            wait = min(wait, 0.05)  # dead resolvers are probed, verdicts come
        events = self._ep.poll(wait)
        for fd, ev in events:
            us = self._udp.get(fd)
            if us is not None:
                if ev & select.EPOLLERR:
                    self._socket_error(us)
                self._recv_udp(us)
            else:
                conn = self._tcp.get(fd)
                if conn is not None:
                    self._tcp_event(fd, conn, ev)
        self._expire(time.monotonic())

    def run(self) -> None:
        while self.outstanding:
            self.poll(0.2)

    # -- sending -----------------------------------------------------------------------
    def _pick_resolver(self, q: Query, now: float) -> int:
        n = len(self._resolvers)
        start = (q.resolver + 1) % n if q.resolver >= 0 else self._next_resolver
        # a retried question goes to another resolver (rotation), back to the one that
        # failed it only when every other one is dead or not in use
        last = n - 1 if q.resolver >= 0 and n > 1 and self._others_usable(q.resolver) else n
        for k in range(last):
            ri = (start + k) % n
            r = self._resolvers[ri]
            if r.inflight >= r.cap:
                continue
            if not r.usable:
                # a dead resolver that never answered gets one real question every
                # probe_every seconds; one that did is asked that question instead (_health)
                if not (r.dead and r.known is None and now >= r.next_probe):
                    continue
                r.next_probe = now + self.config.probe_every
                return ri
            rate = r.rate
            if rate is not None:
                r.tokens = min(rate * 0.1 + 1, r.tokens + (now - r.updated) * rate)
                r.updated = now
                if r.tokens < 1:
                    continue
                r.tokens -= 1
            if q.resolver < 0:
                self._next_resolver = (ri + 1) % n
            return ri
        return -1

    def _others_usable(self, ri: int) -> bool:
        return any(r.usable for i, r in enumerate(self._resolvers) if i != ri)

    def _send_queued(self) -> None:
        if self._retries:
            self._send_general(self._retries)
        if not self._queue and not self._fresh:
            return
        only = self._resolvers[0] if len(self._resolvers) == 1 and not self.config.rate else None
        fast_round = only is not None and only.usable and self._fast is not None
        for queue in (self._queue, self._fresh):
            if queue:
                if fast_round:
                    assert only is not None
                    self._send_round(only, queue)
                else:
                    self._send_general(queue)

    def _send_round(self, r: _Resolver, queue: deque[Query]) -> None:
        """The common case, one resolver, no rate limit, the accelerator built: a round of
        first attempts goes out on one socket in one call that also keeps the books."""
        assert self._fast is not None
        self._round += 1
        us = r.sockets[self._round % len(r.sockets)]
        free_ids = us.free_ids
        room = min(r.cap - r.inflight, len(queue), len(free_ids))
        if room <= 0:
            return
        popleft = queue.popleft
        take_id = free_ids.popleft
        queries = [popleft() for _ in range(room)]
        ids = [take_id() for _ in range(room)]
        try:
            entries = self._fast.send_queries(
                us.fd, ids, queries, us.pending, 0, 1 if self.config.edns_payload else 0
            )
            error = 0
        except OSError as exc:
            entries = []
            error = exc.errno or 0
        sent = len(entries)
        if sent:
            now = time.monotonic()
            self._push_deadline(now + self._timeout_of(r, 0), us.fd, entries)
            self.stats.sent += sent
            self._retry_tokens += sent * self._retry_share
            r.inflight += sent
            r.counts[_SENT] += sent
            self._inflight += sent
            if not r.last_heard:
                r.last_heard = now
            if len(self._samples) < 64:
                self._samples[queries[0]] = now
        if sent < room:
            free_ids.extend(ids[sent:])
            self._unsent(r, queries[sent:], sent > 0, error, queue)

    def _send_general(self, queue: deque[Query]) -> None:
        """Any number of resolvers, rate limits, later attempts, with or without the
        accelerator: each query picks its resolver; one socket per resolver per round."""
        now = time.monotonic()
        pack = _QUERY_HEADER.pack
        arcount = 1 if self.config.edns_payload else 0
        batched = self._fast is not None
        self._round += 1
        batches: dict[int, tuple[_UdpSocket, list[bytes], list[tuple[int, Query]]]] = {}
        while queue:
            q = queue[0]
            ri = self._pick_resolver(q, now)
            if ri < 0:
                break
            r = self._resolvers[ri]
            us = r.sockets[self._round % len(r.sockets)]
            if not us.free_ids:
                break
            queue.popleft()
            qid = us.free_ids.popleft()
            r.inflight += 1  # held for this round; given back below if it does not go out
            msg = pack(qid, 0x0100, 1, 0, 0, arcount) + q.body
            batch = batches.get(ri)
            if batch is None:
                batch = batches[ri] = (us, [], [])
            if batched:
                batch[1].append(msg)
                batch[2].append((qid, q))
                continue
            try:
                us.sock.send(msg)
            except OSError as exc:
                us.free_ids.append(qid)
                r.inflight -= 1
                if exc.errno in (errno.EAGAIN, errno.ENOBUFS, errno.ECONNREFUSED):
                    queue.appendleft(q)
                    if exc.errno == errno.ECONNREFUSED:
                        self._unreachable(r)
                    break
                self._final(q, Status.OTHER)
                continue
            batch[2].append((qid, q))
        for us, msgs, sent_queries in batches.values():
            if batched:
                sent_queries = self._flush(us, msgs, sent_queries, queue)
            self._sent(us, sent_queries, now)

    def _sent(self, us: _UdpSocket, sent: list[tuple[int, Query]], now: float) -> None:
        """Book the queries that went out on a socket: pending, their deadlines (the
        resolver's in-flight count was taken when they were picked)."""
        if not sent:
            return
        rounds: dict[int, list[tuple[int, Query, int]]] = {}
        for qid, q in sent:
            q.resolver = us.resolver
            q.deadline_gen += 1
            us.pending[qid] = q
            rounds.setdefault(min(q.attempt, 6), []).append((qid, q, q.deadline_gen))
        r = self._resolvers[us.resolver]
        for attempt, entries in rounds.items():
            self._push_deadline(now + self._timeout_of(r, attempt), us.fd, entries)
        self._inflight += len(sent)
        self.stats.sent += len(sent)
        self._retry_tokens += len(sent) * self._retry_share
        r.counts[_SENT] += len(sent)
        if not r.last_heard:
            r.last_heard = now
        if len(self._samples) < 64:
            self._samples[sent[0][1]] = now

    def _flush(
        self,
        us: _UdpSocket,
        msgs: list[bytes],
        queries: list[tuple[int, Query]],
        queue: deque[Query],
    ) -> list[tuple[int, Query]]:
        """Send one socket's batch; queries whose datagram did not go out go back to the
        front of their queue (or fail, when the socket refuses outright). Returns the sent."""
        assert self._fast is not None
        try:
            done = self._fast.send_batch(us.fd, msgs)
            error = 0
        except OSError as exc:
            done = 0
            error = exc.errno or 0
        if done == len(msgs):
            return queries
        unsent = queries[done:]
        us.free_ids.extend(qid for qid, _ in unsent)
        r = self._resolvers[us.resolver]
        r.inflight -= len(unsent)
        self._unsent(r, [q for _, q in unsent], done > 0, error, queue)
        return queries[:done]

    def _unsent(
        self,
        r: _Resolver,
        unsent: list[Query],
        some_sent: bool,
        error: int,
        queue: deque[Query],
    ) -> None:
        """Queries whose datagrams did not go out: when the socket buffer was only full (part
        of the batch went, or EAGAIN/ENOBUFS) they go back to the front of their queue, to
        be sent first; so they do when nothing listens at the resolver (ECONNREFUSED, an
        earlier datagram's ICMP port unreachable: the resolver is dead); a socket that
        refused outright for another reason fails them."""
        if some_sent or error in (errno.EAGAIN, errno.ENOBUFS, errno.ECONNREFUSED):
            queue.extendleft(reversed(unsent))
            if error == errno.ECONNREFUSED:
                self._unreachable(r)
        else:
            for q in unsent:
                self._final(q, Status.OTHER)

    # -- receiving ---------------------------------------------------------------------
    def _recv_udp(self, us: _UdpSocket) -> None:
        if self._fast is not None:
            self._recv_udp_batched(us)
            return
        sock = us.sock
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                return
            except ConnectionRefusedError:
                # ICMP port unreachable for one of our datagrams: nothing listens there
                self._unreachable(self._resolvers[us.resolver])
                continue
            except OSError:
                return
            self._datagram(us, data)

    def _recv_udp_batched(self, us: _UdpSocket) -> None:
        """Up to 64 datagrams per call, matched, parsed and released in C; what the C
        parser leaves (unusual or malformed messages) takes the Python path."""
        assert self._fast is not None
        recv_answers = self._fast.recv_answers
        pending = us.pending
        release = us.free_ids.append
        r = self._resolvers[us.resolver]
        handle = self._handle_response
        noerror, nxdomain = Status.NOERROR, Status.NXDOMAIN
        samples = self._samples
        while True:
            try:
                items, received, released, mismatched, short = recv_answers(
                    us.fd, pending, release, 64
                )
            except ConnectionRefusedError:
                self._unreachable(r)  # ICMP port unreachable: nothing listens there
                continue
            except OSError:
                return
            if received:
                # a live resolver's batch only counts (its time is taken in _health); one
                # that was silent, dead or unreachable is heard at once
                r.batches += 1
                if r.silent or r.dead or r.unreachable:
                    self._heard(r)
            if released:
                r.inflight -= released
                self._inflight -= released
            if mismatched:
                self.stats.mismatched += mismatched
            self._batches += 1
            if samples and not self._batches & 7:
                # every eighth batch is looked through for sampled queries (a look at every
                # answer cost 2.6% of the engine's CPU per question on loopback); samples whose
                # answer came in another batch are dropped as stale (_health)
                now = time.monotonic()
                for item in items:
                    if type(item) is not bytes:
                        sent_at = samples.pop(item[0], None)
                        if sent_at is not None:
                            self._rtt_sample(r, now - sent_at)
            for _ in range(short):
                self._count_wire("short")
            ok = 0  # NOERROR and NXDOMAIN answers, counted for the window once per batch
            if r.known is None:
                self._remember(r, items)
            for item in items:
                if type(item) is bytes:
                    self._datagram(us, item)
                    continue
                q, flags, answers = item
                code = flags & 0x020F  # truncation bit and RCODE
                if code in {0, 3}:
                    ok += 1
                    q.answers_cb(q, noerror if code == 0 else nxdomain, answers)
                elif code & 0x0200:
                    self._start_tcp(q)
                else:
                    handle(q, code, answers)
            if ok:
                self._answered(r, ok, 0)
            if received < 64:
                return

    def _datagram(self, us: _UdpSocket, data: bytes) -> None:
        """One datagram: matched by ID and echoed question, parsed in C when the accelerator
        is on and decides the message, in Python otherwise."""
        if len(data) < 12:
            self._count_wire("short")
            return
        qid = (data[0] << 8) | data[1]
        q = us.pending.get(qid)
        if q is None:
            self.stats.mismatched += 1
            self._heard(self._resolvers[us.resolver])  # a late answer: slow, not dead
            return
        fallbacks = 0
        try:
            parsed = self._fast.parse(data) if self._fast is not None else None
            if parsed is not None:
                _, flags, question, _, answers = parsed
                rcode, truncated = flags & 0x000F, bool(flags & 0x0200)
            else:
                resp = parse_response_py(data)
                question, rcode, truncated, answers = (
                    resp.question,
                    resp.rcode,
                    resp.truncated,
                    resp.answers,
                )
                fallbacks = resp.fallbacks
        except WireError as exc:
            self._malformed(us, qid, q, exc)
            return
        if question != q.question:
            self.stats.mismatched += 1
            return
        r = self._resolvers[us.resolver]
        self._heard(r)
        sent_at = self._samples.pop(q, None)
        if sent_at is not None:
            self._rtt_sample(r, time.monotonic() - sent_at)
        self._release(us, qid, q)
        self.stats.fallbacks += fallbacks
        if truncated:
            self._start_tcp(q)
            return
        self._handle_response(q, rcode, answers)

    def _malformed(self, us: _UdpSocket, qid: int, q: Query, exc: WireError) -> None:
        self._count_wire(exc.code)
        self.stats.malformed += 1
        self._release(us, qid, q)
        self._retry_or_final(q, Status.MALFORMED, backoff=False)

    def _release(self, us: _UdpSocket, qid: int, q: Query) -> None:
        del us.pending[qid]
        us.free_ids.append(qid)  # (the C receive path does these four steps itself)
        self._resolvers[us.resolver].inflight -= 1
        self._inflight -= 1
        q.deadline_gen += 1

    def _handle_response(self, q: Query, rcode: int, answers: tuple[RR, ...]) -> None:
        status = _STATUS_BY_RCODE.get(rcode, Status.OTHER)
        r = self._resolvers[q.resolver]
        if status is Status.SERVFAIL or status is Status.REFUSED:
            r.counts[_FAILED] += 1
            self._answered(r, 0, 1)
            self._retry_or_final(q, status, backoff=False, only_other=True)
            return
        if r.known is None and (status is Status.NOERROR or status is Status.NXDOMAIN):
            r.known = (q.qname, q.qtype, q.wire)
        self._answered(r, 1, 0)
        q.answers_cb(q, status, answers)

    def _answered(self, r: _Resolver, ok: int, failed: int) -> None:
        """Count answers for a resolver's window: ``ok`` usable ones (each grows the
        in-flight cap, slow start then one per window) and ``failed`` SERVFAIL/REFUSED;
        a window in which more than ``failure_share`` failed halves the cap."""
        r.window += ok + failed
        r.failures += failed
        r.counts[_ANSWERED] += ok
        if r.window >= r.cap:
            if r.failures > r.window * self.config.failure_share:
                self._backoff(r)
            elif r.rate is not None and self.config.rate is not None and r.rate < self.config.rate:
                r.rate = min(self.config.rate, r.rate + self.config.rate / 10)
            r.window = r.failures = 0
        self.stats.answered += ok
        if self.config.rate is not None and not self.config.fixed_inflight:
            return  # the window is the bandwidth-delay product (_rtt_sample), not grown here
        top = self.config.max_inflight
        for _ in range(ok):
            if r.cap >= top:
                break
            if r.cap < r.ssthresh:
                r.cap += 1
            else:
                r.grown += 1
                if r.grown >= r.cap:
                    r.grown = 0
                    r.cap += 1

    def _backoff(self, r: _Resolver) -> None:
        """A storm of failures (timeouts, SERVFAIL, REFUSED) from ``r``: with a rate budget
        its rate halves (down to a twentieth); without, its window halves."""
        if r.rate is not None and self.config.rate is not None:
            r.rate = max(self.config.rate / 20, r.rate / 2)
            return
        r.cap = max(self.config.min_inflight, r.cap // 2)
        r.ssthresh = r.cap

    def _retry_or_final(
        self, q: Query, status: Status, *, backoff: bool, only_other: bool = False
    ) -> None:
        if backoff:
            self._backoff(self._resolvers[q.resolver])
        best: Status | None = getattr(q, "best", None)
        if best is None or _INFORMATIVE[status] > _INFORMATIVE[best]:
            q.best = status
        q.attempt += 1
        may_retry = q.attempt < self.config.attempts
        if only_other and len(self._resolvers) == 1:
            may_retry = False
        if isinstance(q, _Pinned):
            may_retry = False
        elif may_retry and self._retry_tokens < 1:
            self.stats.retries_refused += 1
            may_retry = False
        if may_retry:
            self._retry_tokens -= 1
            self.stats.retries += 1
            self._retries.append(q)
        else:
            self._final(q, status)

    def _final(self, q: Query, status: Status) -> None:
        best: Status | None = getattr(q, "best", None)
        if best is not None and _INFORMATIVE[best] > _INFORMATIVE[status]:
            status = best
        if not isinstance(q, _Pinned):
            self.stats.final_errors += 1
        q.answers_cb(q, status, ())

    # -- round trips and health --------------------------------------------------------
    def _timeout_of(self, r: _Resolver, attempt: int) -> float:
        """A query's timeout on ``r``: its RTO, doubled after timeouts and per attempt, at
        most 60 s. Before its first sample a resolver has four times the largest RTO measured
        on the others (``timeout`` when none was measured); a dead one ``timeout``."""
        if r.dead:
            return self.config.timeout
        base = r.rto if r.srtt else self._unsampled_rto
        return min(60.0, base * r.rto_backoff * (1 << attempt))

    def _rtt_sample(self, r: _Resolver, rtt: float) -> None:
        """One round trip measured on ``r``: SRTT, RTTVAR and the RTO as in RFC 6298; with a
        rate budget the window becomes the bandwidth-delay product."""
        if r.srtt == 0.0:
            r.srtt, r.rttvar = rtt, rtt / 2
        else:
            r.rttvar = 0.75 * r.rttvar + 0.25 * abs(r.srtt - rtt)
            r.srtt = 0.875 * r.srtt + 0.125 * rtt
        cfg = self.config
        r.rto = min(cfg.timeout, max(cfg.min_timeout, r.srtt + 4 * r.rttvar))
        r.rto_backoff = 1
        longest = max(x.rto for x in self._resolvers if x.srtt)
        self._unsampled_rto = min(cfg.timeout, 4 * longest)
        if cfg.rate is not None and r.rate is not None:
            bdp = math.ceil(r.rate * r.rto * 1.5) + cfg.min_inflight
            if cfg.fixed_inflight:
                bdp = min(bdp, cfg.max_inflight)
            r.cap = min(_MAX_WINDOW, bdp)

    def _heard(self, r: _Resolver) -> None:
        """Something came from ``r``: it is alive (a dead one comes back)."""
        r.silent = 0
        r.rto_backoff = 1  # the path works: a timeout was a loss, not a longer round trip
        r.unreachable = False
        r.last_heard = self._last_heard_any = time.monotonic()
        if r.dead:
            r.dead = False
            r.counts[_REVIVED] += 1
            self._update_usable()

    @staticmethod
    def _remember(r: _Resolver, items: list[object]) -> None:
        """Keep the first question ``r`` answered (NOERROR or NXDOMAIN) for health checks."""
        for item in items:
            if isinstance(item, tuple) and item[1] & 0x020F in (0, 3):
                q = item[0]
                r.known = (q.qname, q.qtype, q.wire)
                return

    def _check_health(self, r: _Resolver, ri: int, now: float) -> None:
        """Ask a silent resolver a question it answered before, once per ``probe_every``."""
        if r.known is None or now < r.next_probe or not r.sockets:
            return
        r.next_probe = now + self.config.probe_every
        qname, qtype, wire = r.known
        q = _HealthCheck(qname, qtype, _ignore_answer, wire)
        q.pin = ri
        q.body = q.wire + self.question_tail(q.qtype_code)
        r.counts[_HEALTH_CHECKS] += 1
        self._send_to(ri, q, now)

    def _update_usable(self) -> None:
        """Which resolvers take questions: alive, not waiting for the lie check's answer (when
        another one is ready), and honest (when an honest one is alive)."""
        rs = self._resolvers
        alive = [r for r in rs if not r.dead]
        honest = [r for r in alive if not r.lying]
        pool = honest or alive
        ready = [r for r in pool if not r.verdict_pending]
        for r in rs:
            r.usable = r in ready

    def _timed_out(self, r: _Resolver, now: float) -> None:
        """A query of ``r`` timed out: its RTO doubles until the next sample; a resolver silent
        long enough is marked dead and its queries move to the others."""
        r.silent += 1
        r.counts[_TIMEOUTS] += 1
        r.rto_backoff = min(r.rto_backoff * 2, 8)
        cfg = self.config
        if r.dead or r.silent < cfg.dead_timeouts or now - r.last_heard < cfg.dead_after:
            return
        self._mark_dead(r, now)

    def _mark_dead(self, r: _Resolver, now: float) -> None:
        """``r`` is dead: its queries move to the others (no attempt spent); probed later."""
        cfg = self.config
        r.dead = True
        r.dead_since = now
        r.counts[_DEAD] = 1
        r.next_probe = now + cfg.probe_every
        for us in r.sockets:
            for qid, q in list(us.pending.items()):
                if isinstance(q, _Pinned):
                    continue
                self._release(us, qid, q)
                self._samples.pop(q, None)
                self._retries.append(q)  # moved: no attempt spent
        self._update_usable()

    def _socket_error(self, us: _UdpSocket) -> None:
        """An error pending on a resolver's socket (read and cleared here)."""
        err = us.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == errno.ECONNREFUSED:
            self._unreachable(self._resolvers[us.resolver])

    def _unreachable(self, r: _Resolver) -> None:
        """The kernel reported that nothing listens at ``r``'s address (ICMP port unreachable):
        dead at once; when every resolver is so, the engine stops without waiting."""
        r.unreachable = True
        if not r.dead:
            self._mark_dead(r, time.monotonic())
        if all(x.unreachable for x in self._resolvers):
            self._check_all_dead(time.monotonic())

    def _network_silent(self) -> bool:
        """Every resolver timed out its last ``dead_timeouts`` questions or more."""
        n = self.config.dead_timeouts
        return all(r.silent >= n for r in self._resolvers)

    def _health(self, now: float) -> None:
        """Every tenth of a second: mark resolvers that stayed silent dead, and stop when all
        are dead."""
        self._next_health = now + 0.1
        cfg = self.config
        for r in self._resolvers:
            if r.batches != r.batches_seen:
                r.batches_seen = r.batches
                r.last_heard = self._last_heard_any = now
        if len(self._samples) >= 64:
            stale = now - 2 * cfg.timeout
            for q in [q for q, sent_at in self._samples.items() if sent_at < stale]:
                del self._samples[q]
        for ri, r in enumerate(self._resolvers):
            if (
                not r.dead
                and r.silent >= cfg.dead_timeouts
                and now - r.last_heard >= cfg.dead_after
            ):
                self._mark_dead(r, now)
            if r.dead or r.silent >= cfg.dead_timeouts:
                self._check_health(r, ri, now)
        if any(r.dead for r in self._resolvers):
            self._check_all_dead(now)

    def _check_all_dead(self, now: float) -> None:
        if not all(r.dead for r in self._resolvers):
            return
        # a resolver that answered before is given up only when its health checks, sent from
        # the moment it was marked dead, stay unanswered for give_up_after as well
        heard = max(
            r.last_heard if r.known is None else max(r.last_heard, r.dead_since)
            for r in self._resolvers
        )
        unreachable = all(r.unreachable for r in self._resolvers)
        if now - heard < self.config.give_up_after and not unreachable:
            return
        names = ", ".join(_addr_text(r.addr) for r in self._resolvers)
        params = {"resolvers": names, "seconds": f"{now - heard:.0f}"}
        code = "NET_UNREACHABLE" if unreachable else "NET_ALL_DEAD"
        raise ResolversDead(t("en", code, **params), code, params)

    def _count_wire(self, code: str) -> None:
        self.stats.wire_errors[code] = self.stats.wire_errors.get(code, 0) + 1

    # -- timeouts ----------------------------------------------------------------------
    def _push_deadline(
        self, deadline: float, fd: int, entries: list[tuple[int, Query, int]]
    ) -> None:
        self._seq += 1
        heapq.heappush(self._timeouts, (deadline, self._seq, fd, entries))

    def _nearest_deadline(self) -> float | None:
        head = self._timeouts[0][0] if self._timeouts else None
        if self._tcp:
            tcp = min(c.deadline for c in self._tcp.values())
            head = tcp if head is None else min(head, tcp)
        return head

    def _expire(self, now: float) -> None:
        heap = self._timeouts
        while heap and heap[0][0] <= now:
            _, _, fd, entries = heapq.heappop(heap)
            us = self._udp[fd]
            r = self._resolvers[us.resolver]
            for qid, q, gen in entries:
                if q.deadline_gen != gen:
                    continue  # answered or re-sent since
                if us.pending.get(qid) is not q:
                    continue
                self._release(us, qid, q)
                self._samples.pop(q, None)  # Karn: no sample from a query that timed out
                self.stats.timeouts += 1
                self._timed_out(r, now)
                if r.dead and not isinstance(q, _Pinned):
                    self._retries.append(q)  # on a dead resolver: moved, no attempt spent
                    continue
                # one timeout says little on a lossy path; a storm of them backs off
                self._answered(r, 0, 1)
                if self._network_silent() and not isinstance(q, _Pinned):
                    # every resolver is timing out: the timeout says nothing about the name,
                    # the question waits (no attempt spent) for a resolver or the give-up
                    self._retries.append(q)
                    continue
                self._retry_or_final(q, Status.TIMEOUT, backoff=False)
        if now >= self._next_health:
            self._health(now)
        if not self._tcp:
            return
        for fd, conn in list(self._tcp.items()):
            if conn.deadline <= now:
                self._close_tcp(fd, conn)
                self.stats.timeouts += 1
                self._retry_or_final(conn.query, Status.TIMEOUT, backoff=False)

    # -- TCP ---------------------------------------------------------------------------
    def _start_tcp(self, q: Query) -> None:
        self._samples.pop(q, None)
        r = self._resolvers[q.resolver]
        s = socket.socket(r.family, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(r.addr)
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self._retry_or_final(q, Status.OTHER, backoff=False)
            return
        wire = build_query(
            random.randrange(65536), q.wire, q.qtype_code, edns_payload=self.config.edns_payload
        )
        conn = _TcpConn(s, q, q.resolver, wire)
        conn.deadline = time.monotonic() + self.config.tcp_timeout
        self._tcp[s.fileno()] = conn
        self._ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
        self.stats.tcp += 1

    def _close_tcp(self, fd: int, conn: _TcpConn) -> None:
        del self._tcp[fd]
        with contextlib.suppress(OSError):
            self._ep.unregister(fd)
        conn.sock.close()

    def _tcp_event(self, fd: int, conn: _TcpConn, ev: int) -> None:
        q = conn.query
        try:
            if not conn.sent and ev & select.EPOLLOUT:
                conn.sock.send(conn.wire)
                conn.sent = True
                self._ep.modify(fd, select.EPOLLIN)
                return
            if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                chunk = conn.sock.recv(65537)
                if chunk:
                    conn.buf += chunk
                if len(conn.buf) >= 2:
                    need = _U16.unpack_from(conn.buf, 0)[0]
                    if len(conn.buf) >= need + 2:
                        data = bytes(conn.buf[2 : 2 + need])
                        self._close_tcp(fd, conn)
                        self._tcp_done(q, data, conn.wire[2:4])
                        return
                if not chunk:
                    self._close_tcp(fd, conn)
                    self._retry_or_final(q, Status.OTHER, backoff=False)
        except BlockingIOError:
            return
        except OSError:
            self._close_tcp(fd, conn)
            self._retry_or_final(q, Status.OTHER, backoff=False)

    def _tcp_done(self, q: Query, data: bytes, qid_bytes: bytes) -> None:
        try:
            resp = parse_response(data)
        except WireError as exc:
            self._count_wire(exc.code)
            self.stats.malformed += 1
            self._retry_or_final(q, Status.MALFORMED, backoff=False)
            return
        if data[:2] != qid_bytes or resp.question != q.question:
            self.stats.mismatched += 1
            self._retry_or_final(q, Status.MALFORMED, backoff=False)
            return
        self._handle_response(q, resp.rcode, resp.answers)
