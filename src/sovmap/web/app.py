"""The FastAPI application: ``create_app(engine)`` wires pages, API, log-in and headers."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from sovmap import __version__
from sovmap.web import api, pages
from sovmap.web.auth import (
    RateLimiter,
    authenticate,
    create_session,
    end_session,
    principal_for_session,
    same_secret,
)
from sovmap.web.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, LoginRequired, audit
from sovmap.web.features import Features, detect_features
from sovmap.web.service import Cache

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


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
) -> FastAPI:
    """The web app over one store. ``secure_cookies`` None: Secure when served over https."""
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
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    limiter_user = RateLimiter(limit=login_limit, window=300.0)
    limiter_ip = RateLimiter(limit=login_limit * 4, window=300.0)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    for extra in app.state.features.routers():
        app.include_router(extra)

    def secure(request: Request) -> bool:
        return request.url.scheme == "https" if secure_cookies is None else secure_cookies

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        tpl = app.state.templates
        return tpl.TemplateResponse(  # type: ignore[no-any-return]
            request,
            "error.html",
            {"request": request, "p": None, "features": app.state.features, "exc": exc},
            status_code=exc.status_code,
            headers=exc.headers,
        )

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
            secure=secure(request),
            max_age=3600,
            path="/login",
        )
        return resp

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        return login_form(request, nxt=next[:512])

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
        csrf: Annotated[str, Form(max_length=128)] = "",
        next: Annotated[str, Form(max_length=512)] = "/",
    ) -> Response:
        if not same_secret(csrf, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
            return login_form(request, "The form expired; please try again.", 403, next)
        ip = request.client.host if request.client else "?"
        keys = (f"{ip}|{username.lower()}",)
        wait = max(limiter_user.blocked(*keys), limiter_ip.blocked(ip))
        if wait > 0:
            resp = login_form(
                request, f"Too many failed attempts; try again in {int(wait) + 1} s.", 429, next
            )
            resp.headers["Retry-After"] = str(int(wait) + 1)
            return resp
        with engine.begin() as conn:
            p = authenticate(conn, username, password)
            if p is None:
                limiter_user.failed(*keys)
                limiter_ip.failed(ip)
                return login_form(request, "Wrong user name or password.", 401, next)
            secret = create_session(conn, p.user_id)
            audit(conn, p, "login", p.username, {"ip": ip})
        limiter_user.reset(*keys)
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(
            SESSION_COOKIE,
            secret,
            httponly=True,
            samesite="lax",
            secure=secure(request),
            max_age=12 * 3600,
            path="/",
        )
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
