"""Inputs: NUL and other control characters are refused with 400 before any store query
(on SQLite and on a real PostgreSQL server, where they used to give 500), error pages are HTML
with the menu (JSON under /api/), and the OpenAPI schema declares the bearer scheme, the text
rule and typed change events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.support.webstore import Store, auth, fill

from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app

CSRF = "double-submit-token-for-the-test"


def check_control_characters(engine: Engine, store: Store) -> None:
    h = auth(store, "viewer")
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        c.cookies.set("sovmap_login_csrf", CSRF)
        for name in ("vie\0wer", "viewer\x01", "\x1b[31m"):
            r = c.post("/login", data={"username": name, "password": "x" * 12, "csrf": CSRF})
            assert r.status_code == 400, (name, r.status_code)
            assert "U+00" in r.text and "<h1>Error 400</h1>" in r.text
        for url in (
            "/api/domains?prefix=gem%00",
            "/api/orgs?search=%01",
            "/api/domains/a%00b.nl",
            "/api/orgs/test:%00",
            "/api/providers/micro%00soft",
            "/domains?prefix=%00",
            "/api/domains?prefix=%ff",  # not UTF-8
        ):
            r = c.get(url, headers=h)
            assert r.status_code == 400, (url, r.status_code, r.text)
        r = c.post("/api/tokens", json={"name": "ci\u0000"}, headers=h)
        assert r.status_code == 400 and "U+0000" in r.json()["detail"]
        r = c.post(
            "/api/tokens",
            content=b'{"name": "\\ud800"}',
            headers={**h, "content-type": "application/json"},
        )
        assert r.status_code == 400
        # ordinary text, tab and newline included, still passes
        r = c.post("/api/tokens", json={"name": "ci\tbuild"}, headers=h)
        assert r.status_code == 201
        assert c.get("/api/domains?prefix=gemeente%C3%A9", headers=h).status_code == 200


def test_control_characters_on_sqlite(store: Store) -> None:
    check_control_characters(store.engine, store)


@pytest.mark.postgres
def test_control_characters_on_postgres(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    try:
        check_control_characters(engine, fill(engine, n=3))
    finally:
        engine.dispose()


def test_error_pages_are_html_with_the_menu(client: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    r = client.get("/no/such/page", headers=h)
    assert r.status_code == 404 and "<h1>Error 404</h1>" in r.text and "<nav aria-label=" in r.text
    assert 'href="/orgs"' in r.text
    r = client.delete("/account", headers=h)
    assert r.status_code == 405 and "<nav aria-label=" in r.text
    r = client.get("/domains?page=abc", headers=h)
    assert r.status_code == 422 and "<code>query.page</code>" in r.text
    assert "<nav aria-label=" in r.text
    # anonymous: no menu, but a way to log in
    r = client.get("/static/none.css")
    assert r.status_code == 404 and 'href="/login"' in r.text
    # the API answers JSON
    r = client.get("/api/nothing", headers=h)
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = client.get("/api/domains?limit=9999", headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


def test_openapi_declares_bearer_and_typed_changes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert doc["security"] == [{"bearer": []}]
    prefix = next(
        p for p in doc["paths"]["/api/domains"]["get"]["parameters"] if p["name"] == "prefix"
    )
    assert prefix["schema"]["pattern"].startswith("^[^\\x00")
    changes = doc["paths"]["/api/changes"]["get"]["responses"]["200"]["content"]
    assert changes["application/json"]["schema"] == {"$ref": "#/components/schemas/ChangesPage"}
    event = doc["components"]["schemas"]["ChangeOut"]
    assert {"kind", "subject", "old", "new", "capability"} <= set(event["properties"])


def test_login_redirect_keeps_the_whole_address(client: TestClient) -> None:
    r = client.get("/domains?prefix=gem&page=2", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/domains%3Fprefix%3Dgem%26page%3D2"
    page = client.get(r.headers["location"])
    assert 'name="next" value="/domains?prefix=gem&amp;page=2"' in page.text
