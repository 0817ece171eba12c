"""``sovmap serve --workers N``: N worker processes behind one listening socket that the
parent accepts on, handing each new connection to the worker with the fewest open connections.

How connections reach the workers decides the latency under load, because browsers and load
generators keep their connections open (keep-alive) and each stays with the worker that got it:
- uvicorn's own supervisor shares one socket between its workers; the worker that wakes first
  accepts every waiting connection, so a burst of keep-alive connections ended up on one
  worker (50 of 50, counted with ``ss -tnp``) while the other idled;
- a socket per worker with ``SO_REUSEPORT`` lets the kernel hash each connection to a worker:
  spread, but by chance (40 connections: 17/23, 17/23, 19/21), and the worker with the most
  sets the tail latency of all;
- here the parent accepts and passes each connection's descriptor over a Unix socket pair
  (``SCM_RIGHTS``) to the ready worker holding the fewest open connections (ties in turn);
  each worker says when it is ready and when a connection it was given has closed.

The parent binds the socket before any worker starts (a taken port fails at once), keeps it
for its whole life (connections wait in its queue while a worker is replaced) and starts each
worker as ``python -m sovmap.web.workers`` with its end of the socket pair. Each worker builds
the app from the settings in the environment (``SOVMAP_SERVE``, JSON) and runs uvicorn without
a listening socket of its own. The processes share the store, and with it sessions, tokens
and the log-in throttle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
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


#: the worker's end of its socket pair with the parent (a descriptor number), its heartbeat
#: pipe, its uvicorn options and its parent
CHANNEL_ENV = "SOVMAP_SERVE_CHANNEL_FD"
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
#: what a worker sends its parent: ready to be given connections; a given connection closed
READY = b"r"
CLOSED = b"-"
#: connections accepted at most per wake-up before the parent reads its workers' news again
ACCEPT_BATCH = 64


class ServeError(Exception):
    """The server cannot start or keep its workers running (a one-line message)."""


def listening_socket(host: str, port: int, lang: str = "en") -> socket.socket:
    """The listening TCP socket of the server (non-blocking); port 0 takes a free port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(t(lang, "SERVE_BAD_HOST", host=host, reason=exc.strerror)) from exc
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ServeError(
            t(lang, "SERVE_CANNOT_LISTEN", host=host, port=port, reason=exc.strerror or str(exc))
        ) from exc
    sock.setblocking(False)
    return sock


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    beat_fd: int = -1  # the read end of the worker's heartbeat pipe
    last_beat: float = 0.0
    channel: socket.socket | None = None  # the parent's end of the socket pair
    ready: bool = False  # said so since its start: it may be given connections
    open: int = 0  # connections given to it and not yet closed
    given: int = 0  # connections given to it in all (ties go to the one given fewer)

    def heard(self, now: float) -> float:
        """Read the heartbeats waiting; the time of the last one (or of the start)."""
        try:
            while self.beat_fd >= 0 and os.read(self.beat_fd, 4096):
                self.last_beat = now
        except BlockingIOError:
            pass
        return max(self.last_beat, self.started)

    def close(self) -> None:
        """Forget the process's pipe and socket pair (it exited, or is being replaced)."""
        if self.beat_fd >= 0:
            os.close(self.beat_fd)
            self.beat_fd = -1
        self.close_channel()

    def close_channel(self) -> None:
        """No more connections for this process (its end of the socket pair is closed)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self.ready = False
        self.open = 0


@dataclass
class Supervisor:
    """Starts the workers and hands each accepted connection to the ready worker with the
    fewest open connections; replaces a worker that dies or whose event loop has not written a
    heartbeat for ``timeout`` seconds (killed: a stuck worker would keep its connections
    unanswered), and stops them all on SIGINT or SIGTERM (each gets :data:`GRACE` seconds to
    finish its requests)."""

    settings: ServeSettings
    sock: socket.socket  # the listening socket (sovmap.web.workers.listening_socket)
    n: int  # workers
    uvicorn_options: dict[str, Any]
    timeout: float = WORKER_TIMEOUT
    lang: str = "en"  # of the messages (sovmap.i18n.cli_language)
    workers: list[_Worker] = field(default_factory=list)
    stopping: bool = False
    quick_exits: int = 0
    _sel: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    _accepting: bool = False

    def _start(self, w: _Worker) -> None:
        w.close()
        read, write = os.pipe()
        os.set_blocking(read, False)
        # SOCK_SEQPACKET: each connection's descriptor is one message, never merged
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env[ENV] = self.settings.to_env()
        env[CHANNEL_ENV] = str(theirs.fileno())
        env[BEAT_ENV] = str(write)
        env[UVICORN_ENV] = json.dumps(self.uvicorn_options)
        env[PARENT_ENV] = str(os.getpid())
        try:
            w.proc = subprocess.Popen(
                [sys.executable, "-m", "sovmap.web.workers"],
                env=env,
                pass_fds=(theirs.fileno(), write),
            )
        except BaseException:
            mine.close()
            raise
        finally:
            os.close(write)
            theirs.close()
        mine.setblocking(False)
        w.channel = mine
        self._sel.register(mine, selectors.EVENT_READ, w)
        w.beat_fd = read
        w.started = time.monotonic()
        w.last_beat = 0.0

    def _forget(self, w: _Worker, *, process: bool = True) -> None:
        """Stop giving ``w`` connections; with ``process`` also close its heartbeat pipe (it
        has exited or is replaced: :meth:`_tend` still reads the pipe of one that is only
        closing its end of the socket pair)."""
        if w.channel is not None:
            self._sel.unregister(w.channel)
        if process:
            w.close()
        else:
            w.close_channel()

    def _say(self, code: str, **params: Any) -> None:
        print(t(self.lang, code, **params), file=sys.stderr, flush=True)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; :class:`ServeError` when workers keep dying."""
        old = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.workers = [_Worker() for _ in range(self.n)]
            for w in self.workers:
                self._start(w)
            tended = time.monotonic()
            while not self.stopping:
                for key, _ in self._sel.select(0.2):
                    if key.data is None:
                        self._accept()
                    else:
                        self._news(key.data)
                if time.monotonic() - tended >= 0.2:
                    tended = time.monotonic()
                    for w in self.workers:
                        if self.stopping:
                            break
                        self._tend(w)
                self._listen(any(w.ready for w in self.workers))
        finally:
            self._shutdown()
            for s, handler in old.items():
                signal.signal(s, handler)
            for w in self.workers:
                w.close()
            self._sel.close()
            self.sock.close()

    def _listen(self, on: bool) -> None:
        """Accept only while a worker is ready: until then connections wait in the queue."""
        if on and not self._accepting:
            self._sel.register(self.sock, selectors.EVENT_READ, None)
        elif not on and self._accepting:
            self._sel.unregister(self.sock)
        self._accepting = on

    def _news(self, w: _Worker) -> None:
        """Read what ``w`` said: ready, connections closed, or its end closed (it exited)."""
        while w.channel is not None:  # (forgotten earlier in this round: nothing to read)
            try:
                msg = w.channel.recv(16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg = b""
            if not msg:  # the worker is going: no more connections for it (_tend restarts it)
                self._forget(w, process=False)
                return
            if msg == READY:
                w.ready = True
            elif msg == CLOSED:
                w.open = max(0, w.open - 1)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, or the client gave up: try on the next wake
                return
            with conn:  # the parent's copy: the worker holds its own from here
                self._hand(conn)

    def _hand(self, conn: socket.socket) -> None:
        """Give ``conn`` to the ready worker with the fewest open connections; one whose
        socket pair is full (stuck) or gone is passed over. No worker takes it: it is closed."""
        ready = sorted((w for w in self.workers if w.ready), key=lambda w: (w.open, w.given))
        for w in ready:
            assert w.channel is not None
            try:
                socket.send_fds(w.channel, [b"c"], [conn.fileno()])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._forget(w, process=False)
                continue
            w.open += 1
            w.given += 1
            return

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
        self._forget(w)
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
    """A worker process: serve the app on the connections the parent passes."""
    import uvicorn

    die_with_parent()
    if os.getppid() != int(os.environ[PARENT_ENV]):
        return  # the parent died before the line above took effect
    channel = socket.socket(fileno=int(os.environ[CHANNEL_ENV]))
    channel.setblocking(False)
    beat = int(os.environ[BEAT_ENV])
    os.set_blocking(beat, False)
    config = uvicorn.Config(app_from_environment(), **json.loads(os.environ[UVICORN_ENV]))
    server = uvicorn.Server(config)

    def tell(news: bytes) -> None:
        # never blocks the loop: a parent too busy to read loses a count, not a request
        with contextlib.suppress(OSError):
            channel.send(news)

    async def heartbeat() -> None:
        # written by the event loop itself: a loop that stops turning stops the heartbeat
        while True:
            with contextlib.suppress(BlockingIOError):  # a full pipe: the parent reads later
                os.write(beat, b".")
            await asyncio.sleep(BEAT)

    async def take_connections() -> None:
        loop = asyncio.get_running_loop()
        base: Any = config.http_protocol_class

        class Counted(base):  # type: ignore[misc]
            """uvicorn's HTTP protocol, telling the parent when its connection closes."""

            def connection_lost(self, exc: Exception | None) -> None:
                try:
                    super().connection_lost(exc)
                finally:
                    tell(CLOSED)

        def protocol() -> asyncio.Protocol:
            return Counted(
                config=config,
                server_state=server.server_state,
                app_state=server.lifespan.state,
                _loop=loop,
            )

        async def adopt(conn: socket.socket) -> None:
            try:
                conn.setblocking(False)
                await loop.connect_accepted_socket(protocol, conn)
            except OSError:  # the client is already gone
                conn.close()
                tell(CLOSED)

        adopting: set[asyncio.Task[None]] = set()

        def receive() -> None:
            while True:
                try:
                    msg, fds, _, _ = socket.recv_fds(channel, 16, 1, socket.MSG_CMSG_CLOEXEC)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    msg, fds = b"", []
                if not msg and not fds:  # the parent closed its end: stop
                    loop.remove_reader(channel.fileno())
                    server.should_exit = True
                    return
                for fd in fds:
                    task = loop.create_task(adopt(socket.socket(fileno=fd)))
                    adopting.add(task)  # held until done: the loop keeps only a weak reference
                    task.add_done_callback(adopting.discard)

        loop.add_reader(channel.fileno(), receive)
        tell(READY)

    async def main() -> None:
        task = asyncio.create_task(heartbeat())
        serving = asyncio.create_task(server.serve(sockets=[]))  # no socket of its own
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.02)
            if server.started:
                await take_connections()
            await serving
        finally:
            task.cancel()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(main())


if __name__ == "__main__":
    _worker_main()
