"""Issue 19 case 2 through ``sovmap serve --register``: a 700-byte YAML alias bomb in the
register directory is refused at once by the shared loader (no gigabytes, no endless CPU);
the register page and the cut-off API answer with a message naming the file and line."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.support.webstore import Store, auth

from sovmap.web.app import create_app
from sovmap.web.features import detect_features

REGISTER = Path(__file__).resolve().parents[2] / "examples" / "register"


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        prev, cur = chr(96 + n), chr(97 + n)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def bomb_client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    root = tmp_path / "reg"
    shutil.copytree(REGISTER, root)
    (root / "bomb.yaml").write_text(_alias_bomb())
    assert len((root / "bomb.yaml").read_bytes()) < 800
    with TestClient(create_app(store.engine, features=detect_features(root))) as c:
        yield c


def test_the_register_page_refuses_an_alias_bomb_at_once(
    bomb_client: TestClient, store: Store
) -> None:
    h = auth(store, "viewer")
    start = time.monotonic()
    page = bomb_client.get("/register", headers=h)
    api = bomb_client.get("/api/cutoff?provider=microsoft", headers=h)
    assert time.monotonic() - start < 5
    assert page.status_code >= 400 and "Traceback" not in page.text
    assert "bomb.yaml:2: (document): aliases (*a) are not accepted" in page.text
    assert api.status_code >= 400 and "Traceback" not in api.text
