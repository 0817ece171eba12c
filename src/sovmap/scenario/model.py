"""Input and result types of the cut-off simulation.

The simulation works on a small, generic inventory: providers (with their ultimate parent
and the jurisdiction that controls them, and subcontractors they rely on), services (an
application or ICT service with one capability, run by a provider, depending on other
services), data assets (stored in one or more services; any copy suffices) and processes
(depending on services and data, with recovery objectives, escalation thresholds and
fallbacks). ``sovmap.scenario.from_register`` builds one from a loaded register.
All times are hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sovmap.control import Control, Link, Reason, control_from_chain
from sovmap.errors import SovmapError
from sovmap.scenario.counting import Audience, Population, unknown_population


class Strength(StrEnum):
    """How a dependency fails its dependent: ``hard`` takes it down, ``soft`` degrades it."""

    HARD = "hard"
    SOFT = "soft"


class Status(StrEnum):
    """The state of a process, service or data asset under a cut-off.

    ``down``: a hard dependency (or every alternative of a redundant one) has stopped, so the
    process cannot run. ``degraded``: it still runs, but something it relies on, directly or
    through other components (a soft dependency, one copy of a redundant pair, a service
    used by a service), has stopped; or it runs on a fallback. ``unaffected``: nothing it
    relies on has stopped.
    """

    DOWN = "down"
    DEGRADED = "degraded"
    UNAFFECTED = "unaffected"


class ScenarioError(SovmapError, ValueError):
    """An inventory or scenario is inconsistent; the message names the element and field."""


@dataclass(frozen=True, slots=True)
class Dependency:
    """A dependency on one target, or on alternatives of which any one suffices."""

    targets: tuple[str, ...]
    strength: Strength = Strength.HARD

    @classmethod
    def on(cls, *targets: str, soft: bool = False) -> Dependency:
        return cls(tuple(targets), Strength.SOFT if soft else Strength.HARD)


@dataclass(frozen=True, slots=True)
class ProviderNode:
    id: str
    name: str = ""
    parent: str = ""  # ultimate parent id; "" means the provider is its own parent
    jurisdiction: str = ""  # ISO 3166 code of the state whose law controls the parent
    subcontractors: tuple[str, ...] = ()  # providers it cannot work without
    aliases: tuple[str, ...] = ()  # other ids that select it (e.g. the knowledge-base id)
    parent_aliases: tuple[str, ...] = ()  # other ids of its ultimate parent
    #: who controls it (its ownership chain); None: only ``jurisdiction`` is known
    control: Control | None = None

    @property
    def parent_id(self) -> str:
        return self.parent or self.id

    def ownership(self) -> Control:
        """Its control, for the jurisdiction selector; from ``jurisdiction`` alone when the
        inventory was built without ownership chains."""
        if self.control is not None:
            return self.control
        return control_from_chain((Link(self.id, self.name, jurisdiction=self.jurisdiction),))


@dataclass(frozen=True, slots=True)
class ServiceNode:
    id: str
    name: str = ""
    capability: str = ""
    provider: str = ""  # provider id; "" for services run in-house
    depends_on: tuple[Dependency, ...] = ()  # on other services
    subcontractors: tuple[str, ...] = ()  # providers behind this service only (hosting)


@dataclass(frozen=True, slots=True)
class Backup:
    """A copy of a data asset outside its live stores, restorable after ``restore_hours``."""

    location: str  # the service that holds the copy
    restore_hours: float


@dataclass(frozen=True, slots=True)
class DataAsset:
    id: str
    name: str = ""
    classification: str = ""
    stored_in: tuple[str, ...] = ()  # services holding a live copy; any one suffices
    backups: tuple[Backup, ...] = ()


@dataclass(frozen=True, slots=True)
class Threshold:
    """The impact a process reaches once an outage has lasted ``after_hours``."""

    after_hours: float
    impact: str  # a stable code, e.g. "minor", "serious", "critical"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Fallback:
    """A documented way to keep a process going: ready ``ready_hours`` after it goes down,
    provided none of the nodes in ``requires`` is down by then; it carries the process for
    ``lasts_hours`` (a manual procedure that works for two weeks), after which the process
    is down again."""

    id: str
    ready_hours: float
    requires: tuple[str, ...] = ()
    lasts_hours: float = math.inf
    name: str = ""


@dataclass(frozen=True, slots=True)
class ProcessNode:
    id: str
    name: str = ""
    depends_on: tuple[Dependency, ...] = ()
    data: tuple[str, ...] = ()  # data assets the process cannot run without
    rto_hours: float | None = None  # recovery time objective
    mtpd_hours: float | None = None  # maximum tolerable period of disruption
    people: int | None = None  # people served (None: unknown); used when no audience groups
    organisations: int | None = None  # organisations served (None: unknown)
    audience: tuple[str, ...] = ()  # ids of the population's audience groups it serves
    thresholds: tuple[Threshold, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()

    @property
    def bearable_hours(self) -> float | None:
        """The longest outage the process can bear: its MTPD, else its RTO."""
        return self.mtpd_hours if self.mtpd_hours is not None else self.rto_hours

    @property
    def served(self) -> Audience:
        return Audience(self.audience, self.people, self.organisations)


@dataclass(frozen=True, slots=True)
class Inventory:
    providers: tuple[ProviderNode, ...] = ()
    services: tuple[ServiceNode, ...] = ()
    data: tuple[DataAsset, ...] = ()
    processes: tuple[ProcessNode, ...] = ()
    #: the population and audience groups the processes serve (counting.py)
    population: Population = field(default_factory=unknown_population)

    def validate(self) -> None:
        """Raise ScenarioError on duplicate ids and references to unknown ids.

        Each kind has its own id space (a process may share its id with a service).
        Dependencies, fallbacks and back-ups refer to services; subcontractors to providers.
        """
        ids: dict[str, set[str]] = {}
        for kind, items in (
            ("provider", self.providers),
            ("service", self.services),
            ("data", self.data),
            ("process", self.processes),
        ):
            seen = ids.setdefault(kind, set())
            for item in items:
                if not item.id:
                    raise ScenarioError(f"{kind} with an empty id")
                if item.id in seen:
                    raise ScenarioError(f"{kind} {item.id!r}: id used twice")
                seen.add(item.id)

        def need(owner: str, fld: str, ref: str, kind: str) -> None:
            if ref not in ids[kind]:
                raise ScenarioError(f"{owner}: field {fld}: unknown {kind} {ref!r}")

        for p in self.providers:
            for s in p.subcontractors:
                need(f"provider {p.id!r}", "subcontractors", s, "provider")
        for sv in self.services:
            if sv.provider:
                need(f"service {sv.id!r}", "provider", sv.provider, "provider")
            for s in sv.subcontractors:
                need(f"service {sv.id!r}", "subcontractors", s, "provider")
            for dep in sv.depends_on:
                for t in dep.targets:
                    need(f"service {sv.id!r}", "depends_on", t, "service")
        for d in self.data:
            for s in d.stored_in:
                need(f"data {d.id!r}", "stored_in", s, "service")
            for b in d.backups:
                need(f"data {d.id!r}", "backups/location", b.location, "service")
        for pr in self.processes:
            for dep in pr.depends_on:
                for t in dep.targets:
                    need(f"process {pr.id!r}", "depends_on", t, "service")
            for d_id in pr.data:
                need(f"process {pr.id!r}", "data", d_id, "data")
            for fb in pr.fallbacks:
                for r in fb.requires:
                    need(f"process {pr.id!r}", f"fallbacks/{fb.id}/requires", r, "service")
        problems = self.population.validate({pr.id: pr.served for pr in self.processes})
        if problems:
            raise ScenarioError(problems[0])


@dataclass(frozen=True, slots=True)
class Selector:
    """What stops. Given criteria are combined with AND.

    Without ``capability`` the selected *providers* stop (and with them everything they
    run); with it, only the selected providers' services of that capability stop (all
    providers when no provider criterion is given).
    """

    provider: str = ""
    parent: str = ""
    jurisdiction: str = ""
    capability: str = ""

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.to_json().items() if v]
        return ",".join(parts) or "nothing"

    def to_json(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "parent": self.parent,
            "jurisdiction": self.jurisdiction,
            "capability": self.capability,
        }


@dataclass(frozen=True, slots=True)
class Cut:
    selector: Selector
    start_hours: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """Cut-offs, when access comes back (``inf``: never) and an optional moment to assess."""

    cuts: tuple[Cut, ...]
    ends_hours: float = math.inf
    assess_hours: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    id: str
    name: str
    status: Status
    since_hours: float | None  # when it went down / became degraded
    path: tuple[str, ...]  # the process, then the dependency chain to a stopped node
    people: int | None  # served by this process, each counted once (None: unknown)
    organisations: int | None
    unreachable_data: tuple[str, ...]
    fallback: str = ""  # id of the fallback that ends the outage
    fallback_from_hours: float | None = None  # when the fallback is running
    fallback_until_hours: float | None = None  # when it can no longer carry the process
    outage_hours: float = 0.0  # how long the process is down (inf: until access returns)
    rto_hours: float | None = None
    rto_breached: bool | None = None
    bearable_hours: float | None = None
    bearable_exceeded: bool | None = None
    impact: str = ""  # the highest escalation threshold reached
    impacts: tuple[str, ...] = ()  # every threshold reached, in order
    status_at: Status | None = None  # state at Scenario.assess_hours
    codes: tuple[str, ...] = ()

    @property
    def fallback_restores(self) -> bool:
        """A fallback carries the process until the cut-off ends (one that runs out first
        does not count as restoring it)."""
        return bool(self.fallback) and "FALLBACK_EXHAUSTED" not in self.codes

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "since_hours": self.since_hours,
            "path": list(self.path),
            "people": self.people,
            "organisations": self.organisations,
            "unreachable_data": list(self.unreachable_data),
            "fallback": self.fallback,
            "fallback_from_hours": self.fallback_from_hours,
            "fallback_until_hours": None
            if self.fallback_until_hours is None
            else _num(self.fallback_until_hours),
            "outage_hours": _num(self.outage_hours),
            "rto_hours": self.rto_hours,
            "rto_breached": self.rto_breached,
            "bearable_hours": self.bearable_hours,
            "bearable_exceeded": self.bearable_exceeded,
            "impact": self.impact,
            "impacts": list(self.impacts),
            "status_at": self.status_at.value if self.status_at else None,
            "codes": list(self.codes),
        }


@dataclass(frozen=True, slots=True)
class DataOutcome:
    id: str
    name: str
    classification: str
    unreachable_hours: float | None  # when it became unreachable; None = reachable
    restorable_after_hours: float | None  # from a backup that is itself reachable
    path: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "classification": self.classification,
            "unreachable_hours": self.unreachable_hours,
            "restorable_after_hours": self.restorable_after_hours,
            "path": list(self.path),
        }


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    stopped: tuple[str, ...]  # ids of the nodes the cuts stopped directly
    processes: tuple[ProcessOutcome, ...]
    data: tuple[DataOutcome, ...]
    services_down: tuple[str, ...] = ()
    services_degraded: tuple[str, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    #: provider id -> why a jurisdiction criterion selected it (empty without one)
    matched: dict[str, Reason] = field(default_factory=dict)

    def process(self, pid: str) -> ProcessOutcome:
        for p in self.processes:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def to_json(self) -> dict[str, Any]:
        return {
            "people_affected": self.summary.get("people_down"),
            "organisations_affected": self.summary.get("organisations_down"),
            "scenario": {
                "cuts": [
                    {"selector": c.selector.to_json(), "start_hours": c.start_hours}
                    for c in self.scenario.cuts
                ],
                "ends_hours": _num(self.scenario.ends_hours),
                "assess_hours": self.scenario.assess_hours,
            },
            "stopped": list(self.stopped),
            "matched": [{"provider": pid, **r.to_json()} for pid, r in self.matched.items()],
            "services_down": list(self.services_down),
            "services_degraded": list(self.services_degraded),
            "summary": self.summary,
            "processes": [p.to_json() for p in self.processes],
            "data": [d.to_json() for d in self.data],
        }


def _num(x: float) -> float | str:
    return "inf" if math.isinf(x) else x
