"""Register pages: provenance shown, editors fill missing values, entered ones stay in files."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.support.webstore import PASSWORD, Store, auth

from sovmap.register.files import load_register
from sovmap.register.model import Origin
from sovmap.web.app import create_app
from sovmap.web.features import detect_features
from sovmap.web.tables import audit_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reg_dir(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(ROOT / "examples" / "register", target)
    return target


@pytest.fixture
def rclient(store: Store, reg_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(store.engine, features=detect_features(reg_dir))) as c:
        yield c


def _login(c: TestClient, user: str) -> str:
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert csrf
    r = c.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf": csrf[1]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get("/register/services/siem").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    return token[1]


def test_register_page_shows_provenance(rclient: TestClient, store: Store) -> None:
    page = rclient.get("/register", headers=auth(store, "viewer"))
    assert page.status_code == 200
    assert "exchange-online" in page.text and "missing" in page.text
    assert rclient.get("/register", follow_redirects=False).status_code == 303


def test_editor_fills_a_missing_value(rclient: TestClient, store: Store, reg_dir: Path) -> None:
    before = load_register(reg_dir).services["siem"]
    assert before.alternatives.origin is Origin.MISSING
    csrf = _login(rclient, "editor")
    r = rclient.post(
        "/register/services/siem",
        data={"csrf": csrf, "alternatives": "Wazuh (self-hosted), OpenSearch SIEM"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    after = load_register(reg_dir).services["siem"]
    assert after.alternatives.value == ("Wazuh (self-hosted)", "OpenSearch SIEM")
    assert after.alternatives.origin is Origin.ENTERED
    assert (reg_dir / "web-edits.yaml").exists()
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.username, audit_log.c.target).where(
                audit_log.c.action == "register.edit"
            )
        ).all()
    assert rows == [("editor", "services/siem")]


def test_entered_values_and_bad_input_are_refused(
    rclient: TestClient, store: Store, reg_dir: Path
) -> None:
    csrf = _login(rclient, "editor")
    r = rclient.post("/register/services/intune", data={"csrf": csrf, "exit_plan": "tested"})
    assert r.status_code == 422 and "change it there" in r.text and "services.yaml:" in r.text
    r = rclient.post("/register/services/siem", data={"csrf": csrf, "key_control": "maybe"})
    assert r.status_code == 422 and "is not one of" in r.text
    r = rclient.post("/register/services/siem", data={"alternatives": "x"})
    assert r.status_code == 403  # no CSRF token
    assert not (reg_dir / "web-edits.yaml").exists()
    assert load_register(reg_dir).services["intune"].exit_plan.value == "none"


def test_viewers_cannot_edit(rclient: TestClient, store: Store) -> None:
    r = rclient.post(
        "/register/services/siem", data={"alternatives": "x"}, headers=auth(store, "viewer")
    )
    assert r.status_code == 403
