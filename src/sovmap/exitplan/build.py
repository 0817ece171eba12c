"""From "what we leave" to a plan: templates per dependency, settings, what-ifs. Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sovmap.control import US, Control, Link, control_from_chain, controlled_from
from sovmap.exitplan.catalogue import Templates, default_templates, load_validated
from sovmap.exitplan.model import Distribution, Estimate, Plan, PlanError, Task


@dataclass(frozen=True, slots=True)
class ExitTarget:
    """One dependency to leave: a service and who provides it."""

    service: str
    name: str
    capability: str
    provider: str = ""
    provider_name: str = ""
    jurisdiction: str = ""  # the controlling jurisdiction ("" unknown)
    #: who controls the provider (its ownership chain); None: only ``jurisdiction`` is known
    control: Control | None = None
    #: size drivers from the register (None: unknown)
    users: int | None = None
    integrations: int | None = None  # services of the register that depend on it
    records: int | None = None  # records of the data assets it stores
    #: suppliers behind the contracted service (hosting it runs on that the organisation does
    #: not contract, subcontractors): (provider id, who controls it)
    suppliers: tuple[tuple[str, Control], ...] = ()

    def size(self, driver: str) -> int | None:
        value: int | None = getattr(self, driver)
        return value

    def ownership(self) -> Control:
        if self.control is not None:
            return self.control
        return control_from_chain((Link(self.provider, jurisdiction=self.jurisdiction),))


@dataclass(frozen=True, slots=True)
class ExitSettings:
    """An organisation's own settings (``exit.yaml`` next to the register files)."""

    jurisdictions: tuple[str, ...] = (US,)  # selectors (sovmap.control.parse_selector)
    services: tuple[str, ...] = ()  # explicit list; overrides jurisdictions when given
    exclude: tuple[str, ...] = ()
    deadline: str = ""
    distribution: Distribution | None = None
    teams: dict[str, int] = field(default_factory=dict)
    estimates: dict[str, Estimate] = field(default_factory=dict)  # "service/step" -> estimate
    done: tuple[str, ...] = ()  # task ids already finished
    tasks: tuple[Task, ...] = ()  # extra tasks
    assumptions: tuple[str, ...] = ()
    #: correlation of task delays: (default, low, high); None: the templates' values
    correlation: tuple[float, float, float] | None = None
    risks: bool = True  # apply the templates' risk events


def parse_settings(text: str, where: str) -> ExitSettings:
    raw: dict[str, Any] = load_validated(text, where, "exit.schema.json") or {}
    ex = raw.get("exit", {})
    return ExitSettings(
        jurisdictions=tuple(j.upper() for j in ex.get("jurisdictions", [US])),
        services=tuple(ex.get("services", ())),
        exclude=tuple(ex.get("exclude", ())),
        deadline=raw.get("deadline", ""),
        distribution=Distribution(raw["distribution"]) if "distribution" in raw else None,
        teams=dict(raw.get("teams", {})),
        estimates={k: Estimate(*map(float, v)) for k, v in raw.get("estimates", {}).items()},
        done=tuple(raw.get("done", ())),
        tasks=tuple(
            Task(
                id=t["id"],
                name=t["name"],
                team=t["team"],
                estimate=Estimate(*map(float, t["estimate"])),
                after=tuple(t.get("after", ())),
                group=t.get("group", "organisation"),
                step="custom",
                source=where,
            )
            for t in raw.get("tasks", ())
        ),
        assumptions=tuple(raw.get("assumptions", ())),
        correlation=_correlation(raw.get("correlation"), where),
        risks=bool(raw.get("risks", True)),
    )


def _correlation(raw: dict[str, float] | None, where: str) -> tuple[float, float, float] | None:
    if raw is None:
        return None
    tpl = default_templates().correlation
    d = float(raw.get("default", tpl.default))
    lo = float(raw.get("low", min(d, tpl.low)))
    hi = float(raw.get("high", max(d, tpl.high)))
    if not lo <= d <= hi:
        raise PlanError(f"{where}: field correlation: need low <= default <= high")
    return d, lo, hi


