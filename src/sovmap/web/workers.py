"""``sovmap serve --workers N``: N worker processes, each with its own listening socket on the
same address (``SO_REUSEPORT``), so the kernel spreads new connections over the workers.

uvicorn's own supervisor shares one socket between its workers; the worker that wakes first
accepts every waiting connection, so under load all keep-alive connections of a burst ended up
on one worker (50 of 50, counted with ``ss -tnp``) while the other idled. Here the parent
binds one socket per worker before any worker starts (a taken port fails at once), keeps them
open for its whole life (a worker that dies is replaced on the same socket, so connections
waiting in its queue are not lost) and starts each worker as ``python -m sovmap.web.workers``
with its socket's descriptor. Each worker builds the app from the settings in the environment
(``SOVMAP_SERVE``, JSON). The processes share the store, and with it sessions, tokens and the
log-in throttle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from sovmap.i18n import cli_language, format_number, t
from sovmap.process import die_with_parent
from sovmap.store import Store
from sovmap.store.migrate import database_url
from sovmap.web.app import create_app
from sovmap.web.features import detect_features
from sovmap.web.limits import FORM_BYTES, UPLOAD_BYTES, BodyLimits
from sovmap.web.oidc import load_oidc_settings
from sovmap.web.service import warm

ENV = "SOVMAP_SERVE"
#: Starlette's thread pool for plain (non-async) routes and dependencies: anyio's default
REQUEST_THREADS = 40


@dataclass(frozen=True, slots=True)
class ServeSettings:
    db: str
    secure_cookies: bool | None = None
    register: str | None = None
    scenario_settings: str | None = None
    exit_settings: str | None = None
    form_bytes: int = FORM_BYTES
    upload_bytes: int = UPLOAD_BYTES
    oidc: str | None = None  # OpenID Connect settings file

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    def app(self) -> FastAPI:
        """The app over the store (opened through the store door, already migrated)."""

        def path(v: str | None) -> Path | None:
            return Path(v) if v else None

        # a connection for each request thread (Starlette's pool runs up to 40 at once): with
        # SQLAlchemy's default of 5 (+10), requests under load queued for a connection (domain
        # page p95 at 50 clients: 448 ms with the default, 204 ms with 40, trivial call 120-132);
        # SQLite connections are file handles, a PostgreSQL server counts them (default kept)
        sqlite = database_url(self.db).startswith("sqlite")
        store = Store(self.db, connections=REQUEST_THREADS if sqlite else None)
        engine = store.engine
        app = create_app(
            engine,
            secure_cookies=self.secure_cookies,
            features=detect_features(
                path(self.register),
                scenario_settings=path(self.scenario_settings),
                exit_settings=path(self.exit_settings),
            ),
            limits=BodyLimits(form=self.form_bytes, json=self.form_bytes, upload=self.upload_bytes),
            oidc=load_oidc_settings(Path(self.oidc)) if self.oidc else None,
        )
        # the first requests find the latest scan's aggregates computed, not a cold cache
        threading.Thread(target=_warm, args=(engine, app), daemon=True).start()
        return app


def _warm(engine: Engine, app: FastAPI) -> None:
    t0 = time.monotonic()
    warm(engine, app.state.cache)
    lang = cli_language()
    seconds = format_number(round(time.monotonic() - t0), lang)
    print(t(lang, "SERVE_WORKER_WARM", pid=os.getpid(), seconds=seconds), flush=True)


def app_from_environment() -> FastAPI:
    """The app of a worker process, from the settings ``sovmap serve`` put in its environment."""
    return ServeSettings(**json.loads(os.environ[ENV])).app()


#: the worker's listening socket (a descriptor number), its heartbeat pipe, its uvicorn
#: options and its parent
FD_ENV = "SOVMAP_SERVE_FD"
BEAT_ENV = "SOVMAP_SERVE_BEAT_FD"
UVICORN_ENV = "SOVMAP_SERVE_UVICORN"
PARENT_ENV = "SOVMAP_SERVE_PARENT"
BACKLOG = 2048  # uvicorn's default
#: a worker that exits within this many seconds of its start counts as failing to start
QUICK_EXIT = 10.0
#: this many quick exits in a row and the server stops instead of starting workers forever
QUICK_EXITS = 5
#: seconds the workers get to finish their requests after SIGINT/SIGTERM
GRACE = 30.0
#: a worker's event loop writes a byte to its heartbeat pipe this often (seconds)
BEAT = 1.0
#: default seconds without a heartbeat after which a worker is killed and replaced
WORKER_TIMEOUT = 60.0


class ServeError(Exception):
    """The server cannot start or keep its workers running (a one-line message)."""


def listening_sockets(host: str, port: int, n: int, lang: str = "en") -> list[socket.socket]:
    """``n`` listening TCP sockets on the same address, each with ``SO_REUSEPORT``. Port 0
    takes a free port for the first and the same port for the others."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(t(lang, "SERVE_BAD_HOST", host=host, reason=exc.strerror)) from exc
    family, _, _, _, address = infos[0]
    socks: list[socket.socket] = []
    try:
        # first a plain bind: it fails while anything listens on the port, another sovmap
        # serve's SO_REUSEPORT group included (which the group's own binds would silently
        # join, splitting the connections between two servers)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            address = (address[0], probe.getsockname()[1], *address[2:])
        for _ in range(n):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
            address = (address[0], sock.getsockname()[1], *address[2:])
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise ServeError(
            t(lang, "SERVE_CANNOT_LISTEN", host=host, port=port, reason=exc.strerror or str(exc))
        ) from exc
    return socks


