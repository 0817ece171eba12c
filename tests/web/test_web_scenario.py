"""The cut-off runner and exit plan pages over the example register (real libraries)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store, auth

from sovmap.cli import main
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


@pytest.mark.parametrize("jurisdiction", ["IE", "EU", "non-EU", "US"])
def test_web_and_cli_give_the_same_cutoff(
    jurisdiction: str,
    sclient: TestClient,
    store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cutoff", str(REGISTER), "--jurisdiction", jurisdiction, "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    h = auth(store, "viewer")
    web = sclient.get(f"/api/cutoff?jurisdiction={jurisdiction}", headers=h)
    assert web.status_code == 200 and web.json() == cli
    assert cli["matched"] and {m["provider"] for m in cli["matched"]} == set(cli["stopped"])


def test_cutoff_form_offers_controlling_jurisdictions(sclient: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    page = sclient.get("/cutoff", headers=h).text
    start = page.index('id="jurisdiction"')
    form = page[start : page.index("</select>", start)]
    offered = re.findall(r'<option value="([^"]*)"', form)
    assert offered == ["", "EU", "NL", "US", "non-EU", "DE"]  # suggest(): most common first
    assert "IE" not in offered and "LU" not in offered  # headquarters only: not offered
    ie = sclient.get("/cutoff?jurisdiction=IE", headers=h).text
    assert "headquartered in IE, controlled from US" in ie and 'id="cutoff-matched"' in ie
    bad = sclient.get("/api/cutoff?jurisdiction=XX", headers=h)
    assert bad.status_code == 400 and "would match: EU, NL, US, non-EU, DE" in bad.text


def test_unknown_what_if_is_a_400_naming_the_valid_ones(sclient: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    res = sclient.get("/api/exit", params={"what_if": "capacity*3", "runs": 100}, headers=h)
    assert res.status_code == 422  # the schema declares the valid ones
    assert "capacity*2" in res.text and "data-backup" in res.text
    page = sclient.get("/exit", params={"what_if": "capacity*3"}, headers=h)
    assert page.status_code == 400 and "capacity*2" in page.text
    ok = sclient.get("/api/exit", params={"what_if": "capacity*2", "runs": 100}, headers=h)
    assert ok.status_code == 200
