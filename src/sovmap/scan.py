"""The scan as a library: input -> engine -> classify -> store, streaming and resumable."""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sovmap.classify import Rules, classify, default_rules
from sovmap.collect.engine import Engine, EngineConfig
from sovmap.collect.inputs import DomainInput, InputProblem, check_input, read_domains
from sovmap.collect.probes import ProbePlan, default_plan
from sovmap.collect.scanner import Scanner
from sovmap.collect.workers import WorkerJob, engine_stats, run_workers, tuned_gc
from sovmap.knowledge.catalogue import Catalogue, default_catalogue
from sovmap.model import DomainResult, Finding, Observation
from sovmap.store import Row, Store

_PROBE_ORDER = {
    p: i
    for i, p in enumerate(
        (
            "mx",
            "mx-host",
            "txt",
            "spf",
            "dmarc",
            "dkim",
            "autodiscover",
            "autodiscover-srv",
            "lyncdiscover",
            "sip",
            "enterpriseregistration",
            "enterpriseenrollment",
            "msoid",
            "ns",
            "web",
            "asn",
        )
    )
}


def observation_key(o: Observation) -> tuple[int, str, str, str]:
    return (_PROBE_ORDER.get(o.probe, 99), o.qname, o.qtype, o.via)


def parse_shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    kk, nn = int(k), int(n)
    if not (nn >= 1 and 1 <= kk <= nn):
        raise ValueError(f"shard must be K/N with 1 <= K <= N, got {text!r}")
    return kk, nn


