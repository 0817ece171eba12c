"""OIDC sign-in links a person by the IdP's (issuer, subject), never by e-mail address.

Two real OIDC providers (npm ``oidc-provider`` on Node, ``tests/web/oidc/idp.mjs``: two
issuers) and two real ``sovmap serve --oidc`` processes, one per issuer, on one store; the
IdPs read their accounts from a file, so a test can change an account's e-mail address
between two sign-ins. Links are made and removed with the real ``sovmap users`` command.
The store layer is also run on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
from tests.web.serving import free_port
from tests.web.test_oidc import MODULE, SECRET, App, Idp, sign_in

from sovmap.store.migrate import open_engine, upgrade
from sovmap.web.auth import (
    AuthError,
    create_user,
    delete_user,
    identities_of,
    link_identity,
    now_iso,
    set_disabled,
    unlink_identity,
)
from sovmap.web.oidc import OidcError, OidcSettings, local_user, parse_oidc_settings
from sovmap.web.tables import audit_log, oidc_identities, users

ACCOUNTS: dict[str, dict[str, Any]] = {
    # an IdP account whose e-mail address is a local password admin's name, in the admin group
    "mallory": {"email": "Boss@Example.nl", "email_verified": True, "groups": ["sovmap-admins"]},
    "frank": {"email": "frank@example.nl", "email_verified": True},
    "heidi": {"email": "heidi@example.nl", "email_verified": True},
    "ivan": {"email": "ivan@example.nl", "email_verified": True},
    "judy": {"email": "judy@example.nl", "email_verified": True},
}


class World:
    """Two IdPs, two apps (one per issuer) on one SQLite store, the IdPs' accounts file."""

    def __init__(self, a: App, b: App, accounts: Path) -> None:
        self.a, self.b, self.accounts, self.db = a, b, accounts, a.db

    def set_claims(self, login: str, **claims: Any) -> None:
        data = json.loads(self.accounts.read_text())
        data[login] = {**data[login], **claims}
        tmp = self.accounts.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.accounts)  # the IdP never reads half a file

    def rows(self, query: Any) -> list[Any]:
        engine = open_engine(self.db)
        try:
            with engine.connect() as conn:
                return list(conn.execute(query).mappings())
        finally:
            engine.dispose()

    def user(self, name: str) -> Any:
        found = self.rows(select(users).where(users.c.username == name))
        return found[0] if found else None

    def links(self, subject: str) -> list[Any]:
        return self.rows(
            select(oidc_identities, users.c.username)
            .join(users, users.c.id == oidc_identities.c.user_id)
            .where(oidc_identities.c.subject == subject)
            .order_by(oidc_identities.c.id)
        )

    def audit(self, action: str) -> list[dict[str, Any]]:
        found = self.rows(
            select(audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.id)
        )
        return [{"target": r["target"], **json.loads(r["detail"])} for r in found]

    def users_cmd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sovmap", "users", *args, "--db", self.db],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )


