"""Answers the size and character limits give before the app runs are in the reader's
language (the language cookie, else the browser's Accept-Language), like every page: the
HTML page and the JSON ``detail`` come from the catalogue, JSON also names the code."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sovmap.i18n import t
from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app
from sovmap.web.limits import BodyLimits


def test_refusals_before_the_app_speak_the_readers_language(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "s.db"))
    app = create_app(engine, limits=BodyLimits(form=1024, json=1024))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/domains/a%00b.nl", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})
        assert r.status_code == 400
        assert '<html lang="nl">' in r.text and "<h1>Fout 400</h1>" in r.text
        assert t("nl", "WEB_LIMIT_PATH_CHAR", char="U+0000") in r.text
        assert "Terug naar het overzicht" in r.text and "Back to" not in r.text
        # the cookie wins over the browser
        c.cookies.set("sovmap_lang", "en")
        r = c.get("/domains/a%00b.nl", headers={"Accept-Language": "nl"})
        assert "<h1>Error 400</h1>" in r.text
        assert t("en", "WEB_LIMIT_PATH_CHAR", char="U+0000") in r.text
        c.cookies.set("sovmap_lang", "nl")
        r = c.post(
            "/api/tokens",
            content=b'{"name": "' + b"x" * 2000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert r.json() == {
            "detail": t("nl", "WEB_LIMIT_TOO_LARGE", size="1 KiB"),
            "code": "WEB_LIMIT_TOO_LARGE",
        }
        r = c.post("/orgs", files={"f": ("a.csv", b"x")})
        assert r.status_code == 415 and t("nl", "WEB_LIMIT_NO_UPLOAD") in r.text
        r = c.get("/api/domains?prefix=%ff")
        assert r.json()["code"] == "WEB_LIMIT_QUERY_UTF8"
        assert r.json()["detail"] == t("nl", "WEB_LIMIT_QUERY_UTF8")
    engine.dispose()
