"""The scan as a library: input -> transport -> probe plans -> classify -> store, streaming
and resumable; and its replay (``reclassify``): stored observations through the same probe
plans and classifier, answered by :class:`~sovmap.collect.transport.ReplayTransport`.

Everything a scan is told comes in one :class:`ScanSettings` value.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sovmap.classify import Rules, classify, default_rules
from sovmap.collect.active import ActiveProber, ActiveSettings, ProbeSettingsError, plan_for
from sovmap.collect.engine import Engine, EngineConfig
from sovmap.collect.inputs import (
    DomainInput,
    InputCounts,
    InputProblem,
    check_input,
    read_domains,
)
from sovmap.collect.probes import ProbePlan, default_plan
from sovmap.collect.scanner import Scanner
from sovmap.collect.transport import ReplayTransport
from sovmap.collect.workers import WorkerJob, run_workers, scan_stats, tuned_gc
from sovmap.errors import SovmapError
from sovmap.figures import keep_scan_figures
from sovmap.knowledge.catalogue import Catalogue, default_catalogue
from sovmap.model import DomainResult, Finding, Observation
from sovmap.store import Row, Store, encode_results
from sovmap.store.snapshots import list_scans


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Everything a scan is told, passed once.

    ``engine`` holds the resolvers and the politeness limits (the only place the resolvers
    are given). ``plan``, ``catalogue`` and ``rules`` default to the bundled ones; ``shard`` is
    ``(K, N)``; ``resume`` continues an unfinished scan of the same input and shard;
    ``max_active`` bounds the domains in progress (shared among ``workers`` processes);
    ``batch_size`` domains, or ``flush_seconds``, make one write to the store.
    """

    engine: EngineConfig
    workers: int = 1
    max_active: int = 2000
    shard: tuple[int, int] | None = None
    resume: bool = True
    label: str = ""
    plan: ProbePlan | None = None
    catalogue: Catalogue | None = None
    rules: Rules | None = None
    batch_size: int = 500
    flush_seconds: float = 1.0
    # opt-in probes (--probe posture,http,smtp; sovmap.collect.active): None = none
    probes: ActiveSettings | None = None

    def __post_init__(self) -> None:
        if not self.engine.resolvers:
            raise ValueError("no resolver given")
        if self.probes is not None and self.probes.active and self.workers > 1:
            # one request per host at a time: HTTP and SMTP run in the one scanning process
            groups = ",".join(sorted(self.probes.groups))
            raise ProbeSettingsError("PROBE_WORKERS", groups=groups)
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.max_active < 1 or self.batch_size < 1:
            raise ValueError("max_active and batch_size must be at least 1")
        if self.shard is not None:
            _check_shard(*self.shard)

    @property
    def resolvers(self) -> list[tuple[str, int]]:
        return list(self.engine.resolvers)


def parse_shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    return _check_shard(int(k), int(n))


def _check_shard(k: int, n: int) -> tuple[int, int]:
    if not (n >= 1 and 1 <= k <= n):
        raise ValueError(f"shard must be K/N with 1 <= K <= N, got '{k}/{n}'")
    return k, n


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
    counts: InputCounts
    seconds: float
    queries: int
    engine_stats: dict[str, object]


class ResumeError(SovmapError):
    """An unfinished scan of this input cannot be resumed as asked."""


def _check_same_knowledge(store: Store, scan_id: int, version: str) -> None:
    """A scan's findings come from one knowledge version: a resume with another is refused
    (never a snapshot that mixes two)."""
    started = next((s.knowledge_version for s in store.scans() if s.id == scan_id), version)
    if started != version:
        store.release_lease(scan_id)
        raise ResumeError(
            f"scan {scan_id} of this input was started with knowledge version {started}, this "
            f"run has {version}: resume with the same --knowledge, or start a new scan with "
            "--new"
        )


