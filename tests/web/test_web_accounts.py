"""Account lifecycle through the real app and CLI: disable, enable, delete, role, password
reset and change, token expiry, POST-redirect-GET for new tokens, and the audit log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.support.webstore import PASSWORD, Store, auth, fill
from tests.web.test_web_api import login as api_login
from tests.web.test_web_api import session_csrf

from sovmap.cli import main
from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app
from sovmap.web.tables import api_tokens, audit_log

NEW_PW = "a brand new password"


def login(c: TestClient, user: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token."""
    return session_csrf(api_login(c, user, password))


def actions(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.target).order_by(audit_log.c.id))
        return [(r.action, r.target) for r in rows]


def test_disable_ends_sessions_and_tokens_at_once(store: Store) -> None:
    app = create_app(store.engine)
    with TestClient(app) as admin, TestClient(app) as viewer:
        csrf = login(admin, "admin")
        login(viewer, "viewer")
        assert viewer.get("/api/me").status_code == 200
        h = auth(store, "viewer")
        assert admin.get("/api/me", headers=h).status_code == 200
        r = admin.post("/admin/users/viewer/disable", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/admin?msg=user_changed"
        assert viewer.get("/api/me").status_code == 401
        assert admin.get("/api/me", headers=h).status_code == 401
        assert "disabled" in admin.get("/admin").text
        # enabled again: the password works, the old token stays revoked
        admin.post("/admin/users/viewer/enable", data={"csrf": csrf})
        with TestClient(app) as again:
            login(again, "viewer")
            assert again.get("/api/me").json()["username"] == "viewer"
        assert admin.get("/api/me", headers=h).status_code == 401
    assert ("user.disable", "viewer") in actions(store)
    assert ("user.enable", "viewer") in actions(store)


def test_role_reset_delete_and_the_last_admin(store: Store) -> None:
    with TestClient(create_app(store.engine)) as c:
        csrf = login(c, "admin")
        assert c.get("/api/audit", headers=auth(store, "editor")).status_code == 403
        c.post("/admin/users/editor/role", data={"role": "admin", "csrf": csrf})
        assert c.get("/api/audit", headers=auth(store, "editor")).status_code == 200
        c.post("/admin/users/editor/role", data={"role": "viewer", "csrf": csrf})
        assert c.get("/api/audit", headers=auth(store, "editor")).status_code == 403
        # the only admin cannot lose the role, be disabled or deleted (not even by itself)
        r = c.post("/admin/users/admin/role", data={"role": "viewer", "csrf": csrf})
        assert r.status_code == 422 and "last enabled admin" in r.text
        r = c.post("/admin/users/admin/delete", data={"csrf": csrf})
        assert r.status_code == 422 and "your own account" in r.text
        # a reset password ends the user's tokens
        r = c.post("/admin/users/viewer/password", data={"password": "short", "csrf": csrf})
        assert r.status_code == 422 and "too short" in r.text
        assert c.get("/api/me", headers=auth(store, "viewer")).status_code == 200
        c.post("/admin/users/viewer/password", data={"password": NEW_PW, "csrf": csrf})
        assert c.get("/api/me", headers=auth(store, "viewer")).status_code == 401
        # delete
        c.post("/admin/users/editor/delete", data={"csrf": csrf})
        assert "editor" not in [
            u for u in re.findall(r"<tr><td>([^<]+)</td>", c.get("/admin").text)
        ]
        assert c.get("/api/me", headers=auth(store, "editor")).status_code == 401
        r = c.post("/admin/users/nobody/disable", data={"csrf": csrf})
        assert r.status_code == 422 and "no such user" in r.text
        # no editor or viewer can do any of it
        r = c.post(
            "/admin/users/admin/disable", headers=auth(store, "viewer"), follow_redirects=False
        )
        assert r.status_code == 303  # the viewer's token ended with the reset: log in first
    acts = actions(store)
    for event in ("user.role", "user.password", "user.delete"):
        assert any(a == event for a, _ in acts), event


def test_password_change_revokes_everything_else(store: Store) -> None:
    app = create_app(store.engine)
    with TestClient(app) as mine, TestClient(app) as other:
        csrf = login(mine, "editor")
        login(other, "editor")
        h = auth(store, "editor")
        bad = mine.post(
            "/account/password",
            data={"current": "wrong password", "new": NEW_PW, "again": NEW_PW, "csrf": csrf},
        )
        assert bad.status_code == 422 and "current password is wrong" in bad.text
        r = mine.post(
            "/account/password",
            data={"current": PASSWORD, "new": NEW_PW, "again": NEW_PW, "csrf": csrf},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert other.get("/api/me").status_code == 401  # the other session ended
        assert mine.get("/api/me", headers=h).status_code == 401  # so did the token
        page = mine.get("/account?msg=password_changed")
        assert page.status_code == 200 and "every other session and token has ended" in page.text
    with TestClient(app) as fresh:
        login(fresh, "editor", NEW_PW)
    assert ("user.password", "editor") in actions(store)


def test_new_token_post_redirect_get_and_expiry(store: Store) -> None:
    with TestClient(create_app(store.engine)) as c:
        csrf = login(c, "viewer")
        with store.engine.connect() as conn:
            before = len(conn.execute(select(api_tokens.c.id)).all())
        r = c.post("/account/tokens", data={"name": "laptop", "days": "7", "csrf": csrf})
        assert r.status_code == 200 and str(r.url).endswith("/account?msg=token_created")
        token = re.search(r'<code id="new-token">(svm_[^<]+)</code>', r.text)
        assert token
        # reloading shows no secret and creates nothing
        again = c.get("/account?msg=token_created")
        assert "new-token" not in again.text and token[1] not in again.text
        with store.engine.connect() as conn:
            rows = conn.execute(select(api_tokens.c.expires_at, api_tokens.c.name)).all()
        assert len(rows) == before + 1
        laptop = next(x for x in rows if x.name == "laptop")
        assert laptop.expires_at is not None
        h = {"Authorization": f"Bearer {token[1]}"}
        assert c.get("/api/me", headers=h).status_code == 200
        # an expired token is refused at once
        with store.engine.begin() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.name == "laptop")
                .values(expires_at="2000-01-01T00:00:00Z")
            )
        assert c.get("/api/me", headers=h).status_code == 401
        # the API: default lifetime 90 days, per token less
        made = c.post("/api/tokens", json={"name": "ci"}, headers=auth(store, "viewer")).json()
        assert made["days"] == 90
        r = c.post("/api/tokens", json={"name": "ci", "days": 0}, headers=auth(store, "viewer"))
        assert r.status_code == 422


