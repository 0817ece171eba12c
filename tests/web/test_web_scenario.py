"""The cut-off runner and exit plan pages over the example register (real libraries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store, auth

from sovmap.register.files import load_register_dir
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.model import Selector
from sovmap.web.app import create_app
from sovmap.web.features import detect_features

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "examples" / "register"
EXIT_SETTINGS = ROOT / "examples" / "scenario" / "ldh-exit-m365.yaml"


@pytest.fixture
def sclient(store: Store) -> Iterator[TestClient]:
    features = detect_features(REGISTER, exit_settings=EXIT_SETTINGS)
    with TestClient(create_app(store.engine, features=features)) as c:
        yield c


def test_without_register_the_pages_are_not_offered(client: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    assert client.get("/cutoff", headers=h).status_code == 404
    assert client.get("/api/cutoff?provider=microsoft", headers=h).status_code == 404
    assert "Cut-off scenario" not in client.get("/", headers=h).text


def test_cutoff_api_matches_the_library(sclient: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    r = sclient.get("/api/cutoff?provider=microsoft", headers=h)
    assert r.status_code == 200
    expected = cut_off(load_register_dir(REGISTER), Selector(provider="microsoft")).to_json()
    assert r.json()["summary"] == expected["summary"]
    assert r.json()["summary"]["down"] > 0
    assert sclient.get("/api/cutoff", headers=h).status_code == 400
    assert sclient.get("/api/cutoff?provider=microsoft").status_code == 401


def test_cutoff_and_exit_pages(sclient: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    home = sclient.get("/", headers=h)
    assert "/cutoff" in home.text and "/exit" in home.text
    page = sclient.get("/cutoff?jurisdiction=US", headers=h)
    assert page.status_code == 200 and 'id="table-cutoff"' in page.text
    assert "breached" in page.text
    bad = sclient.get("/cutoff?provider=microsoft&duration=forever", headers=h)
    assert bad.status_code == 422  # not a duration: refused by the parameter pattern
    ex = sclient.get("/exit?deadline=9mo&runs=500&what_if=capacity%2B2", headers=h)
    assert ex.status_code == 200
    assert 'class="chart gantt"' in ex.text and "capacity+2" in ex.text
    api = sclient.get("/api/exit?deadline=9mo&runs=500", headers=h).json()
    assert 0.0 <= api["baseline"]["forecast"]["p_deadline"] <= 1.0
    assert len(api["schedule"]) > 5
