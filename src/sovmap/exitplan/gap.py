"""The uncovered gap after an acute cut-off: per process, how long its fallback carries it
(from the cut-off) against when the exit plan's replacement of what it lost is in use.

For each process that goes down, the services to replace are the services it relies on
(directly or through other services) that are down and whose provider (or the service itself)
the cut-off stopped. The replacement arrives, in each Monte-Carlo run, when the last of them is
replaced (:attr:`ExitReport.replaced_runs`); the fallback ends when the cut-off analysis says
it runs out (at once when there is none; never when it lasts). The gap is the time between,
never negative, reported at P50 and P90 in weeks. A stopped service the plan does not replace
leaves the gap open ("not in the plan").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sovmap.exitplan.api import ExitReport
from sovmap.register.model import Register
from sovmap.scenario.model import ScenarioResult, Status


@dataclass(frozen=True, slots=True)
class Gap:
    process: str
    fallback_weeks: float | None  # how long after the cut-off the fallback runs out; None: none
    replaced_by: tuple[str, ...]  # services the plan replaces that the process waits for
    not_planned: tuple[str, ...]  # stopped services it needs that the plan does not replace
    replacement_weeks: tuple[float, float] | None  # (P50, P90) after the start
    gap_weeks: tuple[float, float] | None  # (P50, P90); None: open (not in the plan)

    @property
    def has_gap(self) -> bool:
        return self.gap_weeks is None or self.gap_weeks[1] > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            # "inf": the fallback lasts as long as the cut-off (JSON has no infinity)
            "fallback_weeks": "inf"
            if self.fallback_weeks is not None and math.isinf(self.fallback_weeks)
            else self.fallback_weeks,
            "replaced_by": list(self.replaced_by),
            "not_planned": list(self.not_planned),
            "replacement_weeks": None
            if self.replacement_weeks is None
            else {
                "p50": round(self.replacement_weeks[0], 1),
                "p90": round(self.replacement_weeks[1], 1),
            },
            "gap_weeks": None
            if self.gap_weeks is None
            else {"p50": round(self.gap_weeks[0], 1), "p90": round(self.gap_weeks[1], 1)},
        }


def uncovered_gaps(register: Register, cut: ScenarioResult, plan: ExitReport) -> tuple[Gap, ...]:
    """One :class:`Gap` per process that goes down in ``cut``."""
    stopped = set(cut.stopped)
    down = set(cut.services_down)
    out = []
    for p in cut.processes:
        if p.status is not Status.DOWN:
            continue
        needs = [
            sid
            for sid in register.closure(register.processes[p.id].services)
            if sid in down and (sid in stopped or register.services[sid].provider.value in stopped)
        ]
        # a stopped service the plan does not replace is covered when a service the plan
        # does replace runs on it (the supplier's hosting leaves with the contracted service)
        closure = register.closure(register.processes[p.id].services)
        carriers = {
            s: [t for t in closure if t in plan.replaced_runs and s in register.closure([t])[1:]]
            for s in needs
            if s not in plan.replaced_runs
        }
        planned = tuple(
            dict.fromkeys(
                [s for s in needs if s in plan.replaced_runs]
                + [t for ts in carriers.values() for t in ts]
            )
        )
        missing = tuple(s for s, ts in carriers.items() if not ts)
        if p.fallback and p.fallback_until_hours is not None:
            ends_h = p.fallback_until_hours
        else:
            ends_h = p.since_hours or 0.0
        fb_weeks = None if not p.fallback else _weeks_h(p.fallback_until_hours)
        replacement = gap = None
        if planned:
            runs = np.max(np.vstack([plan.replaced_runs[s] for s in planned]), axis=0)
            r50, r90 = (float(x) / 7.0 for x in np.percentile(runs, [50, 90]))
            replacement = (r50, r90)
            if not missing:
                ends_days = ends_h / 24.0
                g = np.maximum(0.0, runs - ends_days) if math.isfinite(ends_days) else runs * 0
                g50, g90 = (float(x) / 7.0 for x in np.percentile(g, [50, 90]))
                gap = (g50, g90)
        out.append(Gap(p.id, fb_weeks, planned, missing, replacement, gap))
    return tuple(out)


def _pair(p: tuple[float, float]) -> tuple[str, str]:
    return f"{p[0]:.0f}", f"{p[1]:.0f}"


def _weeks_h(hours: float | None) -> float | None:
    if hours is None:
        return None
    return math.inf if math.isinf(hours) else round(hours / 168.0, 1)


def gap_lines(gaps: tuple[Gap, ...]) -> list[str]:
    """The gap table as text (English, as the rest of the CLI)."""
    if not gaps:
        return []
    lines = [
        "Uncovered gap after an acute cut-off (fallback runs out -> replacement in use), weeks:",
        f"  {'PROCESS':<24}{'FALLBACK ENDS':>14}{'REPLACED P50':>14}{'P90':>8}"
        f"{'GAP P50':>10}{'P90':>8}  WAITS FOR",
    ]
    for g in sorted(gaps, key=lambda g: (g.gap_weeks is not None, g.process)):
        fb = "-" if g.fallback_weeks is None else f"{g.fallback_weeks:g}"
        r50, r90 = ("-", "-") if g.replacement_weeks is None else _pair(g.replacement_weeks)
        g50, g90 = ("open", "open") if g.gap_weeks is None else _pair(g.gap_weeks)
        lines.append(
            f"  {g.process:<24}{fb:>14}{r50:>14}{r90:>8}{g50:>10}{g90:>8}"
            f"  {', '.join(g.replaced_by) or '-'}"
            + (f"; not in the plan: {', '.join(g.not_planned)}" if g.not_planned else "")
        )
    n = sum(1 for g in gaps if g.has_gap)
    lines.append(f"  Processes with a gap: {n} of {len(gaps)} that go down.")
    return lines
