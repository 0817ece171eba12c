"""Sector view: many registers (for example the RoIs of all supervised entities) ->
concentration across the sector and the provider groups critical to many entities.

Providers are matched across entities by LEI, else by knowledge-base id, else by name;
groups by the ultimate parent found the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sovmap.register.model import Register
from sovmap.register.ownership import control_of
from sovmap.risk.concentration import hhi, hhi_level
from sovmap.risk.policy import Policy


def provider_key(register: Register, provider_id: str) -> str:
    prov = register.providers.get(provider_id)
    if prov is None:
        return f"id:{provider_id}"
    if prov.lei.value:
        return f"lei:{prov.lei.value}"
    if prov.catalogue_id.value:
        return f"kb:{prov.catalogue_id.value}"
    return "name:" + re.sub(r"[^a-z0-9]+", " ", prov.name.lower()).strip()


def group_key(register: Register, provider_id: str) -> str:
    top = control_of(register, provider_id).group
    if top.startswith("name:"):
        return "name:" + re.sub(r"[^a-z0-9]+", " ", top[5:].lower()).strip()
    return provider_key(register, top)


def group_label(register: Register, provider_id: str) -> str:
    control = control_of(register, provider_id)
    prov = register.providers.get(control.group)
    return prov.name if prov is not None else control.group.removeprefix("name:")


@dataclass(frozen=True, slots=True)
class SectorGroup:
    key: str
    name: str
    entities: tuple[str, ...]  # entities using the group at all
    critical_entities: tuple[str, ...]  # entities with a critical process depending on it

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "entities": list(self.entities),
            "critical_entities": list(self.critical_entities),
        }


@dataclass(frozen=True, slots=True)
class SectorCapability:
    capability: str
    hhi: float
    level: str
    shares: tuple[tuple[str, int], ...]  # (group key, entities)

    def to_json(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "hhi": round(self.hhi, 1),
            "level": self.level,
            "shares": [{"group": g, "entities": n} for g, n in self.shares],
        }


@dataclass(frozen=True, slots=True)
class SectorReport:
    entities: tuple[str, ...]
    groups: tuple[SectorGroup, ...]
    capabilities: tuple[SectorCapability, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "entities": list(self.entities),
            "groups": [g.to_json() for g in self.groups],
            "capabilities": [c.to_json() for c in self.capabilities],
        }


def sector(registers: Sequence[Register], policy: Policy) -> SectorReport:
    critical_levels = set(policy.section("concentration")["critical"])
    names: dict[str, str] = {}
    users: dict[str, set[str]] = {}
    critical_users: dict[str, set[str]] = {}
    by_cap: dict[str, Counter[str]] = {}
    entities: list[str] = []
    for reg in registers:
        entity = reg.organisation.lei.value or reg.organisation.id
        entities.append(entity)
        seen_cap: set[tuple[str, str]] = set()
        for svc in reg.services.values():
            if svc.provider.value not in reg.providers:
                continue
            pid = svc.provider.value or ""
            for party in reg.chain(pid, svc.id):
                g = group_key(reg, party)
                names.setdefault(g, group_label(reg, party))
                users.setdefault(g, set()).add(entity)
            cap = svc.capability.value or svc.dora_service_type.value
            g = group_key(reg, pid)
            if cap and (cap, g) not in seen_cap:
                seen_cap.add((cap, g))
                by_cap.setdefault(cap, Counter())[g] += 1
        for proc in reg.processes.values():
            if (
                proc.criticality.value is None
                or proc.criticality.value.value not in critical_levels
            ):
                continue
            for sid in reg.closure(proc.services):
                used = reg.services.get(sid)
                if used is None or used.provider.value not in reg.providers:
                    continue
                for party in reg.chain(used.provider.value or "", sid):
                    critical_users.setdefault(group_key(reg, party), set()).add(entity)
    groups = [
        SectorGroup(
            g,
            names.get(g, g),
            tuple(sorted(users.get(g, ()))),
            tuple(sorted(critical_users.get(g, ()))),
        )
        for g in users
    ]
    groups.sort(key=lambda x: (-len(x.critical_entities), -len(x.entities), x.key))
    caps = []
    for cap, counts in sorted(by_cap.items()):
        value = hhi(counts.values())
        shares = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        caps.append(SectorCapability(cap, value, hhi_level(policy, value), shares))
    return SectorReport(tuple(entities), tuple(groups), tuple(caps))
