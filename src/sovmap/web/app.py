"""The FastAPI application: ``create_app(engine)`` wires pages, API, log-in and headers."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from sovmap import __version__
from sovmap.control import us_controlled
from sovmap.web import account_pages, api, i18n_web, map_pages, notes_routes, pages
from sovmap.web.auth import (
    Principal,
    authenticate,
    create_session,
    end_session,
    principal_for_session,
    same_secret,
)
from sovmap.web.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    audit,
    cookie_secure,
    message,
    principal_of,
    set_session_cookie,
)
from sovmap.web.features import Features, detect_features
from sovmap.web.i18n_web import lang_of
from sovmap.web.limits import ASGIApp, BodyLimits, Message, Receive, RequestLimits, Scope, Send
from sovmap.web.oidc import OidcSettings
from sovmap.web.oidc import Provider as OidcProvider
from sovmap.web.oidc import router as oidc_router
from sovmap.web.service import Cache
from sovmap.web.throttle import Throttle

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders:
    """Headers on every answer, the 413/400 of :class:`RequestLimits` included (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _SET]
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _ALWAYS if k not in names]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


_ALWAYS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_SET = {b"x-content-type-options", b"x-frame-options", b"referrer-policy"}


#: what :mod:`sovmap.web.limits` accepts in text, as a JSON-schema pattern
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"


def _patterned(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and "pattern" not in node and "format" not in node:
            node["pattern"] = TEXT_PATTERN
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                _patterned(sub)
        if isinstance(node.get("items"), dict):
            _patterned(node["items"])
        for sub in node.get("properties", {}).values():
            _patterned(sub)


def _declare_text_rule(schema: dict[str, Any]) -> None:
    """Inputs refuse control characters (400, before parsing): say so in the schema of every
    parameter and request body, so clients and fuzzers know."""
    for item in schema.get("paths", {}).values():
        for op in item.values():
            for param in op.get("parameters", ()) if isinstance(op, dict) else ():
                _patterned(param.get("schema"))
    for name, comp in schema.get("components", {}).get("schemas", {}).items():
        if name.endswith("In"):
            _patterned(comp)


def _safe_next(target: str) -> str:
    """Only same-site relative redirects after log-in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def create_app(
    engine: Engine,
    *,
    secure_cookies: bool | None = None,
    features: Features | None = None,
    login_limit: int = 5,
    limits: BodyLimits | None = None,
    oidc: OidcSettings | None = None,
) -> FastAPI:
    """The web app over one store. ``secure_cookies`` None: Secure when served over https.
    ``login_limit``: log-in attempts per address and user name in 5 minutes (four times as
    many per address and per user name), counted in the store. ``limits``: request sizes.
    ``oidc``: sign-in with an OpenID Connect identity provider (:mod:`sovmap.web.oidc`)."""
    app = FastAPI(
        title="sovmap",
        version=__version__,
        description="Dependence on foreign technology providers, with evidence. Every route "
        "needs an API token (Authorization: Bearer) or a log-in session, except a scan an "
        "admin has published.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.cache = Cache()
    app.state.features = features if features is not None else detect_features()
    app.state.templates = Jinja2Templates(
        directory=str(HERE / "templates"), context_processors=[i18n_web.context]
    )
    # the templates are part of the installed package: no file-time check on every lookup
    # (an include inside a loop stat()ed its file once per finding)
    app.state.templates.env.auto_reload = False
    # "{% if j is us_controlled %}": the control rule (sovmap.control), not a string compare
    app.state.templates.env.tests["us_controlled"] = us_controlled
    app.state.secure_cookies = secure_cookies
    throttle = Throttle(limit=login_limit, wide_limit=login_limit * 4, window=300)
    app.state.throttle = throttle
    app.state.oidc = oidc  # OpenID Connect sign-in, when configured (the log-in page offers it)
    # outermost last: headers on everything, limits before routing, parsing and log-in
    app.add_middleware(RequestLimits, limits=limits or BodyLimits())
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(map_pages.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    notes_routes.install(app)  # finding notes: the domain page's form and /api/findings/notes
    for extra in app.state.features.routers():
        app.include_router(extra)
    if oidc is not None:
        app.include_router(oidc_router(OidcProvider(oidc)))

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)

    def error_page(
        request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        """JSON under /api/ (and for clients that ask for JSON only), else an HTML page
        with the menu of whoever is logged in."""
        accept = request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or (
            "application/json" in accept and "text/html" not in accept
        ):
            return JSONResponse({"detail": detail}, status_code=status, headers=headers)
        p: Principal | None = principal_of(request)
        problems = detail if isinstance(detail, list) else None
        ctx = {
            "request": request,
            "p": p,
            "features": app.state.features,
            "status": status,
            "detail": None if problems is not None else str(detail),
            "problems": problems,
        }
        resp: Response = app.state.templates.TemplateResponse(
            request, "error.html", ctx, status_code=status, headers=headers
        )
        return resp

    # plain functions: Starlette runs them in a thread, as they may ask the store who is asking
    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_page(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return error_page(request, 422, problems)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token (svm_…) from /account or "
                    "`sovmap users token NAME`",
                }
            }
            schema["security"] = [{"bearer": []}]
            _declare_text_rule(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def login_form(
        request: Request, error: str = "", status: int = 200, nxt: str = "/"
    ) -> Response:
        token = secrets.token_urlsafe(24)
        ctx: dict[str, Any] = {
            "request": request,
            "p": None,
            "features": app.state.features,
            "csrf": token,
            "error": error,
            "next": _safe_next(nxt),
        }
        resp: Response = app.state.templates.TemplateResponse(
            request, "login.html", ctx, status_code=status
        )
        resp.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request),
            max_age=3600,
            path="/login",
        )
        return resp

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/", msg: str = "") -> Response:
        return login_form(request, message(msg, lang_of(request)), nxt=next[:512])

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
        csrf: Annotated[str, Form(max_length=128)] = "",
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        if not same_secret(csrf, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return login_form(request, message("form_expired", lang_of(request)), 403, next)
        ip = request.client.host if request.client else "?"
        # counted before the password is checked, in the store: holds across workers
        wait = throttle.attempt(engine, ip, username)
        if wait > 0:
            secs = max(1, math.ceil(wait))  # never past the window's end
            text = message("too_many_attempts", lang_of(request)).format(seconds=secs)
            resp = login_form(request, text, 429, next)
            resp.headers["Retry-After"] = str(secs)
            return resp
        with engine.begin() as conn:
            p = authenticate(conn, username, password)
            if p is None:
                return login_form(request, message("wrong_login", lang_of(request)), 401, next)
            secret = create_session(conn, p.user_id)
            audit(conn, p, "login", p.username, {"ip": ip})
        throttle.succeeded(engine, ip, username)
        resp = RedirectResponse(_safe_next(next), status_code=303)
        set_session_cookie(resp, request, secret)
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        secret = request.cookies.get(SESSION_COOKIE, "")
        with engine.begin() as conn:
            p = principal_for_session(conn, secret) if secret else None
            if p is None:
                raise HTTPException(401, "not logged in")
            if not same_secret(csrf, p.csrf):
                raise HTTPException(403, "missing or wrong CSRF token")
            end_session(conn, secret)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    return app