@dataclass
class _Worker:
    sock: socket.socket
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    beat_fd: int = -1  # the read end of the worker's heartbeat pipe
    last_beat: float = 0.0

    def heard(self, now: float) -> float:
        """Read the heartbeats waiting; the time of the last one (or of the start)."""
        try:
            while os.read(self.beat_fd, 4096):
                self.last_beat = now
        except BlockingIOError:
            pass
        return max(self.last_beat, self.started)

    def close_beat(self) -> None:
        if self.beat_fd >= 0:
            os.close(self.beat_fd)
            self.beat_fd = -1


@dataclass
class Supervisor:
    """Starts a worker process per socket, replaces one that dies or whose event loop has not
    written a heartbeat for ``timeout`` seconds (killed: a stuck worker would keep its share
    of the connections unanswered), and stops them all on SIGINT or SIGTERM (each gets
    :data:`GRACE` seconds to finish its requests)."""

    settings: ServeSettings
    sockets: list[socket.socket]
    uvicorn_options: dict[str, Any]
    timeout: float = WORKER_TIMEOUT
    lang: str = "en"  # of the messages (sovmap.i18n.cli_language)
    workers: list[_Worker] = field(default_factory=list)
    stopping: bool = False
    quick_exits: int = 0

    def _start(self, w: _Worker) -> None:
        w.close_beat()
        read, write = os.pipe()
        os.set_blocking(read, False)
        env = dict(os.environ)
        env[ENV] = self.settings.to_env()
        env[FD_ENV] = str(w.sock.fileno())
        env[BEAT_ENV] = str(write)
        env[UVICORN_ENV] = json.dumps(self.uvicorn_options)
        env[PARENT_ENV] = str(os.getpid())
        try:
            w.proc = subprocess.Popen(
                [sys.executable, "-m", "sovmap.web.workers"],
                env=env,
                pass_fds=(w.sock.fileno(), write),
            )
        finally:
            os.close(write)
        w.beat_fd = read
        w.started = time.monotonic()
        w.last_beat = 0.0

    def _say(self, code: str, **params: Any) -> None:
        print(t(self.lang, code, **params), file=sys.stderr, flush=True)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; :class:`ServeError` when workers keep dying."""
        old = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.workers = [_Worker(sock) for sock in self.sockets]
            for w in self.workers:
                self._start(w)
            while not self.stopping:
                time.sleep(0.2)
                for w in self.workers:
                    if self.stopping:
                        break
                    self._tend(w)
        finally:
            self._shutdown()
            for s, handler in old.items():
                signal.signal(s, handler)
            for w in self.workers:
                w.close_beat()
            for sock in self.sockets:
                sock.close()

    def _tend(self, w: _Worker) -> None:
        """Replace ``w``'s process when it has exited or gave no heartbeat for ``timeout``
        seconds; :class:`ServeError` after :data:`QUICK_EXITS` exits in a row right after
        their start (a worker that cannot start, e.g. a store it cannot open)."""
        assert w.proc is not None
        now = time.monotonic()
        code = w.proc.poll()
        if code is None:
            if now - w.heard(now) <= self.timeout:
                return
            seconds = format_number(self.timeout, self.lang)
            self._say("SERVE_WORKER_STUCK", pid=w.proc.pid, seconds=seconds)
            w.proc.kill()
            w.proc.wait()
            self.quick_exits = 0
        elif now - w.started < QUICK_EXIT:
            self.quick_exits += 1
            if self.quick_exits >= QUICK_EXITS:
                seconds = format_number(QUICK_EXIT, self.lang)
                raise ServeError(
                    t(self.lang, "SERVE_WORKERS_FAIL", n=self.quick_exits, seconds=seconds,
                      status=code)
                )  # fmt: skip
            self._say("SERVE_WORKER_EXITED", pid=w.proc.pid, status=code)
        else:
            self.quick_exits = 0
            self._say("SERVE_WORKER_EXITED", pid=w.proc.pid, status=code)
        self._start(w)

    def _shutdown(self) -> None:
        procs = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _worker_main() -> None:
    """A worker process: serve the app on the socket the parent passed."""
    import uvicorn

    die_with_parent()
    if os.getppid() != int(os.environ[PARENT_ENV]):
        return  # the parent died before the line above took effect
    sock = socket.socket(fileno=int(os.environ[FD_ENV]))
    beat = int(os.environ[BEAT_ENV])
    os.set_blocking(beat, False)
    config = uvicorn.Config(app_from_environment(), **json.loads(os.environ[UVICORN_ENV]))
    server = uvicorn.Server(config)

    async def heartbeat() -> None:
        # written by the event loop itself: a loop that stops turning stops the heartbeat
        while True:
            with contextlib.suppress(BlockingIOError):  # a full pipe: the parent reads later
                os.write(beat, b".")
            await asyncio.sleep(BEAT)

    async def main() -> None:
        task = asyncio.create_task(heartbeat())
        try:
            await server.serve(sockets=[sock])
        finally:
            task.cancel()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(main())


if __name__ == "__main__":
    _worker_main()
