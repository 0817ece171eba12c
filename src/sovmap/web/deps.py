"""Request dependencies: the store connection, who is asking, role checks and CSRF.

Authentication comes from an ``Authorization: Bearer`` API token or the session cookie.
Without either, only a published outside-in scan is visible (pseudo-role ``public``).
Pages answer an unauthenticated request with a redirect to the log-in page, the API with
401; a known user without the role gets 403.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy import Connection, Engine, insert

from sovmap.i18n import t
from sovmap.web.auth import (
    PUBLIC,
    SESSION_HOURS,
    Principal,
    get_setting,
    now_iso,
    principal_for_session,
    principal_for_token,
    same_secret,
)
from sovmap.web.tables import audit_log

SESSION_COOKIE = "sovmap_session"
LOGIN_CSRF_COOKIE = "sovmap_login_csrf"
CSRF_HEADER = "x-csrf-token"
PUBLIC_SCAN = "public_scan"


class LoginRequired(Exception):
    """Raised for pages: the handler redirects to the log-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


#: Messages a page may show from a code in its query string (``?error=`` / ``?msg=``): the
#: text always comes from the catalogue (``WEB_MSG_<CODE>``), never from the request.
MESSAGES = (
    "form_expired",
    "wrong_login",
    "too_many_attempts",
    "password_changed",
    "signed_out",
    "user_created",
    "user_changed",
    "user_deleted",
    "unlocked",
    "token_created",
    "not_found",
)


def message(code: str, lang: str = "en") -> str:
    """The catalogued message for ``code`` in ``lang``; unknown codes show nothing."""
    if code not in MESSAGES:
        return ""
    return t(lang, f"WEB_MSG_{code.upper()}")


def cookie_secure(request: Request) -> bool:
    """The Secure flag for a cookie: as configured, else when the request came over https."""
    setting: bool | None = getattr(request.app.state, "secure_cookies", None)
    return request.url.scheme == "https" if setting is None else setting


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """Give the browser a new session: the one cookie, as every log-in path sets it (password,
    OIDC, a password change), living as long as the session does in the store."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        max_age=SESSION_HOURS * 3600,
        path="/",
    )


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def connection(request: Request) -> Iterator[Connection]:
    with engine_of(request).begin() as conn:
        # finished scans' domain counts, cached by the app (see sovmap.web.service)
        conn.info["sovmap.scan_counts"] = request.app.state.cache.counts
        # the request's one connection, for what a page reads while it renders: a second
        # connection per request exhausts the pool under load (each waits 30 s for one)
        request.state.conn = conn
        yield conn


Conn = Annotated[Connection, Depends(connection)]


def current(request: Request, conn: Conn) -> Principal | None:
    """The principal of the request, or None (anonymous, scan not published)."""
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return principal_for_token(conn, token.strip())
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        p = principal_for_session(conn, secret)
        if p is not None:
            return p
    if get_setting(conn, PUBLIC_SCAN) == "1":
        return Principal("anonymous", PUBLIC, "public")
    return None


def principal_of(request: Request) -> Principal | None:
    """Who is asking, outside the dependency system (error pages); None on any problem."""
    try:
        with engine_of(request).begin() as conn:
            return current(request, conn)
    except Exception:  # an error page must render even when the store does not answer
        return None


def _refuse(request: Request, p: Principal | None, role: str) -> None:
    is_api = request.url.path.startswith("/api/")
    if p is None or (p.role == PUBLIC and role != PUBLIC):
        if is_api:
            raise HTTPException(
                401, "authentication required", headers={"WWW-Authenticate": "Bearer"}
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    raise HTTPException(403, f"this needs the {role} role")


def require(role: str) -> Callable[..., Principal]:
    """Dependency: the principal, when it has ``role`` (``public``: the published scan)."""

    def dep(request: Request, p: Annotated[Principal | None, Depends(current)]) -> Principal:
        if p is None or not p.can(role):
            _refuse(request, p, role)
        assert p is not None
        return p

    return dep


def check_csrf(request: Request, p: Principal, form_token: str | None) -> None:
    """Writes by a cookie session need the session's CSRF token (form field or header)."""
    if p.via == "token":
        return
    sent = form_token or request.headers.get(CSRF_HEADER, "")
    if not same_secret(sent, p.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")


def audit(conn: Connection, p: Principal, action: str, target: str, detail: dict[str, Any]) -> None:
    """Append one entry to the audit log (account events, settings, register edits)."""
    conn.execute(
        insert(audit_log).values(
            at=now_iso(),
            username=p.username,
            action=action,
            target=target,
            detail=json.dumps(detail, sort_keys=True),
        )
    )