def load_exit_settings(path: Path) -> ExitSettings:
    """An exit-plan settings file; an unreadable one is a :class:`PlanError`."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the exit-plan settings: {exc}") from exc
    return parse_settings(text, str(path))


def select_targets(
    targets: tuple[ExitTarget, ...], settings: ExitSettings
) -> tuple[ExitTarget, ...]:
    if settings.services:
        known = {t.service for t in targets}
        for s in settings.services:
            if s not in known:
                raise PlanError(f"exit.yaml: field exit/services: unknown service {s!r}")
        chosen = [t for t in targets if t.service in settings.services]
    else:
        try:
            chosen = [
                t
                for t in targets
                if any(
                    controlled_from(j, c)
                    for j in settings.jurisdictions
                    for c in (t.ownership(), *(sc for _, sc in t.suppliers))
                )
            ]
        except ValueError as exc:
            raise PlanError(f"exit/jurisdictions: {exc}") from exc
    return tuple(t for t in chosen if t.service not in settings.exclude)


def build_plan(
    targets: tuple[ExitTarget, ...],
    settings: ExitSettings | None = None,
    templates: Templates | None = None,
) -> Plan:
    """Instantiate the templates per target *platform*: shared steps (``scope: platform``:
    procurement, build, pilot, gates, roll-out, training) once for every service moving to
    that platform (id ``PLATFORM/step``), the others per service (``service/step``).

    A capability in no platform is a platform of its own per service. ``after: [@cap/step]``
    waits for that step of every service of that capability being left (its platform task
    when the step is shared). Estimates scale with the size curve a step names, from the
    service's (for shared steps, the platform's largest) size driver. Tasks listed as done
    are dropped (their successors no longer wait for them).
    """
    tpl = templates or default_templates()
    st = settings or ExitSettings()
    by_cap: dict[str, list[ExitTarget]] = {}
    platform: dict[str, str] = {}
    for t in targets:
        cap = tpl.canonical(t.capability)
        by_cap.setdefault(cap, []).append(t)
        platform[t.service] = tpl.platform_of(cap) or t.service
    members: dict[str, list[ExitTarget]] = {}
    for t in targets:
        members.setdefault(platform[t.service], []).append(t)

    def task_id(t: ExitTarget, cap: str, step: str) -> str:
        shared = tpl.step(cap, step).scope == "platform"
        return f"{platform[t.service]}/{step}" if shared else f"{t.service}/{step}"

    notes: list[str] = []
    unknown_sizes: set[tuple[str, str]] = set()

    def size(t: ExitTarget, shared: bool, driver: str) -> int | None:
        group = members[platform[t.service]] if shared else [t]
        known = [x for g in group if (x := g.size(driver)) is not None]
        for g in group:
            if g.size(driver) is None:
                unknown_sizes.add((g.service, driver))
        return max(known) if known else None

    tasks: dict[str, Task] = {}
    for t in targets:
        cap = tpl.canonical(t.capability)
        for s in tpl.templates[cap]:
            after: list[str] = []
            for ref in s.after:
                if ref.startswith("@"):
                    other, _, step = ref[1:].partition("/")
                    after.extend(task_id(o, other, step) for o in by_cap.get(other, ()))
                else:
                    after.append(task_id(t, cap, ref))
            tid = task_id(t, cap, s.step)
            shared = s.scope == "platform"
            factor = 1.0
            if s.curve:
                curve = tpl.curves[s.curve]
                factor = curve.factor(size(t, shared, curve.driver))
            estimate = st.estimates.get(tid, s.estimate.scaled(factor))
            after = [a for a in dict.fromkeys(after) if a != tid]
            old = tasks.get(tid)
            if old is not None:  # the same shared step reached from another service
                if tid not in st.estimates:
                    estimate = Estimate(
                        *(
                            max(x, y)
                            for x, y in zip(
                                (
                                    old.estimate.optimistic,
                                    old.estimate.likely,
                                    old.estimate.pessimistic,
                                ),
                                (estimate.optimistic, estimate.likely, estimate.pessimistic),
                                strict=True,
                            )
                        )
                    )
                tasks[tid] = replace(
                    old,
                    estimate=estimate,
                    after=tuple(dict.fromkeys((*old.after, *after))),
                    size_factor=max(old.size_factor, factor),
                )
                continue
            tasks[tid] = Task(
                id=tid,
                name=s.name,
                team=s.team,
                estimate=estimate,
                after=tuple(after),
                group=platform[t.service],
                capability=cap,
                step=s.step,
                what_if=dict(s.what_if),
                source="settings" if tid in st.estimates else s.basis,
                service="" if shared and platform[t.service] != t.service else t.service,
                size_factor=factor,
            )
    for service, driver in sorted(unknown_sizes):
        notes.append(
            f"Size unknown: {driver} of {service}; its steps use the curve's reference size."
        )
    all_tasks = (*tasks.values(), *st.tasks)
    teams = dict(tpl.teams)
    teams.update(st.teams)
    rho = st.correlation[0] if st.correlation else tpl.correlation.default
    plan = Plan(
        tuple(all_tasks),
        teams,
        st.distribution or tpl.distribution,
        notes=tuple(notes),
        correlation=rho,
        risks=tpl.risks if st.risks else (),
    )
    ids = {t.id for t in plan.tasks}
    for d in st.done:
        if d not in ids:
            raise PlanError(f"exit.yaml: field done: unknown task {d!r}")
    for key in st.estimates:
        if key not in ids:
            raise PlanError(f"exit.yaml: field estimates: unknown task {key!r}")
    plan = remove_tasks(plan, set(st.done))
    plan.validate()
    return plan


def remove_tasks(plan: Plan, drop: set[str]) -> Plan:
    """Drop tasks; their successors inherit their predecessors, so order is kept."""
    if not drop:
        return plan
    preds = {t.id: t.after for t in plan.tasks}

    def live(ids: tuple[str, ...], seen: frozenset[str] = frozenset()) -> list[str]:
        out: list[str] = []
        for i in ids:
            if i in drop:
                if i not in seen:
                    out.extend(live(preds.get(i, ()), seen | {i}))
            else:
                out.append(i)
        return out

    kept = tuple(
        replace(t, after=tuple(dict.fromkeys(live(t.after))))
        for t in plan.tasks
        if t.id not in drop
    )
    return replace(plan, tasks=kept)


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A change to compare with the baseline plan.

    ``flag`` (``prebuilt-fallback`` / ``data-backup``) applies each step's factor from the
    template, for one capability or all; ``capacity`` sets teams' capacity; ``add`` adds to
    every team's capacity; ``scale`` multiplies every team's capacity.
    """

    label: str
    flag: str = ""
    capability: str = ""
    capacity: dict[str, int] = field(default_factory=dict)
    add: int = 0
    scale: float = 1.0
    also: tuple[WhatIf, ...] = ()  # further changes applied after this one (a combination)


