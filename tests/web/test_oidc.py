"""OpenID Connect sign-in against a real OIDC provider (npm ``oidc-provider`` on Node, started
by the tests on loopback) and a real ``sovmap serve --oidc`` process: the full authorization
code flow with PKCE through the browser's redirects (httpx with cookies), a working session,
the mapping to local users (created, role from a claim, domain refused, a disabled linked
user refused; linking by issuer and subject itself is tested in test_oidc_identities.py),
and ID tokens refused for another audience, after expiry, forged or unsigned."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from tests.web.serving import free_port

from sovmap.store.migrate import open_engine, upgrade
from sovmap.web.auth import create_user, link_identity, set_disabled
from sovmap.web.oidc import OidcError, OidcSettings, Provider, parse_oidc_settings
from sovmap.web.tables import audit_log, users

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / ".tools" / "node_modules" / "oidc-provider" / "lib" / "index.js"
SECRET = "client secret of the test, long enough to be real"
ACCOUNTS = {
    "alice": {"email": "Alice@Example.nl", "email_verified": True, "name": "Alice"},
    "carol": {"email": "carol@example.nl", "email_verified": True, "groups": ["sovmap-admins"]},
    "bob": {"email": "bob@elsewhere.org", "email_verified": True},
    "dave": {"email": "dave@example.nl", "email_verified": True},
    "erin": {"email": "erin@example.nl", "email_verified": False},
}


@dataclass
class Idp:
    issuer: str
    proc: subprocess.Popen[bytes]


@dataclass
class App:
    url: str
    db: str
    settings: OidcSettings


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def idp(app_port: int) -> Iterator[Idp]:
    # installed by scripts/install-system-deps.sh (make test): a missing one fails, never skips
    assert shutil.which("node") and MODULE.exists(), "run scripts/install-system-deps.sh"
    port = free_port()
    redirect = [f"http://127.0.0.1:{app_port}/login/oidc/callback"]
    clients = [
        {"client_id": cid, "client_secret": SECRET, "redirect_uris": redirect}
        for cid in ("sovmap", "other-client", "short-lived")
    ]
    env = {
        **os.environ,
        "PORT": str(port),
        "OIDC_PROVIDER_MODULE": str(MODULE),
        "OIDC_TEST_CONFIG": json.dumps({"clients": clients, "accounts": ACCOUNTS}),
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


@pytest.fixture(scope="module")
def app(idp: Idp, app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("oidc")
    db = str(tmp / "web.db")
    engine = open_engine(db)
    upgrade(engine)
    with engine.begin() as conn:
        create_user(conn, "admin", "admin password 1", "admin")
        # dave's identity at the IdP is linked to his local user (an admin's act), which is
        # disabled: the sign-in is refused as disabled. (Unlinked, a local user named by an
        # IdP account's e-mail address is never signed in as: test_oidc_identities.py.)
        create_user(conn, "dave@example.nl", "dave password 1", "editor")
        link_identity(conn, "dave@example.nl", idp.issuer, "dave")
        set_disabled(conn, "dave@example.nl", True)
    engine.dispose()
    settings_file = tmp / "oidc.yaml"
    settings_file.write_text(
        f"issuer: {idp.issuer}\n"
        "client_id: sovmap\n"
        "client_secret_env: SOVMAP_TEST_OIDC_SECRET\n"
        "label: Test-IdP\n"
        "scopes: [openid, email, profile, groups]\n"
        "allowed_domains: [example.nl]\n"
        "role_claim: groups\n"
        "roles: {sovmap-admins: admin}\n"
        "default_role: viewer\n"
    )
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "sovmap", "serve", "--db", db, "--port", str(app_port)),
            *("--oidc", str(settings_file)),
        ],
        env={**os.environ, "SOVMAP_TEST_OIDC_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{app_port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "sovmap serve exited"
                time.sleep(0.2)
        os.environ.setdefault("SOVMAP_TEST_OIDC_SECRET", SECRET)
        yield App(url, db, parse_oidc_settings(_yaml(settings_file), "oidc.yaml"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def _follow(
    c: httpx.Client, r: httpx.Response, login: str, stop: str, *, call: bool = True
) -> httpx.Response:
    """Follow redirects and fill the IdP's log-in form until a redirect to a URL that starts
    with ``stop``: answer with that URL's answer (``call``) or the redirect itself."""
    for _ in range(20):
        if r.status_code in (302, 303):
            target = urljoin(str(r.url), r.headers["location"])
            if target.startswith(stop):
                return c.get(target) if call else r
            r = c.get(target)
        elif r.status_code == 200 and 'name="login"' in r.text:
            action = re.search(r'action="([^"]+)"', r.text)
            assert action is not None
            hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
            form = {**hidden, "login": login, "password": "x"}
            r = c.post(urljoin(str(r.url), action.group(1)), data=form)
        else:
            return r
    raise AssertionError("too many redirects")


