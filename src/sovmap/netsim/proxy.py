"""The simulated resolvers: :class:`Behaviour` (what one does), :class:`NetSim` (starts them).

Every question a proxy receives is, in this order: dropped when the proxy is dead at that
moment; refused (or dropped) when its source address is over the rate limit; lost with the
``loss`` probability; otherwise forwarded upstream under a message ID of the proxy's own. The
upstream's answer gets the client's ID back, is rewritten when it is an NXDOMAIN and the proxy
lies, and is sent ``latency ± jitter`` seconds after the question arrived (plus
``reorder_delay`` for a ``reorder`` share of answers). A refusal travels with the same delay.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import multiprocessing
import os
import random
import select
import signal
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from sovmap.errors import SovmapError
from sovmap.process import die_with_parent

_HEADER = struct.Struct("!HHHHHH")
_ID = struct.Struct("!H")
#: counters each proxy keeps in shared memory, in this order
_COUNTERS = (
    "received",
    "forwarded",
    "answered",
    "lost",
    "refused",
    "rate_dropped",
    "dead_dropped",
    "lied",
)


class NetSimError(SovmapError):
    """A simulated resolver was described or started wrongly."""


@dataclass(frozen=True)
class Behaviour:
    """How one simulated resolver behaves. Times in seconds, shares 0..1.

    ``rate``: questions per second allowed per source address (None: no limit), ``burst``
    questions above it tolerated at once (default a fifth of a second's worth);
    ``over_rate``: ``"refuse"`` (answer REFUSED) or ``"drop"`` (stay silent).
    ``dead``: never answers; ``dead_periods``: ``(start, end)`` seconds after the proxy started
    during which it answers nothing. ``lie``: an IPv4 address answered (type A, NOERROR) in
    place of every NXDOMAIN. ``seed``: makes the random draws repeatable.
    """

    latency: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.02
    rate: float | None = None
    burst: float | None = None
    over_rate: str = "refuse"
    dead: bool = False
    dead_periods: tuple[tuple[float, float], ...] = ()
    lie: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "reorder_delay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 60):
                raise NetSimError(f"{name} {value!r}: give 0 to 60 seconds")
        for name in ("loss", "reorder"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise NetSimError(f"{name} {value!r}: give a share from 0 to 1")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise NetSimError(f"rate {self.rate!r}: give more than 0 questions per second")
        if self.burst is not None and not (math.isfinite(self.burst) and self.burst >= 1):
            raise NetSimError(f"burst {self.burst!r}: give at least 1")
        if self.over_rate not in ("refuse", "drop"):
            raise NetSimError(f"over_rate {self.over_rate!r}: give 'refuse' or 'drop'")
        for start, end in self.dead_periods:
            if not 0 <= start < end:
                raise NetSimError(f"dead period ({start}, {end}): give 0 <= start < end")
        if self.lie is not None:
            try:
                socket.inet_pton(socket.AF_INET, self.lie)
            except OSError:
                raise NetSimError(f"lie {self.lie!r}: give an IPv4 address") from None


@dataclass(frozen=True)
class ProxyStats:
    """What one simulated resolver did so far."""

    received: int
    forwarded: int
    answered: int
    lost: int
    refused: int
    rate_dropped: int
    dead_dropped: int
    lied: int


def question_end(data: bytes) -> int:
    """The offset just past the first question of a DNS message (0 when there is none or it
    does not parse): names in questions are never compressed."""
    if len(data) < 12 or _HEADER.unpack_from(data)[2] < 1:
        return 0
    pos = 12
    while pos < len(data):
        n = data[pos]
        if n == 0:
            end = pos + 5
            return end if end <= len(data) else 0
        if n & 0xC0:
            return 0
        pos += n + 1
    return 0


def refusal(query: bytes) -> bytes | None:
    """A REFUSED answer to ``query`` echoing its ID, RD bit and question (None: unparsable)."""
    end = question_end(query)
    if not end:
        return None
    flags = 0x8080 | (query[2] & 0x01) << 8 | 5  # QR, RA, RD copied, RCODE 5
    return query[:2] + _HEADER.pack(0, flags, 1, 0, 0, 0)[2:] + query[12:end]


def lie_about(answer: bytes, address: bytes) -> bytes | None:
    """``answer`` (an NXDOMAIN) turned into NOERROR with one A record for the asked name
    pointing at ``address`` (4 bytes); None when the answer does not parse."""
    end = question_end(answer)
    if not end:
        return None
    flags = (answer[2] << 8 | answer[3]) & 0xFFF0  # RCODE 0, other flags kept
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + address
    return answer[:2] + _HEADER.pack(0, flags, 1, 1, 0, 0)[2:] + answer[12:end] + record


class _Proxy:
    """One simulated resolver's loop (runs in its own process)."""

    def __init__(
        self,
        listen: socket.socket,
        upstream: tuple[str, int],
        behaviour: Behaviour,
        counters: Any,
    ) -> None:
        self.b = behaviour
        self.client = listen
        self.up = socket.socket(
            socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET, socket.SOCK_DGRAM
        )
        for s in (self.client, self.up):
            s.setblocking(False)
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.up.connect(upstream)
        self.counters = counters
        self.local = [0] * len(_COUNTERS)
        self.rng = random.Random(behaviour.seed if behaviour.seed is not None else os.urandom(16))
        self.heap: list[tuple[float, int, bytes, Any]] = []
        self.seq = 0
        self.pending: dict[int, tuple[Any, bytes, float]] = {}
        self.next_id = self.rng.randrange(65536)
        self.buckets: dict[str, list[float]] = {}
        self.started = time.monotonic()
        self.lie = socket.inet_aton(behaviour.lie) if behaviour.lie else None

    def dead_at(self, now: float) -> bool:
        if self.b.dead:
            return True
        since = now - self.started
        return any(a <= since < b for a, b in self.b.dead_periods)

    def over_rate(self, source: str, now: float) -> bool:
        rate = self.b.rate
        if rate is None:
            return False
        burst = self.b.burst if self.b.burst is not None else max(1.0, rate / 5)
        bucket = self.buckets.get(source)
        if bucket is None:
            bucket = self.buckets[source] = [burst, now]
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            return True
        bucket[0] = tokens - 1
        return False

    def delay(self) -> float:
        b = self.b
        d = b.latency
        if b.jitter:
            d = max(0.0, self.rng.gauss(d, b.jitter))
        if b.reorder and self.rng.random() < b.reorder:
            d += b.reorder_delay
        return d

    def reply_later(self, data: bytes, addr: Any, arrived: float, now: float) -> None:
        due = arrived + self.delay()
        if due <= now:
            self.send(data, addr)
        else:
            self.seq += 1
            heapq.heappush(self.heap, (due, self.seq, data, addr))

    def send(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(OSError):
            self.client.sendto(data, addr)
            self.local[2] += 1

    def on_query(self, data: bytes, addr: Any, now: float) -> None:
        c = self.local
        c[0] += 1
        if len(data) < 12:
            return
        if self.dead_at(now):
            c[6] += 1
            return
        if self.over_rate(addr[0], now):
            if self.b.over_rate == "refuse":
                reply = refusal(data)
                if reply is not None:
                    c[4] += 1
                    self.reply_later(reply, addr, now, now)
                    return
            c[5] += 1
            return
        if self.b.loss and self.rng.random() < self.b.loss:
            c[3] += 1
            return
        pid = self.next_id = (self.next_id + 1) & 0xFFFF
        self.pending[pid] = (addr, data[:2], now)
        try:
            self.up.send(_ID.pack(pid) + data[2:])
            c[1] += 1
        except OSError:
            del self.pending[pid]

    def on_answer(self, data: bytes, now: float) -> None:
        if len(data) < 12:
            return
        entry = self.pending.pop(_ID.unpack_from(data)[0], None)
        if entry is None:
            return
        addr, qid, arrived = entry
        data = qid + data[2:]
        if self.lie is not None and data[3] & 0x0F == 3:
            forged = lie_about(data, self.lie)
            if forged is not None:
                data = forged
                self.local[7] += 1
        self.reply_later(data, addr, arrived, now)

    def publish(self) -> None:
        for i, v in enumerate(self.local):
            self.counters[i] = v

    def run(self) -> None:
        ep = select.epoll()
        cfd, ufd = self.client.fileno(), self.up.fileno()
        ep.register(cfd, select.EPOLLIN)
        ep.register(ufd, select.EPOLLIN)
        client_recv, up_recv = self.client.recvfrom, self.up.recv
        heap = self.heap
        last_publish = 0.0
        while True:
            now = time.monotonic()
            wait = 0.05
            if heap:
                wait = max(0.0, min(wait, heap[0][0] - now))
            for fd, _ in ep.poll(wait):
                now = time.monotonic()
                if fd == cfd:
                    for _ in range(256):
                        try:
                            data, addr = client_recv(65535)
                        except OSError:
                            break
                        self.on_query(data, addr, now)
                else:
                    for _ in range(256):
                        try:
                            data = up_recv(65535)
                        except OSError:
                            break
                        self.on_answer(data, now)
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                _, _, data, addr = heapq.heappop(heap)
                self.send(data, addr)
            if now - last_publish >= 0.05:
                self.publish()
                last_publish = now
                if len(self.pending) > 60000:  # answers the upstream never gave
                    cutoff = now - 30
                    for k in [k for k, v in self.pending.items() if v[2] < cutoff]:
                        del self.pending[k]


def _main(listen: socket.socket, upstream: tuple[str, int], b: Behaviour, counters: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    _Proxy(listen, upstream, b, counters).run()


class NetSim:
    """One simulated resolver process per :class:`Behaviour`, each on its own loopback port,
    all in front of ``upstream``. Use as a context manager; :attr:`addresses` are the
    resolvers to give the engine, :meth:`stats` what each did."""

    def __init__(
        self, upstream: tuple[str, int], behaviours: Sequence[Behaviour], host: str = "127.0.0.1"
    ) -> None:
        if not behaviours:
            raise NetSimError("give at least one behaviour")
        self.upstream = upstream
        self.behaviours = list(behaviours)
        self.host = host
        self.addresses: list[tuple[str, int]] = []
        self._procs: list[Any] = []
        self._counters: list[Any] = []

    def start(self) -> NetSim:
        ctx = multiprocessing.get_context("fork")
        for b in self.behaviours:
            sock = socket.socket(
                socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM
            )
            sock.bind((self.host, 0))
            counters: Synchronized[int] | Any = ctx.Array("q", len(_COUNTERS), lock=False)
            p = ctx.Process(target=_main, args=(sock, self.upstream, b, counters), daemon=True)
            p.start()
            self.addresses.append((self.host, int(sock.getsockname()[1])))
            sock.close()  # the child holds its copy
            self._procs.append(p)
            self._counters.append(counters)
        return self

    def stats(self, index: int) -> ProxyStats:
        c = self._counters[index]
        return ProxyStats(*(int(c[i]) for i in range(len(_COUNTERS))))

    def stop(self) -> None:
        for p in self._procs:
            if p.is_alive():
                p.kill()
        for p in self._procs:
            p.join(5)
        self._procs.clear()

    def __enter__(self) -> NetSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Behaviour", "NetSim", "NetSimError", "ProxyStats", "lie_about", "refusal"]
