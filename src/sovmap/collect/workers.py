"""A scan spread over several processes.

The parent reads the input, hands domains out in chunks and owns the store; each worker runs
its own engine, probe plans and classifier and sends back finished rows (observations already
packed, findings already encoded), so the parent only writes. Every worker has its share of
the politeness limits (in-flight window and rate per resolver), so the resolvers see the same
load as from one process.

Input in flight to a worker is bounded (``max_active`` plus one chunk), the parent reads every
result waiting before it sends more input, and a worker drains its input pipe whenever it
reads it: neither side can block the other on a full pipe. A worker whose parent dies exits
(the kernel signals it, and a closed pipe ends it too), so a killed scan leaves nothing
running; what the workers had not handed over is simply scanned again on resume.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Any

from sovmap.collect.engine import RESOLVER_COUNTERS, Engine, EngineConfig
from sovmap.collect.inputs import DomainInput
from sovmap.collect.probes import ProbePlan
from sovmap.collect.scanner import WAIT, Scanner
from sovmap.errors import SovmapError
from sovmap.model import DomainResult, Finding
from sovmap.process import die_with_parent
from sovmap.store import Row, encode_results

CHUNK = 250  # domains per input message
SEND_EVERY = 0.2  # seconds: a worker hands over finished rows at least this often
SETTLE_BATCH = 32  # finished domains classified together


class WorkerError(RuntimeError):
    """A scan worker failed; the message carries its traceback."""


@dataclass
class WorkerJob:
    config: EngineConfig
    plan: ProbePlan
    max_active: int
    scan_id: int
    knowledge_version: str
    # sorts and classifies one result (the same function the single-process scan uses)
    process: Callable[[DomainResult], tuple[DomainResult, Sequence[Finding]]]


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    """A scan allocates millions of short-lived objects beside a large long-lived heap (the
    knowledge base, rules, plan): move the latter out of the cycle collector's view and run
    the young generation rarely; restored afterwards.

    A scan's objects die by reference counting (the collector found no cycles to free in a
    20,000-domain scan); what survives is the warm-up of the bounded caches (answers shared
    across domains, fingerprint matches: about 45 objects a domain until they are full).
    With a young generation of 50,000 the collector walked that warm-up 8 times a worker at
    1-2 µs an object, 5% of the workers' CPU; at 1,000,000 it does not run at all in such a
    scan, and would still catch a leak of cycles, with memory bounded by the same count."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(1_000_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def share_config(config: EngineConfig, workers: int) -> EngineConfig:
    """One worker's share of the per-resolver politeness limits (the shares never add up to
    more than the whole)."""
    if not 1 <= workers <= config.max_inflight:
        raise ValueError("workers must be at least 1 and at most the in-flight cap")
    cap = config.max_inflight // workers
    return replace(
        config,
        max_inflight=cap,
        min_inflight=min(cap, config.min_inflight),
        start_inflight=min(cap, config.start_inflight),
        rate=None if config.rate is None else config.rate / workers,
    )


def _worker_main(conn: Connection, job: WorkerJob) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        engine = Engine(job.config)
        scanner = Scanner(engine, job.plan, max_active=job.max_active)
        buf: deque[DomainInput] = deque()
        ended = False
        dom_rows: list[Row] = []
        find_rows: list[Row] = []
        counts = [0, 0]  # domains, questions not yet handed over
        last = time.monotonic()

        pending: list[DomainResult] = []

        def settle() -> None:
            # classify and encode the finished domains together, back to back, rather than
            # one at a time between engine polls (a tenth less CPU for both, measured)
            for result in pending:
                done, fs = job.process(result)
                d, f = encode_results(job.scan_id, [(done, fs)], job.knowledge_version)
                dom_rows.extend(d)
                find_rows.extend(f)
                counts[0] += 1
                counts[1] += result.queries
            pending.clear()

        def hand_over(force: bool) -> None:
            nonlocal dom_rows, find_rows, last
            if pending and (force or time.monotonic() - last >= SEND_EVERY):
                settle()
            if counts[0] and (force or time.monotonic() - last >= SEND_EVERY):
                # read what the parent is sending first: a blocking send on each side of a
                # full pipe would wait for ever
                while not ended and conn.poll(0):
                    take(conn.recv())
                conn.send(("rows", counts[0], counts[1], dom_rows, find_rows))
                dom_rows, find_rows = [], []
                counts[0] = counts[1] = 0
                last = time.monotonic()

        def take(msg: Any) -> None:
            nonlocal ended
            if msg is None:
                ended = True
            else:
                buf.extend(DomainInput(d, line, attrs) for d, line, attrs in msg)

        def source() -> Iterator[DomainInput]:
            # look at the pipe again only after a few dozen domains were taken (each look
            # costs a selector); the parent never has more than one chunk beyond the
            # worker's active domains in flight, so nothing piles up meanwhile
            look_at = 0
            while True:
                if (not buf or len(buf) <= look_at) and not ended:
                    while not ended and conn.poll(0):
                        take(conn.recv())
                    look_at = len(buf) - 50
                if buf:
                    yield buf.popleft()
                    continue
                if ended:
                    return
                if scanner.active:
                    yield WAIT
                    continue
                hand_over(True)  # idle: hand over everything before waiting for input
                take(conn.recv())

        def on_result(result: DomainResult) -> None:
            pending.append(result)
            if len(pending) >= SETTLE_BATCH:
                settle()
            hand_over(False)

        with tuned_gc():
            scanner.run(source(), on_result, lambda: hand_over(False))
        hand_over(True)
        conn.send(("end", scan_stats(scanner)))
        engine.close()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        os._exit(1)  # the parent is gone
    except SovmapError as exc:  # e.g. no resolver answers: the parent raises it as it is
        with contextlib.suppress(Exception):
            conn.send(("failed", exc))
        os._exit(1)
    except BaseException:
        with contextlib.suppress(Exception):
            conn.send(("error", traceback.format_exc()))
        os._exit(1)


