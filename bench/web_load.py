"""Load benchmark of the web app (not a test): p95 latency under 50 concurrent clients.

Generates (or reuses) a store of 100,000 organisations, each with a domain and its findings
(mailbox, DNS, office suite, identity, gateway: about 4 findings per domain) and an
organisation set, starts ``sovmap serve --workers 2`` on loopback, warms every call, then for
each main page and API call runs a bounded closed-loop load — 50 clients, each sending the
next request when the previous answer is complete, over keep-alive HTTP/1.1 (a small asyncio
client, no extra dependency) — and prints p50/p95/p99 latency and throughput. The last line
compares every call's p95 with the trivial call's (``/api/me``, measured just before and just
after the call, the mean of the two) in the same run: exit 1 when one is more than 3 times it,
or any request failed. Only loopback is contacted.

    .venv/bin/python bench/web_load.py                 # 100,000 organisations, 10 s per call
    .venv/bin/python bench/web_load.py --orgs 20000 --seconds 5 --clients 50 --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.storegen import add_organisations, add_scan, municipalities  # noqa: E402

from sovmap.alerts.events import keep_changes, kept_changes  # noqa: E402
from sovmap.figures import keep_scan_figures, kept_values  # noqa: E402
from sovmap.store.migrate import open_engine, upgrade  # noqa: E402
from sovmap.store.snapshots import list_scans  # noqa: E402
from sovmap.web.auth import create_token, create_user  # noqa: E402


def build_store(path: Path, n: int) -> str:
    """A store with ``n`` organisations and one finished scan of their domains; returns an
    admin API token."""
    if path.exists():
        path.unlink()
    engine = open_engine(str(path))
    upgrade(engine)
    t0 = time.perf_counter()
    orgs = municipalities(n)
    with engine.begin() as conn:
        uid = create_user(conn, "bench", "bench password 1", "admin")
        token = create_token(conn, uid, "bench")
        add_scan(conn, orgs, seed=1, us_bias=0.4, started_at="2026-01-01T00:00:00Z")
        add_scan(conn, orgs, seed=2, us_bias=0.7, started_at="2026-06-01T00:00:00Z")
    add_organisations(engine, orgs)
    engine.dispose()
    keep_events(path)
    print(f"store: {n:,} organisations, 2 scans, built in {time.perf_counter() - t0:.1f} s")
    return token


def keep_events(path: Path) -> None:
    """What a scan does as it finishes: keep its own figure values (sovmap.figures) and the
    change events against the scan before (sovmap.alerts.events), unless they are kept
    already (a reused store is upgraded to the newest schema first)."""
    engine = open_engine(str(path))
    upgrade(engine)
    try:
        with engine.connect() as conn:
            done = [s for s in list_scans(conn) if s.finished]
            kept = kept_changes(conn, done[-2], done[-1]) is not None
            have = kept_values(conn, [s.id for s in done])
        for s in done:
            if s.id not in have:
                with engine.begin() as conn:
                    keep_scan_figures(conn, s.id)
        if not kept:
            t0 = time.perf_counter()
            n = len(keep_changes(engine).events)  # type: ignore[union-attr]
            print(f"change events kept: {n:,} in {time.perf_counter() - t0:.1f} s")
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, auth: str
) -> int:
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {auth}\r\n"
        "Accept: text/html,application/json\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.lower() == "content-length":
            length = int(v)
        elif k.lower() == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def client(
    port: int, paths: list[str], auth: str, until: float, lat: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(id(lat) ^ len(lat))
    try:
        while time.perf_counter() < until:
            path = rnd.choice(paths)
            t0 = time.perf_counter()
            status = await fetch(reader, writer, path, auth)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(
    port: int, paths: list[str], auth: str, clients: int, seconds: float
) -> dict[str, float]:
    lat: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(client(port, paths, auth, until, lat, errors) for _ in range(clients)))
    wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    return {
        "requests": len(lat),
        "errors": len(errors),
        "rps": len(lat) / wall,
        "p50": q[49] * 1000,
        "p95": q[94] * 1000,
        "p99": q[98] * 1000,
    }


#: the reference call: authentication and a tiny JSON answer, no store query beyond the token
TRIVIAL = "GET /api/me (trivial)"
MAX_RATIO = 3.0  # every call's p95 within this many times the trivial call's p95


def _answers(port: int, token: str) -> bool:
    """The server answers the trivial call (every worker has started or is starting)."""

    async def once() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await fetch(reader, writer, "/api/me", token)
        finally:
            writer.close()

    try:
        return asyncio.run(once()) == 200
    except OSError:
        return False


def scenarios(n: int, seed: int = 3) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    ids = [rnd.randrange(n) for _ in range(500)]
    return {
        TRIVIAL: ["/api/me"],
        "GET / (overview page)": ["/"],
        "GET /api/overview": ["/api/overview"],
        "GET /api/domains?prefix=… (search)": [
            f"/api/domains?prefix=gemeente{i // 100:04d}" for i in ids
        ],
        "GET /api/domains/{domain}": [f"/api/domains/gemeente{i:06d}.nl" for i in ids],
        "GET /domains/{domain} (page)": [f"/domains/gemeente{i:06d}.nl" for i in ids],
        "GET /orgs/{id} (organisation page)": [f"/orgs/test:gemeente{i:06d}" for i in ids],
        "GET /api/orgs/{id}": [f"/api/orgs/test:gemeente{i:06d}" for i in ids],
        "GET /providers/microsoft (page)": ["/providers/microsoft"],
        "GET /api/trends": ["/api/trends"],
        "GET /api/changes?limit=100": ["/api/changes?limit=100"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--orgs", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0, help="load per call")
    ap.add_argument("--store", type=Path, default=ROOT / "out" / "bench" / "web-load.sqlite")
    ap.add_argument("--reuse", action="store_true", help="reuse a store built earlier")
    ap.add_argument("--workers", type=int, default=2, help="sovmap serve worker processes")
    args = ap.parse_args()
    args.store.parent.mkdir(parents=True, exist_ok=True)
    token_file = args.store.with_suffix(".token")
    if args.reuse and args.store.exists() and token_file.exists():
        token = token_file.read_text().strip()
        keep_events(args.store)
    else:
        token = build_store(args.store, args.orgs)
        token_file.write_text(token)
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "sovmap", "serve", "--db", str(args.store)),
            *("--port", str(port), "--workers", str(args.workers)),
        ],
        # English messages: the relay below reads the workers' "warm in" lines
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SOVMAP_LANG": "en"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    warm_workers = threading.Semaphore(0)

    def relay() -> None:  # the server's output, and each worker's end of its warm-up
        assert server.stdout is not None
        for line in server.stdout:
            print(line, end="", flush=True)
            if line.startswith("sovmap: worker ") and " warm in " in line:
                warm_workers.release()

    threading.Thread(target=relay, daemon=True).start()
    try:
        deadline = time.monotonic() + 180  # a busy machine starts two workers slowly
        while not _answers(port, token):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("sovmap serve did not start")
            time.sleep(0.2)
        print(
            f"server: sovmap serve ({args.workers} worker(s)) on 127.0.0.1:{port}; "
            f"{args.clients} clients, {args.seconds:g} s per call, {os.cpu_count()} CPUs shared "
            "by server and load generator"
        )
        calls = scenarios(args.orgs)
        # each worker warms the latest scan's aggregates as it starts (sovmap.web.service.warm)
        # and says so: wait for every one, so the warm-up's work is not measured
        t0 = time.perf_counter()
        for _ in range(args.workers):
            if not warm_workers.acquire(timeout=900):
                raise SystemExit("a worker did not finish its warm-up in 900 s")
        print(f"workers warm after {time.perf_counter() - t0:.0f} s of waiting")
        for paths in calls.values():
            # warm the caches of every worker (each keeps its own) before anything is measured
            asyncio.run(load(port, paths[:5], token, 4 * args.workers, 1.0))
        print(
            f"{'call':<40} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'p99 ms':>8} errors  {'trivial p95 before/after':>24} ratio"
        )
        ratios: dict[str, float] = {}
        errors = 0

        def trivial() -> float:
            nonlocal errors
            ref = asyncio.run(load(port, calls[TRIVIAL], token, args.clients, args.seconds / 2))
            errors += int(ref["errors"])
            return ref["p95"]

        # the trivial call just before and just after each call (the one after is the next
        # call's before): the machine is shared with other work, and one 5 s window of the
        # trivial call alone moved its p95 between 40 and 76 ms in one run; the mean of the two
        # windows around a call is the reference for that call's ratio
        before = trivial()
        for name, paths in calls.items():
            r = asyncio.run(load(port, paths, token, args.clients, args.seconds))
            after = trivial()
            ratios[name] = r["p95"] / ((before + after) / 2)
            errors += int(r["errors"])
            print(
                f"{name:<40} {r['requests']:>9,.0f} {r['rps']:>8.1f} {r['p50']:>8.1f} "
                f"{r['p95']:>8.1f} {r['p99']:>8.1f} {r['errors']:>6.0f}  "
                f"{f'{before:.1f} / {after:.1f}':>24} {ratios[name]:.2f}",
                flush=True,
            )
            before = after
        worst = max(ratios, key=lambda n: ratios[n])
        ratio = ratios[worst]
        verdict = "within" if ratio <= MAX_RATIO else "NOT within"
        print(
            f"worst p95 ratio to the trivial call measured around it: {worst} "
            f"{ratio:.2f}x ({verdict} {MAX_RATIO:g}x); errors {errors}"
        )
        if ratio > MAX_RATIO or errors:
            return 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
