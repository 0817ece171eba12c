"""What the surfaces derive from a scan's findings is computed when the scan ends, and again
when ``sovmap reclassify`` rewrites them: the scan's own figure values (the trend chart's
points) are kept in the store and equal a fresh count; a reclassify gives the scan a new
revision, so cached figures, trend points and kept change events of the old findings are no
longer used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from sovmap import figures
from sovmap.alerts.events import kept_changes
from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, reclassify, run_scan
from sovmap.devserver import DevServer
from sovmap.knowledge.catalogue import load_catalogue
from sovmap.store import Store
from sovmap.store.schema import scan_figures
from sovmap.store.snapshots import list_scans
from sovmap.web.service import Cache

DATA = Path(__file__).resolve().parents[1] / "data"
PROVIDERS = Path(figures.__file__).parent / "knowledge" / "data" / "providers"


def counted(store: Store, scan_id: int) -> dict[str, int | None]:
    with store.connect() as conn:
        scan = next(s for s in list_scans(conn) if s.id == scan_id)
        return {f.id: f.value for f in figures.scan_figures(conn, scan, rows=False, use_kept=False)}


def kept(store: Store, scan_id: int) -> dict[str, int | None] | None:
    with store.connect() as conn:
        return figures.kept_values(conn, [scan_id]).get(scan_id)


def shares(store: Store) -> dict[int, dict[str, float]]:
    with store.connect() as conn:
        return figures.us_share_by_scan(conn, list_scans(conn))


def microsoft_not_us(folder: Path) -> Path:
    """A user knowledge directory in which Microsoft is (wrongly) Dutch-controlled: a
    reclassify with it moves Microsoft's findings out of the US counts."""
    text = (PROVIDERS / "microsoft.yaml").read_text(encoding="utf-8")
    text = text.replace("country: US", "country: NL")
    text = re.sub(r"tags: \[us-[^\]]*\]", "tags: []", text)
    folder.mkdir()
    (folder / "microsoft.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def two_scans(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s.sqlite")
    with DevServer(DATA / "zones") as srv:
        config = EngineConfig([(srv.host, srv.port)], timeout=0.3, attempts=2, max_inflight=64)
        for _ in range(2):
            run_scan(DATA / "domains.csv", store, ScanSettings(config, resume=False))
    return store


def test_a_finished_scan_keeps_its_figures_and_trend_points_read_them(two_scans: Store) -> None:
    store = two_scans
    for sid in (1, 2):
        assert kept(store, sid) == counted(store, sid)
        with store.connect() as conn:  # the summary's values (rows=False) are the kept ones
            scan = next(s for s in list_scans(conn) if s.id == sid)
            with_rows = figures.scan_figures(conn, scan)
            values = figures.scan_figures(conn, scan, rows=False)
        assert [(f.id, f.value, f.query) for f in values] == [
            (f.id, f.value, f.query) for f in with_rows
        ]
    assert counted(store, 2)["mailbox_us_domains"]  # the golden world has US mailboxes
    from_kept = shares(store)
    with store.engine.begin() as conn:  # without kept values the points are counted: the same
        conn.execute(delete(scan_figures))
    assert kept(store, 1) is None
    assert shares(store) == from_kept and from_kept[2]["mailbox"] > 0


def test_values_kept_under_another_counting_rule_are_not_used(two_scans: Store) -> None:
    store = two_scans
    with store.engine.begin() as conn:
        conn.execute(update(scan_figures).where(scan_figures.c.figure == "_rule").values(value=1))
        conn.execute(
            update(scan_figures)
            .where(scan_figures.c.figure == "mailbox_us_domains")
            .values(value=0)
        )
    assert kept(store, 2) is None
    assert shares(store)[2]["mailbox"] > 0  # counted again, not the tampered 0


def test_reclassify_keeps_new_figures_and_makes_a_new_revision(
    two_scans: Store, tmp_path: Path
) -> None:
    store = two_scans
    with store.connect() as conn:
        before = list_scans(conn)
        old_changes = kept_changes(conn, before[0], before[1])
    assert old_changes is not None  # kept when the second scan ended
    cache = Cache()
    with store.connect() as conn:
        cached = cache.get(("figures",), before[1], lambda: counted(store, 2))
    us_before = counted(store, 2)["mailbox_us_domains"]
    assert us_before and cached["mailbox_us_domains"] == us_before

    reclassify(store, 2, catalogue=load_catalogue([microsoft_not_us(tmp_path / "k")]))

    with store.connect() as conn:
        after = list_scans(conn)
        assert after[1].classified_at is not None and after[1].revision != before[1].revision
        assert after[0].revision == before[0].revision
        # the kept change events are those of the new findings, under the new revision
        assert kept_changes(conn, before[0], before[1]) is None
        new_changes = kept_changes(conn, after[0], after[1])
    assert new_changes is not None and new_changes.events != old_changes.events
    now = counted(store, 2)
    assert now["mailbox_us_domains"] is not None and now["mailbox_us_domains"] < us_before
    assert kept(store, 2) == now  # kept again after the reclassify
    # a cache keyed by the scan's revision does not give the old findings' value
    fresh = cache.get(("figures",), after[1], lambda: now)
    assert fresh["mailbox_us_domains"] == now["mailbox_us_domains"] != us_before
    from_kept = shares(store)[2]
    with store.engine.begin() as conn:
        conn.execute(delete(scan_figures))
    assert shares(store)[2] == from_kept  # the kept points are the new findings' count


def test_an_older_store_gets_the_column_and_table(tmp_path: Path) -> None:
    """A store at revision 0006 (before kept figures) is upgraded when opened."""
    from alembic import command

    from sovmap.store.migrate import alembic_config, head_revision, open_engine, upgrade

    db = tmp_path / "old.sqlite"
    engine = open_engine(str(db))
    upgrade(engine, "0006")
    with engine.connect() as conn:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert "scan_figures" not in names
    engine.dispose()
    store = Store(db)  # the store door migrates
    with store.connect() as conn:
        assert conn.execute(select(scan_figures.c.scan_id)).first() is None
        cols = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(scans)")}
    assert "classified_at" in cols
    assert head_revision() == "0007"
    with store.engine.begin() as conn:  # and back down
        command.downgrade(alembic_config(conn), "0006")
    store.close()