def scan_stats(scanner: Scanner) -> dict[str, Any]:
    """The counters a scan reports (its transport's and the scanner's), as plain values."""
    stats = scanner.transport.stats
    out: dict[str, Any] = {
        "sent": stats.sent,
        "answered": stats.answered,
        "timeouts": stats.timeouts,
        "retries": stats.retries,
        "retries_refused": stats.retries_refused,
        "tcp": stats.tcp,
        "mismatched": stats.mismatched,
        "malformed": stats.malformed,
        "wire_errors": dict(stats.wire_errors),
        "cache_hits": scanner.counters.cache_hits,
    }
    # per probe kind and per resolver, flat ({key: {name: count}}) so merge_stats sums them
    by_probe = scanner.counters.by_probe
    out["probe_answered"] = {p: c[0] for p, c in by_probe.items()}
    out["probe_unanswered"] = {p: c[1] for p, c in by_probe.items()}
    for i, name in enumerate(RESOLVER_COUNTERS):
        out[f"resolver_{name}"] = {a: c[i] for a, c in stats.resolvers.items()}
    return out


def merge_stats(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            sub = total.setdefault(key, {})
            for k, v in value.items():
                sub[k] = sub.get(k, 0) + v
        else:
            total[key] = total.get(key, 0) + value


def run_workers(
    workers: int,
    job: WorkerJob,
    inputs: Iterator[DomainInput],
    on_rows: Callable[[int, int, list[Row], list[Row]], None],
    on_tick: Callable[[], None],
) -> dict[str, Any]:
    """Scan ``inputs`` with ``workers`` processes; ``on_rows(domains, questions, dom_rows,
    find_rows)`` receives finished rows in the parent. Returns the summed engine statistics."""
    ctx = multiprocessing.get_context("fork")
    job = replace(job, config=share_config(job.config, workers))
    conns: list[Connection] = []
    procs = []
    for _ in range(workers):
        parent_end, child_end = ctx.Pipe(duplex=True)
        p = ctx.Process(target=_worker_main, args=(child_end, job), daemon=True)
        p.start()
        child_end.close()
        conns.append(parent_end)
        procs.append(p)
    outstanding = dict.fromkeys(range(workers), 0)
    limit = job.max_active + CHUNK
    live = set(range(workers))
    stats: dict[str, Any] = {}
    exhausted = False
    try:
        while live:
            # read everything waiting before sending more input (no pipe can fill both ways);
            # do not sit waiting while a worker has room for input that is there to send
            hungry = not exhausted and any(outstanding[i] + CHUNK <= limit for i in live)
            ready = wait([conns[i] for i in live], timeout=0 if hungry else 0.5)
            for c in ready:
                i = conns.index(c)  # type: ignore[arg-type]
                try:
                    msg = conns[i].recv()
                except EOFError:
                    raise WorkerError(f"scan worker {i} ended without a word") from None
                kind = msg[0]
                if kind == "rows":
                    outstanding[i] -= msg[1]
                    on_rows(msg[1], msg[2], msg[3], msg[4])
                elif kind == "end":
                    merge_stats(stats, msg[1])
                    live.discard(i)
                elif kind == "failed":
                    raise msg[1]
                else:
                    raise WorkerError(f"scan worker {i} failed:\n{msg[1]}")
            for i in sorted(live, key=outstanding.__getitem__):
                while not exhausted and outstanding[i] + CHUNK <= limit:
                    chunk = [(d.domain, d.line, d.attributes) for d in islice(inputs, CHUNK)]
                    if chunk:
                        conns[i].send(chunk)
                        outstanding[i] += len(chunk)
                    if len(chunk) < CHUNK:
                        exhausted = True
                        for j in live:
                            conns[j].send(None)
            on_tick()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        for c in conns:
            c.close()
    return stats