def run_scan(
    input_path: Path,
    store: Store,
    settings: ScanSettings,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> ScanOutcome:
    """Scan every domain of ``input_path`` and store observations and findings.

    With ``settings.resume`` a running (interrupted) scan of the same input and shard is
    continued: domains already stored are skipped, so every domain ends up stored exactly
    once. With ``settings.workers`` > 1 the probes and classification run in that many
    processes (see :mod:`sovmap.collect.workers`); this process reads the input and writes the
    store. ``on_progress`` is called between polls of the transport.
    """
    cat = settings.catalogue or default_catalogue()
    shard = settings.shard
    check_input(input_path)
    scan_id, resumed = begin_scan(input_path, store, settings, cat.version)
    done = store.done_domains(scan_id) if resumed else set()
    problems: list[InputProblem] = []
    counts = InputCounts()
    progress = Progress()

    def todo() -> Iterator[DomainInput]:
        for item in read_domains(input_path, problems, counts):
            if not in_shard(item.domain, shard):
                continue
            if item.domain in done:
                progress.skipped += 1
                continue
            yield item

    started = time.monotonic()
    stats = scan_items(todo(), store, scan_id, settings, progress, on_progress)
    end_scan(store, scan_id)
    return ScanOutcome(
        scan_id=scan_id,
        resumed=resumed,
        domains=progress.done,
        skipped=progress.skipped,
        problems=problems,
        counts=counts,
        seconds=time.monotonic() - started,
        queries=progress.queries,
        engine_stats=stats,
    )


def end_scan(store: Store, scan_id: int) -> None:
    """A scan's end, on one machine as on a cluster: marked done, its own figures kept for
    the trend chart, its change events kept for /changes, and alerts sent when the store has
    alert settings."""
    store.finish_scan(scan_id)
    keep_derived(store, scan_id)
    from sovmap.alerts.deliver import after_scan

    after_scan(store.engine, scan_id)


def keep_derived(store: Store, scan_id: int, *, reclassified: bool = False) -> None:
    """Keep what the surfaces derive from a finished scan's findings, so no first request
    computes it: the scan's own figures (trend points) and, after a reclassify of one of the
    two latest finished scans, their change events again (a scan's end keeps those through
    its alerts step)."""
    with store.engine.begin() as conn:
        scan = keep_scan_figures(conn, scan_id)
    if scan is None or not reclassified:
        return
    with store.engine.connect() as conn:
        done = [s.id for s in list_scans(conn) if s.finished]
    if scan_id in done[-2:]:
        from sovmap.alerts.events import keep_changes

        keep_changes(store.engine)


def begin_scan(
    input_path: Path,
    store: Store,
    settings: ScanSettings,
    knowledge_version: str,
    params: dict[str, object] | None = None,
) -> tuple[int, bool]:
    """The scan record a run of ``input_path`` writes into, and whether it is resumed: with
    ``settings.resume`` the newest unfinished scan of the same input and shard (refused when
    it was started with another knowledge version), else a new one. ``params`` are stored
    beside the resolvers."""
    shard = settings.shard
    digest = input_digest(input_path)
    shard_text = f"{shard[0]}/{shard[1]}" if shard else ""
    scan_id = store.resumable_scan(digest, shard_text) if settings.resume else None
    if scan_id is not None:
        _check_same_knowledge(store, scan_id, knowledge_version)
        return scan_id, True
    scan_id = store.start_scan(
        input=str(input_path),
        input_digest=digest,
        shard=shard_text,
        knowledge_version=knowledge_version,
        params={"resolvers": [f"{h}:{p}" for h, p in settings.resolvers], **(params or {})},
        label=settings.label,
    )
    return scan_id, False


def scan_items(
    items: Iterator[DomainInput],
    store: Store,
    scan_id: int,
    settings: ScanSettings,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, object]:
    """Scan ``items`` (domains not yet stored) into scan ``scan_id``: probes, classification
    and batched writes, in this process or ``settings.workers`` processes; ``progress``
    counts what was written. Returns the engine statistics. :func:`run_scan` runs it on the
    input, a cluster task (:mod:`sovmap.collect.cluster`) on its shard."""
    cat = settings.catalogue or default_catalogue()
    plan = settings.plan or default_plan()
    active = None
    if settings.probes is not None:
        plan = plan_for(settings.probes.groups, plan)
        active = ActiveProber(settings.probes) if settings.probes.active else None
    process = _processor(plan, cat, settings.rules or default_rules())
    writer = _Writer(store, scan_id, settings, progress, on_progress)
    with tuned_gc():
        if settings.workers > 1:
            job = WorkerJob(
                settings.engine,
                plan,
                max(50, settings.max_active // settings.workers),
                scan_id,
                cat.version,
                process,
            )
            stats = run_workers(settings.workers, job, items, writer.add, writer.tick)
            writer.flush()
            return stats
        if active is not None:  # HTTP/SMTP beside the DNS loop (sovmap.collect.active.stage)
            from sovmap.collect.active.stage import run_with_probes

            stats = run_with_probes(settings, plan, items, writer, cat.version, process, active)
            stats["active"] = active.stats()
            return stats
        return _run_single(settings, plan, items, writer, cat.version, process)


_Process = Callable[[DomainResult], tuple[DomainResult, Sequence[Finding]]]


def _processor(plan: ProbePlan, cat: Catalogue, rules: Rules) -> _Process:
    """What becomes of a finished domain, in a scan and in its replay alike: observations in
    the order of the probe table, then classified."""
    key = plan.observation_key()

    def process(result: DomainResult) -> tuple[DomainResult, Sequence[Finding]]:
        obs = tuple(sorted(result.observations, key=key))
        result = DomainResult(
            result.domain, obs, result.attributes, result.queries, result.errors, result.position
        )
        return result, classify(result.domain, obs, cat, result.attributes, rules)

    return process


class _Writer:
    """Finished rows on their way to the store: written every ``batch_size`` domains or
    ``flush_seconds``, whichever comes first (the same for one process and for workers)."""

    def __init__(
        self,
        store: Store,
        scan_id: int,
        settings: ScanSettings,
        progress: Progress,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.store, self.scan_id, self.progress = store, scan_id, progress
        self.on_progress = on_progress
        self.batch_size, self.flush_seconds = settings.batch_size, settings.flush_seconds
        self.dom_rows: list[Row] = []
        self.find_rows: list[Row] = []
        self.last_flush = time.monotonic()

    def flush(self) -> None:
        if self.dom_rows:
            self.store.write_rows(self.scan_id, self.dom_rows, self.find_rows)
            self.dom_rows.clear()
            self.find_rows.clear()
        self.last_flush = time.monotonic()

    def add(self, domains: int, questions: int, d: list[Row], f: list[Row]) -> None:
        self.dom_rows.extend(d)
        self.find_rows.extend(f)
        self.progress.done += domains
        self.progress.queries += questions
        if len(self.dom_rows) >= self.batch_size:
            self.flush()

    def tick(self) -> None:
        if self.dom_rows and time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()
        if self.on_progress is not None:
            self.on_progress(self.progress)


def _run_single(
    settings: ScanSettings,
    plan: ProbePlan,
    items: Iterator[DomainInput],
    writer: _Writer,
    knowledge_version: str,
    process: _Process,
) -> dict[str, object]:
    engine = Engine(settings.engine)
    scanner = Scanner(engine, plan, max_active=settings.max_active)
    scan_id = writer.scan_id

    def on_result(result: DomainResult) -> None:
        d, f = encode_results(scan_id, [process(result)], knowledge_version)
        writer.add(1, result.queries, d, f)

    try:
        scanner.run(items, on_result, writer.tick)
        writer.flush()
    finally:
        engine.close()
    return scan_stats(scanner)


@dataclass
class ReplayOutcome:
    """What a replay did: ``domains`` classified again; ``differing`` domains asked other
    questions than the scan asked them (a probe plan that changed since: more questions, some
    of them ``unanswered`` by the store, or fewer)."""

    domains: int
    differing: int
    unanswered: int


def replay(
    store: Store,
    scan_id: int,
    on_result: Callable[[DomainResult, Sequence[Finding]], None],
    *,
    plan: ProbePlan | None = None,
    catalogue: Catalogue | None = None,
    rules: Rules | None = None,
) -> ReplayOutcome:
    """Run a stored scan again without DNS: each domain's probe plan is answered from its
    stored observations (:class:`ReplayTransport`), through the same scanner and the same
    processing as a scan; ``on_result`` receives each domain's observations and findings."""
    cat = catalogue or default_catalogue()
    plan = plan or default_plan()
    process = _processor(plan, cat, rules or default_rules())
    transport = ReplayTransport()
    # one domain at a time and no cache: every question is answered from its own domain
    scanner = Scanner(transport, plan, max_active=1, cache_size=0)
    stored: tuple[Observation, ...] = ()  # the domain being replayed
    unanswered = 0
    outcome = ReplayOutcome(0, 0, 0)
    # kinds this plan does not ask (HTTP/SMTP of --probe, posture without it): their stored
    # observations are kept as they are
    carry = {k.name for k in plan.kinds if k.opt_in and k.opt_in not in plan.opt_in}
    carried: tuple[Observation, ...] = ()

    def items() -> Iterator[DomainInput]:
        nonlocal stored, carried
        for position, (domain, attrs, obs) in enumerate(store.iter_results(scan_id)):
            transport.load(obs)
            stored = obs
            carried = tuple(o for o in obs if o.probe in carry)
            yield DomainInput(domain, position, attrs)

    def finished(result: DomainResult) -> None:
        nonlocal unanswered
        if carried:
            result = replace(result, observations=(*result.observations, *carried))
        done, findings = process(result)
        outcome.domains += 1
        # asked other questions than the scan did: more (some unanswered) or fewer
        if transport.unanswered != unanswered or len(done.observations) != len(stored):
            outcome.differing += 1
            unanswered = transport.unanswered
        on_result(done, findings)

    scanner.run(items(), finished)
    outcome.unanswered = transport.unanswered
    return outcome


def reclassify(
    store: Store,
    scan_id: int,
    *,
    catalogue: Catalogue | None = None,
    rules: Rules | None = None,
    plan: ProbePlan | None = None,
    batch_size: int = 1000,
) -> ReplayOutcome:
    """Apply the current knowledge base to a stored scan: a :func:`replay` whose findings
    replace the stored ones (the observations are kept as they are); no DNS is asked."""
    cat = catalogue or default_catalogue()
    batch: list[tuple[str, Sequence[Finding]]] = []
    store.begin_reclassify(scan_id)

    def on_result(result: DomainResult, findings: Sequence[Finding]) -> None:
        batch.append((result.domain, findings))
        if len(batch) >= batch_size:
            store.replace_findings(scan_id, batch, cat.version)
            batch.clear()

    outcome = replay(store, scan_id, on_result, plan=plan, catalogue=cat, rules=rules)
    store.replace_findings(scan_id, batch, cat.version)
    store.end_reclassify(scan_id, cat.version)
    keep_derived(store, scan_id, reclassified=True)
    return outcome
