"""A scan spread over a Dask distributed cluster: ``sovmap scan INPUT --cluster ADDRESS``.

This process (the coordinator) reads and normalises the input once, opens one scan record
in a PostgreSQL store and hands the domains out as shards: each shard is a Dask task that a
worker runs as a normal engine scan (:func:`sovmap.collect.pipeline.scan_items`) with its own
resolvers and rate budget, writing straight into the same scan of the same store.

Nothing is lost or doubled because the store decides, not the cluster:

- a domain is written in one transaction with its findings, and the key ``(scan_id,
  domain)`` admits it once (:meth:`sovmap.store.Store.write_rows` keeps the first write);
- a shard starts by asking the store which of its domains are stored already and scans only
  the others, so a shard run again (its worker died, the scheduler gave it to another one, or
  the whole command is run again to resume) carries on where the last attempt stopped;
- the coordinator holds the scan's lease while it runs, and marks it done only when every
  shard has finished; a coordinator that dies leaves the scan resumable like any other.

The shards are claimed through the scheduler (one task per shard), not through a table: the
store needs no new column, and a task the scheduler hands out twice (a worker it believed
dead that was still running) at worst repeats questions, never rows.

Progress (domains stored / read, shards done, workers alive) is counted by the store and the
scheduler, so it is the cluster's, not this process's.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

from sovmap import __version__
from sovmap.collect.engine import system_resolvers
from sovmap.collect.inputs import (
    DomainInput,
    InputCounts,
    InputProblem,
    check_input,
    read_domains,
)
from sovmap.collect.pipeline import (
    Progress,
    ScanOutcome,
    ScanSettings,
    begin_scan,
    end_scan,
    scan_items,
)
from sovmap.collect.workers import merge_stats
from sovmap.errors import NetworkError, SovmapError
from sovmap.i18n import format_number, t
from sovmap.knowledge.catalogue import default_catalogue
from sovmap.store import Store, database_url
from sovmap.store.snapshots import scan_info

#: Domains per shard (one task): small enough that a lost worker costs little, large enough
#: that a task's start (a store connection, a resume query) is noise.
DEFAULT_SHARD_SIZE = 2000
MAX_SHARD_SIZE = 1_000_000
#: Seconds to reach the scheduler before giving up (exit 3).
CONNECT_TIMEOUT = 5.0
#: Seconds to wait for the first worker, and the longest time a cluster may have none.
WORKER_WAIT = 60.0
#: A shard that raised is run again this often (a worker that died is not counted here: the
#: scheduler moves its tasks to the other workers by itself).
SHARD_RETRIES = 2
#: Seconds between looks at the shards, the store and the workers.
POLL = 0.25


class ClusterError(NetworkError):
    """The cluster cannot be reached or was lost: a network failure (exit 3)."""

    @classmethod
    def of(cls, lang: str, code: str, **params: object) -> ClusterError:
        """The catalogue's message ``code`` in ``lang``, kept with its code and values."""
        return cls(t(lang, code, **params), code, {k: str(v) for k, v in params.items()})


class ClusterSetupError(SovmapError):
    """A cluster scan asked for in a way that cannot work (exit 2)."""


@dataclass(frozen=True, slots=True)
class ClusterJob:
    """What every shard task is told, sent to the workers once. ``settings`` holds the
    catalogue (loaded here, so ``--knowledge`` directories need not exist on the workers);
    ``own_resolvers``: each worker asks the resolvers of its own machine."""

    db_url: str
    scan_id: int
    settings: ScanSettings
    own_resolvers: bool


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """What one shard's task did: ``domains`` written, ``skipped`` found already stored."""

    index: int
    domains: int
    skipped: int
    queries: int
    seconds: float
    worker: str
    engine_stats: dict[str, Any]


@dataclass
class ClusterProgress:
    """The whole cluster's progress: ``done`` domains stored in the scan (counted by the
    store), ``total`` domains read so far (final once ``reading`` is False)."""

    done: int = 0
    total: int = 0
    reading: bool = True
    shards: int = 0
    shards_done: int = 0
    workers: int = 0
    workers_lost: int = 0
    started: float = field(default_factory=time.monotonic)
    done_at_start: int = 0

    @property
    def rate(self) -> float:
        dt = time.monotonic() - self.started
        return (self.done - self.done_at_start) / dt if dt > 0 else 0.0


