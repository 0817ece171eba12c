"""The REST API and the log-in flow, through the real app over a real SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.support.storegen import add_scan
from tests.support.webstore import PASSWORD, Store, auth, fill

from sovmap.store.migrate import open_engine
from sovmap.store.schema import findings
from sovmap.web.app import create_app
from sovmap.web.tables import api_tokens, audit_log, sessions


def login(client: TestClient, user: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    r = client.post(
        "/login",
        data={"username": user, "password": password, "csrf": csrf.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def session_csrf(client: TestClient) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', client.get("/account").text)
    assert m
    return m.group(1)


def test_api_refuses_without_credentials(client: TestClient) -> None:
    r = client.get("/api/overview")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/me", headers={"Authorization": "Bearer svm_wrong"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_overview_counts_match_the_rows(client: TestClient, store: Store) -> None:
    r = client.get("/api/overview", headers=auth(store, "viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["scan"]["id"] == store.scans[-1]
    assert body["scan"]["domains"] == 60
    with store.engine.connect() as conn:
        us_mail = conn.execute(
            select(func.count())
            .select_from(findings)
            .where(
                (findings.c.scan_id == store.scans[-1])
                & (findings.c.capability == "mailbox")
                & (findings.c.jurisdiction == "US")
            )
        ).scalar_one()
    assert body["us_domains"]["mailbox"] == us_mail
    assert sum(body["by_jurisdiction"]["mailbox"].values()) == 60
    assert "SELECT" in body["queries"]["by_jurisdiction"]
    older = client.get(f"/api/overview?scan={store.scans[0]}", headers=auth(store, "viewer"))
    assert older.json()["us_domains"]["mailbox"] < body["us_domains"]["mailbox"]


def test_domain_detail_has_evidence(client: TestClient, store: Store) -> None:
    page = client.get("/api/domains?prefix=gemeente00001&limit=5", headers=auth(store, "viewer"))
    assert page.status_code == 200
    assert page.json()["total"] == 10
    name = page.json()["items"][0]["domain"]
    d = client.get(f"/api/domains/{name}", headers=auth(store, "viewer")).json()
    assert d["attributes"]["name"].startswith("Gemeente")
    mailbox = [f for f in d["findings"] if f["capability"] == "mailbox"]
    assert mailbox and mailbox[0]["evidence"][0]["rtype"] == "MX"
    assert client.get("/api/domains/nope.example", headers=auth(store, "viewer")).status_code == 404


def test_provider_trends_scans_locations(client: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    prov = client.get("/api/providers/microsoft", headers=h).json()
    assert prov["jurisdiction"] == "US" and prov["domains_by_capability"]["mailbox"] > 0
    trends = client.get("/api/trends", headers=h).json()
    assert [t["scan"]["id"] for t in trends] == store.scans
    assert trends[1]["us_share"]["mailbox"] > trends[0]["us_share"]["mailbox"]
    assert len(client.get("/api/scans", headers=h).json()) == 2
    locs = client.get("/api/locations", headers=h).json()
    assert len(locs) == 60 and all(50 < x["lat"] < 54 for x in locs)


def test_roles(client: TestClient, store: Store) -> None:
    assert client.get("/api/audit", headers=auth(store, "viewer")).status_code == 403
    assert client.get("/api/audit", headers=auth(store, "editor")).status_code == 403
    assert client.get("/api/audit", headers=auth(store, "admin")).status_code == 200
    r = client.put("/api/settings/public", json={"enabled": True}, headers=auth(store, "editor"))
    assert r.status_code == 403


def test_tokens_are_hashed_at_rest(client: TestClient, store: Store) -> None:
    r = client.post("/api/tokens", json={"name": "ci"}, headers=auth(store, "viewer"))
    assert r.status_code == 201
    token = r.json()["token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json() == {
        "username": "viewer",
        "role": "viewer",
        "via": "token",
    }
    with store.engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_digest)).scalars().all()
    assert token not in stored and all(len(s) == 64 for s in stored)


def test_login_session_cookie_and_csrf(client: TestClient, store: Store) -> None:
    login(client, "editor")
    cookie = next(c for c in client.cookies.jar if c.name == "sovmap_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure  # plain http in the test; Secure over https (next test)
    with store.engine.connect() as conn:
        digests = conn.execute(select(sessions.c.digest)).scalars().all()
    assert cookie.value not in digests
    assert client.get("/api/me").json()["via"] == "session"
    # a write with the session cookie but without the CSRF token is refused
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 403
    csrf = session_csrf(client)
    r = client.post("/api/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    # form posts need it too
    assert client.post("/account/tokens", data={"name": "y"}).status_code == 403
    assert client.post("/account/tokens", data={"name": "y", "csrf": csrf}).status_code == 200
    # log-out ends the session on the server
    r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/me", cookies={"sovmap_session": cookie.value or ""}).status_code == 401


def test_secure_cookie_over_https(store: Store) -> None:
    from sovmap.web.app import create_app

    with TestClient(create_app(store.engine), base_url="https://testserver") as c:
        page = c.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        r = c.post(
            "/login",
            data={"username": "viewer", "password": PASSWORD, "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        header = r.headers["set-cookie"].lower()
        assert "sovmap_session=" in header
        assert "secure" in header and "httponly" in header and "samesite=lax" in header
        assert "strict-transport-security" in r.headers


def test_login_needs_form_csrf_and_is_rate_limited(client: TestClient) -> None:
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 403
    for _ in range(3):
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        r = client.post(
            "/login", data={"username": "viewer", "password": "wrong-password", "csrf": csrf[1]}
        )
        assert r.status_code == 401
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    # even the right password is refused while the limit holds
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf": csrf[1]})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_open_redirect_is_refused(client: TestClient) -> None:
    page = client.get("/login?next=https://evil.example/")
    assert 'name="next" value="/"' in page.text


def test_public_view_shows_only_the_scan(client: TestClient, store: Store) -> None:
    assert client.get("/api/overview").status_code == 401
    r = client.put("/api/settings/public", json={"enabled": True}, headers=auth(store, "admin"))
    assert r.status_code == 200
    assert client.get("/api/overview").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/api/audit").status_code == 401
    assert client.get("/account", follow_redirects=False).status_code == 303
    with store.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert "settings.public_scan" in actions


def test_pages_render(client: TestClient, store: Store) -> None:
    login(client, "admin")
    home = client.get("/")
    assert home.status_code == 200 and "<svg" in home.text and "By provider" in home.text
    assert "content-security-policy" in home.headers
    lst = client.get("/domains?prefix=gemeente00000")
    assert lst.status_code == 200 and "gemeente000001.nl" in lst.text
    dom = client.get("/domains/gemeente000001.nl")
    assert dom.status_code == 200 and "Evidence" in dom.text and "<details" in dom.text
    prov = client.get("/providers/microsoft").text
    assert "From the knowledge base" in prov and "Microsoft Corporation" in prov
    assert "European alternatives" in prov and "Keycloak" in prov
    assert "<polyline" in client.get("/trends").text
    choropleth = client.get("/map").text  # 342 municipalities, the 60 organisations on them
    assert choropleth.count('data-area="GM') == 342
    assert "of 60 organisations placed on the map of Dutch municipalities" in choropleth
    assert "Audit log" in client.get("/admin").text
    missing = client.get("/domains/absent.example", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Error 404" in missing.text


def test_admin_adds_user_with_audit(client: TestClient, store: Store) -> None:
    login(client, "admin")
    csrf = session_csrf(client)
    r = client.post(
        "/admin/users",
        data={"username": "dana", "password": "long enough pw", "role": "viewer", "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    bad = client.post(
        "/admin/users",
        data={"username": "erin", "password": "short", "role": "viewer", "csrf": csrf},
    )
    assert "password too short" in bad.text
    # a Dutch reader gets the account message from the catalogue in Dutch
    client.cookies.set("sovmap_lang", "nl")
    bad_nl = client.post(
        "/admin/users",
        data={"username": "erin", "password": "short", "role": "viewer", "csrf": csrf},
    )
    assert "wachtwoord te kort: minstens 10 tekens" in bad_nl.text
    assert "password too short" not in bad_nl.text
    client.cookies.set("sovmap_lang", "en")
    assert "user.create" in client.get("/admin").text


def test_organisations(client: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    page = client.get("/api/orgs?search=gemeente00000", headers=h).json()
    assert page["total"] == 10
    first = page["items"][0]
    assert first["domains"] == ["gemeente000000.nl"] and first["mailbox"]
    org = client.get(f"/api/orgs/{first['org_id']}", headers=h).json()
    assert org["name"] == "Gemeente 000000" and 50 < org["lat"] < 54
    assert org["domains"][0]["findings"][0]["evidence"]
    assert org["unmapped"][0]["code"] == "PUBLIC_SUFFIX"
    assert client.get("/api/orgs/test:absent", headers=h).status_code == 404
    login(client, "viewer")
    html = client.get(f"/orgs/{first['org_id']}").text
    assert "Gemeente 000000" in html and "<details" in html and "PUBLIC_SUFFIX" in html
    assert "gemeente000001.nl" in client.get("/orgs?search=gemeente00000").text
    # every organisation on the map page: on its area, or listed as not placed
    assert len(set(re.findall(r'href="/orgs/(test:[^"]+)"', client.get("/map").text))) == 60


def test_map_from_scan_attributes_without_organisations(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "plain.db"))
    store = fill(engine, n=12, with_orgs=False)
    with TestClient(create_app(engine)) as c:
        html = c.get("/map", headers=auth(store, "viewer")).text
    assert len(set(re.findall(r'href="/domains/(gemeente[^"]+)"', html))) == 12
    engine.dispose()


def test_group_trends_and_changes(client: TestClient, store: Store) -> None:
    h = auth(store, "viewer")
    groups = client.get("/api/trends/groups", headers=h).json()
    assert [g["scan_id"] for g in groups] == store.scans
    assert all(g["group"] == "municipality" and g["organisations"] == 60 for g in groups)
    assert groups[1]["us_mailbox"] > groups[0]["us_mailbox"]
    ch = client.get("/api/changes", headers=h).json()
    assert (ch["old_scan"], ch["new_scan"]) == tuple(store.scans)
    kinds = {e["kind"] for e in ch["events"]}
    assert "NEW_US_DEPENDENCY" in kinds
    assert all(e["subject_kind"] == "org" for e in ch["events"])
    login(client, "viewer")
    assert "By organisation type" in client.get("/trends").text
    page = client.get("/changes").text
    assert "NEW_US_DEPENDENCY" in page and 'href="/orgs/test:' in page


def test_map_says_when_no_location_is_known(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "noloc.db"))
    store = fill(engine, n=5, with_orgs=False)
    with engine.begin() as conn:
        add_scan(conn, [("plain.example", {})], seed=3, started_at="2026-09-01T00:00:00Z")
    with TestClient(create_app(engine)) as c:
        page = c.get("/map", headers=auth(store, "viewer"))
    assert page.status_code == 200 and "No organisations or locations are known" in page.text
    engine.dispose()
