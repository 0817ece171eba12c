"""OpenID Connect identities linked to users, managed on the admin page: link, list, unlink,
refusals as catalogued messages (never a 500, never the query echoed), admins only, the
audit log as the CLI writes it, the Dutch page, one query for all links; in headless
Chromium the section has no WCAG violations and is used with the keyboard only."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from tests.support.webstore import Store, auth, fill
from tests.web.test_a11y import _tab_to, axe
from tests.web.test_web_accounts import login
from tests.web.tour import AXE, chromium, log_in, needs_chromium, served

from sovmap.i18n import t
from sovmap.store.migrate import open_engine
from sovmap.web.app import create_app
from sovmap.web.auth import identities_by_user, identities_of, link_identity
from sovmap.web.tables import audit_log, oidc_identities

ISSUER = "https://login.example.nl/realms/gov"
SUB = "248289761001"


@pytest.fixture
def admin(store: Store) -> Iterator[tuple[TestClient, str]]:
    """A client logged in as the admin, with its session's CSRF token."""
    with TestClient(create_app(store.engine)) as c:
        yield c, login(c, "admin")


def link(
    c: TestClient,
    csrf: str,
    user: str,
    issuer: str = ISSUER,
    sub: str = SUB,
    headers: dict[str, str] | None = None,
) -> Any:
    return c.post(
        f"/admin/users/{user}/identities",
        data={"csrf": csrf, "issuer": issuer, "subject": sub},
        headers=headers,
        follow_redirects=False,
    )


def unlink(
    c: TestClient,
    csrf: str,
    user: str,
    issuer: str = ISSUER,
    sub: str = SUB,
    headers: dict[str, str] | None = None,
) -> Any:
    return c.post(
        f"/admin/users/{user}/identities/unlink",
        data={"csrf": csrf, "issuer": issuer, "subject": sub},
        headers=headers,
        follow_redirects=False,
    )


def shown(c: TestClient, r: Any) -> str:
    """The page the redirect ``r`` leads to: its status (200) checked, its message text."""
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert page.status_code == 200
    found = re.findall(r'<p class="(?:ok|error)" role="(?:status|alert)">([^<]*)</p>', page.text)
    assert len(found) == 1, found
    return html.unescape(found[0])


def row_of(page: str, user: str) -> str:
    m = re.search(rf'<tr id="identities-\d+"><th scope="row">{user}</th>(.*?)</tr>', page, re.S)
    assert m, user
    return m.group(1)


def audit_rows(store: Store, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.username, audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.id)
        )
        return [(r.username, r.target, json.loads(r.detail)) for r in rows]


def ids(store: Store, user: str) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(i["issuer"], i["subject"]) for i in identities_of(conn, user)]


def test_link_list_and_unlink_on_the_admin_page(
    store: Store, admin: tuple[TestClient, str]
) -> None:
    c, csrf = admin
    assert "none linked" in row_of(c.get("/admin").text, "viewer")
    # a trailing slash is dropped, as the CLI stores it
    r = link(c, csrf, "viewer", ISSUER + "/")
    assert r.headers["location"] == "/admin?msg=identity_linked"
    assert shown(c, r) == t("en", "OIDC_ADMIN_LINKED")
    assert ids(store, "viewer") == [(ISSUER, SUB)]
    row = row_of(c.get("/admin").text, "viewer")
    assert f'<code class="wrap">{ISSUER}</code>' in row and f">{SUB}</code>" in row
    assert "never used" in row and re.search(r"linked \d{1,2} \w+ \d{4}", row)
    assert "none linked" in row_of(c.get("/admin").text, "editor")
    assert audit_rows(store, "user.oidc.link") == [
        ("admin", "viewer", {"issuer": ISSUER, "sub": SUB, "via": "web"})
    ]
    # linking it again to the same user changes nothing
    link(c, csrf, "viewer")
    assert ids(store, "viewer") == [(ISSUER, SUB)]
    # the unlink button's form
    form = re.search(r'action="/admin/users/viewer/identities/unlink">(.*?)</form>', row, re.S)
    assert form and f'name="subject" value="{SUB}"' in form.group(1)
    assert f'aria-label="Unlink from viewer: subject {SUB} of {ISSUER}"' in form.group(1)
    r = unlink(c, csrf, "viewer")
    assert shown(c, r) == t("en", "OIDC_ADMIN_UNLINKED")
    assert ids(store, "viewer") == []
    assert "none linked" in row_of(c.get("/admin").text, "viewer")
    assert audit_rows(store, "user.oidc.unlink") == [
        ("admin", "viewer", {"issuer": ISSUER, "sub": SUB, "via": "web"})
    ]
    # unlinking what is not linked is a message, and no audit entry
    assert shown(c, unlink(c, csrf, "viewer")) == t("en", "OIDC_ADMIN_ERR_NO_LINK")
    assert len(audit_rows(store, "user.oidc.unlink")) == 1


