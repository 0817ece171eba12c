"""An API token's time of use is written outside the request's transaction and never makes a
request wait on, or fail for, SQLite's write lock (sovmap.web.auth._record_token_use)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert, select, update

from sovmap.store.migrate import open_store_engine
from sovmap.web import auth
from sovmap.web.tables import api_tokens, settings


def last_used(engine, token_id: int = 1) -> str | None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(
            select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)
        ).scalar()


def test_a_held_write_lock_neither_delays_nor_fails_a_token_request(tmp_path: Path) -> None:
    engine = open_store_engine(str(tmp_path / "tokens.db"))
    with engine.begin() as conn:
        uid = auth.create_user(conn, "api", "a long enough password", "viewer")
        token = auth.create_token(conn, uid, "bench")
    getattr(auth, "_token_use_written", {}).clear()
    with engine.begin() as conn:
        assert auth.principal_for_token(conn, token) is not None
    first = last_used(engine)
    assert first is not None  # the first use is written

    stale = "2000-01-01T00:00:00Z"
    with engine.begin() as conn:
        conn.execute(update(api_tokens).values(last_used_at=stale))
    getattr(auth, "_token_use_written", {}).clear()
    # another connection holds the write lock (an uncommitted write), as a long request or a
    # scan writing the store does
    holder = engine.connect()
    tx = holder.begin()
    holder.execute(insert(settings).values(key="held", value="1"))
    try:
        t0 = time.monotonic()
        with engine.begin() as conn:
            p = auth.principal_for_token(conn, token)
        waited = time.monotonic() - t0
        assert p is not None and p.username == "api"
        # before, the write waited for SQLite's 30 s busy timeout and then failed the request
        assert waited < 5, waited
    finally:
        tx.rollback()
        holder.close()
    assert last_used(engine) == stale  # skipped while the store was busy ...
    with engine.begin() as conn:
        assert auth.principal_for_token(conn, token) is not None
    assert (last_used(engine) or "") > stale  # ... and written by the next request
    # within the interval, this process does not write it again
    with engine.begin() as conn:
        conn.execute(update(api_tokens).values(last_used_at=stale))
        assert auth.principal_for_token(conn, token) is not None
    assert last_used(engine) == stale
    engine.dispose()
