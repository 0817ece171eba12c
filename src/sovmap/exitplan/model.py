"""Value types of an exit plan: tasks with three-point estimates, teams, and results.

Durations are calendar days. A task is done by one person/slot of one team; a team with
capacity ``c`` works on at most ``c`` tasks at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sovmap.errors import SovmapError


class PlanError(SovmapError, ValueError):
    """A plan is inconsistent; the message names the task or team and the field."""


class Distribution(StrEnum):
    """How a three-point estimate (optimistic a, most likely m, pessimistic b) is sampled.

    ``pert``: the PERT-Beta distribution on [a, b] with shape parameters
    ``1 + 4(m-a)/(b-a)`` and ``1 + 4(b-m)/(b-a)``; mean ``(a + 4m + b) / 6``.
    ``triangular``: the triangular distribution (a, m, b); mean ``(a + m + b) / 3``.
    ``uniform``: uniform on [a, b] (m is ignored); mean ``(a + b) / 2``.
    """

    PERT = "pert"
    TRIANGULAR = "triangular"
    UNIFORM = "uniform"


@dataclass(frozen=True, slots=True)
class Estimate:
    optimistic: float
    likely: float
    pessimistic: float

    def mean(self, dist: Distribution) -> float:
        a, m, b = self.optimistic, self.likely, self.pessimistic
        if dist is Distribution.PERT:
            return (a + 4 * m + b) / 6.0
        if dist is Distribution.TRIANGULAR:
            return (a + m + b) / 3.0
        return (a + b) / 2.0

    def scaled(self, factor: float) -> Estimate:
        return Estimate(self.optimistic * factor, self.likely * factor, self.pessimistic * factor)


@dataclass(frozen=True, slots=True)
class Risk:
    """An event that delays every task of the named template steps, in a share
    ``probability`` of runs (independently per task), by a three-point ``delay``."""

    id: str
    name: str
    probability: float
    delay: Estimate
    steps: tuple[str, ...]
    basis: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    name: str
    team: str
    estimate: Estimate
    after: tuple[str, ...] = ()  # ids of tasks that must finish first
    group: str = ""  # what the task belongs to (the dependency being exited)
    capability: str = ""
    step: str = ""  # the template step (e.g. "export-data")
    what_if: dict[str, float] = field(default_factory=dict)  # flag -> factor on the estimate
    source: str = ""
    service: str = ""  # the service a per-service step belongs to; "" for shared platform work
    size_factor: float = 1.0  # the size curve's factor already applied to the estimate


@dataclass(frozen=True, slots=True)
class Plan:
    tasks: tuple[Task, ...]
    teams: dict[str, int]  # team id -> capacity (parallel tasks); 0 = unlimited
    distribution: Distribution = Distribution.PERT
    notes: tuple[str, ...] = ()
    correlation: float = 0.0  # rho of the Gaussian copula between task durations
    risks: tuple[Risk, ...] = ()

    def validate(self) -> None:
        ids: set[str] = set()
        for t in self.tasks:
            if t.id in ids:
                raise PlanError(f"task {t.id!r}: id used twice")
            ids.add(t.id)
        for t in self.tasks:
            e = t.estimate
            if not (0 <= e.optimistic <= e.likely <= e.pessimistic) or math.isinf(e.pessimistic):
                raise PlanError(
                    f"task {t.id!r}: field estimate: need 0 <= optimistic <= likely <= "
                    f"pessimistic < inf, got {e.optimistic}, {e.likely}, {e.pessimistic}"
                )
            if t.team not in self.teams:
                raise PlanError(f"task {t.id!r}: field team: unknown team {t.team!r}")
            for a in t.after:
                if a not in ids:
                    raise PlanError(f"task {t.id!r}: field after: unknown task {a!r}")
        for team, cap in self.teams.items():
            if cap < 0:
                raise PlanError(f"team {team!r}: field capacity: must be >= 0, got {cap}")


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    task: Task
    start: float
    finish: float
    lane: int  # which slot of the team did it (0-based); -1 for unlimited teams


@dataclass(frozen=True, slots=True)
class Schedule:
    """One deterministic schedule (durations fixed, e.g. at their means)."""

    tasks: tuple[ScheduledTask, ...]
    makespan: float


@dataclass(frozen=True, slots=True)
class Forecast:
    """The Monte-Carlo answer: duration percentiles and the chance of meeting the deadline."""

    runs: int
    seed: int | None
    distribution: Distribution
    mean: float
    std: float
    p10: float
    p50: float
    p90: float
    deadline: float | None
    p_deadline: float | None  # probability of finishing within the deadline, 0..1
    critical: dict[str, float] = field(default_factory=dict)  # group -> share of runs it ends last
    correlation: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "seed": self.seed,
            "distribution": self.distribution.value,
            "mean_days": round(self.mean, 3),
            "std_days": round(self.std, 3),
            "p10_days": round(self.p10, 3),
            "p50_days": round(self.p50, 3),
            "p90_days": round(self.p90, 3),
            "deadline_days": self.deadline,
            "p_deadline": None if self.p_deadline is None else round(self.p_deadline, 4),
            "critical": {k: round(v, 4) for k, v in self.critical.items()},
            "correlation": self.correlation,
        }
