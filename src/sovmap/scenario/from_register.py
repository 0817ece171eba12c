"""Build the simulation's inventory (and the exit plan's targets) from a register.

How register facts map onto the simulation:

* who controls a provider is :func:`sovmap.register.ownership.control_of`'s answer (its
  ownership chain to the ultimate parent); Microsoft Ireland is controlled from the US;
* a provider's subcontractors become hard dependencies: of the provider, or only of the
  services a subcontract names;
* service dependencies of kind ``hosted-on``, ``identity``, ``mail``, ``network`` and
  ``data`` are hard; ``backup`` and ``other`` are soft (the service keeps running without
  them, e.g. a licence server for updates). Settings can override single dependencies;
* a service's designated ``fallback`` service is treated as a redundant alternative
  wherever the service is used (switch-over time is not modelled);
* a data asset is reachable while any service that *stores* it is; a store that is the
  ``backup`` of another store (or a ``backup`` of one) counts as a back-up, restorable after
  ``backup_restore_hours``;
* a process's documented fallback (text) starts after ``fallback_ready_hours`` (default
  24, an assumption) and carries the process for ``fallback_days``;
* the longest outage a process can bear is ``max_tolerable_hours`` from the settings, else
  the time of its first ``high`` escalation step, else its RTO.

Settings the register has no field for live in a separate YAML file validated by
``schema/scenario.schema.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sovmap.register.model import DataUse, DependencyKind, Level, Register
from sovmap.register.ownership import control_of
from sovmap.scenario.counting import AudienceGroup, Population
from sovmap.scenario.model import (
    Backup,
    DataAsset,
    Dependency,
    Fallback,
    Inventory,
    ProcessNode,
    ProviderNode,
    ScenarioError,
    ServiceNode,
    Strength,
    Threshold,
)
from sovmap.scenario.yamlcheck import load_validated

HARD_KINDS = frozenset(
    {
        DependencyKind.HOSTED_ON,
        DependencyKind.IDENTITY,
        DependencyKind.MAIL,
        DependencyKind.NETWORK,
        DependencyKind.DATA,
    }
)


@dataclass(frozen=True, slots=True)
class ScenarioSettings:
    fallback_ready_hours: float = 24.0
    backup_restore_hours: float = 48.0
    process_fallback_ready: dict[str, float] = field(default_factory=dict)
    process_max_tolerable: dict[str, float] = field(default_factory=dict)
    backup_restore: dict[str, float] = field(default_factory=dict)
    dependency_strength: dict[tuple[str, str], Strength] = field(default_factory=dict)


def parse_scenario_settings(text: str, where: str) -> ScenarioSettings:
    schema_text = (
        resources.files("sovmap.scenario") / "schema" / "scenario.schema.json"
    ).read_text(encoding="utf-8")
    raw: dict[str, Any] = load_validated(text, where, json.loads(schema_text), ScenarioError) or {}
    procs = raw.get("processes", {})
    return ScenarioSettings(
        fallback_ready_hours=float(raw.get("fallback_ready_hours", 24.0)),
        backup_restore_hours=float(raw.get("backup_restore_hours", 48.0)),
        process_fallback_ready={
            k: float(v["fallback_ready_hours"])
            for k, v in procs.items()
            if "fallback_ready_hours" in v
        },
        process_max_tolerable={
            k: float(v["max_tolerable_hours"])
            for k, v in procs.items()
            if "max_tolerable_hours" in v
        },
        backup_restore={k: float(v["restore_hours"]) for k, v in raw.get("backups", {}).items()},
        dependency_strength={
            (d["from"], d["to"]): Strength(d["strength"]) for d in raw.get("dependencies", ())
        },
    )


def load_scenario_settings(path: Path) -> ScenarioSettings:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario settings: {exc}") from exc
    return parse_scenario_settings(text, str(path))


def inventory_from_register(reg: Register, settings: ScenarioSettings | None = None) -> Inventory:
    st = settings or ScenarioSettings()
    providers = []
    for p in reg.providers.values():
        control = control_of(reg, p.id)
        top = control.group
        top_prov = reg.providers.get(top)
        top_name = control.ultimate_parent.name if top_prov is None else ""
        providers.append(
            ProviderNode(
                id=p.id,
                name=p.name,
                parent="" if top == p.id else top,
                jurisdiction=control.effective,
                control=control,
                subcontractors=tuple(
                    s.provider
                    for s in p.subcontractors
                    if not s.services and s.provider in reg.providers and s.provider != p.id
                ),
                aliases=tuple(x for x in (p.catalogue_id.value,) if x),
                parent_aliases=tuple(
                    x for x in ((top_prov.catalogue_id.value if top_prov else None), top_name) if x
                ),
            )
        )

    def targets(service_id: str) -> tuple[str, ...]:
        svc = reg.services.get(service_id)
        fb = svc.fallback.value if svc is not None else None
        return (service_id, fb) if fb and fb in reg.services and fb != service_id else (service_id,)

    services = []
    for s in reg.services.values():
        deps = []
        for d in s.depends_on:
            if d.service not in reg.services:
                continue
            strength = st.dependency_strength.get(
                (s.id, d.service), Strength.HARD if d.kind in HARD_KINDS else Strength.SOFT
            )
            deps.append(Dependency(targets(d.service), strength))
        prov_id = s.provider.value if s.provider.value in reg.providers else None
        subs: tuple[str, ...] = ()
        if prov_id:
            subs = tuple(
                sub.provider
                for sub in reg.providers[prov_id].subcontractors
                if s.id in sub.services and sub.provider in reg.providers
            )
        services.append(
            ServiceNode(
                id=s.id,
                name=s.name,
                capability=str(s.capability.value or ""),
                provider=prov_id or "",
                depends_on=tuple(deps),
                subcontractors=subs,
            )
        )

    data: list[DataAsset] = []
    for da in reg.data_assets.values():
        stores = [
            x.service for x in da.services if x.use is DataUse.STORES and x.service in reg.services
        ]
        backup_ids = {
            b for sid in stores if (b := reg.services[sid].backup.value) and b in reg.services
        }
        live = [sid for sid in stores if sid not in backup_ids] or stores
        data.append(
            DataAsset(
                id=da.id,
                name=da.name,
                classification=str(da.classification.value or ""),
                stored_in=tuple(live),
                backups=tuple(
                    Backup(b, st.backup_restore.get(b, st.backup_restore_hours))
                    for b in sorted(backup_ids)
                ),
            )
        )
    uses: dict[str, list[str]] = {}
    for asset in data:
        if asset.stored_in:
            for pid in reg.data_assets[asset.id].processes:
                uses.setdefault(pid, []).append(asset.id)

    processes = []
    for pr in reg.processes.values():
        steps = sorted(pr.escalation, key=lambda e: e.after_hours)
        first_high = next((e.after_hours for e in steps if e.impact is Level.HIGH), None)
        fallbacks: tuple[Fallback, ...] = ()
        if pr.fallback.value:
            days = pr.fallback_days.value
            fallbacks = (
                Fallback(
                    id="documented-fallback",
                    ready_hours=st.process_fallback_ready.get(pr.id, st.fallback_ready_hours),
                    lasts_hours=math.inf if days is None else float(days) * 24.0,
                    name=str(pr.fallback.value),
                ),
            )
        processes.append(
            ProcessNode(
                id=pr.id,
                name=pr.name,
                depends_on=tuple(
                    Dependency(targets(sid)) for sid in pr.services if sid in reg.services
                ),
                data=tuple(uses.get(pr.id, ())),
                rto_hours=None if pr.rto_hours.value is None else float(pr.rto_hours.value),
                mtpd_hours=st.process_max_tolerable.get(pr.id, first_high),
                people=pr.people_served.value,
                organisations=pr.organisations_served.value,
                audience=pr.audience,
                thresholds=tuple(
                    Threshold(e.after_hours, e.impact.value, e.description) for e in steps
                ),
                fallbacks=fallbacks,
            )
        )
    return Inventory(
        tuple(providers),
        tuple(services),
        tuple(data),
        tuple(processes),
        population=population_of(reg),
    )


def population_of(reg: Register) -> Population:
    """The register's declared population and audience groups, for counting (counting.py)."""
    org = reg.organisation
    return Population(
        {
            a.id: AudienceGroup(a.id, a.name, a.people, a.organisations, a.within, a.disjoint_from)
            for a in org.audiences
        },
        people=org.population.value,
    )
