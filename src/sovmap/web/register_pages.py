"""Register pages: the services of the served register with the provenance of each value,
and editing by editors, recorded in the audit log.

The register's files stay the source of truth. A person can fill a value that is missing or
confirm one that was inferred (from a scan); the web app writes those values, marked as
entered by that person, to one file it owns in the register directory, ``web-edits.yaml``,
which the register loader merges like any other file. A value someone entered in their own
files is not overwritten from the web: the page names the file and line to change instead.
Every write is checked by loading the whole register; on any problem nothing is kept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from sovmap.i18n import t
from sovmap.register.files import load_register
from sovmap.register.model import (
    Deployment,
    ExitPlan,
    KeyControl,
    Origin,
    Register,
    Substitutability,
    Valued,
)
from sovmap.register.problems import RegisterError
from sovmap.register.yamlio import dump_yaml, load_yaml
from sovmap.web.auth import Principal
from sovmap.web.deps import Conn, audit, check_csrf, message, require
from sovmap.web.export import Col, Tables
from sovmap.web.i18n_web import Words, lang_of
from sovmap.web.limits import bad_character

EDITS_FILE = "web-edits.yaml"
#: editable service fields: name -> allowed values (empty: free text; "list": comma list)
FIELDS: dict[str, tuple[str, ...]] = {
    "exit_plan": tuple(e.value for e in ExitPlan),
    "key_control": tuple(e.value for e in KeyControl),
    "substitutability": tuple(e.value for e in Substitutability),
    "deployment": tuple(e.value for e in Deployment),
    "data_location": (),
    "alternatives": ("list",),
}
Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
_lock = threading.Lock()
#: at most this many fields and files in an edit form (the sizes are limited before parsing)
MAX_FIELDS = 40
MAX_FILES = 4


class EditProblem(ValueError):
    """A value of an edit form that is refused: a catalogue code and its parameters, shown in
    the reader's language (``str()`` is the English text)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(t("en", code, **params))

    def text(self, lang: str) -> str:
        return t(lang, self.code, **self.params)


def form_text(form: Any) -> dict[str, str]:
    """The text fields of a submitted form; ValueError naming a field that carries a file or
    a character that is not accepted."""
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise EditProblem("WEB_EDIT_FILE", field=key)
        if (c := bad_character(key) or bad_character(value)) is not None:
            raise EditProblem("WEB_EDIT_CHARACTER", field=key, character=c)
        out[key] = value
    return out


def _shown(v: Valued[Any]) -> str:
    value = v.value
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(str(x) for x in value)
    return str(getattr(value, "value", value))


def service_rows(reg: Register) -> list[dict[str, Any]]:
    rows = []
    for s in sorted(reg.services.values(), key=lambda s: s.id):
        cells = {}
        for name in FIELDS:
            v: Valued[Any] = getattr(s, name)
            at = f"{v.at.file}:{v.at.line}" if v.at is not None else ""
            cells[name] = {
                "value": _shown(v),
                "origin": v.origin.value,
                "at": at,
                "source": v.source,
                "editable": v.origin is not Origin.ENTERED or at.startswith(EDITS_FILE),
            }
        rows.append({"id": s.id, "name": s.name, "provider": s.provider.value, "fields": cells})
    return rows


def shown(w: Words, field: str, value: str) -> str:
    """A register value in the page's language: catalogued values (exit plan, key control,
    substitutability, deployment) by their names, other values as entered."""
    allowed = FIELDS.get(field, ())
    if not value or not allowed or allowed == ("list",):
        return value
    return w.value(field, value)


def parse_edit(form: dict[str, str]) -> dict[str, Any]:
    """The non-empty editable fields of a form, validated; raises ValueError naming the field."""
    out: dict[str, Any] = {}
    for name, allowed in FIELDS.items():
        raw = form.get(name, "").strip()
        if not raw:
            continue
        if len(raw) > 500:
            raise EditProblem("WEB_EDIT_TOO_LONG", field=name)
        if allowed == ("list",):
            out[name] = [x.strip() for x in raw.split(",") if x.strip()]
        elif allowed and raw not in allowed:
            raise EditProblem(
                "WEB_EDIT_NOT_ONE_OF", field=name, value=repr(raw), allowed=", ".join(allowed)
            )
        elif name == "data_location" and not (len(raw) == 2 and raw.isalpha()):
            raise EditProblem("WEB_EDIT_COUNTRY", field=name)
        else:
            out[name] = raw.upper() if name == "data_location" else raw
    return out


