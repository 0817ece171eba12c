"""A real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` on a free loopback port.

Debian's ``postgresql`` package (installed by ``scripts/install-system-deps.sh``) provides
the binaries under ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root,
so when the tests run as root the server runs as the ``postgres`` OS user, in a temporary
directory that user owns. Use the ``postgres_server`` fixture (session scope) and
``postgres_url`` (a fresh, empty database per test)::

    from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None  # OS user the server runs as (None: the current user)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        """A ``postgresql://`` URL (as users pass to ``--db``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        return ["runuser", "-u", self.run_as, "--", *args]

    def run(self, *args: str) -> None:
        subprocess.run(self._cmd(*args), check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self.run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            opts,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop")

    def create_database(self, name: str) -> str:
        self.run(
            str(self.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return self.url(name)


def start_postgres() -> PostgresServer:
    """Start a throw-away server; the caller must :meth:`PostgresServer.stop` it."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin; "
            "run scripts/install-system-deps.sh"
        )
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="sovmap-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        root.chmod(0o700)
    server = PostgresServer(bindir=bindir, root=root, port=_free_port(), run_as=run_as)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = root / "server.log"
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r} {detail}") from exc
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if find_bindir() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install-system-deps.sh installs it)")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh empty database on the session's server, as a ``postgresql://`` URL."""
    return postgres_server.create_database("t_" + uuid.uuid4().hex[:12])
