"""Network benchmark (``make bench-network``): sovmap on a simulated real network, as ratios.

Builds the synthetic world (:mod:`sovmap.synthetic`), serves it with Knot on loopback and puts
three simulated resolvers (:mod:`sovmap.netsim`, one proxy process each) in front of it. Then,
in one run:

1. the proxies' own ceiling without delay, loss or limit (the engine through all three, no
   rate limit): it must carry at least three times the total budget, or this benchmark would
   measure the proxies;
2. queries per domain: a ``sovmap scan`` of the scenario's domains through the proxies without
   delay or loss (sent questions / domains);
3. scenario "2 % loss": 50 ms ± 20 ms round trip (normal jitter), 2 % loss, each resolver
   limiting each source to ``--budget`` queries/s (REFUSED above); ``sovmap scan --rate
   BUDGET``: E = domains/s / (total budget / queries per domain), A = questions answered /
   questions asked (per probe, from the scan's summary), R = sovmap's domains/s / those of a
   dnspython pipeline like the peers' (20 domains in flight, each domain's questions one after
   the other, dnspython's default timeouts, the same three resolvers, the same questions: the
   ones the lossless scan asked for that domain);
4. scenario "one dead": the same, one of the three never answers; E against the two live
   budgets;
5. scenario "all dead": ``sovmap scan`` must stop within 30 s with exit 3.

The last line reads ``network_efficiency=E answered=A vs_peer=R`` (scenario 3).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from scan_bench import query_mix  # noqa: E402
from sovmap.collect.commands import default_workers  # noqa: E402
from sovmap.collect.engine import Engine, EngineConfig, Query  # noqa: E402
from sovmap.model import RR, Status  # noqa: E402
from sovmap.netsim import Behaviour, NetSim  # noqa: E402
from sovmap.store import Store  # noqa: E402
from sovmap.synthetic import build_world, domain_name  # noqa: E402
from support.knot import Knot  # noqa: E402

LATENCY, JITTER, LOSS = 0.050, 0.020, 0.02


def proxy_ceiling(upstream: tuple[str, int], count: int, seconds: float) -> float:
    """Questions/s the three proxies carry without delay (the engine through all three)."""
    mix = query_mix(count)
    answered = 0

    def done(q: Query, status: Status, answers: tuple[RR, ...]) -> None:
        nonlocal answered
        answered += status.answered

    with NetSim(upstream, [Behaviour()] * 3) as sim:
        eng = Engine(EngineConfig(resolvers=sim.addresses, timeout=1.0))
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < seconds:
            while eng.outstanding < 4096:
                name, qtype = mix[i % len(mix)]
                eng.submit(Query(name, qtype, done))
                i += 1
            eng.poll(0.01)
        eng.run()
        elapsed = time.perf_counter() - start
        eng.close()
    return answered / elapsed


def scan(
    csv: Path, resolvers: list[tuple[str, int]], db: Path, rate: float | None, workers: int
) -> dict[str, Any]:
    """``run_scan`` in a child process (its rate from the scan itself, start-up excluded)."""
    if db.exists():
        db.unlink()
    code = (
        "import json;from pathlib import Path;"
        "from sovmap.collect.pipeline import ScanSettings,run_scan;"
        "from sovmap.collect.engine import EngineConfig;from sovmap.store import Store;"
        f"o=run_scan(Path({str(csv)!r}),Store({str(db)!r}),ScanSettings(EngineConfig("
        f"{resolvers!r},rate={rate!r}),workers={workers},resume=False));"
        "print(json.dumps({'domains':o.domains,'seconds':o.seconds,'stats':o.engine_stats}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def answered_share(stats: dict[str, Any]) -> float:
    yes = sum(stats.get("probe_answered", {}).values())
    no = sum(stats.get("probe_unanswered", {}).values())
    return yes / (yes + no) if yes + no else 0.0


def peer_questions(db: Path) -> list[list[tuple[str, str]]]:
    """Each domain's questions as the lossless scan asked them (its observations)."""
    store = Store(db)
    sid = store.scans()[-1].id
    out = [[(o.qname, o.qtype) for o in obs] for _d, _a, obs in store.iter_results(sid)]
    store.engine.dispose()
    return out


