"""Every route of the app refuses a request without credentials (a published scan aside)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route
from tests.support.webstore import Store

from sovmap.web.app import create_app
from sovmap.web.features import detect_features

#: Routes that must work without a log-in: the log-in form itself, the static assets, and
#: the OpenAPI schema (it describes the API; it holds no data).
# /lang only sets the language cookie (the log-in page has the switch too)
OPEN = {("GET", "/login"), ("POST", "/login"), ("GET", "/openapi.json"), ("GET", "/lang")}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def all_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers."""
    for route in routes:
        ctx = getattr(route, "include_context", None)
        if ctx is not None:  # FastAPI keeps included routers as wrappers
            yield from all_routes(ctx.included_router.routes, prefix + ctx.prefix)
        elif isinstance(route, Mount):
            assert route.path == "/static"
        else:
            assert isinstance(route, APIRoute | Route), route
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path


@pytest.fixture(params=["plain", "with-register"])
def any_client(request: pytest.FixtureRequest, store: Store) -> Iterator[TestClient]:
    features = None
    if request.param == "with-register":
        features = detect_features(Path(__file__).resolve().parents[2] / "examples" / "register")
    with TestClient(create_app(store.engine, features=features)) as c:
        yield c


def test_every_route_refuses_anonymous_requests(any_client: TestClient) -> None:
    client = any_client
    checked = 0
    seen = set(all_routes(client.app.routes))  # type: ignore[attr-defined]
    assert ("GET", "/api/overview") in seen and ("POST", "/admin/users") in seen
    if client.app.state.features.register:  # type: ignore[attr-defined]
        assert ("POST", "/register/services/{service_id}") in seen
        assert ("GET", "/api/cutoff") in seen
    for method, path in sorted(seen):
        if method == "HEAD" or (method, path) in OPEN:
            continue
        url = _concrete(path)
        r = client.request(method, url, follow_redirects=False)
        checked += 1
        if path.startswith("/api/") or path == "/logout":
            assert r.status_code == 401, (method, url, r.status_code)
        else:
            assert r.status_code == 303, (method, url, r.status_code)
            assert r.headers["location"].startswith("/login?next="), (method, url)
        assert "gemeente" not in r.text
    assert checked >= 20


def test_static_assets_hold_no_data(client: TestClient) -> None:
    assert client.get("/static/app.css").status_code == 200
    assert "gemeente" not in client.get("/openapi.json").text
