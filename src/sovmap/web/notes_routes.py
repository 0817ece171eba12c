"""Accepting, disputing and annotating findings from the web app and the API.

- ``POST /domains/{domain}/notes``: the form under each finding of a domain's page
  (sovmap.web.finding_rows), for editors and admins, with the session's CSRF token;
  answers with a redirect back to the finding, and a message chosen by code.
- ``GET /api/findings/notes`` and ``POST /api/findings/notes``: the same as JSON (bearer token
  or session with ``X-CSRF-Token``).

Notes are stored by :mod:`sovmap.store.notes` (history kept, never overwritten) and every new
note is also written to the audit log (``finding.note``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sovmap import i18n
from sovmap.model import Capability
from sovmap.store import notes as nt
from sovmap.web.api import ERRORS, Problem
from sovmap.web.auth import Principal
from sovmap.web.deps import Conn, audit, check_csrf, require
from sovmap.web.i18n_web import lang_of

Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]

#: the codes a page may show after a form (``?note=`` / ``?note_error=``), nothing else
PAGE_CODES = frozenset(
    {
        "NOTE_SAVED",
        "NOTE_BAD_STATUS",
        "NOTE_TOO_LONG",
        "NOTE_CONTROL",
        "NOTE_TEXT_NEEDED",
        "NOTE_BAD_DOMAIN",
        "NOTE_BAD_CAPABILITY",
        "NOTE_BAD_PROVIDER",
    }
)

page_router = APIRouter(include_in_schema=False)


@page_router.post("/domains/{domain}/notes")
def note_form(
    request: Request,
    domain: str,
    p: Editor,
    conn: Conn,
    csrf: Annotated[str, Form(max_length=128)] = "",
    capability: Annotated[str, Form(max_length=32)] = "",
    provider: Annotated[str, Form(max_length=200)] = "",
    status: Annotated[str, Form(max_length=16)] = "",
    text: Annotated[str, Form(max_length=nt.MAX_TEXT + 100)] = "",
) -> Response:
    check_csrf(request, p, csrf)
    try:
        note = nt.add_note(conn, domain, capability, provider, status, text, p.username)
    except nt.NoteError as exc:
        back = f"/domains/{quote(domain[:253], safe='')}?note_error={exc.code}"
        return RedirectResponse(back + "#findings-notes", status_code=303)
    _audit(conn, p, note)
    anchor = f"#note-{note.capability}-{note.provider}"
    return RedirectResponse(
        f"/domains/{quote(note.domain, safe='')}?note=NOTE_SAVED{anchor}", status_code=303
    )


def _audit(conn: Conn, p: Principal, note: nt.Note) -> None:
    detail = {"status": note.status, "text": note.text, "note": note.id}
    audit(conn, p, "finding.note", "/".join(note.key), detail)


# -- API -----------------------------------------------------------------------------------

api_router = APIRouter(
    prefix="/api",
    tags=["api"],
    responses={**ERRORS, 422: {"model": Problem, "description": "a note that cannot be stored"}},
)

StatusL = Literal["accepted", "disputed", "noted"]


class NoteIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    domain: str = Field(min_length=1, max_length=253, description="the finding's domain")
    capability: Capability = Field(strict=False)
    provider: str = Field(
        min_length=1, max_length=200, pattern=r"^[a-z0-9][a-z0-9:._-]*$", description="provider id"
    )
    status: StatusL
    text: str = Field(default="", max_length=nt.MAX_TEXT, description="why (needed to dispute)")


class NoteOut(BaseModel):
    id: int
    domain: str
    capability: str
    provider: str
    status: StatusL
    text: str
    user: str
    at: str


class NotesOut(BaseModel):
    notes: list[NoteOut] = Field(description="newest first; the history is never changed")
    disputed: list[list[str]] = Field(
        description="[domain, capability, provider] of the findings now disputed (of the "
        "notes listed)"
    )


def _out(n: nt.Note) -> NoteOut:
    return NoteOut.model_validate(n.to_json())


@api_router.get("/findings/notes", response_model=NotesOut)
def list_notes(
    p: Viewer,
    conn: Conn,
    domain: Annotated[str | None, Query(max_length=253)] = None,
    capability: Annotated[Capability | None, Query()] = None,
    provider: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> NotesOut:
    """Notes on findings (accepted, disputed, noted), newest first, optionally of one domain,
    capability and provider; and which of those findings are disputed now."""
    cap = capability.value if capability is not None else None
    notes = nt.history(conn, domain=domain, capability=cap, provider=provider, limit=limit)
    disputed = nt.disputed(conn, {n.key for n in notes})
    return NotesOut(notes=[_out(n) for n in notes], disputed=[list(k) for k in sorted(disputed)])


@api_router.post("/findings/notes", response_model=NoteOut, status_code=201)
def add_note(request: Request, body: NoteIn, p: Editor, conn: Conn) -> NoteOut:
    """Accept, dispute or annotate a finding (editors and admins). A cookie session must send
    its CSRF token in the ``X-CSRF-Token`` header. A dispute needs a text."""
    check_csrf(request, p, None)
    try:
        note = nt.add_note(
            conn,
            body.domain,
            body.capability.value,
            body.provider,
            body.status,
            body.text,
            p.username,
        )
    except nt.NoteError as exc:
        raise HTTPException(422, i18n.t("en", exc.code)) from exc
    _audit(conn, p, note)
    return _out(note)


@api_router.api_route(
    "/findings/notes", methods=["PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
)
def notes_other_methods(p: Viewer) -> Response:
    """Notes are never changed or deleted: any other method is a 405 naming both methods the
    path has (the router alone would name only the first route's)."""
    raise HTTPException(405, "Method Not Allowed", headers={"Allow": "GET, POST"})


# -- the domain page's notes ----------------------------------------------------------------


def notes_of(request: Request, domain: str) -> dict[tuple[str, str], dict[str, Any]]:
    """For the domain page's findings (sovmap.web.finding_rows): (capability, provider) ->
    the deciding note (``status``) and the history (newest first); one query per page."""
    cached: dict[str, dict[tuple[str, str], dict[str, Any]]] = request.state.__dict__.setdefault(
        "finding_notes", {}
    )
    if domain in cached:  # one query per page
        return cached[domain]
    conn = getattr(request.state, "conn", None)  # the page's own (sovmap.web.deps)
    if conn is not None:
        notes = nt.history(conn, domain=domain)
    else:
        with request.app.state.engine.connect() as own:
            notes = nt.history(own, domain=domain)
    out: dict[tuple[str, str], dict[str, Any]] = cached.setdefault(domain, {})
    for n in notes:
        entry = out.setdefault((n.capability, n.provider), {"status": None, "history": []})
        entry["history"].append(n)
        if entry["status"] is None and n.status in (nt.ACCEPTED, nt.DISPUTED):
            entry["status"] = n
    return out


def page_message(request: Request) -> tuple[str, str] | None:
    """The message a domain page shows after the note form: (kind, text) from a fixed set of
    codes, never text from the query string."""
    lang = lang_of(request)
    for kind, param in (("ok", "note"), ("error", "note_error")):
        code = request.query_params.get(param, "")
        if code in PAGE_CODES:
            return kind, i18n.t(lang, code)
    return None


def install(app: FastAPI) -> None:
    """Add the routes to the app (the domain page reads :func:`notes_of` and
    :func:`page_message` itself)."""
    app.include_router(page_router)
    app.include_router(api_router)