def dnspython_peer(
    resolvers: list[tuple[str, int]], domains: list[list[tuple[str, str]]], seconds: float
) -> tuple[float, int]:
    """A peer-like pipeline: 20 domains in flight, each domain's questions one after the
    other through ``dns.asyncresolver`` with its default timeouts. Domains/s over ``seconds``."""
    import dns.asyncresolver
    import dns.exception
    import dns.nameserver

    async def main() -> tuple[float, int]:
        res = dns.asyncresolver.Resolver(configure=False)
        res.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in resolvers]
        todo = iter(domains)
        done = 0
        start = time.perf_counter()
        stop = start + seconds

        async def worker() -> None:
            nonlocal done
            for questions in todo:
                if time.perf_counter() >= stop:
                    return
                for name, qtype in questions:
                    with contextlib.suppress(dns.exception.DNSException):
                        await res.resolve(name, qtype, raise_on_no_answer=False)
                done += 1

        await asyncio.gather(*(worker() for _ in range(20)))
        return done / (time.perf_counter() - start), done

    return asyncio.run(main())


def all_dead(upstream: tuple[str, int], csv: Path, db: Path) -> tuple[int, float, str]:
    """``sovmap scan`` with three resolvers that never answer: exit code, seconds, stderr."""
    with NetSim(upstream, [Behaviour(dead=True)] * 3) as sim:
        args = [sys.executable, "-m", "sovmap", "scan", str(csv), "--db", str(db), "--quiet"]
        for h, p in sim.addresses:
            args += ["--resolver", f"{h}:{p}"]
        start = time.perf_counter()
        res = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
        return res.returncode, time.perf_counter() - start, res.stderr.strip()