def test_an_identity_links_to_one_user_only(store: Store, admin: tuple[TestClient, str]) -> None:
    c, csrf = admin
    link(c, csrf, "viewer")
    r = link(c, csrf, "editor")
    assert r.headers["location"] == "/admin?error=identity_taken"
    assert shown(c, r) == t("en", "OIDC_ADMIN_ERR_TAKEN")
    assert ids(store, "editor") == [] and ids(store, "viewer") == [(ISSUER, SUB)]
    # the same subject at another issuer is another identity
    other = "https://idp.example.org"
    assert shown(c, link(c, csrf, "editor", other)) == t("en", "OIDC_ADMIN_LINKED")
    assert ids(store, "editor") == [(other, SUB)]
    # the owner cannot be unlinked through another user's form
    assert shown(c, unlink(c, csrf, "editor")) == t("en", "OIDC_ADMIN_ERR_NO_LINK")
    assert ids(store, "viewer") == [(ISSUER, SUB)]
    # and no such user
    assert shown(c, link(c, csrf, "nobody", sub="x")) == t("en", "OIDC_ADMIN_ERR_NO_USER")
    assert len(audit_rows(store, "user.oidc.link")) == 2


@pytest.mark.parametrize(
    ("issuer", "sub", "code"),
    [
        ("https://login.example.nl/\trealms", SUB, "OIDC_ADMIN_ERR_ISSUER"),
        (ISSUER, "2482\n89761001", "OIDC_ADMIN_ERR_SUBJECT"),
        ("ftp://login.example.nl", SUB, "OIDC_ADMIN_ERR_ISSUER"),
        ("login.example.nl/realms/gov", SUB, "OIDC_ADMIN_ERR_ISSUER"),
        ("https://login.example.nl/a b", SUB, "OIDC_ADMIN_ERR_ISSUER"),
        ("https://login.example.nl/" + "a" * 600, SUB, "OIDC_ADMIN_ERR_ISSUER"),
        (ISSUER, "s" * 256, "OIDC_ADMIN_ERR_SUBJECT"),
        (ISSUER, "line\u2028separator", "OIDC_ADMIN_ERR_SUBJECT"),
        (ISSUER, "", "OIDC_ADMIN_ERR_SUBJECT"),
        ("", SUB, "OIDC_ADMIN_ERR_ISSUER"),
    ],
)
def test_bad_identities_get_a_message_not_a_500(
    store: Store, admin: tuple[TestClient, str], issuer: str, sub: str, code: str
) -> None:
    c, csrf = admin
    for send in (link, unlink):
        text = shown(c, send(c, csrf, "viewer", issuer, sub))
        assert text == t("en", code, issuer_max=512, subject_max=255)
        assert "ftp" not in text and "example" not in text
    assert ids(store, "viewer") == []
    assert audit_rows(store, "user.oidc.link") == []


def test_a_nul_byte_is_refused_before_any_work(store: Store, admin: tuple[TestClient, str]) -> None:
    """The app refuses a NUL byte (and other control characters) in any request body
    (sovmap.web.limits) with a 400 page, so it never reaches the store."""
    c, csrf = admin
    for issuer, sub in (("https://login.example.nl/\x00x", SUB), (ISSUER, "2482\x00")):
        for send in (link, unlink):
            r = send(c, csrf, "viewer", issuer, sub)
            assert r.status_code == 400 and "U+0000" in r.text
    assert ids(store, "viewer") == []


