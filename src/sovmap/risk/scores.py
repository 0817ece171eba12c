"""Confidentiality and continuity exposure per service and per process.

Pure functions over a register and a policy. Every score carries the factors that produced
it: stable codes, the value and weight of each, and the path through the register
(provider chain, dependencies) that brought a party in.

* confidentiality(service, data) = 100 x sensitivity(data) x reach(chain) x keys(service)
  where reach is the strongest legal reach of any party in the chain (the provider, its
  subcontractors, their ultimate parents, and - scaled per dependency kind - the chains of
  services it runs on), and keys is the share of that reach left by who holds the keys.
* continuity(service) = 100 x weighted mean of: reach to order a stop (sanctions, export
  control, by jurisdiction and tags, through the chain and dependencies); single provider
  (is there a fallback, and is it outside the provider's group); substitutability; exit plan.
* a process takes the maximum over the data it owns (confidentiality) and over every service
  it needs, directly or through dependencies (continuity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sovmap.control import normalise_code
from sovmap.register.model import (
    DataAsset,
    DataUse,
    Process,
    Provider,
    Register,
    Service,
)
from sovmap.register.ownership import control_of
from sovmap.risk.policy import Policy

CONFIDENTIALITY = "confidentiality"
CONTINUITY = "continuity"


@dataclass(frozen=True, slots=True)
class Factor:
    """One fact that entered a score. ``code`` is stable; ``detail`` is data, not prose."""

    code: str
    subject: str
    value: float
    weight: float = 1.0
    detail: str = ""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "subject": self.subject, "value": self.value}
        if self.weight != 1.0:
            out["weight"] = self.weight
        if self.detail:
            out["detail"] = self.detail
        if self.source:
            out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class Score:
    kind: str
    subject: str
    value: float  # 0 .. 100
    formula: str
    factors: tuple[Factor, ...] = ()
    because: str = ""  # the id of the service / data asset that produced a process maximum

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "subject": self.subject,
            "value": round(self.value, 2),
            "formula": self.formula,
            "factors": [f.to_json() for f in self.factors],
        }
        if self.because:
            out["because"] = self.because
        return out


@dataclass(frozen=True, slots=True)
class Reach:
    value: float
    parties: tuple[Factor, ...] = field(default=())  # one per party with reach > 0


def _class_reach(policy: Policy, country: str | None, dimension: str) -> tuple[float, str, str]:
    """(reach, class, source) of a jurisdiction. Unknown is the worst case: the strongest
    reach of any class in the policy (a party whose control nobody knows may be reached by
    any state's law)."""
    code = normalise_code(country)
    classes = policy.section("jurisdiction_classes")
    if not code:
        cls = max(classes, key=lambda c: policy.class_factor(str(c), dimension))
        return policy.class_factor(cls, dimension), f"unknown;worst-case={cls}", ""
    cls = policy.jurisdiction_class(code)
    return policy.class_factor(cls, dimension), cls, str(classes[cls].get("source", ""))


def _party_reach(
    register: Register, policy: Policy, prov: Provider, dimension: str
) -> tuple[float, str, str]:
    """(reach, detail, source) of one party by its jurisdiction class and legal tags, and by
    a parent the register knows only from this party's entry (name, country)."""
    country = prov.jurisdiction.value or prov.country.value
    best, cls, source = _class_reach(policy, country, dimension)
    detail = f"class={cls};country={country or '?'}"
    for tag in prov.tags.value or ():
        value = policy.tag_factor(tag, dimension)
        if value > best:
            best, detail, source = (
                value,
                f"tag={tag};country={country or '?'}",
                policy.tag_source(tag),
            )
    control = control_of(register, prov.id)
    top = control.ultimate_parent
    if len(control.chain) > 1 and top.id not in register.providers:
        value, pcls, psource = _class_reach(policy, control.controlling, dimension)
        if value > best:
            best, source = value, psource
            detail = f"parent-class={pcls};parent-country={control.controlling or '?'}"
    return best, detail, source


def reach(register: Register, policy: Policy, service_id: str, dimension: str) -> Reach:
    """Strongest legal reach over the service's chain and, scaled by kind, its dependencies."""
    kind_factor = policy.section("dependency_reach")[dimension]
    best_path: dict[str, tuple[float, str]] = {}  # party -> (path factor, path)
    stack: list[tuple[str, float, str]] = [(service_id, 1.0, service_id)]
    visited: dict[str, float] = {}
    unknown: dict[str, float] = {}  # services without a (known) provider -> path factor
    while stack:
        sid, factor, path = stack.pop()
        if visited.get(sid, -1.0) >= factor:
            continue
        visited[sid] = factor
        svc = register.services.get(sid)
        if svc is None:
            continue
        if svc.provider.value is None or svc.provider.value not in register.providers:
            unknown[sid] = max(unknown.get(sid, 0.0), factor)
        else:
            for pid in register.chain(svc.provider.value, sid):
                if best_path.get(pid, (-1.0, ""))[0] < factor:
                    best_path[pid] = (factor, path)
        for dep in svc.depends_on:
            f = factor * float(kind_factor[dep.kind.value])
            if f > 0:
                stack.append((dep.service, f, f"{path}>{dep.kind.value}>{dep.service}"))
    parties: list[Factor] = []
    best = 0.0
    for sid, factor in unknown.items():
        value, cls, _ = _class_reach(policy, None, dimension)
        parties.append(Factor("PARTY_UNKNOWN", sid, value, factor, f"no provider;class={cls}"))
        best = max(best, value * factor)
    for pid, (factor, path) in best_path.items():
        value, detail, source = _party_reach(register, policy, register.providers[pid], dimension)
        if value * factor > 0:
            parties.append(
                Factor("PARTY_REACH", pid, value, factor, f"{detail};path={path}", source)
            )
        best = max(best, value * factor)
    parties.sort(key=lambda f: (-f.value * f.weight, f.subject))
    return Reach(best, tuple(parties))


def sensitivity(policy: Policy, asset: DataAsset) -> tuple[float, list[Factor]]:
    cls = asset.classification.value
    key = cls.value if cls is not None else "missing"
    value = float(policy.section("classification")[key])
    factors = [Factor("CLASSIFICATION", asset.id, value, 1.0, f"classification={key}")]
    flags = policy.section("data_flags")
    for flag in ("personal_data", "special_categories", "base_register"):
        if getattr(asset, flag).value:
            f = float(flags[flag])
            factors.append(Factor("DATA_FLAG", asset.id, f, 1.0, f"flag={flag}"))
            value = max(value, f)
    return value, factors


def _keys(policy: Policy, svc: Service, use: DataUse) -> Factor:
    kc = policy.section("key_control")
    if use is DataUse.PROCESSES:
        return Factor("KEYS_IN_USE", svc.id, float(kc["in_use"]), 1.0, "use=processes")
    key = svc.key_control.value.value if svc.key_control.value is not None else "missing"
    return Factor("KEY_CONTROL", svc.id, float(kc[key]), 1.0, f"key_control={key}")


def confidentiality(
    register: Register, policy: Policy, service_id: str, asset: DataAsset, use: DataUse
) -> Score:
    svc = register.services[service_id]
    sens, sens_factors = sensitivity(policy, asset)
    r = reach(register, policy, service_id, CONFIDENTIALITY)
    keys = _keys(policy, svc, use)
    value = 100.0 * sens * r.value * keys.value
    return Score(
        CONFIDENTIALITY,
        f"{service_id}/{asset.id}",
        value,
        "100*sensitivity*reach*keys",
        (
            Factor("SENSITIVITY", asset.id, sens),
            *sens_factors,
            Factor("REACH", service_id, r.value),
            *r.parties,
            keys,
        ),
    )


def service_confidentiality(register: Register, policy: Policy, service_id: str) -> Score:
    best = Score(CONFIDENTIALITY, service_id, 0.0, "max(data)", (Factor("NO_DATA", service_id, 0),))
    for asset in register.data_assets.values():
        for link in asset.services:
            if link.service == service_id:
                s = confidentiality(register, policy, service_id, asset, link.use)
                if s.value > best.value or best.factors[0].code == "NO_DATA":
                    best = Score(
                        CONFIDENTIALITY, service_id, s.value, "max(data)", s.factors, asset.id
                    )
    return best


def continuity(register: Register, policy: Policy, service_id: str) -> Score:
    svc = register.services[service_id]
    cont = policy.section("continuity")
    weights = cont["weights"]
    if svc.provider.value is None or svc.provider.value not in register.providers:
        value = float(cont["missing_provider"])
        return Score(
            CONTINUITY,
            service_id,
            100.0 * value,
            "100*missing_provider",
            (Factor("MISSING_PROVIDER", service_id, value),),
        )
    r = reach(register, policy, service_id, CONTINUITY)
    group = control_of(register, svc.provider.value).group
    fallback = register.services.get(svc.fallback.value or "")
    if fallback is None or fallback.provider.value not in register.providers:
        single_key = "no_fallback"  # a fallback nobody (known) runs is no fallback
    elif fallback.provider.value and control_of(register, fallback.provider.value).group == group:
        single_key = "fallback_same_group"
    else:
        single_key = "fallback_other_group"
    subst_key = svc.substitutability.value.value if svc.substitutability.value else "missing"
    exit_key = svc.exit_plan.value.value if svc.exit_plan.value else "missing"
    parts = [
        Factor("REACH", service_id, r.value, float(weights["reach"])),
        Factor(
            "SINGLE_PROVIDER",
            service_id,
            float(cont["single_provider"][single_key]),
            float(weights["single_provider"]),
            f"fallback={svc.fallback.value or '-'};{single_key}",
        ),
        Factor(
            "SUBSTITUTABILITY",
            service_id,
            float(cont["substitutability"][subst_key]),
            float(weights["substitutability"]),
            f"substitutability={subst_key}",
        ),
        Factor(
            "EXIT_PLAN",
            service_id,
            float(cont["exit_plan"][exit_key]),
            float(weights["exit_plan"]),
            f"exit_plan={exit_key}",
        ),
    ]
    total = sum(f.weight for f in parts)
    value = 100.0 * sum(f.value * f.weight for f in parts) / total if total else 0.0
    return Score(
        CONTINUITY, service_id, value, "100*sum(weight*value)/sum(weight)", (*parts, *r.parties)
    )


def process_confidentiality(register: Register, policy: Policy, process: Process) -> Score:
    best: Score | None = None
    for asset in register.data_assets.values():
        if process.id not in asset.processes:
            continue
        for link in asset.services:
            if link.service not in register.services:
                continue
            s = confidentiality(register, policy, link.service, asset, link.use)
            if best is None or s.value > best.value:
                best = s
    if best is None:
        return Score(
            CONFIDENTIALITY, process.id, 0.0, "max(data)", (Factor("NO_DATA", process.id, 0),)
        )
    return Score(CONFIDENTIALITY, process.id, best.value, "max(data)", best.factors, best.subject)


def process_continuity(register: Register, policy: Policy, process: Process) -> Score:
    best: Score | None = None
    for sid in register.closure(process.services):
        if sid not in register.services:
            continue
        s = continuity(register, policy, sid)
        if best is None or s.value > best.value:
            best = s
    if best is None:
        return Score(
            CONTINUITY, process.id, 0.0, "max(services)", (Factor("NO_SERVICES", process.id, 0),)
        )
    return Score(CONTINUITY, process.id, best.value, "max(services)", best.factors, best.subject)
