"""The cut-off scenario runner and the exit plan (pages and API), over a register directory.

Both call the same library functions as ``sovmap cutoff`` and ``sovmap exit plan``
(:func:`sovmap.scenario.cutoff.cut_off`, :func:`sovmap.exitplan.api.plan_register_exit`) with
the register loaded once (again only after its files change); they are offered only when
``sovmap serve --register DIR`` names a register. Results are cached per parameters (the exit
plan's Monte-Carlo runs with a fixed seed, so it is reproducible). The jurisdiction choices
are what :func:`sovmap.control.suggest` says would match: controlling jurisdictions, EU and
non-EU.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from sovmap.control import suggest
from sovmap.errors import SovmapError
from sovmap.exitplan.api import DAYS_PER_MONTH, ExitReport, plan_register_exit
from sovmap.exitplan.build import ExitSettings, load_exit_settings
from sovmap.exitplan.gap import uncovered_gaps
from sovmap.i18n import t
from sovmap.register.files import load_register_dir
from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.report import svg
from sovmap.report.brief import assumption_notes
from sovmap.report.gantt import gantt_svg
from sovmap.report.render import note_text
from sovmap.scenario.counting import served_lines
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.durations import format_duration
from sovmap.scenario.from_register import ScenarioSettings, load_scenario_settings
from sovmap.scenario.model import ScenarioResult, Selector, Status
from sovmap.web.api import ERRORS
from sovmap.web.auth import Principal
from sovmap.web.deps import require
from sovmap.web.export import Col, Tables
from sovmap.web.i18n_web import Words, lang_of
from sovmap.web.schemas import CutoffOut, ExitOut

T = TypeVar("T")
Viewer = Annotated[Principal, Depends(require("viewer"))]
Text = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")]
#: the grammar of sovmap.scenario.durations (``3d``, ``1w2d``, ``9mo``, ``permanent``)
_DURATION = r"^(inf|permanent|never|([0-9]{1,5}(\.[0-9]{1,3})?(min|mo|h|d|w|y)){1,4})$"
Duration = Annotated[str, Query(min_length=1, max_length=40, pattern=_DURATION)]
OptDuration = Annotated[str, Query(max_length=40, pattern=_DURATION.replace("^(", "^(|", 1))]
_JURISDICTION_LABELS = {"EU": "WEB_JURISDICTION_EU", "non-EU": "WEB_JURISDICTION_NON_EU"}
PROCESS_COLS = (
    Col("status", "WEB_COL_STATUS"),
    Col("process", "WEB_COL_PROCESS"),
    Col("outage", "WEB_COL_OUTAGE", num=True),
    Col("rto", "WEB_COL_RTO", num=True),
    Col("bearable", "WEB_COL_BEARABLE", num=True),
    Col("impact", "WEB_COL_IMPACT"),
    Col("people", "WEB_COL_PEOPLE", num=True),
    Col("fallback", "WEB_COL_FALLBACK"),
    Col("because", "WEB_COL_BECAUSE"),
)
DATA_COLS = (
    Col("data", "WEB_COL_DATA"),
    Col("classification", "WEB_COL_CLASSIFICATION"),
    Col("from", "WEB_COL_UNREACHABLE_FROM", num=True),
    Col("restores", "WEB_COL_RESTORES_AFTER", num=True),
    Col("via", "WEB_COL_BECAUSE"),
)
GAP_COLS = (
    Col("process", "WEB_COL_PROCESS"),
    Col("fallback", "WEB_COL_FALLBACK_WEEKS", num=True),
    Col("replacement", "WEB_COL_REPLACEMENT_WEEKS", num=True),
    Col("gap", "WEB_COL_GAP_WEEKS", num=True),
    Col("waits", "WEB_COL_WAITS_FOR"),
)
WHATIF_COLS = (
    Col("variant", "WEB_COL_VARIANT"),
    Col("p50", "WEB_COL_P50_MO", num=True),
    Col("p90", "WEB_COL_P90_MO", num=True),
    Col("in_time", "WEB_COL_IN_TIME", num=True),
)
TARGET_COLS = (
    Col("service", "WEB_COL_SERVICE"),
    Col("capability", "WEB_COL_CAPABILITY"),
    Col("provider", "WEB_COL_PROVIDER"),
    Col("options", "WEB_COL_OPTIONS"),
)
#: the what-ifs the pages and the API offer, as the API's schema declares them (an unknown one
#: is refused, never dropped)
WhatIfName = Literal["capacity+2", "capacity*2", "prebuilt-fallback", "data-backup"]
WHAT_IFS: tuple[str, ...] = get_args(WhatIfName)


def _known_what_ifs(given: list[str] | None) -> tuple[str, ...]:
    """The what-ifs asked for; an unknown one is a 400 naming the valid ones (a typo must not
    return the baseline as if it were the variant)."""
    asked = [w.strip() for w in (given or []) if w.strip()]  # an empty value asks nothing
    unknown = [w for w in asked if w not in WHAT_IFS]
    if unknown:
        raise HTTPException(
            400,
            f"unknown what-if {unknown[0][:40]!r}; valid: {', '.join(WHAT_IFS)}",
        )
    return tuple(asked)


class _Memo:
    def __init__(self, size: int = 32) -> None:
        self._d: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._d:
                hit: T = self._d[key]
                return hit
        value = make()
        with self._lock:
            self._d[key] = value
            while len(self._d) > self._size:
                self._d.popitem(last=False)
        return value


def hours(h: float | None, lang: str = "en") -> str:
    """A duration as the scenario grammar writes it (``3d``, ``2.5w``), with the language's
    decimal mark; infinity is the catalogue's word for permanent."""
    if h is None:
        return "—"
    if math.isinf(h):
        return t(lang, "PERMANENT")
    text = format_duration(h)
    return text.replace(".", ",") if lang == "nl" else text