@dataclass
class ClusterOutcome:
    """A finished cluster scan: the same account as a scan on one machine, plus the shards
    and the workers (``workers_seen`` joined at some point, ``workers_lost`` left or died)."""

    scan: ScanOutcome
    shards: int
    workers_seen: int
    workers_lost: int
    shard_outcomes: list[ShardOutcome]


def check_store(store: Store, lang: str = "en") -> None:
    """A cluster scan writes from many machines into one store: a database server."""
    if store.engine.dialect.name != "postgresql":
        raise ClusterSetupError(t(lang, "CLUSTER_NEEDS_POSTGRES"))


def scan_shard(
    job: ClusterJob, index: int, items: list[tuple[str, int, dict[str, str]]]
) -> ShardOutcome:
    """A shard on a worker: skip what the store holds already, scan the rest into the scan.

    Runs in the Dask worker's process (one engine; scale with more worker processes)."""
    started = time.monotonic()
    settings = job.settings
    if job.own_resolvers:
        settings = replace(settings, engine=replace(settings.engine, resolvers=system_resolvers()))
    store = Store(job.db_url)
    try:
        stored = store.stored_among(job.scan_id, [d for d, _, _ in items])
        todo = (DomainInput(d, line, attrs) for d, line, attrs in items if d not in stored)
        progress = Progress()
        stats = scan_items(todo, store, job.scan_id, settings, progress)
    finally:
        store.close()
    return ShardOutcome(
        index=index,
        domains=progress.done,
        skipped=len(stored),
        queries=progress.queries,
        seconds=time.monotonic() - started,
        worker=_worker_address(),
        engine_stats=stats,
    )


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:  # not on a worker (a test calling the task directly)
        return ""


def sovmap_version() -> str:
    """The sovmap version of the process it runs in (asked of every worker)."""
    return __version__


