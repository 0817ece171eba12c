"""The exit plan as one library call: options, plan, schedule, forecast and what-ifs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sovmap.exitplan.build import (
    ExitSettings,
    ExitTarget,
    WhatIf,
    apply_what_if,
    build_plan,
    parse_what_if,
    select_targets,
)
from sovmap.exitplan.catalogue import Alternative, Templates, default_templates, options_for
from sovmap.exitplan.from_register import exit_targets
from sovmap.exitplan.model import Forecast, Plan, PlanError, Schedule, Task
from sovmap.exitplan.schedule import FloatArray, forecast, schedule, simulate_runs
from sovmap.register.model import Register
from sovmap.scenario.durations import HOURS_PER_UNIT, parse_duration

DAYS_PER_MONTH = HOURS_PER_UNIT["mo"] / 24.0


@dataclass(frozen=True, slots=True)
class Variant:
    """One plan variant (the baseline or a what-if) and its forecast."""

    label: str
    plan: Plan
    forecast: Forecast

    def to_json(self) -> dict[str, Any]:
        teams = dict(sorted(self.plan.teams.items()))
        return {"label": self.label, "tasks": len(self.plan.tasks), "teams": teams} | {
            "forecast": self.forecast.to_json()
        }


@dataclass(frozen=True, slots=True)
class ExitReport:
    targets: tuple[ExitTarget, ...]
    options: dict[str, tuple[Alternative, ...]]  # service id -> alternatives
    baseline: Variant
    schedule: Schedule  # at mean durations, for the Gantt chart
    what_ifs: tuple[Variant, ...]
    deadline_days: float | None
    assumptions: tuple[str, ...]
    #: the baseline forecast at the low and high end of the stated correlation range
    at_low: Forecast | None = None
    at_high: Forecast | None = None
    #: per run, when each service's replacement is in use (days): service -> finish per run
    replaced_runs: dict[str, FloatArray] = field(default_factory=dict)
    platforms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # platform -> services
    settings_used: str = ""  # how to reproduce: the settings file, if any
    #: (assumption changed, P50 days, P90 days), largest move of P50 first
    sensitivity: tuple[tuple[str, float, float], ...] = ()

    @property
    def p_deadline(self) -> float | None:
        return self.baseline.forecast.p_deadline

    @property
    def replaced(self) -> dict[str, tuple[float, float]]:
        """Per service left: (P50, P90) in days of when its replacement is in use."""
        out = {}
        for svc, runs in self.replaced_runs.items():
            p50, p90 = (float(x) for x in np.percentile(runs, [50, 90]))
            out[svc] = (p50, p90)
        return out

    @property
    def rho(self) -> tuple[float, float, float]:
        """Correlation (default, low, high) the forecasts were made at."""
        fc = self.baseline.forecast
        low = self.at_low.correlation if self.at_low else fc.correlation
        high = self.at_high.correlation if self.at_high else fc.correlation
        return fc.correlation, low, high

    @property
    def p_deadline_range(self) -> tuple[float, float] | None:
        """P(finish <= deadline) over the stated correlation range (lowest, highest)."""
        values = [
            f.p_deadline
            for f in (self.baseline.forecast, self.at_low, self.at_high)
            if f is not None and f.p_deadline is not None
        ]
        return (min(values), max(values)) if values else None

    def to_json(self) -> dict[str, Any]:
        rng = self.p_deadline_range
        fc = self.baseline.forecast
        rho, lo, hi = self.rho
        return {
            "p50_days": round(fc.p50, 3),
            "p90_days": round(fc.p90, 3),
            "p_deadline": None
            if rng is None
            else {"low": round(rng[0], 4), "high": round(rng[1], 4)},
            "correlation": {"default": rho, "low": lo, "high": hi},
            "spread": {
                label: None
                if f is None
                else {"p10_days": round(f.p10, 3), "p90_days": round(f.p90, 3)}
                for label, f in (("default", fc), ("low", self.at_low), ("high", self.at_high))
            },
            "platforms": {k: list(v) for k, v in self.platforms.items()},
            "replacement_weeks": {
                k: {"p50": round(v[0] / 7, 2), "p90": round(v[1] / 7, 2)}
                for k, v in self.replaced.items()
            },
            "sensitivity": [
                {"assumption": a, "p50_days": round(p50, 3), "p90_days": round(p90, 3)}
                for a, p50, p90 in self.sensitivity
            ],
            "deadline_days": self.deadline_days,
            "targets": [
                {
                    "service": t.service,
                    "name": t.name,
                    "capability": t.capability,
                    "provider": t.provider,
                    "jurisdiction": t.jurisdiction,
                    "options": [a.to_json() for a in self.options.get(t.service, ())],
                }
                for t in self.targets
            ],
            "baseline": self.baseline.to_json(),
            "what_ifs": [w.to_json() for w in self.what_ifs],
            "schedule": [
                {
                    "task": s.task.id,
                    "name": s.task.name,
                    "team": s.task.team,
                    "group": s.task.group,
                    "start_days": round(s.start, 3),
                    "finish_days": round(s.finish, 3),
                    "estimate": [
                        s.task.estimate.optimistic,
                        s.task.estimate.likely,
                        s.task.estimate.pessimistic,
                    ],
                    "after": list(s.task.after),
                    "basis": s.task.source,
                    "service": s.task.service,
                    "size_factor": round(s.task.size_factor, 4),
                }
                for s in self.schedule.tasks
            ],
            "assumptions": list(self.assumptions),
        }


def _curve_name(task: Task, templates: Templates) -> str:
    steps = templates.templates.get(task.capability, ())
    return next((s.curve for s in steps if s.step == task.step), "")


def standard_assumptions(
    plan: Plan, templates: Templates, rho: tuple[float, float, float]
) -> tuple[str, ...]:
    teams = ", ".join(f"{k}={v or 'unlimited'}" for k, v in sorted(plan.teams.items()))
    platforms: dict[str, list[str]] = {}
    for t in plan.tasks:
        if t.service:
            platforms.setdefault(t.group, [])
            if t.service not in platforms[t.group]:
                platforms[t.group].append(t.service)
    curves = sorted({c for t in plan.tasks if (c := _curve_name(t, templates))})
    out = [
        "Durations are calendar days; a month is 30.44 days.",
        f"Three-point estimates are sampled from the {plan.distribution.value} distribution.",
        f"Task delays are correlated: Gaussian copula with one common factor per programme, "
        f"rho {rho[0]:g} (P50/P90 at this value); the probability of meeting the deadline is "
        f"given over rho {rho[1]:g}-{rho[2]:g}. Basis: {templates.correlation.basis}",
        "Shared work is planned once per target platform: "
        + "; ".join(f"{p}: {', '.join(s)}" for p, s in platforms.items()),
    ]
    out += [
        f"Risk event {r.id}: {r.name}, probability {r.probability:g} per task of step "
        f"{'/'.join(r.steps)}, delay {r.delay.optimistic:g}-{r.delay.likely:g}-"
        f"{r.delay.pessimistic:g} days ({r.basis})."
        for r in plan.risks
    ]
    out += [
        f"Size curve {c.name}: factor (size/{c.reference:g})^{c.exponent:g} of {c.driver}, "
        f"between {c.low:g} and {c.high:g} ({c.basis})."
        for c in (templates.curves[name] for name in curves if name in templates.curves)
    ]
    out += list(plan.notes)
    out += [
        f"Team capacity (tasks at the same time): {teams}.",
        "The plan starts at day 0 with no work done (unless exit.yaml lists tasks as done).",
        "Tasks are scheduled by a list scheduler: longest remaining chain first, each task on "
        "its team's first free slot, no back-filling.",
        "Step estimates are assumptions calibrated on public cases:",
    ]
    out.extend(f"  - {fact} ({src})" for fact, src in templates.calibration)
    return tuple(out)


def plan_exit(
    targets: tuple[ExitTarget, ...],
    *,
    settings: ExitSettings | None = None,
    deadline_days: float | None = None,
    runs: int = 10_000,
    seed: int | None = None,
    what_ifs: tuple[WhatIf, ...] = (),
    templates: Templates | None = None,
    settings_name: str = "",
    sensitivity: bool = False,
) -> ExitReport:
    """Plan leaving ``targets`` (those selected by ``settings``) and forecast it; with
    ``sensitivity``, also how much each assumption moves P50 (:func:`sensitivity_table`)."""
    tpl = templates or default_templates()
    st = settings or ExitSettings()
    chosen = select_targets(targets, st)
    if not chosen:
        raise PlanError(
            "nothing to leave: no service matches "
            + (
                f"services {list(st.services)}"
                if st.services
                else f"jurisdictions {list(st.jurisdictions)}"
            )
        )
    plan = build_plan(chosen, st, tpl)
    corr = tpl.correlation
    rho = st.correlation or (plan.correlation, corr.low, corr.high)
    fc, _, finish = simulate_runs(plan, runs=runs, seed=seed, deadline=deadline_days)
    at_low = at_high = None
    if rho[1] != rho[0]:
        at_low = forecast(replace(plan, correlation=rho[1]), runs, seed, deadline_days)[0]
    if rho[2] != rho[0]:
        at_high = forecast(replace(plan, correlation=rho[2]), runs, seed, deadline_days)[0]
    variants = []
    for wi in what_ifs:
        alt = apply_what_if(plan, wi, tpl)
        variants.append(Variant(wi.label, alt, forecast(alt, runs, seed, deadline_days)[0]))
    return ExitReport(
        targets=chosen,
        options={t.service: options_for(t.capability, tpl) for t in chosen},
        baseline=Variant("baseline", plan, fc),
        schedule=schedule(plan),
        what_ifs=tuple(variants),
        deadline_days=deadline_days,
        assumptions=standard_assumptions(plan, tpl, rho) + st.assumptions,
        at_low=at_low,
        at_high=at_high,
        replaced_runs=replacement_runs(plan, finish, tuple(t.service for t in chosen)),
        platforms=_platforms(plan),
        settings_used=settings_name,
        sensitivity=sensitivity_table(plan, tpl, rho, runs, seed, fc) if sensitivity else (),
    )


def sensitivity_table(
    plan: Plan,
    tpl: Templates,
    rho: tuple[float, float, float],
    runs: int,
    seed: int | None,
    base: Forecast,
) -> tuple[tuple[str, float, float], ...]:
    """Which assumption moves the end date most: (assumption changed, P50 days, P90 days),
    largest change of P50 first, each with the same seed."""
    variants: list[tuple[str, Plan]] = [
        (f"correlation rho {rho[1]:g} instead of {rho[0]:g}", replace(plan, correlation=rho[1])),
        (f"correlation rho {rho[2]:g} instead of {rho[0]:g}", replace(plan, correlation=rho[2])),
        ("no risk events", replace(plan, risks=())),
        ("independent durations (rho 0)", replace(plan, correlation=0.0)),
        ("every team twice the capacity", apply_what_if(plan, parse_what_if("capacity*2"), tpl)),
        (
            "target platforms already built (prebuilt-fallback)",
            apply_what_if(plan, parse_what_if("prebuilt-fallback"), tpl),
        ),
        (
            "estimates 25 % longer",
            replace(
                plan, tasks=tuple(replace(t, estimate=t.estimate.scaled(1.25)) for t in plan.tasks)
            ),
        ),
    ]
    out = []
    for label, alt in variants:
        fc = forecast(alt, runs, seed)[0]
        out.append((label, fc.p50, fc.p90))
    return tuple(sorted(out, key=lambda r: -abs(r[1] - base.p50)))


def replacement_runs(
    plan: Plan, finish: FloatArray, services: tuple[str, ...]
) -> dict[str, FloatArray]:
    """Per service left, per run: when its replacement is in use (days): the finish of its
    own tasks and of every task they wait for (its platform's shared work included)."""
    if finish.shape[1] == 0:
        return {}
    index = {t.id: i for i, t in enumerate(plan.tasks)}
    preds = {t.id: t.after for t in plan.tasks}
    out: dict[str, FloatArray] = {}
    for svc in services:
        own = [t.id for t in plan.tasks if t.service == svc]
        if not own:
            continue
        # everything the service's tasks wait for, transitively, is done before it is
        seen: set[str] = set()
        stack = list(own)
        while stack:
            tid = stack.pop()
            if tid not in seen:
                seen.add(tid)
                stack.extend(preds.get(tid, ()))
        cols = [index[i] for i in seen if i in index]
        out[svc] = finish[:, cols].max(axis=1)
    return out


def _platforms(plan: Plan) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for t in plan.tasks:
        if t.service and t.service not in out.setdefault(t.group, []):
            out[t.group].append(t.service)
    return {k: tuple(v) for k, v in out.items() if v}


def plan_register_exit(
    register: Register,
    *,
    settings: ExitSettings | None = None,
    deadline: str = "",
    runs: int = 10_000,
    seed: int | None = None,
    jurisdictions: tuple[str, ...] = (),
    what_ifs: tuple[str, ...] = (),
    settings_name: str = "",
    sensitivity: bool = False,
) -> ExitReport:
    """The exit plan of a loaded register: what ``sovmap exit plan``, the web and the report
    call. ``jurisdictions`` (selectors such as ``US``, ``non-EU``) replace the settings' own;
    ``deadline`` (a duration such as ``9mo``) the settings' deadline. Problems are raised as
    :class:`PlanError` or :class:`~sovmap.scenario.durations.DurationError`."""
    st = settings or ExitSettings()
    if jurisdictions:
        st = replace(st, jurisdictions=tuple(jurisdictions))
    text = deadline or st.deadline
    return plan_exit(
        exit_targets(register),
        settings=st,
        deadline_days=parse_duration(text) / 24.0 if text else None,
        runs=runs,
        seed=seed,
        what_ifs=tuple(parse_what_if(w) for w in what_ifs),
        settings_name=settings_name,
        sensitivity=sensitivity,
    )
