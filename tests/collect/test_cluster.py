"""``sovmap scan --cluster``: shards as tasks on a real Dask cluster (a scheduler and three
worker processes on loopback), one real PostgreSQL store, a real Knot server; a worker is
killed with SIGKILL half way and the store still holds every domain exactly once, with the
findings a scan on one machine finds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from sovmap.cli import main
from sovmap.collect.cluster import (
    ClusterError,
    ClusterProgress,
    ClusterSetupError,
    connect,
    run_cluster_scan,
)
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, run_scan
from sovmap.store import Store, unpack_observations
from sovmap.synthetic import build_world
from support.knot import Knot, free_port

distributed = pytest.importorskip("distributed")

DOMAINS = 600


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Knot, Path]]:
    base = tmp_path_factory.mktemp("cluster-world")
    w = build_world(base / "zones", DOMAINS)
    knot = Knot(base / "run", w.zones, w.directory).start("s00.test")
    try:
        yield knot, w.domains_csv
    finally:
        knot.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A scheduler (in this process) and three worker processes (each under a nanny, which
    starts a new one when its worker dies), all on loopback."""
    with distributed.LocalCluster(
        n_workers=3,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as running:
        yield running


def _config(port: int, rate: float | None = None) -> EngineConfig:
    # generous attempts: a loaded 2-core machine must not turn a slow answer into a finding
    return EngineConfig([("127.0.0.1", port)], attempts=5, rate=rate)


def _stored(store: Store, scan_id: int) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """Each stored domain's observations, and every finding, of one scan."""
    with store.connect() as c:
        doubles = c.exec_driver_sql(
            "select domain, count(*) from scan_domains where scan_id = "
            f"{scan_id:d} group by domain having count(*) > 1"
        ).all()
        assert doubles == []
        domains = {
            d: unpack_observations(blob)
            for d, blob in c.exec_driver_sql(
                f"select domain, observations from scan_domains where scan_id = {scan_id:d}"
            )
        }
        found = sorted(
            tuple(r)
            for r in c.exec_driver_sql(
                "select domain, capability, provider, parent, jurisdiction, confidence, code, "
                f"role, tags, evidence from findings where scan_id = {scan_id:d}"
            )
        )
    return domains, found


@pytest.mark.knot
@pytest.mark.postgres
def test_a_killed_worker_loses_and_doubles_no_domain(
    tmp_path: Path,
    world: tuple[Knot, Path],
    cluster: Any,
    postgres_url: str,  # noqa: F811
) -> None:
    knot, domains_csv = world
    names = [line.split(",")[0] for line in domains_csv.read_text().splitlines()[1:]]
    size = 25
    started = time.monotonic()
    killed: list[int] = []
    victim: dict[str, list[str]] = {}  # the killed worker's address -> the tasks it held
    partial: list[int] = []  # domains of the killed worker's running shard stored before
    seen: list[ClusterProgress] = []
    store = Store(postgres_url)

    def cut(p: ClusterProgress) -> None:
        """Past half way, kill the worker of a shard that is partly stored."""
        seen.append(replace(p))
        if killed or p.done < DOMAINS // 2:
            return
        for worker in list(cluster.scheduler.workers.values()):
            for key in [str(ts.key) for ts in list(worker.processing)]:
                index = int(key.split("-shard-")[1].split("-")[0])
                part = names[index * size : (index + 1) * size]
                stored = len(store.stored_among(1, part))
                if 0 < stored < len(part):
                    victim[worker.address] = [str(ts.key) for ts in worker.processing]
                    partial.append(stored)
                    killed.append(worker.pid)
                    os.kill(worker.pid, signal.SIGKILL)
                    return

    # a rate budget per engine, so the scan lasts long enough to be cut half way; small
    # batches, so a shard is seen partly stored
    outcome = run_cluster_scan(
        domains_csv,
        store,
        cluster.scheduler_address,
        ScanSettings(_config(knot.port, rate=500), batch_size=5, flush_seconds=0.2),
        shard_size=size,
        on_progress=cut,
    )
    cluster_seconds = time.monotonic() - started
    assert killed, "the scan ended before a worker could be killed"
    assert outcome.workers_lost >= 1
    assert outcome.shards == DOMAINS // size
    assert outcome.scan.domains == DOMAINS and outcome.scan.skipped == 0
    # the progress counted the whole cluster: workers alive, shards, stored domains
    assert max(p.workers for p in seen) == 3
    assert any(p.workers_lost for p in seen)
    assert seen[-1].done == seen[-1].total == DOMAINS and seen[-1].shards_done == DOMAINS // size
    # the shards the killed worker was running were finished by another worker
    [(dead, keys)] = victim.items()
    moved = [int(key.split("-shard-")[1].split("-")[0]) for key in keys]
    assert moved and all(outcome.shard_outcomes[i].worker not in ("", dead) for i in moved)
    # ... and the one cut short carried on from what it had stored: none scanned twice
    assert max(outcome.shard_outcomes[i].skipped for i in moved) >= partial[0]
    scans = store.scans()
    assert [(s.id, s.state, s.domains) for s in scans] == [(outcome.scan.scan_id, "done", DOMAINS)]

    single = Store(tmp_path / "single.sqlite")
    one = run_scan(domains_csv, single, ScanSettings(_config(knot.port)))
    assert one.domains == DOMAINS
    on_cluster = _stored(store, outcome.scan.scan_id)
    on_one = _stored(single, one.scan_id)
    assert len(on_cluster[0]) == DOMAINS  # every domain, once (no doubles, checked above)
    assert on_cluster[0] == on_one[0]  # the same observations
    assert on_cluster[1] == on_one[1]  # the same findings
    print(
        f"\ncluster scan: {DOMAINS} domains, {outcome.shards} shards, worker pid {killed[0]} "
        f"killed at {DOMAINS // 2}+ stored holding shard(s) {moved} ({partial[0]} of one "
        f"stored), finished by "
        f"{[outcome.shard_outcomes[i].worker for i in moved]}; "
        f"{outcome.workers_seen} workers seen, "
        f"{outcome.workers_lost} lost; shards that found domains stored: "
        f"{sum(1 for s in outcome.shard_outcomes if s.skipped)}; "
        f"{len(on_cluster[1])} findings equal to one machine's; cluster scan "
        f"{cluster_seconds:.1f}s"
    )


class _Stop(Exception):
    pass


@pytest.mark.knot
@pytest.mark.postgres
def test_a_stopped_coordinator_resumes_while_old_tasks_still_write(
    world: tuple[Knot, Path],
    cluster: Any,
    postgres_url: str,  # noqa: F811
) -> None:
    """The coordinator stops at a third; the tasks it had handed out still run and write
    while the same command resumes the scan: the store keeps one row per domain."""
    knot, domains_csv = world

    def stop(p: ClusterProgress) -> None:
        if p.done >= DOMAINS // 3:
            raise _Stop

    store = Store(postgres_url)
    slow = ScanSettings(_config(knot.port, rate=500))
    with pytest.raises(_Stop):
        run_cluster_scan(
            domains_csv, store, cluster.scheduler_address, slow, shard_size=25, on_progress=stop
        )
    again = run_cluster_scan(
        domains_csv,
        Store(postgres_url),
        cluster.scheduler_address,
        ScanSettings(_config(knot.port)),
    )
    assert again.scan.resumed and again.scan.skipped >= DOMAINS // 3
    assert again.scan.skipped + again.scan.domains == DOMAINS
    domains, _ = _stored(store, again.scan.scan_id)
    assert len(domains) == DOMAINS
    assert [(s.state, s.domains) for s in store.scans()] == [("done", DOMAINS)]


@pytest.mark.knot
@pytest.mark.postgres
def test_the_command_line_prints_the_cluster_summary(
    world: tuple[Knot, Path],
    cluster: Any,
    postgres_url: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    knot, domains_csv = world
    code = main(
        [
            "scan",
            str(domains_csv),
            "--cluster",
            cluster.scheduler_address,
            "--db",
            postgres_url,
            "--resolver",
            f"127.0.0.1:{knot.port}",
            "--attempts",
            "5",
            "--shard-size",
            "200",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    first = out.out.splitlines()[0]
    assert first.startswith(f"scan 1: {DOMAINS:,} domains scanned in ")
    assert "on the cluster (3 shards, 3 workers, 0 lost; " in first
    assert first.endswith("; 0 input lines rejected")
    # answers per probe kind and per resolver, summed over the shards' engines
    assert out.out.splitlines()[1] == "questions answered (NOERROR or NXDOMAIN) and unanswered:"
    assert f"  resolver 127.0.0.1:{knot.port}: " in out.out
    assert f"{DOMAINS} domains scanned (scan 1)" in out.out  # the findings summary follows
    assert f"input: rows read {DOMAINS:,} = accepted {DOMAINS:,} + rejected 0" in out.err


@pytest.mark.postgres
def test_an_unreachable_cluster_is_exit_3_in_one_line_within_seconds(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    listed = tmp_path / "in.txt"
    listed.write_text("a.example\nb.example\n")
    port = free_port()  # nothing listens there
    started = time.monotonic()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "sovmap",
            "scan",
            str(listed),
            "--cluster",
            f"tcp://127.0.0.1:{port}",
            "--db",
            postgres_url,
            "--resolver",
            "127.0.0.1:9",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.monotonic() - started
    assert res.returncode == 3, res.stderr
    assert res.stderr.splitlines() == [
        f"sovmap: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 5 s: "
        "is 'dask scheduler' running there and its port open?"
    ]
    assert res.stdout == ""
    # the interpreter's start and the store's opening come on top of the 5 s connect timeout
    # (a 2-core machine under load takes up to 20 s for all of it); never a hang
    assert seconds < 60
    assert Store(postgres_url).scans() == []  # no scan was started


def test_connecting_gives_up_after_its_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler") as caught:
        connect(f"tcp://127.0.0.1:{port}", timeout=2.0)
    assert caught.value.exit_code == 3
    assert time.monotonic() - started < 2.0 + 8.0


@pytest.mark.parametrize(
    "address", ["nonsense", "tcp://127.0.0.1:notaport", "http://127.0.0.1:80", "tcp://h:99999"]
)
def test_a_malformed_address_is_exit_2_before_any_connection(address: str) -> None:
    started = time.monotonic()
    with pytest.raises(ClusterSetupError, match="not a scheduler address") as caught:
        connect(address, timeout=2.0)
    assert caught.value.exit_code == 2
    assert time.monotonic() - started < 2.0


def test_a_sqlite_store_with_a_cluster_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "in.txt"
    listed.write_text("a.example\n")
    db = tmp_path / "s.sqlite"
    code = main(
        [
            "scan",
            str(listed),
            "--cluster",
            "tcp://127.0.0.1:9",
            "--db",
            str(db),
            "--resolver",
            "127.0.0.1:9",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "needs a PostgreSQL store" in err and "cannot share a SQLite file" in err
    assert not db.exists()


def test_shard_and_cluster_do_not_go_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "in.txt"
    listed.write_text("a.example\n")
    code = main(
        [
            "scan",
            str(listed),
            "--cluster",
            "tcp://127.0.0.1:9",
            "--shard",
            "1/2",
            "--db",
            "postgresql://u@127.0.0.1:9/x",
            "--resolver",
            "127.0.0.1:9",
        ]
    )
    assert code == 2
    assert "--shard and --cluster do not go together" in capsys.readouterr().err