def connect(address: str, lang: str = "en", timeout: float = CONNECT_TIMEOUT) -> Any:
    """A Dask client of the scheduler at ``address``; :class:`ClusterError` when it cannot be
    reached within ``timeout`` seconds, :class:`ClusterSetupError` for an address that is no
    scheduler address or a missing ``distributed`` package."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ClusterSetupError(t(lang, "CLUSTER_NOT_INSTALLED")) from exc
    _quiet_dask()
    _check_address(address, lang)
    try:
        return Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError) as exc:
        raise ClusterSetupError(t(lang, "CLUSTER_BAD_ADDRESS", address=address)) from exc
    except (OSError, TimeoutError) as exc:
        seconds = format_number(timeout, lang)
        raise ClusterError.of(
            lang, "CLUSTER_UNREACHABLE", address=address, seconds=seconds
        ) from exc


def _check_address(address: str, lang: str) -> None:
    """A scheduler address Dask can dial (``tcp://HOST:PORT``, ``tls://``, or ``HOST:PORT``),
    checked before a client is made: a client that failed on a malformed address still tries
    to close itself at exit, after the one-line message."""
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError as exc:
        raise ClusterSetupError(t(lang, "CLUSTER_NOT_INSTALLED")) from exc
    try:
        scheme, location = parse_address(address, strict=False)
        _, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ClusterSetupError(t(lang, "CLUSTER_BAD_ADDRESS", address=address)) from exc
    if scheme not in ("tcp", "tls") or not 0 < int(port) < 65536:
        raise ClusterSetupError(t(lang, "CLUSTER_BAD_ADDRESS", address=address))


def _quiet_dask() -> None:
    """The scan prints its own one-line messages: Dask's client logs only what is fatal."""
    for name in ("distributed", "distributed.client", "distributed.core", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _shards(
    items: Iterator[DomainInput], size: int
) -> Iterator[list[tuple[str, int, dict[str, str]]]]:
    while True:
        chunk = [(d.domain, d.line, d.attributes) for d in islice(items, size)]
        if not chunk:
            return
        yield chunk


def _threads(client: Any) -> dict[str, int]:
    """Worker address -> threads, as the scheduler knows them now."""
    return {str(k): int(v) for k, v in client.nthreads().items()}


def run_cluster_scan(
    input_path: Path,
    store: Store,
    address: str,
    settings: ScanSettings,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    own_resolvers: bool = False,
    lang: str = "en",
    on_progress: Callable[[ClusterProgress], None] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    worker_wait: float = WORKER_WAIT,
) -> ClusterOutcome:
    """Scan every domain of ``input_path`` on the Dask cluster at ``address`` into one scan
    of ``store`` (PostgreSQL), resuming an unfinished scan of the same input when
    ``settings.resume``. ``own_resolvers``: each worker asks its machine's resolvers instead
    of ``settings.engine.resolvers``. Each worker process runs one engine per task with the
    politeness limits of ``settings.engine`` (so N worker processes send up to N times the
    rate of one). ``on_progress`` is called a few times a second."""
    check_store(store, lang)
    if settings.shard is not None:
        raise ClusterSetupError(t(lang, "CLUSTER_NO_SHARD_OPTION"))
    if settings.plan is not None:
        raise ClusterSetupError(t(lang, "CLUSTER_BUNDLED_PLAN"))
    if not 1 <= shard_size <= MAX_SHARD_SIZE:
        raise ClusterSetupError(
            t(
                lang,
                "CLUSTER_SHARD_SIZE",
                value=shard_size,
                most=format_number(MAX_SHARD_SIZE, lang),
            )
        )
    check_input(input_path)
    cat = settings.catalogue or default_catalogue()
    client = connect(address, lang, connect_timeout)
    try:
        _wait_for_workers(client, address, worker_wait, lang)
        _check_versions(client, lang)
        return _run(
            client,
            input_path,
            store,
            address,
            replace(settings, workers=1, catalogue=cat),
            shard_size,
            own_resolvers,
            lang,
            on_progress,
            worker_wait,
        )
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=2)


def _wait_for_workers(client: Any, address: str, wait: float, lang: str) -> None:
    try:
        client.wait_for_workers(1, timeout=wait)
    except (TimeoutError, OSError) as exc:
        seconds = format_number(wait, lang)
        raise ClusterError.of(lang, "CLUSTER_NO_WORKERS", address=address, seconds=seconds) from exc


def _check_versions(client: Any, lang: str) -> None:
    """Every worker runs the same sovmap: the probe plan and the classifier are code, and a
    snapshot is made by one version of them."""
    for worker, version in sorted(client.run(sovmap_version).items()):
        if version != __version__:
            raise ClusterSetupError(
                t(lang, "CLUSTER_VERSION", worker=worker, theirs=version, ours=__version__)
            )


def _stored(store: Store, scan_id: int, known: dict[Any, int]) -> int:
    with store.connect() as conn:
        info = scan_info(conn, scan_id, known)
    return info.domains if info is not None else 0


def _run(
    client: Any,
    input_path: Path,
    store: Store,
    address: str,
    settings: ScanSettings,
    shard_size: int,
    own_resolvers: bool,
    lang: str,
    on_progress: Callable[[ClusterProgress], None] | None,
    worker_wait: float,
) -> ClusterOutcome:
    assert settings.catalogue is not None
    params: dict[str, object] = {"cluster": {"shard_size": shard_size}}
    if own_resolvers:
        params["resolvers"] = ["(each worker's own)"]
    scan_id, resumed = begin_scan(input_path, store, settings, settings.catalogue.version, params)
    known: dict[Any, int] = {}
    progress = ClusterProgress()
    progress.done = progress.done_at_start = _stored(store, scan_id, known)
    started = time.monotonic()
    try:  # sent to the workers once, not with every task
        job = client.scatter(
            ClusterJob(store.url, scan_id, settings, own_resolvers),
            broadcast=True,
            hash=False,
            timeout=worker_wait,
        )
    except (TimeoutError, OSError) as exc:
        raise ClusterError.of(lang, "CLUSTER_LOST", address=address, scan=scan_id) from exc
    token = uuid.uuid4().hex[:8]
    problems: list[InputProblem] = []
    counts = InputCounts()
    shards = _shards(read_domains(input_path, problems, counts), shard_size)
    threads = _threads(client)
    seen = set(threads)
    progress.workers = len(seen)
    lost: set[str] = set()
    pending: list[Any] = []
    finished: list[ShardOutcome] = []
    last_count = last_workers = running_at = time.monotonic()
    no_workers_since: float | None = None

    def fail(code: str, **extra: object) -> ClusterError:
        for f in pending:
            f.cancel()
        return ClusterError.of(lang, code, address=address, scan=scan_id, **extra)

    while True:
        # keep a few shards per worker thread queued; read the input only as fast as needed
        limit = max(4, 2 * sum(threads.values()))
        while progress.reading and len(pending) < limit:
            chunk = next(shards, None)
            if chunk is None:
                progress.reading = False
                break
            pending.append(
                client.submit(
                    scan_shard,
                    job,
                    progress.shards,
                    chunk,
                    key=f"sovmap-scan-{scan_id}-shard-{progress.shards}-{token}",
                    retries=SHARD_RETRIES,
                    pure=False,
                )
            )
            progress.shards += 1
            progress.total += len(chunk)
        if not pending and not progress.reading:
            break
        time.sleep(POLL)
        now = time.monotonic()
        if client.status == "running":
            running_at = now
        elif client.status != "connecting" or now - running_at > worker_wait:
            raise fail("CLUSTER_LOST")
        for f in [f for f in pending if f.done()]:
            pending.remove(f)
            if f.status == "cancelled":  # the scheduler forgot it: it went away
                raise fail("CLUSTER_LOST")
            if f.status != "finished":
                error = f.exception() if f.status == "error" else f.status
                raise fail("CLUSTER_SHARD_FAILED", shard=f.key, error=_one_line(error))
            finished.append(f.result())
            progress.shards_done += 1
        if now - last_workers >= 1.0 or not pending:
            try:
                threads = _threads(client)
            except OSError as exc:
                raise fail("CLUSTER_LOST") from exc
            alive = set(threads)
            lost |= seen - alive
            seen |= alive
            progress.workers, progress.workers_lost = len(alive), len(lost)
            last_workers = now
            if alive:
                no_workers_since = None
            elif no_workers_since is None:
                no_workers_since = now
            elif now - no_workers_since > worker_wait:
                raise fail("CLUSTER_WORKERS_GONE", seconds=format_number(worker_wait, lang))
        if now - last_count >= 1.0:
            progress.done = _stored(store, scan_id, known)
            last_count = now
        if on_progress is not None:
            on_progress(progress)
    progress.done = _stored(store, scan_id, known)
    if on_progress is not None:
        on_progress(progress)
    if progress.done != progress.total:  # every shard finished: the store must hold them all
        stored, total = format_number(progress.done, lang), format_number(progress.total, lang)
        raise ClusterError.of(lang, "CLUSTER_INCOMPLETE", stored=stored, total=total, scan=scan_id)
    end_scan(store, scan_id)
    stats: dict[str, Any] = {}
    for shard in finished:
        merge_stats(stats, shard.engine_stats)
    outcome = ScanOutcome(
        scan_id=scan_id,
        resumed=resumed,
        domains=progress.done - progress.done_at_start,
        skipped=progress.done_at_start,
        problems=problems,
        counts=counts,
        seconds=time.monotonic() - started,
        queries=sum(s.queries for s in finished),
        engine_stats=stats,
    )
    return ClusterOutcome(
        scan=outcome,
        shards=progress.shards,
        workers_seen=len(seen),
        workers_lost=len(lost),
        shard_outcomes=sorted(finished, key=lambda s: s.index),
    )


def _one_line(error: object) -> str:
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


# -- the command line ------------------------------------------------------------------------


class ProgressLine:
    """The cluster's progress on stderr: one line rewritten in place on a terminal, a line
    every ``every`` seconds otherwise (a log), nothing with ``--quiet``."""

    def __init__(self, lang: str, enabled: bool, every: float = 10.0) -> None:
        self.lang = lang
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else every
        self.last = 0.0

    def render(self, p: ClusterProgress) -> str:
        n = self.lang
        return t(
            n,
            "CLUSTER_PROGRESS_READING" if p.reading else "CLUSTER_PROGRESS",
            done=format_number(p.done, n),
            total=format_number(p.total, n),
            shards_done=format_number(p.shards_done, n),
            shards=format_number(p.shards, n),
            workers=format_number(p.workers, n),
            lost=format_number(p.workers_lost, n),
            rate=format_number(round(p.rate), n),
        )

    def __call__(self, p: ClusterProgress) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < self.every:
            return
        self.last = now
        line = self.render(p)
        sys.stderr.write(("\r" + line + " " * 4) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.last:
            sys.stderr.write("\n")


def summary_line(outcome: ClusterOutcome, lang: str) -> str:
    """The final line of a cluster scan, like the one of a scan on one machine."""
    s, n = outcome.scan, lang
    return t(
        n,
        "CLUSTER_RESUMED" if s.resumed else "CLUSTER_DONE",
        scan=s.scan_id,
        domains=format_number(s.domains, n),
        skipped=format_number(s.skipped, n),
        seconds=format_number(round(s.seconds, 1), n, 1),
        shards=format_number(outcome.shards, n),
        workers=format_number(outcome.workers_seen, n),
        lost=format_number(outcome.workers_lost, n),
        queries=format_number(s.queries, n),
        timeouts=format_number(int(str(s.engine_stats.get("timeouts", 0))), n),
        rejected=format_number(s.counts.rejected, n),
    )


def _lang() -> str:
    from sovmap import i18n

    choose = getattr(i18n, "cli_language", None)  # SOVMAP_LANG, where the catalogue has it
    return str(choose()) if choose is not None else "en"


def check_command(args: argparse.Namespace) -> None:
    """The checks of ``--cluster`` that come before a store is opened (a SQLite path would
    otherwise be created) or the cluster asked."""
    lang = _lang()
    if args.shard:
        raise ClusterSetupError(t(lang, "CLUSTER_NO_SHARD_OPTION"))
    if not database_url(args.db).startswith("postgresql"):
        raise ClusterSetupError(t(lang, "CLUSTER_NEEDS_POSTGRES_DB", db=args.db))
    if args.shard_size is not None and not 1 <= args.shard_size <= MAX_SHARD_SIZE:
        most = format_number(MAX_SHARD_SIZE, lang)
        raise ClusterSetupError(t(lang, "CLUSTER_SHARD_SIZE", value=args.shard_size, most=most))
    _check_address(args.cluster, lang)


def scan_command(args: argparse.Namespace, store: Store, settings: ScanSettings) -> int:
    """``sovmap scan INPUT --cluster ADDRESS``: the scan command's run, once its options are
    checked and ``settings`` made, on the cluster, with the cluster's progress and summary;
    input problems and the findings summary are printed as for one machine."""
    from sovmap.collect import commands as scan_cli  # the scan command's printing, shared
    from sovmap.collect.active import commands as active_commands

    lang = _lang()
    line = ProgressLine(lang, not args.quiet)
    try:
        outcome = run_cluster_scan(
            args.input,
            store,
            args.cluster,
            settings,
            shard_size=args.shard_size or DEFAULT_SHARD_SIZE,
            own_resolvers=not args.resolver,
            lang=lang,
            on_progress=line,
        )
    finally:
        line.close()
    stats = outcome.scan.engine_stats  # summed over the shards' engines
    scan_cli._print_problems(str(args.input), outcome.scan.problems, outcome.scan.counts)
    for text in active_commands.active_lines(stats):  # --probe http/smtp
        print(text)
    print(summary_line(outcome, lang))
    for text in scan_cli.network_lines(stats, lang):  # per probe kind and per resolver
        print(text)
    scan_cli._finish(store, outcome.scan.scan_id, args.out)
    return 1 if args.strict and outcome.scan.counts.rejected else 0


__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_SHARD_SIZE",
    "ClusterError",
    "ClusterJob",
    "ClusterOutcome",
    "ClusterProgress",
    "ClusterSetupError",
    "ProgressLine",
    "ShardOutcome",
    "check_command",
    "check_store",
    "connect",
    "run_cluster_scan",
    "scan_command",
    "scan_shard",
    "summary_line",
]