def _finite(h: float | None) -> float | None:
    """A number of hours for sorting and export: permanent as infinity is kept out of CSV."""
    return None if h is None else (1e12 if math.isinf(h) else round(h, 2))


def make_router(
    register_dir: Path,
    scenario_settings: Path | None = None,
    exit_settings: Path | None = None,
) -> APIRouter:
    router = APIRouter()
    memo = _Memo()

    def stamp() -> tuple[tuple[str, int], ...]:
        """The register files' names and change times: results are recomputed after edits."""
        files = [register_dir, *(f for f in (scenario_settings, exit_settings) if f)]
        out = []
        for f in files:
            for x in sorted(f.iterdir()) if f.is_dir() else [f]:
                out.append((str(x), x.stat().st_mtime_ns))
        return tuple(out)

    def loaded() -> tuple[Register, ScenarioSettings | None, ExitSettings | None]:
        """The register and settings files, read once until one of them changes."""

        def read() -> tuple[Register, ScenarioSettings | None, ExitSettings | None]:
            return (
                load_register_dir(register_dir),
                load_scenario_settings(scenario_settings) if scenario_settings else None,
                load_exit_settings(exit_settings) if exit_settings else None,
            )

        try:
            return memo.get(("loaded", stamp()), read)
        except SovmapError as exc:
            raise HTTPException(400, str(exc)) from exc

    def choices() -> dict[str, list[tuple[str, str]]]:
        def build() -> dict[str, list[tuple[str, str]]]:
            reg = loaded()[0]
            provs = sorted((p.id, p.name) for p in reg.providers.values())
            juris = suggest(control_of(reg, pid) for pid in reg.providers)
            caps = sorted(
                {str(s.capability.value) for s in reg.services.values() if s.capability.value}
            )
            return {
                "provider": provs,
                "jurisdiction": [(j, _JURISDICTION_LABELS.get(j, "")) for j in juris],
                "capability": [(c, c) for c in caps],
            }

        return memo.get(("choices", stamp()), build)

    def cutoff(sel: Selector, duration: str, at: str) -> ScenarioResult:
        if not any(sel.to_json().values()):
            raise HTTPException(400, "choose a provider, parent, jurisdiction or capability")
        reg, st, _ = loaded()
        try:
            return memo.get(
                ("cutoff", sel, duration, at, stamp()),
                lambda: cut_off(reg, sel, at=at, duration=duration, settings=st),
            )
        except SovmapError as exc:
            raise HTTPException(400, str(exc)) from exc

    def exit_plan(deadline: str, what_ifs: tuple[str, ...], runs: int) -> ExitReport:
        reg, _, st = loaded()
        try:
            return memo.get(
                ("exit", deadline, what_ifs, runs, stamp()),
                lambda: plan_register_exit(
                    reg, deadline=deadline, runs=runs, seed=1, settings=st, what_ifs=what_ifs
                ),
            )
        except SovmapError as exc:
            raise HTTPException(400, str(exc)) from exc

    def render(request: Request, name: str, p: Principal, **ctx: Any) -> Response:
        lang = lang_of(request)
        ctx.update(
            request=request,
            p=p,
            features=request.app.state.features,
            hours=lambda h: hours(h, lang),
        )
        resp: Response = request.app.state.templates.TemplateResponse(request, name, ctx)
        return resp

    @router.get("/cutoff", response_class=HTMLResponse, include_in_schema=False)
    def cutoff_page(
        *,
        request: Request,
        p: Viewer,
        provider: Text = "",
        parent: Text = "",
        jurisdiction: Text = "",
        capability: Text = "",
        duration: Duration = "permanent",
        at: OptDuration = "",
    ) -> Response:
        sel = Selector(provider, parent, jurisdiction, capability)
        res = cutoff(sel, duration, at) if any(sel.to_json().values()) else None
        w = Words(lang_of(request))
        order = {Status.DOWN: 0, Status.DEGRADED: 1, Status.UNAFFECTED: 2}
        procs = sorted(res.processes, key=lambda x: (order[x.status], x.id)) if res else []
        lost = [d for d in res.data if d.unreachable_hours is not None] if res else []
        tables = Tables(
            request, w.lang, ("provider", "parent", "jurisdiction", "capability", "duration", "at")
        )
        grids = {
            "processes": tables.add(
                "processes",
                PROCESS_COLS,
                lambda o: (
                    w.value("status", o.status.value),
                    f"{o.name} ({o.id})",
                    _finite(o.outage_hours) if o.status is Status.DOWN else None,
                    _finite(o.rto_hours),
                    _finite(o.bearable_hours),
                    o.impact,
                    o.people,
                    o.fallback,
                    " → ".join(o.path[1:]),
                ),
                procs,
            ),
            "data": tables.add(
                "data",
                DATA_COLS,
                lambda d: (
                    d.name,
                    w.value("classification", d.classification),
                    _finite(d.unreachable_hours),
                    _finite(d.restorable_after_hours),
                    " → ".join(d.path[1:]),
                ),
                lost,
            ),
        }
        if (export := tables.answer("cutoff")) is not None:
            return export
        chart = None
        served: list[str] = []
        if res is not None:
            served = served_lines(res.summary, w.lang)
            s = res.summary
            chart = svg.bar_chart(
                [
                    svg.Bar(w.value("status", "down"), s["down"], colour=svg.US_COLOUR),
                    svg.Bar(w.value("status", "degraded"), s["degraded"], colour="#edae49"),
                    svg.Bar(w.value("status", "unaffected"), s["unaffected"], colour="#66a182"),
                ],
                title=w.t("WEB_CHART_PROCESSES"),
            )
        ch = choices()
        ch = {
            **ch,
            "jurisdiction": [(j, w.t(c) if c else j) for j, c in ch["jurisdiction"]],
        }
        return render(
            request,
            "cutoff.html",
            p,
            sel=sel,
            duration=duration,
            at=at,
            res=res,
            grids=grids,
            chart=chart,
            served=served,
            choices=ch,
        )

    @router.get("/exit", response_class=HTMLResponse, include_in_schema=False)
    def exit_page(
        *,
        request: Request,
        p: Viewer,
        deadline: OptDuration = "",
        what_if: Annotated[list[str] | None, Query(max_length=8)] = None,
        runs: Annotated[int, Query(ge=100, le=20_000)] = 10_000,
    ) -> Response:
        wis = _known_what_ifs(what_if)
        rep = exit_plan(deadline, wis, runs)
        try:
            gaps = uncovered_gaps(
                loaded()[0], cutoff(Selector(jurisdiction="US"), "permanent", ""), rep
            )
        except HTTPException:  # no US-controlled provider: no cut-off, no gap
            gaps = ()
        w = Words(lang_of(request))
        tables = Tables(request, w.lang, ("deadline", "what_if", "runs"))

        def pair(x: Any) -> float | None:
            return round(x[1], 1) if x else None  # P90 sorts the pair

        grids = {
            "gaps": tables.add(
                "gaps",
                GAP_COLS,
                lambda g: (
                    g.process,
                    g.fallback_weeks,
                    pair(g.replacement_weeks),
                    pair(g.gap_weeks),
                    ", ".join(g.replaced_by + g.not_planned),
                ),
                list(gaps),
            ),
            "whatifs": tables.add(
                "whatifs",
                WHATIF_COLS,
                lambda v: (
                    v.label,
                    round(v.forecast.p50 / DAYS_PER_MONTH, 1),
                    round(v.forecast.p90 / DAYS_PER_MONTH, 1),
                    None
                    if v.forecast.p_deadline is None
                    else round(100 * v.forecast.p_deadline, 1),
                ),
                [rep.baseline, *rep.what_ifs],
            ),
            "targets": tables.add(
                "targets",
                TARGET_COLS,
                lambda tg: (
                    tg.name,
                    w.cap(tg.capability),
                    f"{tg.provider_name or tg.provider} ({tg.jurisdiction})",
                    "; ".join(a.name for a in rep.options.get(tg.service, ())),
                ),
                list(rep.targets),
            ),
        }
        if (export := tables.answer("exit")) is not None:
            return export
        return render(
            request,
            "exit.html",
            p,
            rep=rep,
            gaps=gaps,
            chart=gantt_svg(rep, lang_of(request)),
            deadline=deadline,
            what_ifs=wis,
            all_what_ifs=WHAT_IFS,
            runs=runs,
            month=DAYS_PER_MONTH,
            grids=grids,
            assumptions=[(n.code, note_text(w.lang, n)) for n in assumption_notes(rep)],
        )

    @router.get("/api/cutoff", tags=["scenario"], responses=ERRORS, response_model=CutoffOut)
    def cutoff_api(
        *,
        p: Viewer,
        provider: Text = "",
        parent: Text = "",
        jurisdiction: Text = "",
        capability: Text = "",
        duration: Duration = "permanent",
        at: OptDuration = "",
    ) -> dict[str, Any]:
        """Simulate a cut-off on the served register: per process down/degraded/unaffected,
        outage against RTO and bearable outage, people affected, unreachable data, and the
        dependency path behind each (as ``sovmap cutoff --format json``)."""
        res = cutoff(Selector(provider, parent, jurisdiction, capability), duration, at)
        out: dict[str, Any] = res.to_json()
        return out

    @router.get("/api/exit", tags=["scenario"], responses=ERRORS, response_model=ExitOut)
    def exit_api(
        *,
        p: Viewer,
        deadline: OptDuration = "",
        what_if: Annotated[list[WhatIfName] | None, Query(max_length=8)] = None,
        runs: Annotated[int, Query(ge=100, le=20_000)] = 10_000,
    ) -> dict[str, Any]:
        """The exit plan of the served register: targets and European options, Monte-Carlo
        forecast (P50/P90, probability of meeting the deadline), what-ifs and the schedule
        (as ``sovmap exit plan --format json``; seed 1)."""
        wis = _known_what_ifs(list(what_if or []))
        out: dict[str, Any] = exit_plan(deadline, wis, runs).to_json()
        return out

    return router