def test_the_page_shows_catalogued_texts_only(admin: tuple[TestClient, str]) -> None:
    c, _ = admin
    for query in ("error=<b>x</b>", "msg=<b>x</b>", "error=identity_linked", "msg=AUTH_OIDC"):
        page = c.get(f"/admin?{query}")
        assert page.status_code == 200
        assert "<b>x</b>" not in page.text and 'role="alert"' not in page.text
        assert 'class="ok"' not in page.text


def test_only_admins_may_link_or_unlink(store: Store, client: TestClient) -> None:
    with store.engine.begin() as conn:
        link_identity(conn, "viewer", ISSUER, SUB)
    for role in ("viewer", "editor"):
        # by API token (no CSRF needed, so the role check is what refuses)
        h = auth(store, role)
        assert link(client, "", role, sub="other", headers=h).status_code == 403
        assert unlink(client, "", "viewer", headers=h).status_code == 403
        # and by session, with the session's own CSRF token
        with TestClient(create_app(store.engine)) as c:
            csrf = login(c, role)
            assert link(c, csrf, role, sub="mine").status_code == 403
            assert unlink(c, csrf, "viewer").status_code == 403
    assert ids(store, "viewer") == [(ISSUER, SUB)] and ids(store, "editor") == []
    assert audit_rows(store, "user.oidc.link") == audit_rows(store, "user.oidc.unlink") == []


def test_a_session_needs_its_csrf_token(store: Store, admin: tuple[TestClient, str]) -> None:
    c, _ = admin
    assert link(c, "", "viewer").status_code == 403
    assert link(c, "not-the-token", "viewer").status_code == 403
    assert ids(store, "viewer") == []
    # an admin's API token needs none (as the other admin routes)
    r = c.post(
        "/admin/users/viewer/identities",
        data={"issuer": ISSUER, "subject": SUB},
        headers=auth(store, "admin"),
        follow_redirects=False,
    )
    assert r.status_code == 303 and ids(store, "viewer") == [(ISSUER, SUB)]


def test_the_dutch_page(store: Store, admin: tuple[TestClient, str]) -> None:
    c, csrf = admin
    link(c, csrf, "viewer")
    with store.engine.begin() as conn:
        conn.execute(update(oidc_identities).values(last_used_at="2026-03-04T10:05:00Z"))
    c.cookies.set("sovmap_lang", "nl")
    page = c.get("/admin").text
    for code in ("OIDC_ADMIN_TITLE", "OIDC_ADMIN_COL_LINKED", "OIDC_ADMIN_COL_LINK"):
        assert t("nl", code) in page and t("en", code) not in page
    row = row_of(page, "viewer")
    assert "laatst gebruikt 4 maart 2026 10:05" in row and "last used" not in row
    assert re.search(r"gekoppeld \d{1,2} \w+ \d{4}", row)  # the date as Dutch writes it
    assert 'aria-label="Ontkoppelen van viewer: subject' in row
    assert "geen gekoppeld" in row_of(page, "editor")
    assert 'aria-label="Koppelen aan editor"' in row_of(page, "editor")
    assert shown(c, link(c, csrf, "editor")) == t("nl", "OIDC_ADMIN_ERR_TAKEN")
    assert (
        shown(c, unlink(c, csrf, "viewer"))
        == "De identiteit is ontkoppeld: ze logt niet meer in als die gebruiker."
    )


def test_all_links_in_one_query(store: Store, admin: tuple[TestClient, str]) -> None:
    c, csrf = admin
    for user, sub in (("viewer", "a"), ("viewer", "b"), ("editor", "c"), ("admin", "d")):
        link(c, csrf, user, sub=sub)
    with store.engine.connect() as conn:
        by_user = identities_by_user(conn)
        assert {u: [i["subject"] for i in v] for u, v in by_user.items()} == {
            "viewer": ["a", "b"],
            "editor": ["c"],
            "admin": ["d"],
        }
        for user in ("viewer", "editor", "admin"):
            assert by_user[user] == identities_of(conn, user)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if oidc_identities.name in statement:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        page = c.get("/admin").text
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(seen) == 1, seen
    assert page.count('id="unlink-') == 4


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run make system-deps")
    where = tmp_path_factory.mktemp("ident")
    with served(where, n=5) as url:
        yield url, where / "tour.db"


