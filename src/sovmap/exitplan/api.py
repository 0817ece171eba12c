"""The exit plan as one library call: options, plan, schedule, forecast and what-ifs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

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
from sovmap.exitplan.model import Forecast, Plan, PlanError, Schedule
from sovmap.exitplan.schedule import forecast, schedule
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

    @property
    def p_deadline(self) -> float | None:
        return self.baseline.forecast.p_deadline

    def to_json(self) -> dict[str, Any]:
        return {
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
                }
                for s in self.schedule.tasks
            ],
            "assumptions": list(self.assumptions),
        }


def standard_assumptions(plan: Plan, templates: Templates) -> tuple[str, ...]:
    teams = ", ".join(f"{k}={v or 'unlimited'}" for k, v in sorted(plan.teams.items()))
    out = [
        "Durations are calendar days; a month is 30.44 days.",
        f"Three-point estimates are sampled from the {plan.distribution.value} distribution.",
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
) -> ExitReport:
    """Plan leaving ``targets`` (those selected by ``settings``) and forecast it."""
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
    fc, _ = forecast(plan, runs=runs, seed=seed, deadline=deadline_days)
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
        assumptions=standard_assumptions(plan, tpl) + st.assumptions,
    )


def plan_register_exit(
    register: Register,
    *,
    settings: ExitSettings | None = None,
    deadline: str = "",
    runs: int = 10_000,
    seed: int | None = None,
    jurisdictions: tuple[str, ...] = (),
    what_ifs: tuple[str, ...] = (),
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
    )
