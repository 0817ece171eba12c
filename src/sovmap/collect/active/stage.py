"""HTTP and SMTP probes beside the DNS loop: a domain whose DNS answers are in is handed to
one probing thread (one request at a time per host, at the politeness interval), and comes
back to the scanning thread to be classified and written. The DNS loop never waits on HTTP or
SMTP: when ``pending`` domains wait for their probes, the input is paused (the scanner's
``WAIT``) while the loop keeps answering the questions in flight, so memory stays bounded and
no DNS question times out behind a slow web server."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Protocol

from sovmap.collect.active import ActiveProber
from sovmap.collect.engine import Engine
from sovmap.collect.inputs import DomainInput
from sovmap.collect.probes import ProbePlan
from sovmap.collect.scanner import WAIT, Scanner
from sovmap.collect.workers import scan_stats
from sovmap.model import DomainResult, Finding
from sovmap.store import Row, encode_results

#: domains waiting for their HTTP/SMTP probes before the input is paused
PENDING = 100


class _Writer(Protocol):
    scan_id: int

    def add(self, domains: int, questions: int, d: list[Row], f: list[Row]) -> None: ...

    def tick(self) -> None: ...

    def flush(self) -> None: ...


class ProbeStage:
    """One probing thread fed by :meth:`submit`; :meth:`done` hands back finished results."""

    def __init__(self, prober: ActiveProber) -> None:
        self.prober = prober
        self.inbox: queue.Queue[DomainResult | None] = queue.Queue()
        self.outbox: queue.SimpleQueue[DomainResult | BaseException] = queue.SimpleQueue()
        self.pending = 0
        self.thread = threading.Thread(target=self._work, name="sovmap-probes", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            result = self.inbox.get()
            if result is None:
                return
            try:
                extra = self.prober.observe(result.domain, result.observations)
                self.outbox.put(replace(result, observations=(*result.observations, *extra)))
            except BaseException as exc:  # handed to the scanning thread, raised there
                self.outbox.put(exc)
                return

    def submit(self, result: DomainResult) -> None:
        self.pending += 1
        self.inbox.put(result)

    def done(self, wait: float | None = None) -> Iterator[DomainResult]:
        """Results whose probes are finished (waiting up to ``wait`` seconds for the first)."""
        while self.pending:
            try:
                got = self.outbox.get(timeout=wait) if wait else self.outbox.get_nowait()
            except queue.Empty:
                return
            wait = None
            if isinstance(got, BaseException):
                raise got
            self.pending -= 1
            yield got

    def stop(self) -> None:
        self.inbox.put(None)


def run_with_probes(
    settings: Any,
    plan: ProbePlan,
    items: Iterator[DomainInput],
    writer: _Writer,
    knowledge_version: str,
    process: Callable[[DomainResult], tuple[DomainResult, Any]],
    prober: ActiveProber,
    pending: int | None = None,
) -> dict[str, object]:
    """The one-process scan with HTTP/SMTP probes: DNS in this thread, probes in one other;
    at most ``pending`` (:data:`PENDING`) domains wait for their probes."""
    limit = pending or PENDING
    engine = Engine(settings.engine)
    scanner = Scanner(engine, plan, max_active=settings.max_active)
    stage = ProbeStage(prober)
    scan_id = writer.scan_id

    def finish(result: DomainResult) -> None:
        done: tuple[DomainResult, list[Finding]] = process(result)
        d, f = encode_results(scan_id, [done], knowledge_version)
        writer.add(1, result.queries, d, f)

    def tick() -> None:
        for r in stage.done():
            finish(r)
        writer.tick()

    def gated() -> Iterator[DomainInput]:
        for item in items:
            while stage.pending >= limit:
                yield WAIT  # the loop keeps polling DNS; tick() drains the stage
            yield item

    try:
        scanner.run(gated(), stage.submit, tick)
        while stage.pending:  # DNS is done: the probes of the last domains
            for r in stage.done(wait=0.5):
                finish(r)
            writer.tick()
        writer.flush()
    finally:
        stage.stop()
        engine.close()
    return scan_stats(scanner)
