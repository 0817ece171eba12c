"""Concentration: Herfindahl-Hirschman index per capability, and the share of critical
processes that depend on each provider and each provider group (ultimate parent)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.risk.policy import Policy


def hhi(counts: Iterable[float]) -> float:
    """HHI on the 0..10000 scale: the sum of squared percentage shares."""
    values = [float(c) for c in counts if c > 0]
    total = sum(values)
    if total == 0:
        return 0.0
    return sum((100.0 * v / total) ** 2 for v in values)


def hhi_level(policy: Policy, value: float) -> str:
    t = policy.section("concentration")["hhi_thresholds"]
    if value > float(t["high"]):
        return "high"
    if value > float(t["moderate"]):
        return "moderate"
    return "low"


@dataclass(frozen=True, slots=True)
class CapabilityConcentration:
    capability: str
    hhi: float
    level: str
    shares: tuple[tuple[str, int], ...]  # (group, number of services), largest first

    def to_json(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "hhi": round(self.hhi, 1),
            "level": self.level,
            "shares": [{"group": g, "services": n} for g, n in self.shares],
        }


@dataclass(frozen=True, slots=True)
class Dependence:
    """Critical processes that need a provider (or group) somewhere in their chain."""

    subject: str
    kind: str  # provider | group
    processes: tuple[str, ...]
    share: float  # of all critical processes

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "share": round(self.share, 4),
            "processes": list(self.processes),
        }


def capability_concentration(register: Register, policy: Policy) -> list[CapabilityConcentration]:
    """HHI of each capability over provider groups, counting services."""
    by_cap: dict[str, Counter[str]] = {}
    for svc in register.services.values():
        if svc.capability.value and svc.provider.value in register.providers:
            group = control_of(register, svc.provider.value or "").group
            by_cap.setdefault(svc.capability.value, Counter())[group] += 1
    out = []
    for cap, counts in sorted(by_cap.items()):
        value = hhi(counts.values())
        shares = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(CapabilityConcentration(cap, value, hhi_level(policy, value), shares))
    return out


def critical_dependence(register: Register, policy: Policy) -> list[Dependence]:
    """For every provider and group: which critical processes need it (chain included)."""
    critical_levels = set(policy.section("concentration")["critical"])
    critical = [
        p
        for p in register.processes.values()
        if p.criticality.value is not None and p.criticality.value.value in critical_levels
    ]
    users: dict[tuple[str, str], set[str]] = {}
    for proc in critical:
        for sid in register.closure(proc.services):
            svc = register.services.get(sid)
            if svc is None or svc.provider.value not in register.providers:
                continue
            for pid in register.chain(svc.provider.value or "", sid):
                users.setdefault(("provider", pid), set()).add(proc.id)
                users.setdefault(("group", control_of(register, pid).group), set()).add(proc.id)
    total = len(critical)
    out = [
        Dependence(subject, kind, tuple(sorted(procs)), len(procs) / total if total else 0.0)
        for (kind, subject), procs in users.items()
    ]
    out.sort(key=lambda d: (-d.share, d.kind, d.subject))
    return out
