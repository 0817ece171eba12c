"""The log-in throttle holds under concurrency and across processes: 60 parallel wrong
log-ins spread over two ``sovmap serve`` processes sharing one store (SQLite file or a real
PostgreSQL server) get exactly 5 password checks; the rest, and then the right password, 429.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.support.webstore import PASSWORD, Store, auth, fill
from tests.web.serving import serve, wait_for_workers

from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app
from sovmap.web.tables import login_throttle
from sovmap.web.throttle import Throttle, network_of, purge

CSRF = "double-submit-token-for-the-test"


def attempt(url: str, user: str, password: str) -> httpx.Response:
    """One log-in POST (the log-in form's CSRF is a double-submit cookie)."""
    return httpx.post(
        url + "/login",
        data={"username": user, "password": password, "csrf": CSRF, "next": "/"},
        cookies={"sovmap_login_csrf": CSRF},
        timeout=120,
    )


def burst(urls: list[str], n: int = 60) -> list[int]:
    gate = threading.Barrier(n)

    def one(i: int) -> int:
        gate.wait()
        return attempt(urls[i % len(urls)], "viewer", f"wrong guess {i}").status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def check_two_processes(db: str) -> None:
    engine = open_engine(db)
    store = fill(engine, n=2)
    with serve(db) as a, serve(db) as b:
        codes = burst([a.url, b.url])
        assert sorted(set(codes)) == [401, 429], codes
        assert codes.count(401) == 5 and codes.count(429) == 55
        # the right password after the limit: refused on both, with Retry-After
        for s in (a, b):
            r = attempt(s.url, "viewer", PASSWORD)
            assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 300
        # visible to admins, in the API and on the admin page
        locks = httpx.get(a.url + "/api/lockouts", headers=auth(store, "admin")).json()
        assert {"address+user", "address"} <= {x["scope"] for x in locks}
        assert any(x["label"] == "127.0.0.1 viewer" and x["attempts"] == 62 for x in locks)
        page = httpx.get(b.url + "/admin", headers=auth(store, "admin")).text
        assert "127.0.0.1 viewer" in page
        # the start of each lock-out is in the audit log, once
        log = httpx.get(a.url + "/api/audit", headers=auth(store, "admin")).json()
        locked = [e["target"] for e in log if e["action"] == "login.locked"]
        assert sorted(locked) == ["127.0.0.1", "127.0.0.1 viewer", "viewer"]
    engine.dispose()


def test_burst_against_two_processes_on_sqlite(tmp_path: Path) -> None:
    check_two_processes(str(tmp_path / "throttle.db"))


@pytest.mark.postgres
def test_burst_against_two_processes_on_postgres(postgres_url: str) -> None:
    check_two_processes(postgres_url)


def test_burst_against_serve_with_two_workers(tmp_path: Path) -> None:
    db = str(tmp_path / "workers.db")
    engine = open_engine(db)
    store = fill(engine, n=2)
    with serve(db, "--workers", "2") as s:
        wait_for_workers(s.proc.pid, 2)
        assert httpx.get(s.url + "/api/me", headers=auth(store, "viewer")).status_code == 200
        codes = burst([s.url])
        assert codes.count(401) == 5 and codes.count(429) == 55, codes
        assert attempt(s.url, "viewer", PASSWORD).status_code == 429
    engine.dispose()


def test_window_ends_rows_expire_and_success_gives_back(store: Store) -> None:
    # windows are whole seconds: 3 s leave room for the first three attempts on a busy machine
    t = Throttle(limit=2, wide_limit=3, window=3)
    e = store.engine
    assert t.attempt(e, "10.0.0.1", "viewer") == 0
    assert t.attempt(e, "10.0.0.1", "viewer") == 0
    assert t.attempt(e, "10.0.0.1", "viewer") > 0  # third in the window: refused
    assert t.attempt(e, "10.0.0.2", "other") == 0  # other keys are not affected
    time.sleep(3.1)
    assert t.attempt(e, "10.0.0.1", "viewer") == 0  # a new window
    t.succeeded(e, "10.0.0.1", "viewer")
    with e.begin() as conn:
        purge(conn, int(time.time()) + 4)
        left = conn.execute(select(func.count()).select_from(login_throttle)).scalar_one()
    assert left == 0
    # an IPv6 client counts per /64, so rotating addresses within it does not help
    assert network_of("2001:db8::1") == network_of("2001:db8::ffff") == "2001:db8::/64"


def test_admin_lifts_a_lockout(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "lift.db"))
    store = fill(engine, n=2)
    with TestClient(create_app(engine, login_limit=1)) as c:
        for _ in range(2):
            c.cookies.set("sovmap_login_csrf", CSRF)
            c.post("/login", data={"username": "editor", "password": "nope", "csrf": CSRF})
        locks = c.get("/api/lockouts", headers=auth(store, "admin")).json()
        assert locks
        assert c.get("/api/lockouts", headers=auth(store, "viewer")).status_code == 403
    engine.dispose()