_CAP = re.compile(r"^capacity([+*])(\d+(?:\.\d+)?)$")
_SET = re.compile(r"^capacity:([a-z0-9-]+)=(\d+)$")


def parse_what_if(text: str) -> WhatIf:
    """``prebuilt-fallback[=CAP]``, ``data-backup[=CAP]``, ``capacity+N``, ``capacity*K``,
    ``capacity:TEAM=N``; several joined by commas are applied together."""
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) > 1:
        first, *rest = (_parse_one(p) for p in parts)
        return replace(first, label=text.strip().lower(), also=tuple(rest))
    return _parse_one(text)


def _parse_one(text: str) -> WhatIf:
    s = text.strip().lower()
    name, _, arg = s.partition("=")
    if name in ("prebuilt-fallback", "data-backup") and not s.startswith("capacity"):
        return WhatIf(label=s, flag=name, capability=arg)
    if m := _CAP.match(s):
        if m.group(1) == "+":
            return WhatIf(label=s, add=int(float(m.group(2))))
        return WhatIf(label=s, scale=float(m.group(2)))
    if m := _SET.match(s):
        return WhatIf(label=s, capacity={m.group(1): int(m.group(2))})
    raise PlanError(
        f"unknown what-if {text!r}: use prebuilt-fallback[=CAPABILITY], data-backup[=CAPABILITY], "
        "capacity+N, capacity*K or capacity:TEAM=N"
    )


def apply_what_if(plan: Plan, wi: WhatIf, templates: Templates | None = None) -> Plan:
    tpl = templates or default_templates()
    teams = dict(plan.teams)
    for team, n in wi.capacity.items():
        if team not in teams:
            raise PlanError(f"what-if {wi.label!r}: unknown team {team!r}")
        teams[team] = n
    if wi.add or wi.scale != 1.0:
        teams = {
            k: (0 if v == 0 else max(1, math.floor((v + wi.add) * wi.scale)))
            for k, v in teams.items()
        }
    out = replace(plan, teams=teams)
    if wi.flag:
        scope = tpl.canonical(wi.capability) if wi.capability else ""
        drop: set[str] = set()
        tasks = []
        for t in out.tasks:
            factor = t.what_if.get(wi.flag)
            if factor is None or (scope and t.capability != scope):
                tasks.append(t)
            elif factor == 0:
                drop.add(t.id)
                tasks.append(t)
            else:
                tasks.append(replace(t, estimate=t.estimate.scaled(factor)))
        out = remove_tasks(replace(out, tasks=tuple(tasks)), drop)
    for more in wi.also:
        out = apply_what_if(out, more, tpl)
    return out