def write_csv(path: Path, first: int, count: int) -> Path:
    path.write_text("domain\n" + "".join(domain_name(i) + "\n" for i in range(first, count)))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budget", type=float, default=2000, help="queries/s per resolver")
    ap.add_argument("--seconds", type=float, default=30, help="length of the loss scenario")
    ap.add_argument(
        "--workers", type=int, help="sovmap scan processes (default: as sovmap scan chooses)"
    )
    ap.add_argument("--peer-seconds", type=float, default=20)
    args = ap.parse_args()
    budget = args.budget
    if args.workers is None:
        args.workers = default_workers(budget, 3)
    behaviour = Behaviour(latency=LATENCY, jitter=JITTER, loss=LOSS, rate=budget)
    with tempfile.TemporaryDirectory(prefix="sovmap-netbench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        # enough domains for both scenarios at up to 400 domains/s
        n = int(400 * args.seconds) + 2000
        world = build_world(work / "zones", n)
        knot = Knot(work / "run", world.zones, world.directory, workers=2)
        knot.start("s00.test", timeout=300)
        up = ("127.0.0.1", knot.port)
        print(
            f"world: {n} domains, Knot on {up[0]}:{up[1]} ready in "
            f"{time.perf_counter() - t0:.1f}s; cpus={os.cpu_count()}; resolvers: 3 simulated, "
            f"{LATENCY * 1000:.0f} ms ± {JITTER * 1000:.0f} ms, {LOSS:.0%} loss, budget "
            f"{budget:,.0f} q/s each (REFUSED above)"
        )
        try:
            # the best of three short runs: the machine may be shared, and the ceiling is
            # what the proxies can carry, not what a busy moment leaves them
            runs = [proxy_ceiling(up, 5000, 3.0) for _ in range(3)]
            ceiling = max(runs)
            need = 3 * 3 * budget
            print(
                f"proxy ceiling without delay: {ceiling:,.0f} q/s through 3 proxies, best of "
                f"{', '.join(f'{x:,.0f}' for x in runs)} (needs >= 3x the total budget = "
                f"{need:,.0f}: {'ok' if ceiling >= need else 'TOO LOW, the proxies are measured'})"
            )
            # queries per domain, on the scenario's domains, without delay or loss
            csv_a = write_csv(work / "a.csv", 0, n)
            with NetSim(up, [Behaviour()] * 3) as sim:
                plain = scan(csv_a, sim.addresses, work / "plain.sqlite", None, args.workers)
            qpd = plain["stats"]["sent"] / plain["domains"]
            print(
                f"queries per domain without loss: {qpd:.2f} ({plain['stats']['sent']:,} sent "
                f"for {plain['domains']:,} domains, {plain['domains'] / plain['seconds']:,.0f} "
                f"domains/s without delay)"
            )
            # scenario: 2 % loss, three resolvers; as many domains as the budget takes in
            # about --seconds
            count = int(3 * budget / qpd * args.seconds)
            csv_l = write_csv(work / "loss.csv", 0, count)
            with NetSim(up, [behaviour] * 3) as sim:
                got = scan(csv_l, sim.addresses, work / "loss.sqlite", budget, args.workers)
                proxies = [sim.stats(i) for i in range(3)]
            rate = got["domains"] / got["seconds"]
            e = rate / (3 * budget / qpd)
            a = answered_share(got["stats"])
            st = got["stats"]
            print(
                f"2% loss, 3 resolvers: {got['domains']:,} domains in {got['seconds']:.1f}s = "
                f"{rate:,.1f} domains/s; E={e:.3f} A={a:.5f} (sent {st['sent']:,}, "
                f"timeouts {st['timeouts']:,}, retries {st['retries']:,}, "
                f"refused by the proxies {sum(p.refused for p in proxies):,}, "
                f"lost by them {sum(p.lost for p in proxies):,})"
            )
            questions = peer_questions(work / "plain.sqlite")
            with NetSim(up, [behaviour] * 3) as sim:
                peer_rate, peer_done = dnspython_peer(sim.addresses, questions, args.peer_seconds)
            r = rate / peer_rate if peer_rate else float("inf")
            print(
                f"dnspython pipeline (20 domains in flight, same resolvers and questions): "
                f"{peer_done} domains in {args.peer_seconds:.0f}s = {peer_rate:,.2f} domains/s; "
                f"R={r:.1f}"
            )
            # scenario: one of three dead from the start; E against the two live budgets
            count_d = int(2 * budget / qpd * args.seconds * 0.8)
            csv_d = write_csv(work / "dead.csv", count, count + count_d)
            with NetSim(up, [behaviour, behaviour, Behaviour(dead=True)]) as sim:
                dead = scan(csv_d, sim.addresses, work / "dead.sqlite", budget, args.workers)
                dead_addr = "{}:{}".format(*sim.addresses[2])
            rate_d = dead["domains"] / dead["seconds"]
            e_d = rate_d / (2 * budget / qpd)
            marked = dead["stats"].get("resolver_dead", {}).get(dead_addr, 0)
            print(
                f"one of 3 dead from the start: {dead['domains']:,} domains in "
                f"{dead['seconds']:.1f}s = {rate_d:,.1f} domains/s; E={e_d:.3f} against the two "
                f"live budgets (target >= 0.85); A={answered_share(dead['stats']):.5f}; the dead "
                f"one marked dead by {marked} of {args.workers} workers"
            )
            code, took, err = all_dead(up, write_csv(work / "x.csv", 0, 200), work / "x.sqlite")
            print(
                f"all 3 dead: exit {code} after {took:.1f}s (target: exit 3 within 30 s); "
                f"stderr: {err}"
            )
        finally:
            knot.stop()
    print(f"network_efficiency={e:.3f} answered={a:.5f} vs_peer={r:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