def in_shard(domain: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    k, n = shard
    return zlib.crc32(domain.encode()) % n == k - 1


def input_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Progress:
    done: int = 0
    skipped: int = 0  # already in the store (resume)
    total: int | None = None
    started: float = field(default_factory=time.monotonic)
    queries: int = 0

    @property
    def rate(self) -> float:
        dt = time.monotonic() - self.started
        return self.done / dt if dt > 0 else 0.0


@dataclass
class ScanOutcome:
    scan_id: int
    resumed: bool
    domains: int
    skipped: int
    problems: list[InputProblem]
    seconds: float
    queries: int
    engine_stats: dict[str, object]


def run_scan(
    input_path: Path,
    store: Store,
    resolvers: Sequence[tuple[str, int]],
    *,
    catalogue: Catalogue | None = None,
    rules: Rules | None = None,
    plan: ProbePlan | None = None,
    shard: tuple[int, int] | None = None,
    resume: bool = True,
    engine_config: EngineConfig | None = None,
    max_active: int = 2000,
    batch_size: int = 500,
    flush_seconds: float = 1.0,
    on_progress: Callable[[Progress], None] | None = None,
    label: str = "",
    workers: int = 1,
) -> ScanOutcome:
    """Scan every domain of ``input_path`` and store observations and findings.

    With ``resume`` a running (interrupted) scan of the same input and shard is continued:
    domains already stored are skipped, so every domain ends up stored exactly once. With
    ``workers`` > 1 the probes and classification run in that many processes (see
    :mod:`sovmap.collect.workers`); this process reads the input and writes the store.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    cat = catalogue or default_catalogue()
    rules = rules or default_rules()
    plan = plan or default_plan()
    check_input(input_path)
    digest = input_digest(input_path)
    shard_text = f"{shard[0]}/{shard[1]}" if shard else ""
    scan_id = store.resumable_scan(digest, shard_text) if resume else None
    resumed = scan_id is not None
    if scan_id is None:
        scan_id = store.start_scan(
            input=str(input_path),
            input_digest=digest,
            shard=shard_text,
            knowledge_version=cat.version,
            params={"resolvers": [f"{h}:{p}" for h, p in resolvers]},
            label=label,
        )
    done = store.done_domains(scan_id) if resumed else set()
    problems: list[InputProblem] = []
    progress = Progress()

    def todo() -> Iterator[DomainInput]:
        for item in read_domains(input_path, problems):
            if not in_shard(item.domain, shard):
                continue
            if item.domain in done:
                progress.skipped += 1
                continue
            yield item

    config = engine_config or EngineConfig(resolvers=list(resolvers))

    def process(result: DomainResult) -> tuple[DomainResult, Sequence[Finding]]:
        obs = tuple(sorted(result.observations, key=observation_key))
        result = DomainResult(
            result.domain, obs, result.attributes, result.queries, result.errors, result.position
        )
        return result, classify(result.domain, obs, cat, result.attributes, rules)

    started = time.monotonic()
    with tuned_gc():
        stats = _run(
            workers,
            config,
            plan,
            max_active,
            scan_id,
            cat.version,
            process,
            todo(),
            store,
            progress,
            batch_size,
            flush_seconds,
            on_progress,
        )
    store.finish_scan(scan_id)
    return ScanOutcome(
        scan_id=scan_id,
        resumed=resumed,
        domains=progress.done,
        skipped=progress.skipped,
        problems=problems,
        seconds=time.monotonic() - started,
        queries=progress.queries,
        engine_stats=stats,
    )


def _run(
    workers: int,
    config: EngineConfig,
    plan: ProbePlan,
    max_active: int,
    scan_id: int,
    knowledge_version: str,
    process: Callable[[DomainResult], tuple[DomainResult, Sequence[Finding]]],
    items: Iterator[DomainInput],
    store: Store,
    progress: Progress,
    batch_size: int,
    flush_seconds: float,
    on_progress: Callable[[Progress], None] | None,
) -> dict[str, object]:
    if workers > 1:
        return _run_parallel(
            workers,
            WorkerJob(
                config, plan, max(50, max_active // workers), scan_id, knowledge_version, process
            ),
            items,
            store,
            scan_id,
            progress,
            batch_size,
            flush_seconds,
            on_progress,
        )
    return _run_single(
        Engine(config),
        plan,
        max_active,
        items,
        store,
        scan_id,
        knowledge_version,
        process,
        progress,
        batch_size,
        flush_seconds,
        on_progress,
    )


def _run_single(
    engine: Engine,
    plan: ProbePlan,
    max_active: int,
    items: Iterator[DomainInput],
    store: Store,
    scan_id: int,
    knowledge_version: str,
    process: Callable[[DomainResult], tuple[DomainResult, Sequence[Finding]]],
    progress: Progress,
    batch_size: int,
    flush_seconds: float,
    on_progress: Callable[[Progress], None] | None,
) -> dict[str, object]:
    scanner = Scanner(engine, plan, max_active=max_active)
    pending: list[tuple[DomainResult, Sequence[Finding]]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if pending:
            store.write_results(scan_id, pending, knowledge_version)
            pending.clear()
        last_flush = time.monotonic()

    def on_result(result: DomainResult) -> None:
        pending.append(process(result))
        progress.done += 1
        progress.queries += result.queries
        if len(pending) >= batch_size:
            flush()

    def on_tick() -> None:
        if pending and time.monotonic() - last_flush >= flush_seconds:
            flush()
        if on_progress is not None:
            on_progress(progress)

    try:
        scanner.run(items, on_result, on_tick)
        flush()
    finally:
        engine.close()
    return engine_stats(engine, scanner)


def _run_parallel(
    workers: int,
    job: WorkerJob,
    items: Iterator[DomainInput],
    store: Store,
    scan_id: int,
    progress: Progress,
    batch_size: int,
    flush_seconds: float,
    on_progress: Callable[[Progress], None] | None,
) -> dict[str, object]:
    dom_rows: list[Row] = []
    find_rows: list[Row] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if dom_rows:
            store.write_rows(scan_id, dom_rows, find_rows)
            dom_rows.clear()
            find_rows.clear()
        last_flush = time.monotonic()

    def on_rows(domains: int, questions: int, d: list[Row], f: list[Row]) -> None:
        dom_rows.extend(d)
        find_rows.extend(f)
        progress.done += domains
        progress.queries += questions
        if len(dom_rows) >= batch_size:
            flush()

    def on_tick() -> None:
        if dom_rows and time.monotonic() - last_flush >= flush_seconds:
            flush()
        if on_progress is not None:
            on_progress(progress)

    stats = run_workers(workers, job, items, on_rows, on_tick)
    flush()
    return stats


def reclassify(
    store: Store,
    scan_id: int,
    *,
    catalogue: Catalogue | None = None,
    rules: Rules | None = None,
    batch_size: int = 1000,
) -> int:
    """Apply the current knowledge base to stored observations; no DNS is asked."""
    cat = catalogue or default_catalogue()
    rules = rules or default_rules()
    n = 0
    batch: list[tuple[str, Sequence[Finding]]] = []
    for domain, attrs, obs in store.iter_results(scan_id):
        batch.append((domain, classify(domain, obs, cat, attrs, rules)))
        n += 1
        if len(batch) >= batch_size:
            store.replace_findings(scan_id, batch, cat.version)
            batch = []
    store.replace_findings(scan_id, batch, cat.version)
    store.set_knowledge_version(scan_id, cat.version)
    return n
