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
from sovmap.knowledge.catalogue import Catalogue, default_catalogue
from sovmap.model import DomainResult, Finding, Observation
from sovmap.store import Store

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
) -> ScanOutcome:
    """Scan every domain of ``input_path`` and store observations and findings.

    With ``resume`` a running (interrupted) scan of the same input and shard is continued:
    domains already stored are skipped, so every domain ends up stored exactly once.
    """
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
    engine = Engine(config)
    scanner = Scanner(engine, plan, max_active=max_active)
    pending: list[tuple[DomainResult, Sequence[Finding]]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if pending:
            store.write_results(scan_id, pending, cat.version)
            pending.clear()
        last_flush = time.monotonic()

    def on_result(result: DomainResult) -> None:
        obs = tuple(sorted(result.observations, key=observation_key))
        result = DomainResult(
            result.domain, obs, result.attributes, result.queries, result.errors, result.position
        )
        pending.append((result, classify(result.domain, obs, cat, result.attributes, rules)))
        progress.done += 1
        progress.queries += result.queries
        if len(pending) >= batch_size:
            flush()

    def on_tick() -> None:
        if pending and time.monotonic() - last_flush >= flush_seconds:
            flush()
        if on_progress is not None:
            on_progress(progress)

    started = time.monotonic()
    try:
        scanner.run(todo(), on_result, on_tick)
        flush()
    finally:
        engine.close()
    store.finish_scan(scan_id)
    stats = engine.stats
    return ScanOutcome(
        scan_id=scan_id,
        resumed=resumed,
        domains=progress.done,
        skipped=progress.skipped,
        problems=problems,
        seconds=time.monotonic() - started,
        queries=progress.queries,
        engine_stats={
            "sent": stats.sent,
            "answered": stats.answered,
            "timeouts": stats.timeouts,
            "retries": stats.retries,
            "tcp": stats.tcp,
            "mismatched": stats.mismatched,
            "malformed": stats.malformed,
            "wire_errors": dict(stats.wire_errors),
            "cache_hits": scanner.counters.cache_hits,
        },
    )


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
