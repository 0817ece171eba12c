"""Scan engine benchmark: sovmap against the machine's ceiling, as ratios in one run.

Builds a synthetic world of N domains (realistic record mix), serves it with Knot DNS on a
loopback port, then measures on that same server and the same query mix:

1. ``dnsperf`` (the ceiling: a C load generator), queries per second;
2. the sovmap engine alone (same questions, every one answered), queries per second;
3. a dnspython asyncio resolver baseline, queries per second (on a subset: it is slow);
4. the full ``sovmap scan`` (all probes and follow-ups, classify, store) in domains per second,
   as a separate process, its rate taken from the scan itself (process start-up excluded).

dnsperf and the engine take turns (``--rounds``, default 3) and R is the median of the rounds'
ratios, so a change of the machine's load during the run hits both sides. The last line reads
``engine_vs_dnsperf=R domains_per_s=N``. With ``--quick`` (about a minute and a half) it exits
non-zero when R falls below ``--min-ratio`` (default 0.4) or a query went unanswered. Absolute
times are printed for information only; what is compared is the ratio within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sovmap.collect.engine import Engine, EngineConfig, Query  # noqa: E402
from sovmap.collect.probes import default_plan  # noqa: E402
from sovmap.model import RR, Status  # noqa: E402
from sovmap.synthetic import build_world, domain_name  # noqa: E402
from support.knot import Knot  # noqa: E402


def query_mix(count: int) -> list[tuple[str, str]]:
    """The base questions of the probe plan for ``count`` domains, in scan order."""
    plan = default_plan()
    out: list[tuple[str, str]] = []
    for i in range(count):
        d = domain_name(i)
        for q in plan.questions:
            out.append((d if q.name == "@" else f"{q.name}.{d}", q.qtype))
        for sel in plan.dkim_selectors:
            out.append((f"{sel}._domainkey.{d}", "TXT"))
    return out


def run_dnsperf(port: int, queries: list[tuple[str, str]], seconds: float, workdir: Path) -> float:
    data = workdir / "dnsperf.txt"
    data.write_text("".join(f"{n} {t}\n" for n, t in queries))
    res = subprocess.run(
        [
            "dnsperf",
            "-s",
            "127.0.0.1",
            "-p",
            str(port),
            "-d",
            str(data),
            "-l",
            str(seconds),
            "-c",
            "2",
            "-T",
            "2",
            "-q",
            "500",
            "-e",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    m = re.search(r"Queries per second:\s+([\d.]+)", res.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", res.stdout)
    if not m:
        raise RuntimeError(f"unexpected dnsperf output:\n{res.stdout}\n{res.stderr}")
    print(f"dnsperf: {float(m.group(1)):,.0f} q/s (lost {lost.group(1) if lost else '?'})")
    return float(m.group(1))


def run_engine(port: int, queries: list[tuple[str, str]], seconds: float) -> tuple[float, int]:
    """Send the query mix through the engine (looping over it) for about ``seconds``."""
    answered = 0
    failed = 0

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        nonlocal answered, failed
        if status in (Status.NOERROR, Status.NXDOMAIN):
            answered += 1
        else:
            failed += 1

    eng = Engine(EngineConfig(resolvers=[("127.0.0.1", port)], timeout=1.0, attempts=3))
    sent = 0
    start = time.perf_counter()
    deadline = start + seconds
    idx = 0
    n = len(queries)
    while time.perf_counter() < deadline:
        # keep the engine's queue topped up without building an unbounded backlog
        while eng.outstanding < 4096:
            name, qtype = queries[idx % n]
            eng.submit(Query(name, qtype, done))
            idx += 1
            sent += 1
        eng.poll(0.01)
    eng.run()
    elapsed = time.perf_counter() - start
    eng.close()
    total = answered + failed
    print(
        f"sovmap engine: {total / elapsed:,.0f} q/s ({answered} answered, {failed} not, "
        f"{eng.stats.timeouts} timeouts retried)"
    )
    return total / elapsed, failed


def run_dnspython(port: int, queries: list[tuple[str, str]], limit: int) -> float:
    import dns.asyncresolver

    async def main() -> float:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = ["127.0.0.1"]
        res.port = port
        res.lifetime = 2.0
        sem = asyncio.Semaphore(100)

        async def one(name: str, qtype: str) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await res.resolve(name, qtype, raise_on_no_answer=False)

        t = time.perf_counter()
        await asyncio.gather(*(one(n, q) for n, q in queries[:limit]))
        return limit / (time.perf_counter() - t)

    qps = asyncio.run(main())
    print(f"dnspython asyncio: {qps:,.0f} q/s")
    return qps


def run_full_scan(port: int, domains_csv: Path, workdir: Path, workers: int) -> float:
    db = workdir / "bench.sqlite"
    if db.exists():
        db.unlink()
    code = (
        "import json,sys;from pathlib import Path;"
        "from sovmap.collect.pipeline import ScanSettings,run_scan;"
        "from sovmap.collect.engine import EngineConfig;from sovmap.store import Store;"
        f"o=run_scan(Path({str(domains_csv)!r}),Store({str(db)!r}),"
        f"ScanSettings(EngineConfig([('127.0.0.1',{port})]),workers={workers}));"
        "print(json.dumps({'domains':o.domains,'seconds':o.seconds,'queries':o.queries,"
        "'stats':o.engine_stats}))"
    )
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    out = json.loads(res.stdout.strip().splitlines()[-1])
    rate = out["domains"] / out["seconds"]
    print(
        f"sovmap scan ({workers} worker(s)): {out['domains']} domains in {out['seconds']:.2f}s "
        f"= {rate:,.0f} domains/s "
        f"({out['queries'] / out['seconds']:,.0f} questions/s, {wall:.1f}s with start-up; "
        f"timeouts {out['stats']['timeouts']})"
    )
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small world, short runs (CI)")
    ap.add_argument("--domains", type=int, help="domains in the synthetic world")
    ap.add_argument("--seconds", type=float, help="length of each throughput run")
    ap.add_argument("--min-ratio", type=float, default=0.4)
    ap.add_argument("--rounds", type=int, default=3, help="dnsperf/engine pairs, in turn")
    ap.add_argument("--workers", type=int, default=1, help="Knot UDP workers")
    ap.add_argument(
        "--scan-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="sovmap scan worker processes (default: one per CPU)",
    )
    args = ap.parse_args()
    n = args.domains or (20_000 if args.quick else 200_000)
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    with tempfile.TemporaryDirectory(prefix="sovmap-bench-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        world = build_world(work / "zones", n)
        knot = Knot(work / "run", world.zones, world.directory, workers=args.workers)
        knot.start("s00.test", timeout=300)
        print(
            f"world: {n} domains, Knot with {args.workers} UDP worker(s) on 127.0.0.1:"
            f"{knot.port}, ready in {time.perf_counter() - t:.1f}s; cpus={os.cpu_count()}"
        )
        try:
            mix = query_mix(min(n, 50_000))
            # dnsperf and the engine take turns, so a change in the machine's load between
            # the two hits both; the ratio quoted is the median of the rounds' ratios
            ratios: list[float] = []
            failed = 0
            for k in range(args.rounds):
                print(f"round {k + 1}/{args.rounds}:")
                ceiling = run_dnsperf(knot.port, mix, seconds, work)
                engine_qps, lost = run_engine(knot.port, mix, seconds)
                failed += lost
                ratios.append(engine_qps / ceiling)
            run_dnspython(knot.port, mix, 3000 if args.quick else 20000)
            rate = run_full_scan(knot.port, world.domains_csv, work, args.scan_workers)
        finally:
            knot.stop()
    ratios.sort()
    ratio = ratios[len(ratios) // 2]
    print("engine/dnsperf per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    print(f"engine_vs_dnsperf={ratio:.3f} domains_per_s={rate:.0f}")
    if args.quick and (ratio < args.min_ratio or failed):
        print(f"FAIL: ratio below {args.min_ratio} or unanswered queries", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