def sign_in(
    app: App, login: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Client, httpx.Response]:
    c = httpx.Client(timeout=20, headers=headers)
    r = c.get(f"{app.url}/login/oidc", params={"next": "/account"})
    assert r.status_code == 303 and r.headers["location"].startswith(app.settings.issuer)
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    return c, _follow(c, r, login, f"{app.url}/login/oidc/callback")


def _user(app: App, name: str) -> Any:
    engine = open_engine(app.db)
    try:
        with engine.connect() as conn:
            return conn.execute(select(users).where(users.c.username == name)).mappings().first()
    finally:
        engine.dispose()


def test_sign_in_creates_a_viewer_and_the_session_works(app: App) -> None:
    assert 'href="/login/oidc' in httpx.get(f"{app.url}/login").text
    c, r = sign_in(app, "alice")
    assert r.status_code == 303 and r.headers["location"] == "/account", r.text
    me = c.get(f"{app.url}/api/me")
    assert me.status_code == 200
    assert me.json() == {"username": "alice@example.nl", "role": "viewer", "via": "session"}
    assert c.get(f"{app.url}/account").status_code == 200
    row = _user(app, "alice@example.nl")
    assert row is not None and row["role"] == "viewer" and not row["disabled"]
    # a second sign-in finds the same user
    c2, r2 = sign_in(app, "alice")
    assert r2.status_code == 303 and c2.get(f"{app.url}/api/me").json()["role"] == "viewer"


def test_role_from_a_claim(app: App) -> None:
    c, r = sign_in(app, "carol")
    assert r.status_code == 303
    assert c.get(f"{app.url}/api/me").json()["role"] == "admin"


@pytest.mark.parametrize(
    ("login", "words"),
    [
        ("bob", "e-mail domain may not sign in"),
        ("dave", "account is disabled"),
        ("erin", "not verified your e-mail"),
    ],
)
def test_refused_sign_ins_get_no_session(app: App, login: str, words: str) -> None:
    c, r = sign_in(app, login)
    assert r.status_code == 401 and words in r.text
    assert "sovmap_session" not in c.cookies
    assert c.get(f"{app.url}/api/me").status_code == 401
    engine = open_engine(app.db)
    with engine.connect() as conn:
        refused = conn.execute(
            select(audit_log.c.detail).where(audit_log.c.action == "login.oidc.refused")
        ).all()
    engine.dispose()
    assert refused
    assert _user(app, ACCOUNTS[login]["email"]) is None or login == "dave"


def test_a_callback_without_its_state_is_refused(app: App) -> None:
    c = httpx.Client(timeout=20)
    r = c.get(f"{app.url}/login/oidc", params={"next": "/"})
    assert r.status_code == 303
    # an answer carrying another state (a forged or replayed callback)
    r = c.get(f"{app.url}/login/oidc/callback", params={"code": "abc", "state": "not-it"})
    assert r.status_code == 401 and "not started here" in r.text
    # no state cookie at all
    r = httpx.get(f"{app.url}/login/oidc/callback", params={"code": "abc", "state": "x"})
    assert r.status_code == 401


# --- ID tokens refused: straight from the IdP to Provider.verify ---------------------------


