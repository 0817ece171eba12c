"""The web app over a real PostgreSQL server that the test run starts (tests/support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import auth, fill

from sovmap.cli import main
from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app


@pytest.mark.postgres
def test_api_and_pages_on_postgres(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    store = fill(engine, n=40)
    try:
        with TestClient(create_app(engine)) as c:
            h = auth(store, "viewer")
            ov = c.get("/api/overview", headers=h).json()
            assert ov["scan"]["domains"] == 40
            assert sum(ov["by_jurisdiction"]["mailbox"].values()) == 40
            page = c.get("/api/domains?prefix=gemeente00001&limit=3", headers=h).json()
            assert page["total"] == 10 and len(page["items"]) == 3
            d = c.get(f"/api/domains/{page['items'][0]['domain']}", headers=h).json()
            assert d["findings"][0]["evidence"]
            trends = c.get("/api/trends", headers=h).json()
            assert len(trends) == 2
            assert c.get("/api/providers/microsoft", headers=h).status_code == 200
            assert c.get("/api/locations", headers=h).status_code == 200
            assert c.get("/api/audit", headers=auth(store, "admin")).status_code == 200
            assert c.get("/", headers=h).status_code == 200
            assert c.get("/api/overview").status_code == 401
            r = c.put("/api/settings/public", json={"enabled": True}, headers=auth(store, "admin"))
            assert r.status_code == 200
            assert c.get("/api/overview").status_code == 200
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_report_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    engine = open_engine(postgres_url)
    fill(engine, n=20)
    engine.dispose()
    out = tmp_path / "out"
    assert main(["report", "--db", postgres_url, "--out", str(out), "--runs", "200"]) == 0
    md = (out / "brief.en.md").read_text()
    assert "| Domains scanned (scan #2) | **20** |" in md
    assert "postgres@" not in md  # the store is named without credentials