@contextmanager
def _idp(accounts: Path, redirects: list[str]) -> Iterator[Idp]:
    port = free_port()
    clients = [{"client_id": "sovmap", "client_secret": SECRET, "redirect_uris": redirects}]
    env = {
        **os.environ,
        "PORT": str(port),
        "OIDC_PROVIDER_MODULE": str(MODULE),
        "OIDC_TEST_CONFIG": json.dumps({"clients": clients, "accounts": {}}),
        "OIDC_TEST_ACCOUNTS_FILE": str(accounts),
    }
    proc = subprocess.Popen(
        ["node", str(Path(__file__).parent / "oidc" / "idp.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("ready "), line
        yield Idp(line.split()[1], proc)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def _app(db: str, port: int, idp: Idp, tmp: Path) -> Iterator[App]:
    settings_file = tmp / f"oidc-{port}.yaml"
    settings_file.write_text(
        f"issuer: {idp.issuer}\n"
        "client_id: sovmap\n"
        "client_secret_env: SOVMAP_TEST_OIDC_SECRET\n"
        "scopes: [openid, email, profile, groups]\n"
        "allowed_domains: [example.nl]\n"
        "role_claim: groups\n"
        "roles: {sovmap-admins: admin}\n"
        "default_role: viewer\n"
    )
    cmd = [sys.executable, "-m", "sovmap", "serve", "--db", db, "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--oidc", str(settings_file)],
        env={**os.environ, "SOVMAP_TEST_OIDC_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "sovmap serve exited"
                time.sleep(0.2)
        settings = parse_oidc_settings(
            {"issuer": idp.issuer, "client_id": "sovmap"}, str(settings_file)
        )
        yield App(url, db, settings)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # installed by scripts/install-system-deps.sh (make test): a missing one fails, never skips
    assert shutil.which("node") and MODULE.exists(), "run scripts/install-system-deps.sh"
    tmp = tmp_path_factory.mktemp("oidc-ids")
    accounts = tmp / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    db = str(tmp / "web.db")
    engine = open_engine(db)
    upgrade(engine)
    with engine.begin() as conn:
        create_user(conn, "admin", "admin password 1", "admin")
        create_user(conn, "boss@example.nl", "boss password 1", "admin")
    engine.dispose()
    port_a, port_b = free_port(), free_port()
    redirects = [f"http://127.0.0.1:{p}/login/oidc/callback" for p in (port_a, port_b)]
    with (
        _idp(accounts, redirects) as idp_a,
        _idp(accounts, redirects) as idp_b,
        _app(db, port_a, idp_a, tmp) as a,
        _app(db, port_b, idp_b, tmp) as b,
    ):
        assert a.settings.issuer != b.settings.issuer
        yield World(a, b, accounts)


def _me(c: httpx.Client, app: App) -> Any:
    r = c.get(f"{app.url}/api/me")
    return r.json() if r.status_code == 200 else r.status_code


def test_an_idp_account_with_a_password_admins_address_is_not_that_admin(world: World) -> None:
    c, r = sign_in(world.a, "mallory")
    assert r.status_code == 401, r.text
    assert "not linked to your identity" in r.text and "mallory" in r.text  # its subject
    assert "sovmap_session" not in c.cookies and _me(c, world.a) == 401
    assert world.links("mallory") == []
    boss = world.user("boss@example.nl")
    assert boss["role"] == "admin" and not boss["disabled"]
    refused = [e for e in world.audit("login.oidc.refused") if e.get("sub") == "mallory"]
    assert refused and refused[-1]["issuer"] == world.a.settings.issuer
    assert "OIDC_ACCOUNT_EXISTS" in refused[-1]["why"]
    # in Dutch too
    c, r = sign_in(world.a, "mallory", headers={"Accept-Language": "nl-NL,nl"})
    assert r.status_code == 401 and "niet gekoppeld aan uw identiteit" in r.text


def test_a_changed_address_signs_in_as_the_same_user(world: World) -> None:
    c, r = sign_in(world.a, "frank")
    assert r.status_code == 303, r.text
    assert _me(c, world.a) == {"username": "frank@example.nl", "role": "viewer", "via": "session"}
    [link] = world.links("frank")
    assert link["issuer"] == world.a.settings.issuer and link["username"] == "frank@example.nl"
    created = [e for e in world.audit("user.oidc.link") if e["target"] == "frank@example.nl"]
    assert created[-1]["sub"] == "frank" and created[-1]["issuer"] == world.a.settings.issuer

    world.set_claims("frank", email="f.jansen@example.nl")
    c, r = sign_in(world.a, "frank")
    assert r.status_code == 303, r.text
    assert _me(c, world.a)["username"] == "frank@example.nl"
    assert world.user("f.jansen@example.nl") is None
    [link] = world.links("frank")
    assert link["email"] == "f.jansen@example.nl" and link["last_used_at"]

    # the old address now belongs to another IdP account: it does not get frank's account
    world.set_claims("heidi", email="frank@example.nl")
    c, r = sign_in(world.a, "heidi")
    assert r.status_code == 401 and "not linked to your identity" in r.text
    assert _me(c, world.a) == 401 and world.links("heidi") == []


def test_another_issuer_with_the_same_subject_and_address_is_another_identity(
    world: World,
) -> None:
    c, r = sign_in(world.a, "ivan")
    assert r.status_code == 303 and _me(c, world.a)["username"] == "ivan@example.nl"
    c, r = sign_in(world.b, "ivan")  # same sub "ivan", same address, another issuer
    assert r.status_code == 401 and "not linked to your identity" in r.text
    assert _me(c, world.b) == 401
    assert [x["issuer"] for x in world.links("ivan")] == [world.a.settings.issuer]


def test_an_admin_links_an_existing_user_then_it_signs_in(world: World) -> None:
    a, b = world.a.settings.issuer, world.b.settings.issuer
    done = world.users_cmd("link", "boss@example.nl", "--issuer", a, "--subject", "mallory")
    assert done.returncode == 0, done.stderr
    assert "boss@example.nl is linked to subject mallory" in done.stdout
    c, r = sign_in(world.a, "mallory")
    assert r.status_code == 303, r.text
    assert _me(c, world.a) == {"username": "boss@example.nl", "role": "admin", "via": "session"}
    logins = [e for e in world.audit("login.oidc") if e["target"] == "boss@example.nl"]
    assert logins[-1]["issuer"] == a and logins[-1]["sub"] == "mallory"
    links = [e for e in world.audit("user.oidc.link") if e["target"] == "boss@example.nl"]
    assert links[-1] == {"target": "boss@example.nl", "issuer": a, "sub": "mallory", "via": "cli"}

    # ivan's identity at B joins his user made at A: one user, two identities
    done = world.users_cmd("link", "ivan@example.nl", "--issuer", b + "/", "--subject", "ivan")
    assert done.returncode == 0, done.stderr
    c, r = sign_in(world.b, "ivan")
    assert r.status_code == 303 and _me(c, world.b)["username"] == "ivan@example.nl"
    listed = world.users_cmd("identities", "ivan@example.nl")
    assert listed.returncode == 0 and a in listed.stdout and b in listed.stdout

    # an identity links to one user only; bad input is a clear error, exit 2
    taken = world.users_cmd("link", "boss@example.nl", "--issuer", b, "--subject", "ivan")
    assert taken.returncode == 2 and "linked to 'ivan@example.nl' already" in taken.stderr
    for args, words in [
        (("nobody", "--issuer", a, "--subject", "x"), "no such user"),
        (("boss@example.nl", "--issuer", "ftp://x", "--subject", "x"), "invalid issuer"),
        (("boss@example.nl", "--issuer", a, "--subject", "x" * 256), "invalid subject"),
    ]:
        bad = world.users_cmd("link", *args)
        assert bad.returncode == 2 and words in bad.stderr and "Traceback" not in bad.stderr

    # unlinked, mallory is refused again; the admin's password log-in is untouched
    done = world.users_cmd("unlink", "boss@example.nl", "--issuer", a, "--subject", "mallory")
    assert done.returncode == 0, done.stderr
    assert world.audit("user.oidc.unlink")[-1]["sub"] == "mallory"
    c, r = sign_in(world.a, "mallory")
    assert r.status_code == 401 and _me(c, world.a) == 401
    again = world.users_cmd("unlink", "boss@example.nl", "--issuer", a, "--subject", "mallory")
    assert again.returncode == 2 and "has no link" in again.stderr


def test_a_disabled_linked_user_is_refused(world: World) -> None:
    c, r = sign_in(world.a, "ivan")
    assert r.status_code == 303
    assert world.users_cmd("disable", "ivan@example.nl").returncode == 0
    assert _me(c, world.a) == 401  # its session ended
    c, r = sign_in(world.b, "ivan")
    assert r.status_code == 401 and "account is disabled" in r.text
    assert world.users_cmd("enable", "ivan@example.nl").returncode == 0


def test_a_deleted_user_loses_its_links(world: World) -> None:
    c, r = sign_in(world.a, "judy")
    assert r.status_code == 303
    b = world.b.settings.issuer
    linked = world.users_cmd("link", "judy@example.nl", "--issuer", b, "--subject", "judy")
    assert linked.returncode == 0, linked.stderr
    old = world.user("judy@example.nl")
    assert {x["user_id"] for x in world.links("judy")} == {old["id"]}
    assert len(world.links("judy")) == 2

    done = world.users_cmd("delete", "judy@example.nl")
    assert done.returncode == 0, done.stderr
    assert world.links("judy") == []
    assert world.rows(select(oidc_identities).where(oidc_identities.c.user_id == old["id"])) == []
    # the identity is new again: a new user is made for it, not the old one revived
    c, r = sign_in(world.a, "judy")
    assert r.status_code == 303 and _me(c, world.a)["username"] == "judy@example.nl"
    made = [e for e in world.audit("user.create") if e["target"] == "judy@example.nl"]
    assert len(made) == 2 and all(e["via"] == "oidc" for e in made)
    assert world.user("judy@example.nl")["password_hash"] != old["password_hash"]
    assert len(world.links("judy")) == 1


# --- the store layer on PostgreSQL (and the same checks on SQLite) -------------------------


def _run_store_checks(db: str) -> None:
    engine = open_engine(db)
    upgrade(engine)
    a = OidcSettings("https://idp-a.example", "sovmap", default_role="viewer")
    b = OidcSettings("https://idp-b.example", "sovmap", default_role="viewer")
    claims = {"sub": "248289761001", "email": "Kim@Example.nl", "email_verified": True}
    try:
        with engine.begin() as conn:
            create_user(conn, "root", "root password 1", "admin")
            create_user(conn, "boss@example.nl", "boss password 1", "admin")
        with engine.begin() as conn:  # first sign-in: a new, linked user
            p, created = local_user(conn, a, claims)
        assert created and p.username == "kim@example.nl" and p.role == "viewer"
        with engine.begin() as conn:  # a changed address: the same user
            p2, created = local_user(conn, a, {**claims, "email": "kim.v@example.nl"})
        assert not created and p2.user_id == p.user_id
        with engine.begin() as conn, pytest.raises(OidcError, match="OIDC_ACCOUNT_EXISTS"):
            local_user(conn, b, claims)  # another issuer, same sub and address
        with engine.begin() as conn, pytest.raises(OidcError, match="OIDC_ACCOUNT_EXISTS"):
            local_user(conn, a, {**claims, "sub": "x", "email": "boss@example.nl"})
        with engine.begin() as conn:
            link_identity(conn, "kim@example.nl", b.issuer, claims["sub"])
            assert local_user(conn, b, claims)[0].user_id == p.user_id
            assert len(identities_of(conn, "kim@example.nl")) == 2
        with engine.begin() as conn, pytest.raises(AuthError, match="linked to"):
            link_identity(conn, "boss@example.nl", b.issuer, claims["sub"])
        with engine.begin() as conn, pytest.raises(IntegrityError):  # the unique pair
            conn.execute(
                insert(oidc_identities).values(
                    issuer=a.issuer,
                    subject=claims["sub"],
                    user_id=p.user_id,
                    email="",
                    created_at=now_iso(),
                )
            )
        with engine.begin() as conn:
            unlink_identity(conn, "kim@example.nl", b.issuer, claims["sub"])
            set_disabled(conn, "kim@example.nl", True)
        with engine.begin() as conn, pytest.raises(OidcError, match="OIDC_DISABLED"):
            local_user(conn, a, claims)
        with engine.begin() as conn:
            delete_user(conn, "kim@example.nl")
        with engine.connect() as conn:
            assert conn.execute(select(oidc_identities)).all() == []
        with engine.begin() as conn, pytest.raises(OidcError, match="OIDC_BAD_TOKEN"):
            local_user(conn, a, {**claims, "sub": "a\x00b"})
    finally:
        engine.dispose()


def test_links_in_the_store_on_sqlite(tmp_path: Path) -> None:
    _run_store_checks(str(tmp_path / "s.db"))


@pytest.mark.postgres
def test_links_in_the_store_on_postgres(postgres_url: str) -> None:  # noqa: F811
    _run_store_checks(postgres_url)


# --- upgrading a store from the e-mail matching of revision 0005 ---------------------------


def _run_backfill_checks(db: str) -> None:
    engine = open_engine(db)
    assert upgrade(engine, "0005") == "0005"
    issuer = "https://idp.example"
    at = iter(f"2026-11-01T10:00:{s:02d}Z" for s in range(60))
    entries: list[tuple[str, str, dict[str, Any]]] = []

    def made(name: str, via_oidc: bool) -> None:
        entries.append(
            ("user.create", name, {"role": "viewer", **({"via": "oidc"} if via_oidc else {})})
        )

    def login(name: str, sub: str) -> None:
        entries.append(("login.oidc", name, {"ip": "127.0.0.1", "issuer": issuer, "sub": sub}))

    made("kept@example.nl", True)  # made by the sign-in of s-1, so linked to s-1 only
    login("kept@example.nl", "s-1")
    login("kept@example.nl", "s-2")  # another IdP account with the address: not linked
    made("pw@example.nl", False)  # a password user who signed in by address: not linked
    login("pw@example.nl", "s-3")
    made("gone@example.nl", True)  # made by OIDC, then deleted
    login("gone@example.nl", "s-4")
    made("again@example.nl", True)  # made by OIDC, deleted, made again with a password
    login("again@example.nl", "s-5")
    entries.append(("user.delete", "again@example.nl", {}))
    made("again@example.nl", False)
    try:
        with engine.begin() as conn:
            created: dict[str, str] = {}  # user name -> its latest creation
            for action, target, detail in entries:
                stamp = next(at)
                if action == "user.create":
                    created[target] = stamp
                conn.execute(
                    insert(audit_log).values(
                        at=stamp,
                        username=target if action == "login.oidc" else "cli:root",
                        action=action,
                        target=target,
                        detail=json.dumps(detail),
                    )
                )
            for name in ("kept@example.nl", "pw@example.nl", "again@example.nl"):
                conn.execute(
                    insert(users).values(
                        username=name,
                        password_hash="x",
                        role="viewer",
                        created_at=created[name],
                        disabled=False,
                    )
                )
        assert upgrade(engine) != "0005"
        with engine.connect() as conn:
            found = conn.execute(
                select(oidc_identities.c.issuer, oidc_identities.c.subject, users.c.username).join(
                    users, users.c.id == oidc_identities.c.user_id
                )
            ).all()
        assert [tuple(r) for r in found] == [(issuer, "s-1", "kept@example.nl")]
    finally:
        engine.dispose()


def test_upgrading_links_users_made_by_oidc_to_their_maker_on_sqlite(tmp_path: Path) -> None:
    _run_backfill_checks(str(tmp_path / "b.db"))


@pytest.mark.postgres
def test_upgrading_links_users_made_by_oidc_to_their_maker_on_postgres(
    postgres_url: str,  # noqa: F811
) -> None:
    _run_backfill_checks(postgres_url)