@pytest.mark.browser
@needs_chromium
def test_link_and_unlink_with_the_keyboard_and_no_wcag_violations(
    base: tuple[str, Path],
) -> None:
    url, db = base
    engine = open_engine(str(db))
    try:
        with engine.begin() as conn:
            link_identity(conn, "editor", "https://idp.example.org", "e-1", "ed@example.org")
        with chromium() as browser:
            for lang in ("en", "nl"):
                ctx = browser.new_context(
                    viewport={"width": 1280, "height": 900}, locale=lang, bypass_csp=True
                )
                page = ctx.new_page()
                page.set_default_timeout(60_000)
                log_in(page, url)
                page.goto(url + "/admin")
                assert page.locator("#unlink-2-1").count() == 1  # the editor's identity
                assert axe(page) == [], lang
                ctx.close()
            # bypass_csp: only so that the test can inject axe-core, as in test_a11y
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}, bypass_csp=True
            ).new_page()
            page.set_default_timeout(60_000)
            log_in(page, url)
            page.goto(url + "/admin")
            # the users are admin, editor, viewer: the viewer's row is the third
            _tab_to(page, "link-issuer-3", limit=200)
            page.keyboard.type(ISSUER)
            _tab_to(page, "link-subject-3")
            page.keyboard.type(SUB)
            page.keyboard.press("Enter")
            page.wait_for_url(url + "/admin?msg=identity_linked")
            assert page.locator("p.ok").inner_text() == t("en", "OIDC_ADMIN_LINKED")
            assert axe(page) == []
            _tab_to(page, "unlink-3-1", limit=200)
            page.keyboard.press("Space")
            page.wait_for_url(url + "/admin?msg=identity_unlinked")
            # a refusal is announced as an alert and has no violations either
            _tab_to(page, "link-issuer-1", limit=200)
            page.keyboard.type("https://idp.example.org")
            _tab_to(page, "link-subject-1")
            page.keyboard.type("e-1")
            _tab_to(page, "link-1")
            page.keyboard.press("Enter")
            page.wait_for_url(url + "/admin?error=identity_taken")
            assert page.locator("p.error[role=alert]").inner_text() == t(
                "en", "OIDC_ADMIN_ERR_TAKEN"
            )
            assert axe(page) == []
        with engine.connect() as conn:
            assert identities_of(conn, "viewer") == []
            assert [i["subject"] for i in identities_of(conn, "editor")] == ["e-1"]
            assert identities_of(conn, "admin") == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_same_on_postgres(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    store = fill(engine, n=5, with_orgs=False)
    try:
        with TestClient(create_app(engine)) as c:
            h = auth(store, "admin")  # an API token: no CSRF token needed
            r = link(c, "", "viewer", ISSUER + "/", headers=h)
            assert r.headers["location"] == "/admin?msg=identity_linked"
            r = link(c, "", "editor", headers=h)
            assert r.headers["location"] == "/admin?error=identity_taken"
            r = link(c, "", "editor", "https://login.example.nl/\u2028x", headers=h)
            assert r.headers["location"] == "/admin?error=identity_bad_issuer"
            page = c.get("/admin", headers=h)
            assert page.status_code == 200
            assert f">{SUB}</code>" in row_of(page.text, "viewer")
            assert ids(store, "viewer") == [(ISSUER, SUB)]
            r = unlink(c, "", "viewer", headers=h)
            assert r.headers["location"] == "/admin?msg=identity_unlinked"
            assert ids(store, "viewer") == []
            assert [d for _, _, d in audit_rows(store, "user.oidc.unlink")] == [
                {"issuer": ISSUER, "sub": SUB, "via": "web"}
            ]
    finally:
        engine.dispose()
