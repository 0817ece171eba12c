"""Cut-off simulation: which processes stop, for how long, and why. Pure: no I/O.

``compile_inventory`` turns an :class:`Inventory` into an integer-indexed graph once;
``simulate`` applies a :class:`Scenario` to it. Node kinds and edges:

* service -> its provider (hard); provider -> each subcontractor (hard);
* service/process -> each dependency (hard or soft); a dependency with several targets
  goes through a synthetic ``ANY`` node (any one target suffices);
* data asset -> each service that stores a live copy (``ANY``: unreachable only when every
  copy is); process -> each data asset it uses (hard).

Per process the outage starts when it goes down and ends at the earliest of: the cut-off
ending (``Scenario.ends_hours``), or the first documented fallback that becomes ready and
does not itself depend on anything down by then. The outage is compared with the RTO and
with the longest outage the process can bear (MTPD, else RTO), and with its escalation
thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sovmap.control import Reason, select_jurisdiction
from sovmap.scenario.counting import Kind
from sovmap.scenario.engine import ALL, ANY, HARD, SOFT, Graph, Propagation, build_graph, propagate
from sovmap.scenario.model import (
    DataAsset,
    DataOutcome,
    Dependency,
    Inventory,
    ProcessNode,
    ProcessOutcome,
    Scenario,
    ScenarioError,
    ScenarioResult,
    Selector,
    Status,
    Strength,
)

KINDS: tuple[Kind, ...] = ("people", "organisations")


@dataclass(frozen=True)
class CompiledInventory:
    inventory: Inventory
    graph: Graph
    index: dict[str, int]  # "kind:id" -> node
    labels: tuple[str, ...]  # node id per index; "" for synthetic ANY nodes

    def ids(self, nodes: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.labels[i] for i in nodes if self.labels[i])


def compile_inventory(inv: Inventory) -> CompiledInventory:
    """Validate ``inv`` and index it as a dependency graph."""
    inv.validate()
    labels: list[str] = []
    gates: list[int] = []
    index: dict[str, int] = {}

    def add(kind: str, label: str, gate: int) -> int:
        idx = len(labels)
        labels.append(label)
        gates.append(gate)
        if label:
            index[f"{kind}:{label}"] = idx
        return idx

    for p in inv.providers:
        add("provider", p.id, ALL)
    for s in inv.services:
        add("service", s.id, ALL)
    for d in inv.data:
        add("data", d.id, ANY)
    for pr in inv.processes:
        add("process", pr.id, ALL)
    src: list[int] = []
    dst: list[int] = []
    kind: list[int] = []

    def edge(a: int, b: int, k: int = HARD) -> None:
        src.append(a)
        dst.append(b)
        kind.append(k)

    def depend(owner: int, deps: Iterable[Dependency]) -> None:
        for dep in deps:
            k = SOFT if dep.strength is Strength.SOFT else HARD
            if len(dep.targets) == 1:
                edge(owner, index[f"service:{dep.targets[0]}"], k)
            elif dep.targets:
                alt = add("", "", ANY)
                edge(owner, alt, k)
                for t in dep.targets:
                    edge(alt, index[f"service:{t}"])

    for p in inv.providers:
        for s_id in p.subcontractors:
            edge(index[f"provider:{p.id}"], index[f"provider:{s_id}"])
    for s in inv.services:
        me = index[f"service:{s.id}"]
        if s.provider:
            edge(me, index[f"provider:{s.provider}"])
        for sub in s.subcontractors:
            edge(me, index[f"provider:{sub}"])
        depend(me, s.depends_on)
    for d in inv.data:
        for s_id in d.stored_in:
            edge(index[f"data:{d.id}"], index[f"service:{s_id}"])
    for pr in inv.processes:
        me = index[f"process:{pr.id}"]
        depend(me, pr.depends_on)
        for d_id in pr.data:
            edge(me, index[f"data:{d_id}"])
    graph = build_graph(len(labels), src, dst, kind, gates)
    return CompiledInventory(inv, graph, index, tuple(labels))


def select_with_reasons(inv: Inventory, sel: Selector) -> tuple[tuple[str, ...], dict[str, Reason]]:
    """Keys (``provider:ID`` / ``service:ID``) of what a selector stops, and why each provider
    a jurisdiction criterion selected was selected (:func:`sovmap.control.select_jurisdiction`:
    by controlling jurisdiction, else by headquarters, saying so)."""
    has_provider_criteria = bool(sel.provider or sel.parent or sel.jurisdiction)
    if not has_provider_criteria and not sel.capability:
        raise ScenarioError("a cut-off needs a provider, parent, jurisdiction or capability")
    by_jurisdiction: dict[str, Reason] = {}
    if sel.jurisdiction:
        try:
            found = select_jurisdiction(sel.jurisdiction, (p.ownership() for p in inv.providers))
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        if not found.matched:
            raise ScenarioError(_nothing(sel, found.suggestions))
        by_jurisdiction = found.matched
    providers = {
        p.id
        for p in inv.providers
        if (not sel.provider or sel.provider.lower() in {x.lower() for x in (p.id, *p.aliases)})
        and (
            not sel.parent
            or sel.parent.lower() in {x.lower() for x in (p.parent_id, *p.parent_aliases)}
        )
        and (not sel.jurisdiction or p.id in by_jurisdiction)
    }
    if sel.capability:
        services = [
            s
            for s in inv.services
            if s.capability.lower() == sel.capability.lower()
            and (not has_provider_criteria or s.provider in providers)
        ]
        chosen = tuple(f"service:{s.id}" for s in services)
        providers = {s.provider for s in services}
    else:
        chosen = tuple(f"provider:{p.id}" for p in inv.providers if p.id in providers)
    if not chosen:
        raise ScenarioError(_nothing(sel))
    return chosen, {pid: r for pid, r in by_jurisdiction.items() if pid in providers}


def _nothing(sel: Selector, suggestions: tuple[str, ...] = ()) -> str:
    text = f"the cut-off {sel.describe()} matches nothing in the inventory"
    if suggestions:
        text += "; these jurisdictions would match: " + ", ".join(suggestions)
    return text


def select(inv: Inventory, sel: Selector) -> tuple[str, ...]:
    """Keys (``provider:ID`` / ``service:ID``) of what a selector stops."""
    return select_with_reasons(inv, sel)[0]


def simulate(inv: Inventory | CompiledInventory, scenario: Scenario) -> ScenarioResult:
    """Apply ``scenario`` and report per process, data asset and service."""
    comp = inv if isinstance(inv, CompiledInventory) else compile_inventory(inv)
    if not scenario.cuts:
        raise ScenarioError("a scenario needs at least one cut-off")
    phases: list[tuple[float, list[int]]] = []
    stopped: list[str] = []
    matched: dict[str, Reason] = {}
    for cut in scenario.cuts:
        keys, reasons = select_with_reasons(comp.inventory, cut.selector)
        matched.update((pid, r) for pid, r in reasons.items() if pid not in matched)
        stopped.extend(k.partition(":")[2] for k in keys if k.partition(":")[2] not in stopped)
        phases.append((cut.start_hours, [comp.index[k] for k in keys]))
    prop = propagate(comp.graph, phases)
    outcomes = tuple(_process_outcome(comp, prop, pr, scenario) for pr in comp.inventory.processes)
    data = tuple(_data_outcome(comp, prop, d) for d in comp.inventory.data)
    svc_down = tuple(
        s.id
        for s in comp.inventory.services
        if math.isfinite(prop.down_at[comp.index[f"service:{s.id}"]])
    )
    svc_deg = tuple(
        s.id
        for s in comp.inventory.services
        if s.id not in svc_down and math.isfinite(prop.touched_at[comp.index[f"service:{s.id}"]])
    )
    return ScenarioResult(
        scenario=scenario,
        stopped=tuple(stopped),
        processes=outcomes,
        data=data,
        services_down=svc_down,
        services_degraded=svc_deg,
        summary=_summary(comp.inventory, outcomes, data),
        matched=matched,
    )


def _path(comp: CompiledInventory, nodes: list[int]) -> tuple[str, ...]:
    return comp.ids(nodes)


def _process_outcome(
    comp: CompiledInventory, prop: Propagation, pr: ProcessNode, sc: Scenario
) -> ProcessOutcome:
    i = comp.index[f"process:{pr.id}"]
    down_at = float(prop.down_at[i])
    touched_at = float(prop.touched_at[i])
    unreachable = tuple(d for d in pr.data if math.isfinite(prop.down_at[comp.index[f"data:{d}"]]))
    pop = comp.inventory.population
    base = {
        "id": pr.id,
        "name": pr.name or pr.id,
        "people": pop.served((pr.served,), "people").value,
        "organisations": pop.served((pr.served,), "organisations").value,
        "unreachable_data": unreachable,
        "rto_hours": pr.rto_hours,
        "bearable_hours": pr.bearable_hours,
    }
    if math.isfinite(down_at) and down_at < sc.ends_hours:
        fallback, ready, carried_until = "", math.inf, math.inf
        for fb in sorted(pr.fallbacks, key=lambda f: (f.ready_hours, f.id)):
            at = down_at + fb.ready_hours
            if all(prop.down_at[comp.index[f"service:{r}"]] > at for r in fb.requires):
                fallback, ready, carried_until = fb.id, at, at + fb.lasts_hours
                break
        end = min(sc.ends_hours, ready)
        # down until the fallback is ready, and again once it cannot carry the process
        outage = max(0.0, end - down_at) + max(0.0, sc.ends_hours - carried_until)
        if math.isinf(sc.ends_hours) and math.isfinite(carried_until):
            outage = math.inf
        impacts = tuple(
            t.impact
            for t in sorted(pr.thresholds, key=lambda t: t.after_hours)
            if t.after_hours <= outage
        )
        rto_breached = None if pr.rto_hours is None else outage > pr.rto_hours
        bearable = pr.bearable_hours
        exceeded = None if bearable is None else outage > bearable
        codes = ["PROCESS_DOWN"]
        if fallback:
            codes.append("FALLBACK_USED")
            if carried_until < sc.ends_hours:
                codes.append("FALLBACK_EXHAUSTED")
        elif pr.fallbacks:
            codes.append("FALLBACK_UNUSABLE")
        else:
            codes.append("NO_FALLBACK")
        if rto_breached:
            codes.append("RTO_BREACHED")
        if exceeded:
            codes.append("TOLERABLE_OUTAGE_EXCEEDED")
        if unreachable:
            codes.append("DATA_UNREACHABLE")
        status_at = None
        if sc.assess_hours is not None:
            t = sc.assess_hours
            if t < down_at:
                status_at = Status.DEGRADED if touched_at <= t else Status.UNAFFECTED
            elif t >= sc.ends_hours:
                status_at = Status.UNAFFECTED
            elif end <= t < carried_until:
                status_at = Status.DEGRADED  # running on its fallback
            else:
                status_at = Status.DOWN
        return ProcessOutcome(
            **base,  # type: ignore[arg-type]
            status=Status.DOWN,
            since_hours=down_at,
            path=_path(comp, prop.down_path(i)),
            fallback=fallback,
            fallback_from_hours=ready if fallback else None,
            fallback_until_hours=carried_until if fallback else None,
            outage_hours=outage,
            rto_breached=rto_breached,
            bearable_exceeded=exceeded,
            impact=impacts[-1] if impacts else "",
            impacts=impacts,
            status_at=status_at,
            codes=tuple(codes),
        )
    if math.isfinite(touched_at) and touched_at < sc.ends_hours:
        status_at = None
        if sc.assess_hours is not None:
            t = sc.assess_hours
            status_at = Status.DEGRADED if touched_at <= t < sc.ends_hours else Status.UNAFFECTED
        codes = ["PROCESS_DEGRADED"] + (["DATA_UNREACHABLE"] if unreachable else [])
        return ProcessOutcome(
            **base,  # type: ignore[arg-type]
            status=Status.DEGRADED,
            since_hours=touched_at,
            path=_path(comp, prop.touched_path(i)),
            rto_breached=None if pr.rto_hours is None else False,
            bearable_exceeded=None if pr.bearable_hours is None else False,
            status_at=status_at,
            codes=tuple(codes),
        )
    return ProcessOutcome(
        **base,  # type: ignore[arg-type]
        status=Status.UNAFFECTED,
        since_hours=None,
        path=(pr.id,),
        rto_breached=None if pr.rto_hours is None else False,
        bearable_exceeded=None if pr.bearable_hours is None else False,
        status_at=None if sc.assess_hours is None else Status.UNAFFECTED,
        codes=("PROCESS_UNAFFECTED",),
    )


def _data_outcome(comp: CompiledInventory, prop: Propagation, asset: DataAsset) -> DataOutcome:
    d_id = asset.id
    i = comp.index[f"data:{d_id}"]
    at = float(prop.down_at[i])
    if not math.isfinite(at):
        return DataOutcome(d_id, asset.name or d_id, asset.classification, None, None, (d_id,))
    restorable = [
        b.restore_hours
        for b in asset.backups
        if prop.down_at[comp.index[f"service:{b.location}"]] > at + b.restore_hours
    ]
    return DataOutcome(
        d_id,
        asset.name or d_id,
        asset.classification,
        at,
        min(restorable) if restorable else None,
        _path(comp, prop.down_path(i)),
    )


def _summary(
    inv: Inventory, procs: tuple[ProcessOutcome, ...], data: tuple[DataOutcome, ...]
) -> dict[str, Any]:
    down = [p for p in procs if p.status is Status.DOWN]
    deg = [p for p in procs if p.status is Status.DEGRADED]
    nodes = {pr.id: pr for pr in inv.processes}
    counts: dict[str, Any] = {}
    for label, group in (("down", down), ("degraded", deg)):
        for kind in KINDS:
            served = inv.population.served((nodes[p.id].served for p in group), kind)
            counts[f"{kind}_{label}"] = served.value
            counts[f"{kind}_{label}_range"] = {"low": served.low, "high": served.high}
    return {
        "processes": len(procs),
        "down": len(down),
        "degraded": len(deg),
        "unaffected": len(procs) - len(down) - len(deg),
        **counts,
        "population": inv.population.people,
        "restored_by_fallback": sum(1 for p in down if p.fallback_restores),
        "fallback_exhausted": sum(1 for p in down if "FALLBACK_EXHAUSTED" in p.codes),
        "rto_breached": sum(1 for p in down if p.rto_breached),
        "tolerable_outage_exceeded": sum(1 for p in down if p.bearable_exceeded),
        "data_unreachable": sum(1 for d in data if d.unreachable_hours is not None),
    }
