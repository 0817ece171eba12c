"""Bundled data of the exit plan: European alternatives and migration templates.

Both are YAML files under ``data/`` checked against JSON Schemas under ``schema/``;
errors name the file, the line and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sovmap.exitplan.model import Distribution, Estimate, PlanError, Risk
from sovmap.scenario.yamlcheck import line_of as _line_of
from sovmap.scenario.yamlcheck import load_validated as _load_validated


@dataclass(frozen=True, slots=True)
class Alternative:
    id: str
    name: str
    provider: str
    jurisdiction: str
    deployment: tuple[str, ...]
    capabilities: tuple[str, ...]
    maturity: str
    notes: str
    source: str
    knowledge_id: str = ""  # the provider's id in sovmap.knowledge, when it has one

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "provider": self.provider,
            "jurisdiction": self.jurisdiction,
            "deployment": list(self.deployment),
            "capabilities": list(self.capabilities),
            "maturity": self.maturity,
            "notes": self.notes,
            "source": self.source,
            "knowledge_id": self.knowledge_id,
        }


@dataclass(frozen=True, slots=True)
class TemplateStep:
    step: str
    name: str
    team: str
    estimate: Estimate
    after: tuple[str, ...]
    what_if: dict[str, float]
    basis: str
    scope: str = "service"  # "platform": one task for every service moving to the platform
    curve: str = ""  # a size curve (Templates.curves) that scales the estimate


@dataclass(frozen=True, slots=True)
class SizeCurve:
    """factor = clamp((size / reference) ** exponent, low, high); size from ``driver``."""

    name: str
    driver: str  # users | integrations | records
    reference: float
    exponent: float
    low: float
    high: float
    basis: str

    def factor(self, size: float | None) -> float:
        if size is None:
            return 1.0
        raw = (max(size, 0.0) / self.reference) ** self.exponent if size > 0 else self.low
        return min(self.high, max(self.low, raw))


@dataclass(frozen=True, slots=True)
class Correlation:
    """Correlation of task delays in one programme (Gaussian copula, one common factor)."""

    default: float = 0.0
    low: float = 0.0
    high: float = 0.0
    basis: str = ""


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    id: str
    name: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Templates:
    distribution: Distribution
    teams: dict[str, int]
    team_names: dict[str, str]
    aliases: dict[str, str]
    fallback: str
    templates: dict[str, tuple[TemplateStep, ...]]
    calibration: tuple[tuple[str, str], ...]  # (fact, source URL)
    platforms: dict[str, PlatformSpec] = field(default_factory=dict)
    curves: dict[str, SizeCurve] = field(default_factory=dict)
    correlation: Correlation = Correlation()
    risks: tuple[Risk, ...] = ()

    def canonical(self, capability: str) -> str:
        """The template name for a capability (through aliases; unknown ones -> fallback)."""
        cap = capability.strip().lower()
        cap = self.aliases.get(cap, cap)
        return cap if cap in self.templates else self.fallback

    def platform_of(self, capability: str) -> str:
        """The shared target platform of a (canonical) capability; "" when it has none."""
        for p in self.platforms.values():
            if capability in p.capabilities:
                return p.id
        return ""

    def step(self, capability: str, step: str) -> TemplateStep:
        for s in self.templates[capability]:
            if s.step == step:
                return s
        raise PlanError(f"templates/{capability}: no step {step!r}")


def _schema(name: str) -> dict[str, Any]:
    text = (resources.files("sovmap.exitplan") / "schema" / name).read_text(encoding="utf-8")
    out: dict[str, Any] = json.loads(text)
    return out


def load_validated(text: str, where: str, schema: str) -> Any:
    """Parse YAML and validate it against one of our schemas; PlanError names file:line, field."""
    return _load_validated(text, where, _schema(schema), PlanError)


def _read(name: str) -> tuple[str, str]:
    res = resources.files("sovmap.exitplan") / "data" / name
    return res.read_text(encoding="utf-8"), name


def parse_alternatives(text: str, where: str) -> tuple[Alternative, ...]:
    raw = load_validated(text, where, "alternatives.schema.json")
    known = _knowledge_ids()
    seen: set[str] = set()
    out = []
    for i, a in enumerate(raw["alternatives"]):
        if a["id"] in seen:
            line = _line_of(text, ["alternatives", i, "id"])
            raise PlanError(f"{where}:{line}: field alternatives/{i}/id: {a['id']!r} used twice")
        seen.add(a["id"])
        out.append(
            Alternative(
                id=a["id"],
                name=a["name"],
                provider=a["provider"],
                jurisdiction=a["jurisdiction"],
                deployment=tuple(a["deployment"]),
                capabilities=tuple(a["capabilities"]),
                maturity=a["maturity"],
                notes=a.get("notes", ""),
                source=a["source"],
                knowledge_id=a["provider"] if a["provider"] in known else "",
            )
        )
    return tuple(out)


def _knowledge_ids() -> frozenset[str]:
    """Provider ids of the knowledge base; empty when it cannot be loaded (the link to it is
    a convenience: an invalid knowledge file must not stop an exit plan)."""
    from sovmap.knowledge import KnowledgeError, default_catalogue

    try:
        return frozenset(default_catalogue().providers)
    except KnowledgeError:
        return frozenset()


def parse_templates(text: str, where: str) -> Templates:
    raw = load_validated(text, where, "templates.schema.json")
    teams = {t["id"]: int(t["capacity"]) for t in raw["teams"]}
    templates: dict[str, tuple[TemplateStep, ...]] = {}
    for cap, body in raw["templates"].items():
        steps: list[TemplateStep] = []
        names = {t["step"] for t in body["tasks"]}
        for i, t in enumerate(body["tasks"]):
            at = f"{where}:{_line_of(text, ['templates', cap, 'tasks', i])}"
            a, m, b = (float(x) for x in t["estimate"])
            if not a <= m <= b:
                raise PlanError(f"{at}: field templates/{cap}/tasks/{i}/estimate: need a <= m <= b")
            if t["team"] not in teams:
                raise PlanError(f"{at}: field templates/{cap}/tasks/{i}/team: unknown team")
            for ref in t.get("after", ()):
                if not ref.startswith("@") and ref not in names:
                    raise PlanError(
                        f"{at}: field templates/{cap}/tasks/{i}/after: unknown step {ref!r}"
                    )
            steps.append(
                TemplateStep(
                    step=t["step"],
                    name=t["name"],
                    team=t["team"],
                    estimate=Estimate(a, m, b),
                    after=tuple(t.get("after", ())),
                    what_if={k: float(v) for k, v in t.get("what_if", {}).items()},
                    basis=t["basis"],
                    scope=t.get("scope", "service"),
                    curve=t.get("curve", ""),
                )
            )
            if steps[-1].curve and steps[-1].curve not in raw.get("size_curves", {}):
                raise PlanError(f"{at}: field templates/{cap}/tasks/{i}/curve: unknown curve")
        templates[cap] = tuple(steps)
    fallback = raw.get("fallback_template", "saas")
    if fallback not in templates:
        raise PlanError(f"{where}: field fallback_template: no template {fallback!r}")
    for cap, tsteps in templates.items():
        for s in tsteps:
            for ref in s.after:
                if ref.startswith("@"):
                    other, _, step = ref[1:].partition("/")
                    if other not in templates or step not in {x.step for x in templates[other]}:
                        raise PlanError(
                            f"{where}: field templates/{cap}/tasks/{s.step}/after: "
                            f"unknown step {ref!r}"
                        )
    corr = raw.get("correlation", {})
    return Templates(
        platforms={
            pid: PlatformSpec(pid, p["name"], tuple(p["capabilities"]))
            for pid, p in raw.get("platforms", {}).items()
        },
        curves={
            name: SizeCurve(
                name,
                c["driver"],
                float(c["reference"]),
                float(c["exponent"]),
                float(c["min"]),
                float(c["max"]),
                c["basis"],
            )
            for name, c in raw.get("size_curves", {}).items()
        },
        correlation=Correlation(
            float(corr.get("default", 0.0)),
            float(corr.get("low", 0.0)),
            float(corr.get("high", 0.0)),
            corr.get("basis", ""),
        ),
        risks=tuple(
            Risk(
                r["id"],
                r["name"],
                float(r["probability"]),
                Estimate(*map(float, r["delay"])),
                tuple(r["steps"]),
                r["basis"],
            )
            for r in raw.get("risks", ())
        ),
        distribution=Distribution(raw["distribution"]),
        teams=teams,
        team_names={t["id"]: t["name"] for t in raw["teams"]},
        aliases=dict(raw.get("aliases", {})),
        fallback=fallback,
        templates=templates,
        calibration=tuple((c["fact"], c["source"]) for c in raw["calibration"]),
    )


@cache
def default_alternatives() -> tuple[Alternative, ...]:
    return parse_alternatives(*_read("alternatives.yaml"))


@cache
def default_templates() -> Templates:
    return parse_templates(*_read("templates.yaml"))


def load_templates(path: Path) -> Templates:
    return parse_templates(path.read_text(encoding="utf-8"), str(path))


def options_for(
    capability: str, templates: Templates | None = None, catalogue: tuple[Alternative, ...] = ()
) -> tuple[Alternative, ...]:
    """European alternatives for a capability, production-ready ones first."""
    tpl = templates or default_templates()
    cap = capability.strip().lower()
    cap = tpl.aliases.get(cap, cap)
    alts = catalogue or default_alternatives()
    rank = {"production": 0, "established": 1, "emerging": 2}
    return tuple(
        sorted(
            (a for a in alts if cap in a.capabilities),
            key=lambda a: (rank.get(a.maturity, 3), a.name.lower()),
        )
    )
