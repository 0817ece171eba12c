"""The Alembic history matches the metadata on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from sovmap.cli import main
from sovmap.store import Store
from sovmap.store.migrate import (
    MigrationError,
    current_revision,
    differences,
    head_revision,
    load_metadata,
    open_engine,
    upgrade,
)


def test_head_matches_metadata_on_sqlite(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "s.db"))
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        assert differences(conn) == []
    # every table of the metadata exists
    with engine.connect() as conn:
        for name in load_metadata().tables:
            conn.execute(text(f"SELECT COUNT(*) FROM {name}"))


@pytest.mark.postgres
def test_head_matches_metadata_on_postgres(postgres_url: str) -> None:  # noqa: F811
    engine = open_engine(postgres_url)
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        assert differences(conn) == []
    assert upgrade(engine) == head_revision()  # idempotent
    engine.dispose()


def test_drift_is_detected(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "d.db"))
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE web_audit_log"))
    with engine.connect() as conn:
        diffs = differences(conn)
    assert any(d[0] == "add_table" and d[1].name == "web_audit_log" for d in diffs)


def test_store_created_without_history_is_adopted_or_refused(tmp_path: Path) -> None:
    md = load_metadata()
    # as `sovmap scan` makes it: the scan tables only, by create_all, no history
    good = open_engine(str(tmp_path / "good.db"))
    md.create_all(good, tables=[md.tables["scans"], md.tables["scan_domains"]])
    assert current_revision(good) is None
    assert upgrade(good) == head_revision()
    with good.connect() as conn:
        assert differences(conn) == []

    bad = open_engine(str(tmp_path / "bad.db"))
    md.create_all(bad)
    with bad.begin() as conn:
        conn.execute(text("ALTER TABLE web_settings RENAME COLUMN value TO val"))
    with pytest.raises(MigrationError, match="no migration history"):
        upgrade(bad)


def test_db_upgrade_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.db")
    assert main(["db", "upgrade", "--db", db]) == 0
    assert head_revision() in capsys.readouterr().out
    assert main(["db", "current", "--db", db]) == 0


@pytest.mark.parametrize(
    "dropped",
    [
        [("scans", "heartbeat_at")],
        [("web_api_tokens", "expires_at")],
        [("scans", "heartbeat_at"), ("web_api_tokens", "expires_at")],
    ],
)
def test_a_store_made_before_later_columns_is_adopted_and_migrated(
    tmp_path: Path, dropped: list[tuple[str, str]]
) -> None:
    """A store an older tool made with create_all (no history, without columns later
    revisions add) opens through the store door: stamped at the revision it matches, then
    migrated."""
    md = load_metadata()
    old = open_engine(str(tmp_path / "old.db"))
    names = ["scans", "scan_domains", "web_users", "web_api_tokens"]
    md.create_all(old, tables=[md.tables[n] for n in names])
    with old.begin() as conn:
        for table, column in dropped:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(
            text(
                "INSERT INTO scans (started_at, status, input, input_digest, shard, "
                "knowledge_version, params, label) VALUES ('2026-01-01T00:00:00Z', 'done', "
                "'x', 'd', '', 'kv', '{}', '')"
            )
        )
    old.dispose()
    store = Store(tmp_path / "old.db")
    assert current_revision(store.engine) == head_revision()
    assert [s.state for s in store.scans()] == ["done"]
    with store.engine.connect() as conn:
        assert differences(conn) == []
    store.close()


def test_a_read_only_store_at_head_is_read_without_writing(tmp_path: Path) -> None:
    Store(tmp_path / "ro.db").close()
    store = Store(tmp_path / "ro.db", readonly=True)
    assert store.scans() == []
    store.close()
    behind = open_engine(str(tmp_path / "behind.db"))
    md = load_metadata()
    md.create_all(behind, tables=[md.tables["scans"]])
    behind.dispose()
    with pytest.raises(MigrationError, match="newest schema revision"):
        Store(tmp_path / "behind.db", readonly=True)


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from sovmap.store.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
