"""``sovmap serve --workers N`` on real processes: the parent accepts and gives each connection
to the worker with the fewest open ones, so keep-alive connections are shared evenly; a worker
that dies, or
whose event loop stops (SIGSTOP), is replaced and the server keeps answering; SIGTERM stops
every worker; a taken port is refused before any worker starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.support.webstore import auth, fill
from tests.web.serving import free_port, serve, wait_for_workers, workers

from sovmap.store.migrate import open_engine


def established(pid: int, port: int) -> int:
    """Established TCP connections to local ``port`` whose socket process ``pid`` holds."""
    return len(peers(pid, port))


def peers(pid: int, port: int) -> set[int]:
    """The client ports of the established TCP connections to local ``port`` that process
    ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            local_port = int(f[1].rsplit(":", 1)[1], 16)
            if local_port == port and f[3] == "01" and f[9] in inodes:  # 01: ESTABLISHED
                out.add(int(f[2].rsplit(":", 1)[1], 16))
    return out


def get(sock: socket.socket) -> bytes:
    """One keep-alive request on an open connection; the status line."""
    sock.sendall(b"GET /api/me HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data.split(b"\r\n", 1)[0]


def settled(pids: list[int], port: int, holding: dict[int, int] | None = None) -> None:
    """Wait until the workers have closed the connections the test closed (each holds
    ``holding`` of them, else none), then give the parent a moment to read their news."""
    want = {pid: (holding or {}).get(pid, 0) for pid in pids}
    deadline = time.monotonic() + 20
    while {pid: established(pid, port) for pid in pids} != want:
        assert time.monotonic() < deadline, ({pid: established(pid, port) for pid in pids}, want)
        time.sleep(0.05)
    time.sleep(0.3)


def each_serves(pids: list[int], port: int, timeout: float = 60) -> None:
    """Wait until every worker is ready: a new connection lands on each (a worker that is still
    starting is given none, they go to the ready ones or wait in the parent's queue)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while seen != set(pids) and time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port)) as c:
            get(c)
            seen |= {pid for pid in pids if established(pid, port)}
        time.sleep(0.05)
    assert seen == set(pids), (seen, pids)


def test_connections_spread_over_workers_and_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    db = str(tmp_path / "workers.db")
    engine = open_engine(db)
    store = fill(engine, n=2)
    engine.dispose()
    with serve(db, "--workers", "2") as s:
        first = wait_for_workers(s.proc.pid, 2)
        each_serves(first, s.port)
        # 40 keep-alive connections, as a browser or load generator holds them: with one shared
        # socket the worker that woke first took them all; with a socket per worker the kernel
        # spread them by chance (17/23); given to the worker with the fewest, they are 20/20
        conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(40)]
        try:
            assert {get(c) for c in conns} == {b"HTTP/1.1 401 Unauthorized"}
            held = [established(pid, s.port) for pid in first]
            # (uvicorn closes a keep-alive connection idle for 5 s: on a slow machine a few
            # may be gone before they are counted)
            assert 30 <= sum(held) <= 40 and max(held) - min(held) <= 4, held
        finally:
            for c in conns:
                c.close()
        # the parent counts closed connections: the worker whose 5 of 10 closed gets the next 5
        settled(first, s.port)
        conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(10)]
        try:
            for c in conns:
                get(c)
            mine = peers(first[0], s.port)
            assert len(mine) == 5, mine
            for c in conns:
                if c.getsockname()[1] in mine:
                    c.close()
            settled(first, s.port, holding={first[1]: 5})
            more = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(5)]
            conns += more
            for c in more:
                get(c)
            assert {c.getsockname()[1] for c in more} <= peers(first[0], s.port)
        finally:
            for c in conns:
                c.close()
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = wait_for_workers(s.proc.pid, 2)
            if first[0] not in now:
                break
            time.sleep(0.2)
        assert first[0] not in now and first[1] in now
        # every new connection is answered: while the dead worker is replaced, connections go
        # to the live one or wait in the parent's queue
        codes = {
            httpx.get(s.url + "/api/me", headers=auth(store, "viewer"), timeout=60).status_code
            for _ in range(30)  # a new connection each
        }
        assert codes == {200}
        assert s.proc.poll() is None
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=40) == 0
    for pid in now:  # no worker outlives the server
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
        )


def test_a_taken_port_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        cmd = [sys.executable, "-m", "sovmap", "serve", "--db", str(tmp_path / "x.db")]
        done = subprocess.run(
            [*cmd, "--port", str(port), "--workers", "2"],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SOVMAP_LANG": "nl"},  # the messages in Dutch too
        )
    assert done.returncode == 2
    assert f"kan niet luisteren op 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    bad = subprocess.run(
        [*cmd, "--workers", "2", "--worker-timeout", "nan"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SOVMAP_LANG": "nl"},
    )
    assert bad.returncode == 2 and "--worker-timeout nan: kies 2 tot en met 3600" in bad.stderr
    # nor does a second sovmap serve share the first one's port
    with serve(str(tmp_path / "x.db"), "--workers", "2") as first:
        second = subprocess.run(
            [*cmd, "--port", str(first.port), "--workers", "2"],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert f"cannot listen on 127.0.0.1:{first.port}" in second.stderr


def test_a_stuck_worker_is_killed_and_replaced(tmp_path: Path) -> None:
    db = str(tmp_path / "stuck.db")
    engine = open_engine(db)
    store = fill(engine, n=2)
    engine.dispose()
    with serve(db, "--workers", "2", "--worker-timeout", "5") as s:
        first = wait_for_workers(s.proc.pid, 2)
        time.sleep(6)  # both beat: neither is replaced while it answers
        assert wait_for_workers(s.proc.pid, 2) == first
        os.kill(first[0], signal.SIGSTOP)  # alive, but its event loop no longer turns
        deadline = time.monotonic() + 60
        now = first
        while first[0] in now and time.monotonic() < deadline:
            time.sleep(0.2)
            now = workers(s.proc.pid)
        assert first[0] not in now and first[1] in now
        now = wait_for_workers(s.proc.pid, 2)
        codes = {
            httpx.get(s.url + "/api/me", headers=auth(store, "viewer"), timeout=60).status_code
            for _ in range(30)
        }
        assert codes == {200}
        s.proc.send_signal(signal.SIGTERM)
        out = s.proc.communicate(timeout=40)[0].decode()
    assert f"worker {first[0]} gave no sign of life for 5 s" in out
