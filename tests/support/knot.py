"""Start a real Knot DNS server on a free loopback port for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path


def free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise OSError("no free port")


class Knot:
    """knotd serving ``zones`` (origin -> zone file path) from ``rundir``."""

    def __init__(self, rundir: Path, zones: Iterable[str], zone_dir: Path, workers: int = 1):
        if shutil.which("knotd") is None:
            raise RuntimeError("knotd not installed (scripts/install-system-deps.sh installs it)")
        self.rundir = rundir
        self.port = free_port()
        (rundir / "db").mkdir(parents=True, exist_ok=True)
        conf = [
            "server:",
            f"    listen: 127.0.0.1@{self.port}",
            f"    udp-workers: {workers}",
            "    tcp-workers: 1",
            "    background-workers: 1",
            f"    rundir: {rundir}",
            "log:",
            "  - target: stderr",
            "    any: error",
            "database:",
            f"    storage: {rundir}/db",
            "template:",
            "  - id: default",
            f"    storage: {zone_dir}",
            '    file: "%s.zone"',
            "    zonefile-sync: -1",
            "    journal-content: none",
            "zone:",
        ]
        conf += [f"  - domain: {z}" for z in zones]
        (rundir / "knot.conf").write_text("\n".join(conf) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, probe_name: str, timeout: float = 30.0) -> Knot:
        log = (self.rundir / "knotd.log").open("wb")
        self.proc = subprocess.Popen(
            ["knotd", "-c", str(self.rundir / "knot.conf")], stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = subprocess.run(
                [
                    "kdig",
                    "@127.0.0.1",
                    "-p",
                    str(self.port),
                    "+short",
                    "+timeout=1",
                    "+retry=0",
                    probe_name,
                    "SOA",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if r.stdout.strip():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"knotd did not start: {(self.rundir / 'knotd.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
