"""Small registers built in code, for hand-computed risk cases and property tests."""

from __future__ import annotations

from typing import Any

from sovmap.register.model import (
    Classification,
    Criticality,
    DataAsset,
    DataLink,
    DataUse,
    Dependency,
    DependencyKind,
    ExitPlan,
    KeyControl,
    Organisation,
    Process,
    Provider,
    Register,
    Service,
    Subcontract,
    Substitutability,
    Valued,
)


def v(value: Any) -> Valued[Any]:
    return Valued.entered(value)


def provider(
    pid: str,
    country: str,
    *,
    tags: tuple[str, ...] = (),
    parent: str = "",
    subs: tuple[str, ...] = (),
) -> Provider:
    return Provider(
        id=pid,
        name=pid,
        country=v(country),
        jurisdiction=v(country),
        tags=v(tags) if tags else Valued(),
        parent=v(parent) if parent else Valued(),
        subcontractors=tuple(Subcontract(s) for s in subs),
    )


def service(
    sid: str,
    prov: str | None,
    *,
    key: KeyControl | None = None,
    deps: tuple[tuple[str, DependencyKind], ...] = (),
    fallback: str = "",
    subst: Substitutability | None = None,
    exit_plan: ExitPlan | None = None,
    capability: str = "saas",
) -> Service:
    return Service(
        id=sid,
        name=sid,
        capability=v(capability),
        provider=v(prov) if prov else Valued(),
        key_control=v(key) if key else Valued(),
        depends_on=tuple(Dependency(s, k) for s, k in deps),
        fallback=v(fallback) if fallback else Valued(),
        substitutability=v(subst) if subst else Valued(),
        exit_plan=v(exit_plan) if exit_plan else Valued(),
    )


def asset(
    aid: str,
    cls: Classification,
    links: tuple[tuple[str, DataUse], ...],
    processes: tuple[str, ...],
    *,
    personal: bool = False,
) -> DataAsset:
    return DataAsset(
        id=aid,
        name=aid,
        classification=v(cls),
        personal_data=v(personal),
        processes=processes,
        services=tuple(DataLink(s, u) for s, u in links),
    )


def process(
    pid: str, services: tuple[str, ...], criticality: Criticality = Criticality.CRITICAL
) -> Process:
    return Process(id=pid, name=pid, criticality=v(criticality), services=services)


def build(
    providers: list[Provider],
    services: list[Service],
    assets: list[DataAsset],
    processes: list[Process],
) -> Register:
    return Register(
        organisation=Organisation(id="org", name="Org", country=v("NL")),
        processes={p.id: p for p in processes},
        services={s.id: s for s in services},
        providers={p.id: p for p in providers},
        data_assets={a.id: a for a in assets},
    )
