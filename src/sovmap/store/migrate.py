"""Schema migrations of the store with Alembic, and opening a store by URL.

The schema is :data:`sovmap.store.schema.metadata` plus the tables other rooms define on it
in their own modules (:data:`TABLE_MODULES`). ``sovmap db upgrade --db URL`` brings any store
— SQLite by default, PostgreSQL by ``postgresql://`` URL — to the newest revision. A store
that an older tool created with ``create_all`` (no ``alembic_version`` yet) is adopted when its
tables already match the newest revision, and refused with the differences otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Alembic is imported where a migration runs (it costs a third of a second at start-up, and
# a store already at head needs none of it)
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect

from sovmap.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
from sovmap.store.schema import metadata

#: Modules that define tables on the shared metadata; missing ones (a room not built yet)
#: are skipped.
TABLE_MODULES = (
    "sovmap.store.schema",
    "sovmap.store.org_tables",
    "sovmap.store.notes",
    "sovmap.web.tables",
)

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_DB = "sovmap.sqlite"  # the store every command uses without --db


class MigrationError(Exception):
    """The store cannot be brought to the newest schema revision."""


def load_metadata() -> MetaData:
    """The shared metadata with every known room's tables registered on it."""
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
    return metadata


#: seconds a SQLite connection waits for another connection's lock (its busy timeout)
BUSY_TIMEOUT = 30


def database_url(db: str) -> str:
    """A SQLAlchemy URL for ``--db``: a file path (SQLite) or a URL (``postgresql://...``)."""
    if "://" not in db:
        return "sqlite:///" + str(Path(db).expanduser().resolve())
    scheme, rest = db.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return db


def _readonly_sqlite(path: str) -> Any:
    """Connections to a SQLite file opened read-only; a WAL store in a directory we cannot
    write (no ``-shm`` can be made) is opened as immutable."""

    def connect() -> sqlite3.Connection:
        uri = Path(path).expanduser().absolute().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT)

    return connect


def open_engine(db: str, *, readonly: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``--db``; SQLite gets foreign keys, WAL and a busy timeout (``readonly``:
    a SQLite file is opened read-only, so a store we may not write can be read). The schema
    is left as it is: most code wants :func:`open_store_engine`."""
    url = database_url(db)
    if readonly and url.startswith("sqlite:///") and ":memory:" not in url:
        return create_engine("sqlite://", creator=_readonly_sqlite(url[len("sqlite:///") :]))
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if url != "sqlite://" and ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def open_store_engine(db: str, *, readonly: bool = False, **kwargs: Any) -> Engine:
    """The one way to open a store: an engine whose schema is at the newest revision. A new
    or older store is migrated (SQLite and PostgreSQL alike); a store already at head is not
    written to, so a read-only store can be read. With ``readonly`` a store that would need
    migrating is refused (MigrationError) instead."""
    if "://" not in db and not readonly:
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = open_engine(db, readonly=readonly, **kwargs)
    if stored_revision(engine) == head_revision():
        return engine
    if readonly:
        raise MigrationError(
            f"the store is not at the newest schema revision ({head_revision()}): "
            "run sovmap db upgrade"
        )
    upgrade(engine)
    return engine


def stored_revision(engine: Engine) -> str | None:
    """The revision stamped in the store, read with one query (None for a store without
    history)."""
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return str(row[0]) if row else None


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.M)


@cache
def head_revision() -> str:
    """The newest revision, read from the migration files (the one no other revision
    revises), without importing Alembic; a test holds it to Alembic's own answer."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            revised.add(found["down_revision"])
    heads = revisions - revised
    if len(heads) != 1:
        raise MigrationError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def differences(conn: Connection) -> list[Any]:
    """What autogenerate would change to make the store match the metadata."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, load_metadata()))


@contextmanager
def _begin(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        yield conn


def _adopt(conn: Connection) -> None:
    """A store made by ``create_all`` (no history): add the tables it lacks and stamp it at
    head, provided the tables it has match the schema; refuse otherwise."""
    diffs = differences(conn)
    late = [d for d in diffs if _is_later_column(d)]
    other = [
        d
        for d in diffs
        if not (isinstance(d, tuple) and d[0] in ("add_table", "add_index"))
        and not _is_later_column(d)
    ]
    if other:
        raise MigrationError(
            "the store has tables but no migration history, and they differ from the "
            f"schema: {other[:5]}; upgrade it with the tool version that created it"
        )
    load_metadata().create_all(conn, checkfirst=True)
    if late:
        # made before some columns existed: stamp the revision it matches (the one before the
        # earliest revision whose column it lacks), then migrate; later revisions are safe to
        # run over tables create_all has just made
        missing = sorted(_LATER_COLUMNS[(d[2], d[3].name)] for d in late)
        from alembic import command

        command.stamp(alembic_config(conn), _previous_revision(missing[0]))
        command.upgrade(alembic_config(conn), "head")
    else:
        from alembic import command

        command.stamp(alembic_config(conn), "head")


#: columns added by revisions after 0002 to tables that existed before them, which a store
#: made by ``create_all`` with an older tool lacks: (table, column) -> the revision adding it
_LATER_COLUMNS = {
    ("scans", "heartbeat_at"): "0003",
    ("web_api_tokens", "expires_at"): "0004",
    ("scans", "classified_at"): "0007",
}


def _previous_revision(revision: str) -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def _is_later_column(diff: Any) -> bool:
    if not (isinstance(diff, tuple) and diff[0] == "add_column"):
        return False
    _op, _schema, table, column = diff
    return (table, column.name) in _LATER_COLUMNS


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the store to ``revision``; returns the revision it is at afterwards."""
    load_metadata()
    with _begin(engine) as conn:
        names = set(inspect(conn).get_table_names())
        if "alembic_version" not in names and "scans" in names:
            _adopt(conn)
        else:
            from alembic import command

            command.upgrade(alembic_config(conn), revision)
    return current_revision(engine) or ""


def register(sub: Any) -> None:
    """``sovmap db``: schema migrations (called from the web command group)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "db",
        help="create or upgrade the store's schema",
        description="Create or upgrade the store's schema with its migrations. Example: "
        "sovmap db upgrade --db sovmap.db",
    )
    ds = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = ds.add_parser(
        "upgrade",
        help="migrate the store to the newest revision",
        description="Migrate the store to the newest revision. Example: "
        "sovmap db upgrade --db postgresql://user@localhost/sovmap",
    )
    up.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    up.set_defaults(func=_upgrade)
    cur = ds.add_parser(
        "current",
        help="print the store's revision and the newest one",
        description="Print the store's revision. Example: sovmap db current --db sovmap.db",
    )
    cur.add_argument("--db", default=DEFAULT_DB, help="SQLite path or postgresql:// URL")
    cur.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace) -> int:
    try:
        rev = upgrade(open_engine(args.db))
    except MigrationError as exc:
        raise StoreError(str(exc)) from exc
    print(f"store at revision {rev} (head {head_revision()})")
    return 0


def _current(args: argparse.Namespace) -> int:
    rev = current_revision(open_engine(args.db))
    print(f"store revision: {rev or 'none'}; newest: {head_revision()}")
    return 0 if rev == head_revision() else 1