def apply_edit(root: Path, service_id: str, changes: dict[str, Any]) -> Register:
    """Merge ``changes`` for one service into the web edits file and load the register; on
    any problem the file is restored and RegisterError raised."""
    path = root / EDITS_FILE
    with _lock:
        old = path.read_text("utf-8") if path.exists() else None
        data: dict[str, Any] = {"services": []}
        if old:
            parsed, _ = load_yaml(old)
            if isinstance(parsed, dict) and isinstance(parsed.get("services"), list):
                data = parsed
        reg = load_register(root)
        svc = reg.services[service_id]
        entry = next((e for e in data["services"] if e.get("id") == service_id), None)
        if entry is None:
            entry = {"id": service_id, "name": svc.name}
            data["services"].append(entry)
        entry.update(changes)
        path.write_text(
            "# Values entered through sovmap serve (see the web app's audit log).\n"
            + dump_yaml(data),
            encoding="utf-8",
        )
        try:
            return load_register(root)
        except RegisterError:
            if old is None:
                path.unlink()
            else:
                path.write_text(old, encoding="utf-8")
            raise


def make_router(root: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def load() -> Register:
        try:
            return load_register(root)
        except RegisterError as exc:
            raise HTTPException(500, f"the register does not load: {exc}") from exc

    def render(request: Request, name: str, p: Principal, **ctx: Any) -> Response:
        w = Words(lang_of(request))
        ctx.update(
            request=request,
            p=p,
            features=request.app.state.features,
            fields=FIELDS,
            shown=lambda f, v: shown(w, f, v),
        )
        resp: Response = request.app.state.templates.TemplateResponse(request, name, ctx)
        return resp

    @router.get("/register", response_class=HTMLResponse)
    def register_page(request: Request, p: Viewer) -> Response:
        reg = load()
        w = Words(lang_of(request))
        tables = Tables(request, w.lang)
        cols = [
            Col("service", "WEB_COL_SERVICE"),
            Col("provider", "WEB_COL_PROVIDER"),
            *(Col(f, f"WEB_FIELD_{f.upper()}") for f in FIELDS),
        ]
        grid = tables.add(
            "register",
            cols,
            lambda r: (
                f"{r['name']} ({r['id']})",
                r["provider"] or "",
                *(
                    shown(w, f, r["fields"][f]["value"])
                    if r["fields"][f]["origin"] != "missing"
                    else None
                    for f in FIELDS
                ),
            ),
            service_rows(reg),
        )
        if (export := tables.answer("register")) is not None:
            return export
        return render(request, "register.html", p, reg=reg, grid=grid)

    @router.get("/register/services/{service_id}", response_class=HTMLResponse)
    def service_page(request: Request, service_id: str, p: Viewer, error: str = "") -> Response:
        reg = load()
        if service_id not in reg.services:
            raise HTTPException(404, t(lang_of(request), "WEB_ERR_NO_SERVICE", id=service_id[:64]))
        row = next(r for r in service_rows(reg) if r["id"] == service_id)
        # only a catalogued message, chosen by its code, never text from the query string
        return render(
            request, "register_service.html", p, row=row, error=message(error, lang_of(request))
        )

    @router.post("/register/services/{service_id}")
    async def edit_service(request: Request, service_id: str, p: Editor, conn: Conn) -> Response:
        async with request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS) as submitted:
            refused: EditProblem | None = None
            try:
                form = form_text(submitted)
            except EditProblem as exc:
                form, refused = {"csrf": str(submitted.get("csrf", ""))}, exc
        check_csrf(request, p, form.get("csrf", ""))
        reg = load()
        if service_id not in reg.services:
            raise HTTPException(404, t(lang_of(request), "WEB_ERR_NO_SERVICE", id=service_id[:64]))
        before = next(r for r in service_rows(reg) if r["id"] == service_id)["fields"]
        try:
            if refused is not None:
                raise refused
            changes = parse_edit(form)
            locked = [n for n in changes if not before[n]["editable"]]
            if locked:
                raise EditProblem(
                    "WEB_EDIT_LOCKED",
                    fields=", ".join(f"{n} ({before[n]['at']})" for n in locked),
                )
            if changes:
                apply_edit(root, service_id, changes)
        except (ValueError, RegisterError) as exc:
            row = next(r for r in service_rows(reg) if r["id"] == service_id)
            text = exc.text(lang_of(request)) if isinstance(exc, EditProblem) else str(exc)
            resp = render(request, "register_service.html", p, row=row, error=text)
            resp.status_code = 422
            return resp
        if changes:
            detail = {n: [before[n]["value"], changes[n]] for n in changes}
            audit(conn, p, "register.edit", f"services/{service_id}", detail)
        return RedirectResponse(f"/register/services/{service_id}", status_code=303)

    return router
