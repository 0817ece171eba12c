"""Optional sign-in with an OpenID Connect identity provider (a government or corporate IdP).

Authorization code flow with PKCE (S256), ``state`` and ``nonce``: ``GET /login/oidc`` sends
the browser to the IdP; ``GET /login/oidc/callback`` exchanges the code at the IdP's token
endpoint, verifies the ID token's signature against the IdP's published keys (JWKS, through
PyJWT), its issuer, audience, expiry and nonce, and maps it to a local user by the identity's
issuer and subject (``iss``, ``sub``: OpenID Connect Core 1.0, 5.7), never by e-mail address:

- a linked identity signs in as its user with the user's role, unless the user is disabled;
  a changed e-mail address at the IdP changes nothing;
- an identity seen for the first time gets a new user named by its e-mail address, linked to
  it, only when ``create_users`` is on, the address is not marked unverified, its domain is
  in ``allowed_domains`` (when that list is given) and a role follows from the role claim
  (``roles``) or ``default_role`` (``none`` refuses);
- an existing local user with that address is never taken over: the sign-in is refused
  (OIDC_ACCOUNT_EXISTS) until an admin links the identity (``sovmap users link``).

A user made here gets an unusable random password (it can only sign in through the IdP until
an admin sets one). The settings come from a YAML file (``sovmap serve --oidc FILE``; format
in docs/web.md); the client secret is read from the environment variable the file names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from sovmap import i18n
from sovmap.errors import SovmapError
from sovmap.readers import load_yaml
from sovmap.web.auth import (
    MAX_ISSUER,
    ROLES,
    AuthError,
    Principal,
    check_identity,
    create_session,
    create_user,
    identity_owner,
    link_identity,
    now_iso,
)
from sovmap.web.deps import audit, cookie_secure, set_session_cookie
from sovmap.web.tables import oidc_identities, users

STATE_COOKIE = "sovmap_oidc"
STATE_SECONDS = 600
MAX_DOC_BYTES = 1 << 20
#: signature algorithms accepted for ID tokens (asymmetric only: never "none" or HMAC)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


class OidcError(SovmapError):
    """Unusable OIDC settings, or a sign-in the IdP's answer does not allow. ``code`` is the
    catalogue code of the message the user sees."""

    def __init__(self, code: str, detail: str = "", **params: str) -> None:
        self.code = code
        self.detail = detail
        self.params = params  # placeholders of the catalogue message
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True, slots=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret_env: str = ""
    redirect_uri: str = ""  # default: /login/oidc/callback on the address the browser used
    label: str = "OpenID Connect"
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    allowed_domains: tuple[str, ...] = ()
    role_claim: str = ""
    roles: dict[str, str] = field(default_factory=dict)  # claim value -> role
    default_role: str = "none"  # none | viewer (| editor | admin)
    create_users: bool = True
    leeway: float = 30.0  # seconds of clock difference allowed on exp/iat
    timeout: float = 10.0

    def client_secret(self) -> str:
        return os.environ.get(self.client_secret_env, "") if self.client_secret_env else ""


_KEYS = {
    "issuer",
    "client_id",
    "client_secret_env",
    "redirect_uri",
    "label",
    "scopes",
    "allowed_domains",
    "role_claim",
    "roles",
    "default_role",
    "create_users",
    "leeway",
    "timeout",
}


def parse_oidc_settings(data: Any, where: str) -> OidcSettings:
    if not isinstance(data, dict):
        raise OidcError("OIDC_SETTINGS", f"{where}: expected a mapping")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise OidcError("OIDC_SETTINGS", f"{where}: unknown key(s): {', '.join(unknown)}")

    def text(key: str, default: str | None = None) -> str:
        v = data.get(key, default)
        if not isinstance(v, str) or (default is None and not v.strip()) or len(v) > 2048:
            raise OidcError("OIDC_SETTINGS", f"{where}: {key} must be a text")
        return v.strip()

    def texts(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        v = data.get(key, list(default))
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise OidcError("OIDC_SETTINGS", f"{where}: {key} must be a list of texts")
        return tuple(v)

    issuer = text("issuer").rstrip("/")
    if not secure_url(issuer):
        raise OidcError(
            "OIDC_SETTINGS",
            f"{where}: issuer must be an https URL (http only on this machine: localhost, "
            "127.0.0.1, ::1)",
        )
    if len(issuer) > MAX_ISSUER:
        raise OidcError("OIDC_SETTINGS", f"{where}: issuer longer than {MAX_ISSUER} characters")
    roles = data.get("roles", {})
    if not isinstance(roles, dict) or not all(
        isinstance(k, str) and v in ROLES for k, v in roles.items()
    ):
        raise OidcError(
            "OIDC_SETTINGS", f"{where}: roles maps claim values to one of {', '.join(ROLES)}"
        )
    default_role = text("default_role", "none")
    if default_role not in ("none", *ROLES):
        raise OidcError("OIDC_SETTINGS", f"{where}: default_role is none or {', '.join(ROLES)}")
    scopes = texts("scopes", ("openid", "email", "profile"))
    if "openid" not in scopes:
        raise OidcError("OIDC_SETTINGS", f"{where}: scopes must include openid")
    create = data.get("create_users", True)
    if not isinstance(create, bool):
        raise OidcError("OIDC_SETTINGS", f"{where}: create_users is true or false")
    numbers = {}
    for key, default, low, high in (("leeway", 30.0, 0.0, 600.0), ("timeout", 10.0, 0.1, 120.0)):
        v = data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not low <= v <= high:
            raise OidcError("OIDC_SETTINGS", f"{where}: {key} must be {low:g} to {high:g}")
        numbers[key] = float(v)
    return OidcSettings(
        issuer=issuer,
        client_id=text("client_id"),
        client_secret_env=text("client_secret_env", ""),
        redirect_uri=text("redirect_uri", ""),
        label=text("label", "OpenID Connect") or "OpenID Connect",
        scopes=scopes,
        allowed_domains=tuple(d.lower().lstrip("@") for d in texts("allowed_domains", ())),
        role_claim=text("role_claim", ""),
        roles=dict(roles),
        default_role=default_role,
        create_users=create,
        leeway=numbers["leeway"],
        timeout=numbers["timeout"],
    )


def load_oidc_settings(path: Path) -> OidcSettings:
    return parse_oidc_settings(load_yaml(path, max_bytes=64 * 1024), str(path))


# --- the IdP: discovery, keys, token exchange -----------------------------------------------


def secure_url(url: str) -> bool:
    """An https URL, or an http one to this machine (a test or development IdP): the client
    secret, the authorisation code and the keys that sign ID tokens never cross a network in
    clear text (OpenID Connect Core 1.0, 16.17; Discovery 1.0, 7)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fetch_json(url: str, timeout: float, data: bytes | None = None, **headers: str) -> Any:
    req = urllib.request.Request(url, data=data, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # http(s) URLs only
            body = resp.read(MAX_DOC_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace")
        raise OidcError("OIDC_IDP_ERROR", f"{url}: HTTP {exc.code} {detail}") from None
    except (OSError, TimeoutError) as exc:
        raise OidcError("OIDC_IDP_UNREACHABLE", f"{url}: {exc}") from None
    if len(body) > MAX_DOC_BYTES:
        raise OidcError("OIDC_IDP_ERROR", f"{url}: answer larger than 1 MiB")
    try:
        return json.loads(body)
    except ValueError:
        raise OidcError("OIDC_IDP_ERROR", f"{url}: not JSON") from None


class Provider:
    """The IdP as this process knows it: its discovery document (re-read hourly) and a
    cached key set (re-read when a token names a key it does not have)."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._meta: dict[str, Any] | None = None
        self._meta_at = 0.0
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._meta is None or time.monotonic() - self._meta_at > 3600:
                s = self.settings
                meta = _fetch_json(f"{s.issuer}/.well-known/openid-configuration", s.timeout)
                if not isinstance(meta, dict) or meta.get("issuer", "").rstrip("/") != s.issuer:
                    raise OidcError("OIDC_IDP_ERROR", "the discovery document names another issuer")
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(meta.get(key), str):
                        raise OidcError("OIDC_IDP_ERROR", f"the discovery document has no {key}")
                for key in (
                    "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"
                ):  # fmt: skip
                    if key in meta and not secure_url(str(meta[key])):
                        raise OidcError(
                            "OIDC_IDP_ERROR", f"the discovery document's {key} is not https"
                        )
                self._meta, self._meta_at = meta, time.monotonic()
                self._jwks = jwt.PyJWKClient(
                    meta["jwks_uri"], cache_keys=True, lifespan=3600, timeout=int(s.timeout) or 1
                )
            return self._meta

    def keys(self) -> jwt.PyJWKClient:
        self.metadata()
        assert self._jwks is not None
        return self._jwks

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """Trade the authorization code for tokens (client_secret_basic, or the client id
        alone for a public client)."""
        s = self.settings
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        secret = s.client_secret()
        if secret:
            pair = (
                f"{urllib.parse.quote(s.client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = s.client_id
        answer = _fetch_json(
            self.metadata()["token_endpoint"],
            s.timeout,
            urllib.parse.urlencode(form).encode(),
            **headers,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise OidcError("OIDC_IDP_ERROR", "the token answer holds no id_token")
        return answer

    def userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        """The claims of the IdP's userinfo endpoint (for IdPs that put only ``sub`` in the ID
        token); its ``sub`` must be the ID token's."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not access_token:
            return {}
        info = _fetch_json(endpoint, self.settings.timeout, Authorization=f"Bearer {access_token}")
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise OidcError("OIDC_BAD_TOKEN", "userinfo names another subject")
        return info

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of an ID token whose signature (against the IdP's JWKS), issuer,
        audience, expiry and nonce hold; OidcError otherwise."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OidcError("OIDC_BAD_TOKEN", "not a JWT") from None
        alg = header.get("alg")
        supported = self.metadata().get("id_token_signing_alg_values_supported", ["RS256"])
        if alg not in ALGORITHMS or alg not in supported:
            raise OidcError("OIDC_BAD_TOKEN", f"signature algorithm {alg!r} not accepted")
        try:
            key = self.keys().get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[alg],
                audience=s.client_id,
                issuer=s.issuer,
                leeway=s.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcError("OIDC_BAD_TOKEN", "the ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise OidcError("OIDC_BAD_TOKEN", "the ID token is for another client") from None
        except jwt.InvalidIssuerError:
            raise OidcError("OIDC_BAD_TOKEN", "the ID token is from another issuer") from None
        except jwt.PyJWKClientError as exc:
            raise OidcError("OIDC_BAD_TOKEN", f"no key of the IdP signed it: {exc}") from None
        except jwt.PyJWTError as exc:
            raise OidcError("OIDC_BAD_TOKEN", str(exc)) from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != s.client_id:
            raise OidcError("OIDC_BAD_TOKEN", "the ID token names another authorized party")
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise OidcError("OIDC_BAD_TOKEN", "the nonce does not match this sign-in")
        return claims


# --- the local user -------------------------------------------------------------------------


def _role_from_claims(s: OidcSettings, claims: dict[str, Any]) -> str:
    order = {r: i for i, r in enumerate(ROLES)}
    found = ""
    if s.role_claim:
        raw = claims.get(s.role_claim, [])
        values = raw if isinstance(raw, list) else [raw]
        for v in values:
            role = s.roles.get(str(v), "")
            if role and (not found or order[role] > order[found]):
                found = role
    return found or (s.default_role if s.default_role != "none" else "")


def local_user(conn: Connection, s: OidcSettings, claims: dict[str, Any]) -> tuple[Principal, bool]:
    """The local user the verified ``claims`` sign in as, created (and linked) when allowed;
    returns the principal and whether it was created. OidcError names why a sign-in is
    refused.

    The person is the pair (issuer, ``sub``) alone (OpenID Connect Core 1.0, 5.7): a linked
    identity signs in as its user whatever its e-mail address is now. An identity not linked
    yet gets a new user named by its e-mail address; it is never joined to an existing user
    found by that address (an IdP account could otherwise claim a local admin's name): that
    is refused, and an admin links the two with ``sovmap users link``."""
    sub = claims.get("sub")
    try:
        issuer, subject = check_identity(s.issuer, sub if isinstance(sub, str) else "")
    except AuthError as exc:
        raise OidcError("OIDC_BAD_TOKEN", str(exc)) from None
    email = claims.get("email")
    seen = email.strip().lower() if isinstance(email, str) else ""
    linked = identity_owner(conn, issuer, subject)
    if linked is not None:
        if linked["disabled"]:
            raise OidcError("OIDC_DISABLED")
        values: dict[str, str] = {"last_used_at": now_iso()}
        if seen:
            values["email"] = seen[:320]
        conn.execute(
            update(oidc_identities)
            .where(oidc_identities.c.id == linked["link_id"])
            .values(**values)
        )
        p = Principal(linked["username"], linked["role"], "session", user_id=int(linked["id"]))
        return p, False
    # an identity seen for the first time: a new user, named by its verified e-mail address
    if "@" not in seen:
        raise OidcError("OIDC_NO_EMAIL")
    if claims.get("email_verified") is False:
        raise OidcError("OIDC_EMAIL_UNVERIFIED")
    domain = seen.rsplit("@", 1)[1]
    if s.allowed_domains and domain not in s.allowed_domains:
        raise OidcError("OIDC_DOMAIN_REFUSED", domain)
    if conn.execute(select(users.c.id).where(users.c.username == seen)).first():
        raise OidcError("OIDC_ACCOUNT_EXISTS", f"{seen} exists, not linked", subject=subject)
    role = _role_from_claims(s, claims)
    if not s.create_users or not role:
        raise OidcError("OIDC_NOT_ALLOWED")
    try:
        uid = create_user(conn, seen, secrets.token_urlsafe(32), role)
        link_identity(conn, seen, issuer, subject, seen)
    except AuthError as exc:  # a name the users table does not take
        raise OidcError("OIDC_NOT_ALLOWED", str(exc)) from None
    return Principal(seen, role, "session", user_id=uid), True


# --- the routes -----------------------------------------------------------------------------


def _lang(request: Request) -> str:
    chosen = request.cookies.get("sovmap_lang", "")
    if chosen in i18n.LANGUAGES:
        return chosen
    first = request.headers.get("accept-language", "")[:64].split(",")[0].strip().lower()
    return "nl" if first.startswith("nl") else "en"


def _redirect_uri(request: Request, s: OidcSettings) -> str:
    return s.redirect_uri or str(request.url_for("oidc_callback"))


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _refuse(request: Request, exc: OidcError) -> HTTPException:
    lang = _lang(request)
    if i18n.has(lang, exc.code):
        code, params = exc.code, exc.params
    else:
        code, params = "OIDC_FAILED", {}
    status = 503 if code in ("OIDC_IDP_UNREACHABLE", "OIDC_IDP_ERROR") else 401
    return HTTPException(status, i18n.t(lang, code, **params))


def router(provider: Provider) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    s = provider.settings

    @r.get("/login/oidc", name="oidc_start")
    def start(request: Request, next: Annotated[str, Query(max_length=512)] = "/") -> Response:
        from sovmap.web.app import _safe_next

        try:
            endpoint = provider.metadata()["authorization_endpoint"]
        except OidcError as exc:
            raise _refuse(request, exc) from None
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": s.client_id,
                "redirect_uri": _redirect_uri(request, s),
                "scope": " ".join(s.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        resp = RedirectResponse(f"{endpoint}?{query}", status_code=303)
        cookie = {"state": state, "nonce": nonce, "verifier": verifier, "next": _safe_next(next)}
        resp.set_cookie(
            STATE_COOKIE,
            base64.urlsafe_b64encode(json.dumps(cookie).encode()).decode(),
            max_age=STATE_SECONDS,
            httponly=True,
            samesite="lax",  # the IdP's redirect back is a top-level cross-site GET
            secure=cookie_secure(request),
            path="/login/oidc",
        )
        return resp

    @r.get("/login/oidc/callback", name="oidc_callback")
    def callback(
        request: Request,
        code: Annotated[str, Query(max_length=2048)] = "",
        state: Annotated[str, Query(max_length=512)] = "",
        error: Annotated[str, Query(max_length=256)] = "",
        iss: Annotated[str, Query(max_length=2048)] = "",
    ) -> Response:
        try:
            saved = json.loads(base64.urlsafe_b64decode(request.cookies.get(STATE_COOKIE, "")))
            if not isinstance(saved, dict) or not all(
                isinstance(saved.get(k), str) for k in ("state", "nonce", "verifier", "next")
            ):
                raise ValueError
        except ValueError:
            raise _refuse(request, OidcError("OIDC_NO_STATE")) from None
        engine = request.app.state.engine
        ip = request.client.host if request.client else "?"
        who: dict[str, str] = {}  # the identity, once its ID token is verified
        try:
            if not hmac.compare_digest(state.encode(), saved["state"].encode()):
                raise OidcError("OIDC_NO_STATE", "state does not match")
            if iss and iss.rstrip("/") != s.issuer:  # RFC 9207: the answer of another IdP
                raise OidcError("OIDC_IDP_ERROR", f"answer from issuer {iss}")
            if error or not code:
                raise OidcError("OIDC_IDP_REFUSED", error)
            tokens = provider.exchange(code, saved["verifier"], _redirect_uri(request, s))
            claims = provider.verify(tokens["id_token"], saved["nonce"])
            if "email" not in claims:  # claims asked by scope may come from userinfo only
                info = provider.userinfo(str(tokens.get("access_token", "")), claims["sub"])
                claims = {**info, **claims}
            who = {"issuer": s.issuer, "sub": str(claims.get("sub", ""))[:300]}
            try:
                with engine.begin() as conn:
                    p, created = local_user(conn, s, claims)
                    if created:
                        audit(conn, p, "user.create", p.username, {"role": p.role, "via": "oidc"})
                        link = {**who, "via": "first sign-in"}
                        audit(conn, p, "user.oidc.link", p.username, link)
                    audit(conn, p, "login.oidc", p.username, {"ip": ip, **who})
                    secret = create_session(conn, p.user_id)
            except IntegrityError:  # the same first sign-in twice at once: one made the user
                raise OidcError("OIDC_FAILED", "a concurrent first sign-in") from None
        except OidcError as exc:
            with engine.begin() as conn:
                anon = Principal("oidc", "viewer", "session")
                why = {"ip": ip, "why": str(exc)[:300], **who}
                audit(conn, anon, "login.oidc.refused", "", why)
            raise _refuse(request, exc) from None
        resp = RedirectResponse(saved["next"], status_code=303)
        set_session_cookie(resp, request, secret)
        resp.delete_cookie(STATE_COOKIE, path="/login/oidc")
        return resp

    return r
