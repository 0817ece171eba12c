"""Limits before work: request size and input characters, checked before any parsing,
routing or authentication (pure ASGI middleware, so no framework code reads the body first).

* A body larger than its limit is refused with 413 as soon as that is known: at once from
  ``Content-Length``, else when the streamed bytes pass the limit (the rest is never read).
  Forms and JSON get a small limit; only the paths in ``upload_paths`` accept
  ``multipart/form-data`` (415 elsewhere), with a larger limit.
* NUL and other control characters (tab, line feed and carriage return aside) and lone
  surrogates in the path, the query string or a form/JSON body are refused with 400, the
  same on every store backend (PostgreSQL cannot store NUL in text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from sovmap import i18n
from sovmap.web.i18n_web import lang_of_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: C0 controls except tab, line feed and carriage return; DEL; C1 controls; surrogates.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


FORM_BYTES = 64 * 1024
UPLOAD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest request body in bytes: forms (log-in included), JSON, and uploads on the
    paths (prefixes) that accept ``multipart/form-data``."""

    form: int = FORM_BYTES
    json: int = FORM_BYTES
    upload: int = UPLOAD_BYTES
    upload_paths: tuple[str, ...] = ("/register/",)

    def accepts_upload(self, path: str) -> bool:
        return any(path.startswith(p) for p in self.upload_paths)

    def limit(self, path: str, content_type: str) -> int:
        if self.accepts_upload(path):
            return max(self.upload, self.form, self.json)
        return self.json if content_type == "application/json" else self.form


def bad_character(text: str) -> str | None:
    """The first forbidden character of ``text`` as ``U+XXXX``, or None."""
    m = _BAD.search(text)
    return f"U+{ord(m.group()):04X}" if m else None


def _json_strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


#: why a request is refused before the app runs: a catalogue code and its parameters
Problem = tuple[str, dict[str, str]]


def body_problem(content_type: str, body: bytes) -> Problem | None:
    """Why a small form or JSON body is refused (invalid UTF-8 or a forbidden character)."""
    try:
        if content_type == "application/x-www-form-urlencoded":
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
            texts: Any = (t for pair in pairs for t in pair)
        else:
            texts = _json_strings(json.loads(body.decode("utf-8")))
        for t in texts:
            if (c := bad_character(t)) is not None:
                return "WEB_LIMIT_BODY_CHAR", {"char": c}
    except UnicodeError:
        return "WEB_LIMIT_BODY_UTF8", {}
    except ValueError:
        return None  # not JSON: the route's own validation answers (422)
    return None


def _query_problem(raw: bytes) -> Problem | None:
    try:
        text = raw.decode("utf-8")
        for k, v in parse_qsl(text, keep_blank_values=True, errors="strict"):
            if (c := bad_character(k) or bad_character(v)) is not None:
                return "WEB_LIMIT_QUERY_CHAR", {"char": c}
    except UnicodeError:
        return "WEB_LIMIT_QUERY_UTF8", {}
    return None


def _path_problem(scope: Scope) -> Problem | None:
    raw = scope.get("raw_path")
    try:
        path = unquote(raw.decode("utf-8"), errors="strict") if raw else scope["path"]
    except UnicodeError:
        return "WEB_LIMIT_PATH_UTF8", {}
    if (c := bad_character(path)) is not None:
        return "WEB_LIMIT_PATH_CHAR", {"char": c}
    return None


def _lang(scope: Scope) -> str:
    headers = {k.lower(): v for k, v in scope.get("headers", ())}
    return lang_of_headers(
        headers.get(b"cookie", b"").decode("latin-1"),
        headers.get(b"accept-language", b"").decode("latin-1"),
    )


async def refuse(scope: Scope, send: Send, status: int, problem: Problem) -> None:
    """A short answer sent before the app ran, in the reader's language (cookie or browser,
    as the pages): JSON under ``/api/`` (``detail`` the message, ``code`` its catalogue
    code), else a small HTML page with a way back. The connection is closed, so an unread
    body is never read."""
    lang = _lang(scope)
    code, params = problem
    message = i18n.t(lang, code, **params)
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": message, "code": code}).encode()
        ctype = b"application/json"
    else:
        from html import escape

        title = escape(i18n.t(lang, "WEB_ERROR", status=str(status)))
        body = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{title} · sovmap</title>"
            '<link rel="stylesheet" href="/static/app.css"></head><body><main>'
            f'<h1>{title}</h1><p class="error" role="alert">{escape(message)}</p>'
            f'<p><a href="/">{escape(i18n.t(lang, "WEB_BACK"))}</a> · '
            f'<a href="/login">{escape(i18n.t(lang, "WEB_LOGIN"))}</a></p>'
            "</main></body></html>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n < 1024 * 1024 else f"{n // (1024 * 1024)} MiB"


class RequestLimits:
    """ASGI middleware enforcing :class:`BodyLimits` and the character rules."""

    def __init__(self, app: ASGIApp, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.limits = limits or BodyLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _path_problem(scope) or _query_problem(scope.get("query_string", b""))
        if problem:
            await refuse(scope, send, 400, problem)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        path = scope["path"]
        limit = self.limits.limit(path, ctype)
        too_large: Problem = ("WEB_LIMIT_TOO_LARGE", {"size": _size(limit)})
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await refuse(scope, send, 400, ("WEB_LIMIT_LENGTH", {}))
                return
            if int(length) > limit:
                await refuse(scope, send, 413, too_large)
                return
        if ctype == "multipart/form-data" and not self.limits.accepts_upload(path):
            await refuse(scope, send, 415, ("WEB_LIMIT_NO_UPLOAD", {}))
            return
        if ctype in ("application/x-www-form-urlencoded", "application/json"):
            await self._buffered(scope, receive, send, ctype, limit, too_large)
            return
        expects_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        await self._counted(scope, receive, send, limit, too_large, expects_body)

    async def _buffered(
        self, scope: Scope, receive: Receive, send: Send, ctype: str, limit: int, msg: Problem
    ) -> None:
        """Small bodies: read them (up to ``limit``), check the characters, then replay."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await refuse(scope, send, 413, msg)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = body_problem(ctype, body)
        if problem:
            await refuse(scope, send, 400, problem)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _counted(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        msg: Problem,
        expects_body: bool,
    ) -> None:
        """Other bodies stream through; past ``limit`` the app sees a disconnect and the
        client a 413 (unless the app answered already). An answer that starts before the
        body was read closes the connection, so the server does not drain an unread body."""
        size = 0
        started = False
        refused = False
        read_all = not expects_body

        async def counted_receive() -> Message:
            nonlocal size, refused, read_all
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                read_all = not message.get("more_body", False)
                size += len(message.get("body", b""))
                if size > limit:
                    refused = True
                    if not started:
                        await refuse(scope, send, 413, msg)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the 413 went out; drop whatever the app answers to the disconnect
            if message["type"] == "http.response.start" and not read_all:
                message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the app failed on the disconnect it was handed after the 413: nothing to add
