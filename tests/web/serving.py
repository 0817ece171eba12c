"""``sovmap serve`` as a real process on a free loopback port, for tests that need a real
uvicorn server (memory of the server process, several processes sharing one store)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    port: int
    proc: subprocess.Popen[bytes]

    def rss_mib(self) -> float:
        """Resident memory of the server process now, from /proc (MiB)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc status")


@contextmanager
def serve(db: str, *extra: str) -> Iterator[Served]:
    """Start ``sovmap serve --db DB`` and wait until it listens; stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sovmap", "serve", "--db", db, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"sovmap serve exited: {out}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("sovmap serve did not listen within 60 s")
        yield Served(f"http://127.0.0.1:{port}", port, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def workers(pid: int) -> list[int]:
    """The worker processes ``sovmap serve --workers N`` (process ``pid``) started (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"sovmap.web.workers" in cmdline:
            out.append(int(stat.parent.name))
    return sorted(out)


def wait_for_workers(pid: int, n: int, timeout: float = 60) -> list[int]:
    """Wait until ``pid`` has ``n`` workers; their process ids."""
    deadline = time.monotonic() + timeout
    while len(found := workers(pid)) != n and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(found) == n, found
    return found
