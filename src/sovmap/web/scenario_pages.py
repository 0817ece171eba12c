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
from sovmap.i18n import format_number
from sovmap.register.files import load_register_dir
from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.report import svg
from sovmap.report.gantt import gantt_svg
from sovmap.scenario.counting import served_lines
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.durations import format_duration
from sovmap.scenario.from_register import ScenarioSettings, load_scenario_settings
from sovmap.scenario.model import ScenarioResult, Selector, Status
from sovmap.web.api import ERRORS
from sovmap.web.auth import Principal
from sovmap.web.deps import require
from sovmap.web.schemas import CutoffOut, ExitOut

T = TypeVar("T")
Viewer = Annotated[Principal, Depends(require("viewer"))]
Text = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")]
#: the grammar of sovmap.scenario.durations (``3d``, ``1w2d``, ``9mo``, ``permanent``)
_DURATION = r"^(inf|permanent|never|([0-9]{1,5}(\.[0-9]{1,3})?(min|mo|h|d|w|y)){1,4})$"
Duration = Annotated[str, Query(min_length=1, max_length=40, pattern=_DURATION)]
OptDuration = Annotated[str, Query(max_length=40, pattern=_DURATION.replace("^(", "^(|", 1))]
_JURISDICTION_LABELS = {
    "EU": "EU (controlled from an EU member state)",
    "non-EU": "non-EU (controlled from elsewhere, or unknown)",
}
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


def hours(h: float | None) -> str:
    if h is None:
        return "—"
    return "permanent" if math.isinf(h) else format_duration(h)


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
                "jurisdiction": [(j, _JURISDICTION_LABELS.get(j, j)) for j in juris],
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
        ctx.update(request=request, p=p, features=request.app.state.features, hours=hours)
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
        order = {Status.DOWN: 0, Status.DEGRADED: 1, Status.UNAFFECTED: 2}
        procs = sorted(res.processes, key=lambda x: (order[x.status], x.id)) if res else []
        chart = None
        served: list[str] = []
        if res is not None:
            served = served_lines(res.summary, "en")
            s = res.summary
            chart = svg.bar_chart(
                [
                    svg.Bar("down", s["down"], colour=svg.US_COLOUR),
                    svg.Bar("degraded", s["degraded"], colour="#edae49"),
                    svg.Bar("unaffected", s["unaffected"], colour="#66a182"),
                ],
                title="Processes after the cut-off",
            )
        return render(
            request,
            "cutoff.html",
            p,
            sel=sel,
            duration=duration,
            at=at,
            res=res,
            procs=procs,
            chart=chart,
            served=served,
            number=lambda n: format_number(n, "en"),
            choices=choices(),
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
        return render(
            request,
            "exit.html",
            p,
            rep=rep,
            gaps=gaps,
            chart=gantt_svg(rep),
            deadline=deadline,
            what_ifs=wis,
            all_what_ifs=WHAT_IFS,
            runs=runs,
            month=DAYS_PER_MONTH,
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
