"""Fixtures for the web tests: a migrated store with generated scans, users and tokens, the
app, and a real PostgreSQL server (from tests/support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.postgres import postgres_server, postgres_url
from tests.support.webstore import Store, fill

from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = open_engine(str(tmp_path / "web.db"))
    yield fill(engine)
    engine.dispose()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(store.engine, login_limit=3)
    with TestClient(app, base_url="http://testserver") as c:
        yield c