def test_messages_come_from_codes_only(store: Store) -> None:
    with TestClient(create_app(store.engine)) as c:
        login(c, "admin")
        for q in ("msg=<script>alert(1)</script>", "error=You+have+been+hacked", "msg=hacked"):
            page = c.get(f"/admin?{q}")
            assert page.status_code == 200
            assert "hacked" not in page.text and "<script>alert" not in page.text
        assert "The account was changed." in c.get("/admin?msg=user_changed").text
        assert "hacked" not in c.get("/login?msg=hacked").text


def test_cli_lifecycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.db")
    engine = open_engine(db)
    store = fill(engine, n=2)
    monkeypatch.setenv("SOVMAP_PASSWORD", NEW_PW)
    with TestClient(create_app(engine)) as c:
        assert main(["users", "token", "viewer", "--name", "ci", "--days", "3", "--db", db]) == 0
        out = capsys.readouterr().out
        assert re.fullmatch(r"svm_[A-Za-z0-9_-]{43}\n", out), out  # the token alone
        h = {"Authorization": f"Bearer {out.strip()}"}
        assert c.get("/api/me", headers=h).status_code == 200
        assert main(["users", "disable", "viewer", "--db", db]) == 0
        assert c.get("/api/me", headers=h).status_code == 401
        assert main(["users", "token", "viewer", "--db", db]) == 2
        assert "is disabled" in capsys.readouterr().err
        assert main(["users", "enable", "viewer", "--db", db]) == 0
        assert main(["users", "role", "viewer", "editor", "--db", db]) == 0
        assert main(["users", "list", "--db", db]) == 0
        listed = capsys.readouterr().out
        assert "viewer\teditor\tenabled\t0 tokens" in listed
        assert c.get("/api/me", headers=auth(store, "editor")).status_code == 200
        assert main(["users", "passwd", "editor", "--db", db]) == 0
        assert c.get("/api/me", headers=auth(store, "editor")).status_code == 401
        assert main(["users", "delete", "editor", "--db", db]) == 0
        assert main(["users", "delete", "admin", "--db", db]) == 2
        assert "last enabled admin" in capsys.readouterr().err
        assert main(["users", "token", "viewer", "--days", "0", "--db", db]) == 2
        assert main(["users", "disable", "nobody", "--db", db]) == 2
    acts = actions(store)
    for event in ("token.create", "user.disable", "user.enable", "user.role", "user.password"):
        assert any(a == event for a, _ in acts), event
    with engine.connect() as conn:
        who = conn.execute(select(audit_log.c.username).where(audit_log.c.action == "user.delete"))
        assert who.scalar_one().startswith("cli:")
    engine.dispose()