def _token_for(idp: Idp, app_port: int, client_id: str, nonce: str) -> str:
    """A real ID token the IdP issues to ``client_id`` for alice (code flow with PKCE)."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect = f"http://127.0.0.1:{app_port}/login/oidc/callback"
    c = httpx.Client(timeout=20)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "openid email",
        "state": "s",
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    r = c.get(f"{idp.issuer}/auth?{urlencode(query)}")
    r = _follow(c, r, "alice", redirect, call=False)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    answer = c.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=(client_id, SECRET),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id_token"])


def _settings(idp: Idp, client_id: str = "sovmap", leeway: float = 0) -> OidcSettings:
    return OidcSettings(idp.issuer, client_id, leeway=leeway)


def test_a_real_token_verifies(idp: Idp, app_port: int) -> None:
    token = _token_for(idp, app_port, "sovmap", "n-1")
    claims = Provider(_settings(idp)).verify(token, "n-1")
    assert claims["sub"] == "alice" and claims["aud"] == "sovmap"
    with pytest.raises(OidcError, match="nonce"):
        Provider(_settings(idp)).verify(token, "another nonce")


def test_a_token_for_another_client_is_refused(idp: Idp, app_port: int) -> None:
    token = _token_for(idp, app_port, "other-client", "n-2")
    with pytest.raises(OidcError, match="another client"):
        Provider(_settings(idp, "sovmap")).verify(token, "n-2")


def test_an_expired_token_is_refused(idp: Idp, app_port: int) -> None:
    token = _token_for(idp, app_port, "short-lived", "n-3")  # valid for one second
    assert jwt.decode(token, options={"verify_signature": False})["exp"] <= time.time() + 1
    time.sleep(2.2)
    with pytest.raises(OidcError, match="expired"):
        Provider(_settings(idp, "short-lived")).verify(token, "n-3")


def test_forged_and_unsigned_tokens_are_refused(idp: Idp, app_port: int) -> None:
    real = _token_for(idp, app_port, "sovmap", "n-4")
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    provider = Provider(_settings(idp))
    # the same claims and key id, signed with a key that is not the IdP's
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": header["kid"]})
    with pytest.raises(OidcError, match="OIDC_BAD_TOKEN"):
        provider.verify(forged, "n-4")
    # a changed claim under the real signature
    head, _, sig = real.split(".")
    changed = dict(claims, email="mallory@example.nl")
    body2 = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    with pytest.raises(OidcError, match="OIDC_BAD_TOKEN"):
        provider.verify(f"{head}.{body2}.{sig}", "n-4")
    # HMAC with the client secret, and no signature at all
    hs = jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": header["kid"]})
    with pytest.raises(OidcError, match="not accepted"):
        provider.verify(hs, "n-4")
    none = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(OidcError, match="not accepted"):
        provider.verify(none, "n-4")


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    for text, words in [
        ({"client_id": "x"}, "issuer"),
        ({"issuer": "ftp://x", "client_id": "x"}, "https"),
        # the code, the client secret and the signing keys never cross a network in clear text
        ({"issuer": "http://idp.example.org", "client_id": "x"}, "https"),
        ({"issuer": "http://10.0.0.1:8080", "client_id": "x"}, "https"),
        ({"issuer": "http://127.0.0.1.example.org", "client_id": "x"}, "https"),
        ({"issuer": "https://[::1", "client_id": "x"}, "https"),
        ({"issuer": "https://x", "client_id": "x", "roles": {"g": "root"}}, "roles"),
        ({"issuer": "https://x", "client_id": "x", "default_role": "god"}, "default_role"),
        ({"issuer": "https://x", "client_id": "x", "scopes": ["email"]}, "openid"),
        ({"issuer": "https://x", "client_id": "x", "secret": "inline"}, "unknown key"),
    ]:
        with pytest.raises(OidcError, match=words):
            parse_oidc_settings(text, "oidc.yaml")
    for ok in ("https://idp.example.org", "http://127.0.0.1:9000", "http://localhost:9000/x",
               "http://[::1]:9000"):  # fmt: skip
        assert parse_oidc_settings({"issuer": ok, "client_id": "x"}, "oidc.yaml").issuer == ok
    bad = tmp_path / "oidc.yaml"
    bad.write_text("issuer: 12\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "sovmap",
            "serve",
            "--db",
            str(tmp_path / "x.db"),
            "--oidc",
            str(bad),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "issuer must be a text" in r.stderr


def test_a_discovery_document_with_a_clear_text_endpoint_is_refused() -> None:
    """An IdP on this machine may speak http, but its discovery document may not send the
    code, the client secret or the key fetch to an http address elsewhere."""
    import http.server
    import threading

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    docs = {
        "good": {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
        }
    }
    docs["bad"] = {**docs["good"], "token_endpoint": "http://idp.example.org/token"}
    served = {"doc": docs["good"]}

    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(served["doc"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert Provider(OidcSettings(issuer, "x")).metadata()["token_endpoint"].startswith(issuer)
        served["doc"] = docs["bad"]
        with pytest.raises(OidcError, match="token_endpoint is not https"):
            Provider(OidcSettings(issuer, "x")).metadata()
    finally:
        server.shutdown()
        server.server_close()
