"""A migrated store with users, tokens and generated scans, for web and report tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from tests.support.storegen import add_organisations, add_scan, municipalities

from sovmap.store.migrate import upgrade
from sovmap.web.auth import create_token, create_user

PASSWORD = "correct horse battery"


@dataclass
class Store:
    engine: Engine
    tokens: dict[str, str]  # role -> API token
    scans: list[int]


def fill(engine: Engine, n: int = 60, *, with_orgs: bool = True) -> Store:
    upgrade(engine)
    tokens = {}
    with engine.begin() as conn:
        for role in ("viewer", "editor", "admin"):
            uid = create_user(conn, role, PASSWORD, role)
            tokens[role] = create_token(conn, uid, "test")
        orgs = municipalities(n)
        s1 = add_scan(conn, orgs, seed=1, us_bias=0.4, started_at="2026-01-01T00:00:00Z")
        s2 = add_scan(conn, orgs, seed=2, us_bias=0.7, started_at="2026-06-01T00:00:00Z")
    if with_orgs:
        add_organisations(engine, orgs)
    return Store(engine, tokens, [s1, s2])


def auth(store: Store, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.tokens[role]}"}
