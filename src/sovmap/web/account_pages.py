"""Account pages: your own account (API tokens, password) and the admin's (users, roles,
disable/enable, delete, password reset, OpenID Connect identities linked to users, log-in
lock-outs, public view, audit log).

Every change is in the audit log. A password change, a reset and disabling a user end that
user's sessions and revoke its tokens at once. Forms answer with a redirect (POST, redirect,
GET), so reloading a page never repeats a change; a new token's secret reaches the next page
in a short-lived cookie that the page clears, never in a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select

from sovmap import i18n
from sovmap.i18n import t
from sovmap.web.auth import (
    MAX_ISSUER,
    MAX_SUBJECT,
    MAX_TOKEN_DAYS,
    ROLES,
    TOKEN_DAYS,
    AuthError,
    Principal,
    authenticate,
    check_identity,
    create_session,
    create_token,
    create_user,
    delete_user,
    get_setting,
    identities_by_user,
    link_identity,
    put_setting,
    revoke_token,
    set_disabled,
    set_password,
    set_role,
    unlink_identity,
)
from sovmap.web.deps import (
    PUBLIC_SCAN,
    Conn,
    audit,
    check_csrf,
    cookie_secure,
    message,
    require,
    set_session_cookie,
)
from sovmap.web.export import Col, Tables
from sovmap.web.i18n_web import lang_of
from sovmap.web.tables import api_tokens, audit_log, users
from sovmap.web.throttle import unlock

router = APIRouter(include_in_schema=False)

Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Csrf = Annotated[str, Form(max_length=128)]
UserP = Annotated[str, Path(min_length=1, max_length=64)]
NEW_TOKEN_COOKIE = "sovmap_new_token"
USER_COLS = (
    Col("user", "WEB_COL_USER"),
    Col("role", "WEB_COL_ROLE"),
    Col("created", "WEB_COL_CREATED"),
    Col("state", "WEB_COL_STATE"),
    Col("change", "WEB_COL_CHANGE", sortable=False),
)
#: What an identity link or unlink on the admin page ends with: a code in the redirect's
#: query (``?msg=`` done, ``?error=`` refused) and its catalogue text; the page shows only
#: these texts, never the query itself.
IDENTITY_DONE = {"identity_linked": "OIDC_ADMIN_LINKED", "identity_unlinked": "OIDC_ADMIN_UNLINKED"}
IDENTITY_REFUSED = {
    "AUTH_OIDC_BAD_ISSUER": "identity_bad_issuer",
    "AUTH_OIDC_BAD_SUBJECT": "identity_bad_subject",
    "AUTH_OIDC_LINKED": "identity_taken",
    "AUTH_OIDC_NO_LINK": "identity_no_link",
    "AUTH_NO_USER": "identity_no_user",
}
IDENTITY_ERRORS = {
    "identity_bad_issuer": "OIDC_ADMIN_ERR_ISSUER",
    "identity_bad_subject": "OIDC_ADMIN_ERR_SUBJECT",
    "identity_taken": "OIDC_ADMIN_ERR_TAKEN",
    "identity_no_link": "OIDC_ADMIN_ERR_NO_LINK",
    "identity_no_user": "OIDC_ADMIN_ERR_NO_USER",
    "identity_failed": "OIDC_ADMIN_ERR_FAILED",
}
# generous bounds for the form; check_identity gives the real limits a readable message
IssuerF = Annotated[str, Form(max_length=4 * MAX_ISSUER)]
SubjectF = Annotated[str, Form(max_length=4 * MAX_SUBJECT)]
AUDIT_COLS = (
    Col("when", "WEB_COL_WHEN"),
    Col("who", "WEB_COL_WHO"),
    Col("action", "WEB_COL_ACTION"),
    Col("target", "WEB_COL_TARGET"),
    Col("detail", "WEB_COL_DETAIL"),
)


def _render(request: Request, name: str, p: Principal, status: int = 200, **ctx: Any) -> Response:
    ctx.update(request=request, p=p, features=request.app.state.features)
    resp: Response = request.app.state.templates.TemplateResponse(
        request, name, ctx, status_code=status
    )
    return resp


def _done(url: str, code: str) -> Response:
    return RedirectResponse(f"{url}?msg={code}", status_code=303)


def _tokens(conn: Connection, user_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.name,
                api_tokens.c.created_at,
                api_tokens.c.last_used_at,
                api_tokens.c.expires_at,
            )
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.id)
        ).mappings()
    )


def _account(
    request: Request, p: Principal, conn: Conn, *, msg: str = "", error: str = "", status: int = 200
) -> Response:
    new_token = request.cookies.get(NEW_TOKEN_COOKIE, "")
    resp = _render(
        request,
        "account.html",
        p,
        status,
        tokens=_tokens(conn, p.user_id),
        new_token=new_token if new_token.startswith("svm_") else "",
        msg=message(msg, lang_of(request)),
        error=error,
        token_days=TOKEN_DAYS,
        max_token_days=MAX_TOKEN_DAYS,
    )
    if new_token:
        resp.delete_cookie(NEW_TOKEN_COOKIE, path="/account")
    return resp


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, p: Viewer, conn: Conn, msg: str = "") -> Response:
    return _account(request, p, conn, msg=msg)


@router.post("/account/tokens")
def account_new_token(
    request: Request,
    p: Viewer,
    conn: Conn,
    name: Annotated[str, Form(max_length=64)],
    csrf: Csrf = "",
    days: Annotated[int, Form(ge=1, le=MAX_TOKEN_DAYS)] = TOKEN_DAYS,
) -> Response:
    check_csrf(request, p, csrf)
    try:
        token = create_token(conn, p.user_id, name, days)
    except AuthError as exc:
        return _account(request, p, conn, error=exc.render(lang_of(request)), status=422)
    audit(conn, p, "token.create", p.username, {"name": name, "days": days})
    resp = _done("/account", "token_created")
    # the secret goes to the next page only: HttpOnly, this path, two minutes, cleared there
    resp.set_cookie(
        NEW_TOKEN_COOKIE,
        token,
        max_age=120,
        path="/account",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )
    return resp


@router.post("/account/tokens/{token_id}/revoke")
def account_revoke_token(
    request: Request, token_id: int, p: Viewer, conn: Conn, csrf: Csrf = ""
) -> Response:
    check_csrf(request, p, csrf)
    if revoke_token(conn, p.user_id, token_id):
        audit(conn, p, "token.revoke", p.username, {"id": token_id})
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password")
def account_password(
    request: Request,
    p: Viewer,
    conn: Conn,
    current: Annotated[str, Form(max_length=256)],
    new: Annotated[str, Form(max_length=256)],
    again: Annotated[str, Form(max_length=256)],
    csrf: Csrf = "",
) -> Response:
    """Change your own password: every session and token ends; this browser gets a new
    session."""
    check_csrf(request, p, csrf)
    if p.via != "session":
        raise HTTPException(403, "change a password from a log-in session")
    if authenticate(conn, p.username, current) is None:
        return _account(request, p, conn, error=t(lang_of(request), "WEB_PW_WRONG"), status=422)
    if new != again:
        return _account(request, p, conn, error=t(lang_of(request), "WEB_PW_DIFFER"), status=422)
    try:
        set_password(conn, p.username, new)
    except AuthError as exc:
        return _account(request, p, conn, error=exc.render(lang_of(request)), status=422)
    audit(conn, p, "user.password", p.username, {"by": "self"})
    resp = _done("/account", "password_changed")
    set_session_cookie(resp, request, create_session(conn, p.user_id))
    return resp


def _admin(
    request: Request,
    p: Principal,
    conn: Connection,
    *,
    msg: str = "",
    error: str = "",
    refused: str = "",
) -> Response:
    """The admin page; ``error`` is the text of a form refused in this request (422),
    ``msg``/``refused`` a code from the query of a redirect to it."""
    rows = list(
        conn.execute(
            select(users.c.username, users.c.role, users.c.created_at, users.c.disabled).order_by(
                users.c.username
            )
        ).mappings()
    )
    log = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(200)).mappings()
    lang = lang_of(request)
    tables = Tables(request, lang)
    people = tables.add(
        "users",
        USER_COLS,
        lambda u: (
            u["username"],
            i18n.value(lang, "role", u["role"]),
            u["created_at"],
            i18n.t(lang, "WEB_DISABLED" if u["disabled"] else "WEB_ENABLED"),
            "",
        ),
        rows,
    )
    grid = tables.add(
        "audit",
        AUDIT_COLS,
        lambda e: (e["at"], e["username"], e["action"], e["target"], e["detail"]),
        list(log),
    )
    if (export := tables.answer("admin")) is not None:
        return export
    return _render(
        request,
        "admin.html",
        p,
        422 if error else 200,
        grids={"audit": grid, "users": people},
        roles=ROLES,
        public=get_setting(conn, PUBLIC_SCAN) == "1",
        lockouts=request.app.state.throttle.locked(conn),
        usernames=[u["username"] for u in rows],
        identities=identities_by_user(conn),
        msg=t(lang, IDENTITY_DONE[msg]) if msg in IDENTITY_DONE else message(msg, lang),
        error=error or _refused_text(lang, refused),
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(
    request: Request,
    p: Admin,
    conn: Conn,
    msg: str = "",
    error: str = "",
) -> Response:
    return _admin(request, p, conn, msg=msg, refused=error)


@router.post("/admin/users")
def admin_add_user(
    *,
    request: Request,
    p: Admin,
    conn: Conn,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[str, Form(max_length=16)],
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, p, csrf)
    try:
        create_user(conn, username, password, role)
    except AuthError as exc:
        return _admin(request, p, conn, error=exc.render(lang_of(request)))
    audit(conn, p, "user.create", username, {"role": role})
    return _done("/admin", "user_created")


def _refused_text(lang: str, code: str) -> str:
    if code not in IDENTITY_ERRORS:
        return ""
    return t(lang, IDENTITY_ERRORS[code], issuer_max=MAX_ISSUER, subject_max=MAX_SUBJECT)


def _identity_refused(exc: AuthError) -> Response:
    code = IDENTITY_REFUSED.get(exc.code, "identity_failed")
    return RedirectResponse(f"/admin?error={code}", status_code=303)


# before /admin/users/{username}/{action}, which would take "identities" for an action
@router.post("/admin/users/{username}/identities")
def admin_link_identity(
    *,
    request: Request,
    p: Admin,
    conn: Conn,
    username: UserP,
    issuer: IssuerF = "",
    subject: SubjectF = "",
    csrf: Csrf = "",
) -> Response:
    """Link an OpenID Connect identity (issuer, subject) to a user: it signs in as that user
    (as ``sovmap users link`` does, with the same audit entry)."""
    check_csrf(request, p, csrf)
    try:
        issuer, subject = link_identity(conn, username, issuer, subject)
    except AuthError as exc:
        return _identity_refused(exc)
    audit(conn, p, "user.oidc.link", username, {"issuer": issuer, "sub": subject, "via": "web"})
    return _done("/admin", "identity_linked")


@router.post("/admin/users/{username}/identities/unlink")
def admin_unlink_identity(
    *,
    request: Request,
    p: Admin,
    conn: Conn,
    username: UserP,
    issuer: IssuerF = "",
    subject: SubjectF = "",
    csrf: Csrf = "",
) -> Response:
    """Remove the link of an identity to a user (as ``sovmap users unlink`` does)."""
    check_csrf(request, p, csrf)
    try:
        issuer, subject = check_identity(issuer, subject)
        unlink_identity(conn, username, issuer, subject)
    except AuthError as exc:
        return _identity_refused(exc)
    audit(conn, p, "user.oidc.unlink", username, {"issuer": issuer, "sub": subject, "via": "web"})
    return _done("/admin", "identity_unlinked")


@router.post("/admin/users/{username}/{action}")
def admin_change_user(
    *,
    request: Request,
    p: Admin,
    conn: Conn,
    username: UserP,
    action: Annotated[str, Path(pattern="^(role|disable|enable|delete|password)$")],
    role: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Csrf = "",
) -> Response:
    """Change a user: role, disable, enable, delete or reset the password (which, like
    disabling, ends its sessions and tokens at once)."""
    check_csrf(request, p, csrf)
    detail: dict[str, Any] = {}
    try:
        if action in ("disable", "delete") and username == p.username:
            raise AuthError(f"AUTH_SELF_{action.upper()}")
        if action == "role":
            detail = {"old": set_role(conn, username, role), "new": role}
        elif action in ("disable", "enable"):
            set_disabled(conn, username, action == "disable")
        elif action == "delete":
            delete_user(conn, username)
        else:
            set_password(conn, username, password)
            detail = {"by": "admin"}
    except AuthError as exc:
        return _admin(request, p, conn, error=exc.render(lang_of(request)))
    audit(conn, p, f"user.{action}", username, detail)
    return _done("/admin", "user_deleted" if action == "delete" else "user_changed")


@router.post("/admin/lockouts/{key}/unlock")
def admin_unlock(
    request: Request,
    p: Admin,
    conn: Conn,
    key: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, p, csrf)
    if unlock(conn, key):
        audit(conn, p, "login.unlock", key, {})
    return _done("/admin", "unlocked")


@router.post("/admin/public")
def admin_public(
    request: Request,
    p: Admin,
    conn: Conn,
    enabled: Annotated[str, Form(max_length=8)] = "0",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, p, csrf)
    on = enabled == "1"
    put_setting(conn, PUBLIC_SCAN, "1" if on else "0")
    audit(conn, p, "settings.public_scan", PUBLIC_SCAN, {"enabled": on})
    return RedirectResponse("/admin", status_code=303)
