"""The whole scan: CLI, store, resume after kill -9, shards, reclassify, explain, exports."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.devserver import DevServer
from sovmap.store import Store
from sovmap.synthetic import build_world
from support.knot import Knot

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))


@pytest.fixture(scope="module")
def demo_server() -> Iterator[DevServer]:
    with DevServer(DEMO / "zones") as srv:
        yield srv


def _scan(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["scan", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_scan_cli_outputs_summary_and_rejects_bad_lines(
    tmp_path: Path, demo_server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = tmp_path / "s.sqlite", tmp_path / "f.csv"
    code, stdout, stderr = _scan(
        [
            str(DEMO / "domains.csv"),
            "--resolver",
            demo_server.address,
            "--db",
            str(db),
            "--out",
            str(out),
            "--timeout",
            "0.3",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0
    assert "8 domains scanned" in stdout and "3 input lines rejected" in stdout
    assert "domains.csv:10: DUPLICATE: " in stderr
    assert "domains.csv:11: PUBLIC_SUFFIX: " in stderr
    assert "domains.csv:12: INVALID: " in stderr
    assert "domains.csv: input: rows read 11 = accepted 8 + rejected 3" in stderr
    rows = list(csv.DictReader(out.open()))
    assert {"domain", "capability", "provider", "parent", "jurisdiction", "confidence"} <= set(
        rows[0]
    )
    mailbox = {r["domain"]: r for r in rows if r["capability"] == "mailbox"}
    assert mailbox["gemeente-zonnedal.nl"]["provider"] == "microsoft"
    assert mailbox["waterschap-lageland.nl"]["role"] == "behind-gateway"
    assert mailbox["provincie-noordkust.nl"]["provider"] == "google"
    assert mailbox["ziekenhuis-oostrand.nl"]["provider"] != "amazon"
    assert "capability" in stdout and "provider" in stdout  # the summary tables


def test_explain_reclassify_and_exports(
    tmp_path: Path, demo_server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.sqlite"
    _scan(
        [str(DEMO / "domains.csv"), "--resolver", demo_server.address, "--db", str(db), "--quiet"],
        capsys,
    )
    store = Store(db)
    before = store.findings(1)
    assert main(["explain", "gemeente-zonnedal.nl", "--db", str(db), "--raw"]) == 0
    text = capsys.readouterr().out
    assert "mailbox: Microsoft" in text
    assert "autodiscover.gemeente-zonnedal.nl" in text and "mail.protection.outlook.com" in text
    assert "learn.microsoft.com" in text  # the source of the fingerprint
    assert "[mx] gemeente-zonnedal.nl MX NOERROR" in text
    assert main(["reclassify", "--db", str(db)]) == 0
    capsys.readouterr()
    assert store.findings(1) == before
    for name in ("f.json", "f.parquet", "f.csv"):
        assert main(["export", str(tmp_path / name), "--db", str(db)]) == 0
    first = json.loads((tmp_path / "f.json").read_text().splitlines()[0])
    assert first["evidence"], first
    import pyarrow.parquet as pq

    assert pq.read_table(str(tmp_path / "f.parquet")).num_rows > 10
    assert main(["explain", "nope.example", "--db", str(db)]) == 2


def test_input_problems_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,website\nA,https://a.example\n")
    code = main(
        [
            "scan",
            str(bad),
            "--resolver",
            "127.0.0.1:9",
            "--db",
            str(tmp_path / "x"),
            "--timeout",
            "0.1",
            "--attempts",
            "1",
            "--quiet",
        ]
    )
    assert code == 3  # nothing listens at 127.0.0.1:9: a network failure, not "done" (issue 20)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("name,country\nA,NL\n")
    assert main(["scan", str(nocol), "--db", str(tmp_path / "y"), "--resolver", "127.0.0.1:9"]) == 2
    assert "no domain column" in capsys.readouterr().err
    assert main(["scan", str(tmp_path / "missing.csv")]) == 2
    assert main(["scan", str(nocol), "--resolver", "localhost"]) == 2


@pytest.fixture(scope="module")
def knot_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Knot, Path]]:
    base = tmp_path_factory.mktemp("world")
    world = build_world(base / "zones", 1500)
    knot = Knot(base / "run", world.zones, world.directory).start("s00.test")
    try:
        yield knot, world.domains_csv
    finally:
        knot.stop()


def _result_set(db: Path) -> tuple[list[str], set[tuple[str, str, str, str]]]:
    con = sqlite3.connect(db)
    domains = [r[0] for r in con.execute("select domain from scan_domains order by domain")]
    findings = {
        tuple(r) for r in con.execute("select domain, capability, provider, role from findings")
    }
    con.close()
    return domains, findings  # type: ignore[return-value]


def _cmd(csv_path: Path, db: Path, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sovmap",
        "scan",
        str(csv_path),
        "--resolver",
        f"127.0.0.1:{port}",
        "--db",
        str(db),
        "--quiet",
        "--timeout",
        "1",
        *extra,
    ]


def _processes_with(text: str) -> list[int]:
    """PIDs whose command line mentions ``text`` (forked workers keep their parent's)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().split(") ")[-1][:1]
            except OSError:
                continue
            if text.encode() in cmdline and state != "Z":
                out.append(int(entry.name))
    return out


@pytest.mark.knot
@pytest.mark.parametrize(("cut_workers", "resume_workers"), [("1", "1"), ("3", "2")])
def test_kill_9_and_resume_give_the_same_result_set(
    tmp_path: Path, knot_world: tuple[Knot, Path], cut_workers: str, resume_workers: str
) -> None:
    knot, domains_csv = knot_world
    full, cut = tmp_path / "full.sqlite", tmp_path / "cut.sqlite"
    subprocess.run(
        _cmd(domains_csv, full, knot.port, "--workers", "1"), check=True, capture_output=True
    )
    proc = subprocess.Popen(
        _cmd(domains_csv, cut, knot.port, "--rate", "8000", "--workers", cut_workers),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if cut.exists():
            try:
                con = sqlite3.connect(cut)
                stored = con.execute("select count(*) from scan_domains").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                continue
            if stored >= 200:
                break
    assert proc.poll() is None, "scan finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # no worker outlives the killed scan
    deadline = time.monotonic() + 10
    while _processes_with(str(cut)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(str(cut)) == []
    partial, _ = _result_set(cut)
    assert 0 < len(partial) < 1500
    res = subprocess.run(
        _cmd(domains_csv, cut, knot.port, "--workers", resume_workers),
        check=True,
        capture_output=True,
        text=True,
    )
    assert "resumed 1" in res.stdout
    full_domains, full_findings = _result_set(full)
    cut_domains, cut_findings = _result_set(cut)
    assert len(full_domains) == 1500 == len(set(full_domains))
    assert cut_domains == full_domains  # every domain exactly once
    assert cut_findings == full_findings


@pytest.mark.knot
def test_shards_merge_into_the_whole(tmp_path: Path, knot_world: tuple[Knot, Path]) -> None:
    knot, domains_csv = knot_world
    db = tmp_path / "shards.sqlite"
    for k in (1, 2, 3):
        subprocess.run(
            _cmd(domains_csv, db, knot.port, "--shard", f"{k}/3"), check=True, capture_output=True
        )
    con = sqlite3.connect(db)
    rows = con.execute("select domain, count(*) from scan_domains group by domain").fetchall()
    scans = con.execute("select count(*) from scans").fetchone()[0]
    con.close()
    assert len(rows) == 1500 and all(n == 1 for _, n in rows)
    assert scans == 3


def test_duplicate_writes_keep_one_row(tmp_path: Path) -> None:
    from sovmap.model import DomainResult, Observation, Status

    store = Store(tmp_path / "d.sqlite")
    sid = store.start_scan(input="x", input_digest="d")
    obs = (Observation("mx", "a.example", "MX", Status.NXDOMAIN),)
    store.write_results(sid, [(DomainResult("a.example", obs), [])], "v")
    # a second writer brings a batch that overlaps: the stored domain is kept, the rest added
    n = store.write_results(
        sid,
        [(DomainResult("a.example", obs), []), (DomainResult("b.example", obs), [])],
        "v",
    )
    assert n == 1
    assert store.done_domains(sid) == {"a.example", "b.example"}


def _stored(db: Path) -> dict[str, tuple[tuple[object, ...], list[tuple[object, ...]]]]:
    from sovmap.store import unpack_observations

    con = sqlite3.connect(db)
    out: dict[str, tuple[tuple[object, ...], list[tuple[object, ...]]]] = {}
    for domain, position, queries, errors, blob in con.execute(
        "select domain, position, queries, errors, observations from scan_domains"
    ):
        out[domain] = ((position, queries, errors, unpack_observations(blob)), [])
    for row in con.execute(
        "select domain, capability, provider, parent, jurisdiction, confidence, code, role, "
        "evidence from findings order by domain, capability, provider, role, code"
    ):
        out[row[0]][1].append(tuple(row[1:]))
    con.close()
    return out


@pytest.mark.knot
def test_workers_store_exactly_what_one_process_stores(
    tmp_path: Path, knot_world: tuple[Knot, Path]
) -> None:
    from sovmap.collect.engine import EngineConfig
    from sovmap.collect.pipeline import ScanSettings, run_scan

    knot, domains_csv = knot_world
    config = EngineConfig([("127.0.0.1", knot.port)])
    one = run_scan(domains_csv, Store(tmp_path / "one.sqlite"), ScanSettings(config, workers=1))
    three = run_scan(domains_csv, Store(tmp_path / "three.sqlite"), ScanSettings(config, workers=3))
    assert one.domains == three.domains == 1500
    assert one.queries == three.queries
    assert three.engine_stats["timeouts"] == 0
    assert _stored(tmp_path / "one.sqlite") == _stored(tmp_path / "three.sqlite")


def test_a_failing_worker_stops_the_scan_with_its_traceback(tmp_path: Path) -> None:
    from sovmap.collect.engine import EngineConfig
    from sovmap.collect.inputs import DomainInput
    from sovmap.collect.probes import default_plan
    from sovmap.collect.workers import WorkerError, WorkerJob, run_workers
    from sovmap.model import DomainResult, Finding

    def broken(result: DomainResult) -> tuple[DomainResult, list[Finding]]:
        raise RuntimeError(f"classifier bug on {result.domain}")

    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "w.test.zone").write_text(
        "$ORIGIN w.test.\n$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
    )
    with DevServer(tmp_path / "z") as srv:
        job = WorkerJob(
            EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.5),
            default_plan(),
            100,
            1,
            "test",
            broken,
        )
        with pytest.raises(WorkerError, match=r"classifier bug on a\.w\.test"):
            run_workers(2, job, iter([DomainInput("a.w.test", 1)]), lambda *a: None, lambda: None)


@pytest.mark.parametrize("workers", [1, 2, 3, 7, 64, 128, 200])
def test_worker_shares_never_exceed_the_politeness_limits(workers: int) -> None:
    from sovmap.collect.engine import EngineConfig
    from sovmap.collect.workers import share_config

    whole = EngineConfig(resolvers=[("127.0.0.1", 53)], max_inflight=128, rate=1000.0)
    if workers > 128:
        with pytest.raises(ValueError, match="at most the in-flight cap"):
            share_config(whole, workers)
        return
    part = share_config(whole, workers)
    assert part.max_inflight * workers <= 128
    assert part.min_inflight <= part.start_inflight <= part.max_inflight
    assert part.rate is not None and part.rate * workers == pytest.approx(1000.0)


def test_more_workers_than_in_flight_queries_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lst = tmp_path / "l.txt"
    lst.write_text("example.nl\n")
    args = ["scan", str(lst), "--resolver", "127.0.0.1:9", "--db", str(tmp_path / "x")]
    assert main([*args, "--workers", "4", "--inflight", "2"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert main([*args, "--workers", "0"]) == 2


def test_a_domain_near_the_length_limit_is_scanned_without_over_long_questions(
    tmp_path: Path,
) -> None:
    from sovmap.collect.engine import Engine, EngineConfig
    from sovmap.collect.inputs import DomainInput
    from sovmap.collect.probes import default_plan
    from sovmap.collect.scanner import Scanner
    from sovmap.model import DomainResult, Status

    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "w.test.zone").write_text(
        "$ORIGIN w.test.\n$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
    )
    domain = ".".join(["a" * 60] * 4) + ".w.test"  # 250 characters
    got: list[DomainResult] = []
    with DevServer(tmp_path / "z") as srv:
        engine = Engine(EngineConfig(resolvers=[(srv.host, srv.port)], timeout=0.5))
        Scanner(engine, default_plan()).run([DomainInput(domain, 1)], got.append)
        engine.close()
    (result,) = got
    too_long = [o for o in result.observations if len(o.qname) > 253]
    asked = [o for o in result.observations if len(o.qname) <= 253]
    assert too_long and all(o.status is Status.MALFORMED for o in too_long)
    assert any(o.qname == domain and o.qtype == "MX" for o in asked)
    assert all(o.status is not Status.MALFORMED for o in asked)
