"""A very large scan: peak memory, and kill -9 + resume against an uninterrupted run.

Builds a synthetic world of N domains (default 1,000,000), serves it with Knot DNS on
loopback, then

1. scans it once without interruption (``sovmap scan``, as a user runs it), sampling the
   resident memory of the whole process tree (the scan and its workers; pages shared after
   fork are counted in every process, so the sum is an upper bound);
2. scans it again into a second store, kills that scan with SIGKILL when about half of the
   domains are stored, checks no worker outlived it, and resumes it;
3. compares the two stores domain by domain: every domain exactly once, the same
   observations (decompressed) and the same findings.

The last line reads ``domains=N peak_rss_mib=M identical=yes|no``; the exit status is
non-zero when the stores differ or the peak exceeds ``--max-rss-mib`` (default 1024).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sovmap.store import observations_json  # noqa: E402
from sovmap.synthetic import build_world  # noqa: E402
from support.knot import Knot  # noqa: E402


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) * 1024
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, ()))
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, tree_rss(self.pid))


def scan_cmd(csv_path: Path, db: Path, port: int, workers: int) -> list[str]:
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
        "--workers",
        str(workers),
    ]


def stored(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return int(con.execute("select count(*) from scan_domains").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def rows(db: Path) -> Iterator[tuple[str, str, str]]:
    """(domain, digest of its observations, digest of its findings), ordered by domain."""
    con = sqlite3.connect(db)
    fcur = con.cursor()
    fcur.execute(
        "select domain, capability, provider, parent, jurisdiction, confidence, code, role, "
        "evidence from findings order by domain, capability, provider, role, code, evidence"
    )
    pending = fcur.fetchone()
    for domain, blob in con.execute(
        "select domain, observations from scan_domains order by domain"
    ):
        h = hashlib.sha256()
        while pending is not None and pending[0] < domain:
            pending = fcur.fetchone()  # findings of a domain not stored: counted below
            h.update(b"orphan")
        while pending is not None and pending[0] == domain:
            h.update(repr(pending[1:]).encode())
            pending = fcur.fetchone()
        yield domain, hashlib.sha256(observations_json(blob)).hexdigest(), h.hexdigest()
    con.close()


def compare(a: Path, b: Path) -> tuple[int, int]:
    """(domains compared, differences)."""
    n = diff = 0
    ia, ib = rows(a), rows(b)
    for ra, rb in zip(ia, ib, strict=False):
        n += 1
        if ra != rb:
            diff += 1
            if diff <= 5:
                print(f"  differs: {ra} / {rb}")
    rest = sum(1 for _ in ia) + sum(1 for _ in ib)
    return n, diff + rest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--domains", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction stored at the kill")
    ap.add_argument("--max-rss-mib", type=float, default=1024)
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sovmap-resume-", dir=args.dir) as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        world = build_world(work / "zones", args.domains)
        knot = Knot(work / "run", world.zones, world.directory)
        knot.start("s00.test", timeout=1800)
        print(f"world: {args.domains} domains served in {time.perf_counter() - t:.0f}s", flush=True)
        try:
            full, cut = work / "full.sqlite", work / "cut.sqlite"
            t = time.perf_counter()
            proc = subprocess.Popen(scan_cmd(world.domains_csv, full, knot.port, args.workers))
            sampler = Sampler(proc.pid)
            sampler.start()
            if proc.wait() != 0:
                raise SystemExit("uninterrupted scan failed")
            sampler.stop.set()
            sampler.join()
            elapsed = time.perf_counter() - t
            peak = sampler.peak / 2**20
            print(
                f"uninterrupted: {args.domains / elapsed:,.0f} domains/s with start-up, "
                f"peak RSS of the process tree {peak:,.0f} MiB",
                flush=True,
            )

            proc = subprocess.Popen(scan_cmd(world.domains_csv, cut, knot.port, args.workers))
            cut_sampler = Sampler(proc.pid)
            cut_sampler.start()
            target = int(args.domains * args.kill_at)
            while proc.poll() is None and stored(cut) < target:
                time.sleep(0.5)
            if proc.poll() is not None:
                raise SystemExit("scan finished before it could be killed")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            cut_sampler.stop.set()
            at_kill = stored(cut)
            time.sleep(1)
            left = [
                p.name
                for p in Path("/proc").iterdir()
                if p.name.isdigit() and str(cut).encode() in _cmdline(p)
            ]
            print(f"killed with {at_kill} domains stored; processes left: {len(left)}", flush=True)
            res = subprocess.run(
                scan_cmd(world.domains_csv, cut, knot.port, args.workers),
                capture_output=True,
                text=True,
                check=True,
            )
            print("resume: " + res.stdout.strip().splitlines()[0], flush=True)
            n, diff = compare(full, cut)
            peak = max(peak, cut_sampler.peak / 2**20)
        finally:
            knot.stop()
    identical = diff == 0 and n == args.domains and not left
    print(f"compared {n} domains, {diff} differences")
    print(
        f"domains={args.domains} peak_rss_mib={peak:.0f} identical={'yes' if identical else 'no'}"
    )
    return 0 if identical and peak <= args.max_rss_mib else 1


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""


if __name__ == "__main__":
    sys.exit(main())
