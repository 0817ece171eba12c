"""Checks a schema cannot express: references resolve, identifiers are well-formed (LEI
check digits, EUID, ISO country and currency codes, DORA service types), no dependency
cycles. Pure: a register in, problems out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sovmap.readers import Text
from sovmap.register.codec import COUNTRY_FIELDS, CURRENCY_FIELDS, LEI_FIELDS, field_specs
from sovmap.register.identifiers import (
    countries,
    currencies,
    euid_problem,
    ict_service_types,
    lei_problem,
)
from sovmap.register.model import Location, Register, Valued, where
from sovmap.register.problems import Problem

_NOWHERE = Location("?", 1)


def _p(at: Location | None, field: str, code: str, key: str, **params: Any) -> Problem:
    """The problem ``code`` at ``at``, said by the catalogue message ``key``."""
    at = at or _NOWHERE
    return Problem.of(at.file, at.line, field, code, key, **params)


#: catalogue names of the kinds of thing a reference points at
_KINDS = {
    k: Text(f"REGCHECK_KIND_{k.upper()}") for k in ("service", "provider", "contract", "process")
}


def _entities(register: Register) -> Iterator[tuple[str, Any]]:
    yield "organisation", register.organisation
    for section in (
        "processes",
        "services",
        "providers",
        "data_assets",
        "contracts",
        "entities",
        "branches",
    ):
        for entity in getattr(register, section).values():
            yield section, entity


def _identifier_problems(register: Register) -> Iterator[Problem]:
    types = ict_service_types()
    for section, entity in _entities(register):
        label = section if section == "organisation" else f"{section}[{entity.id}]"
        for spec in field_specs(type(entity)):
            if not spec.valued:
                continue
            v: Valued[Any] = getattr(entity, spec.name)
            if v.value is None:
                continue
            where = f"{label}.{spec.name}"
            if spec.name in COUNTRY_FIELDS and v.value not in countries():
                yield _p(v.at, where, "BAD_COUNTRY", "REGCHECK_BAD_COUNTRY", value=repr(v.value))
            elif spec.name in CURRENCY_FIELDS and v.value not in currencies():
                yield _p(v.at, where, "BAD_CURRENCY", "REGCHECK_BAD_CURRENCY", value=repr(v.value))
            elif spec.name in LEI_FIELDS and (why := lei_problem(v.value)):
                yield _p(
                    v.at, where, "BAD_LEI", "REGCHECK_BAD_IDENTIFIER", value=repr(v.value), why=why
                )
            elif spec.name == "euid" and (why := euid_problem(v.value)):
                yield _p(
                    v.at, where, "BAD_EUID", "REGCHECK_BAD_IDENTIFIER", value=repr(v.value), why=why
                )
            elif spec.name == "dora_service_type" and v.value not in types:
                value = repr(v.value)
                yield _p(v.at, where, "BAD_SERVICE_TYPE", "REGCHECK_BAD_SERVICE_TYPE", value=value)


def _ref(
    target: dict[str, Any] | Any, ref: str | None, at: Location | None, where: str, kind: str
) -> Iterator[Problem]:
    if ref is not None and ref not in target:
        yield _p(at, where, "UNKNOWN_REF", "REGCHECK_UNKNOWN_REF", kind=_KINDS[kind], id=repr(ref))


def _reference_problems(r: Register) -> Iterator[Problem]:
    svc, prov, con, proc = r.services, r.providers, r.contracts, r.processes
    for p in r.processes.values():
        w = f"processes[{p.id}]"
        for i, sid in enumerate(p.services):
            yield from _ref(svc, sid, where(p, f"services.{i}"), f"{w}.services", "service")
        steps = [s.after_hours for s in p.escalation]
        if steps != sorted(steps):
            yield _p(
                where(p, "escalation"),
                f"{w}.escalation",
                "ESCALATION_ORDER",
                "REGCHECK_ESCALATION_ORDER",
            )
    for s in r.services.values():
        w = f"services[{s.id}]"
        yield from _ref(prov, s.provider.value, s.provider.at, f"{w}.provider", "provider")
        yield from _ref(con, s.contract.value, s.contract.at, f"{w}.contract", "contract")
        yield from _ref(svc, s.fallback.value, s.fallback.at, f"{w}.fallback", "service")
        yield from _ref(svc, s.backup.value, s.backup.at, f"{w}.backup", "service")
        for i, d in enumerate(s.depends_on):
            at = where(s, f"depends_on.{i}")
            yield from _ref(svc, d.service, at, f"{w}.depends_on", "service")
            if d.service == s.id:
                yield _p(at, f"{w}.depends_on", "SELF_DEPENDENCY", "REGCHECK_SELF_DEPENDENCY")
    for pv in r.providers.values():
        w = f"providers[{pv.id}]"
        yield from _ref(prov, pv.parent.value, pv.parent.at, f"{w}.parent", "provider")
        for i, sub in enumerate(pv.subcontractors):
            at = where(pv, f"subcontractors.{i}")
            yield from _ref(prov, sub.provider, at, f"{w}.subcontractors", "provider")
            for sid in sub.services:
                yield from _ref(svc, sid, at, f"{w}.subcontractors", "service")
    for da in r.data_assets.values():
        w = f"data_assets[{da.id}]"
        for i, pid in enumerate(da.processes):
            yield from _ref(proc, pid, where(da, f"processes.{i}"), f"{w}.processes", "process")
        for i, link in enumerate(da.services):
            at = where(da, f"services.{i}")
            yield from _ref(svc, link.service, at, f"{w}.services", "service")
    for c in r.contracts.values():
        w = f"contracts[{c.id}]"
        yield from _ref(prov, c.provider.value, c.provider.at, f"{w}.provider", "provider")
        yield from _ref(con, c.overarching.value, c.overarching.at, f"{w}.overarching", "contract")
        for i, sid in enumerate(c.services):
            yield from _ref(svc, sid, where(c, f"services.{i}"), f"{w}.services", "service")
        if c.start.value and c.end.value and c.end.value < c.start.value:
            yield _p(c.end.at, f"{w}.end", "END_BEFORE_START", "REGCHECK_END_BEFORE_START")


def _cycle_problems(r: Register) -> Iterator[Problem]:
    """Dependency cycles, by a depth-first walk with an explicit stack (a chain of thousands of
    services is walked without a RecursionError)."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def deps(sid: str) -> Iterator[Any]:
        svc = r.services.get(sid)
        return iter(svc.depends_on if svc else ())

    for root in r.services:
        if root in state:
            continue
        state[root] = 1
        path = [root]
        frames = [(root, deps(root))]
        while frames:
            sid, pending = frames[-1]
            d = next(pending, None)
            if d is None:
                state[sid] = 2
                frames.pop()
                path.pop()
                continue
            if state.get(d.service) == 1:
                svc = r.services.get(sid)
                cycle = [*path[path.index(d.service) :], d.service] if d.service in path else []
                yield _p(
                    d.at or (svc.at if svc else None),
                    f"services[{sid}].depends_on",
                    "DEPENDENCY_CYCLE",
                    "REGCHECK_DEPENDENCY_CYCLE",
                    cycle=" -> ".join(cycle),
                )
            elif d.service not in state:
                state[d.service] = 1
                path.append(d.service)
                frames.append((d.service, deps(d.service)))


def check_semantics(register: Register) -> list[Problem]:
    return [
        *_identifier_problems(register),
        *_reference_problems(register),
        *_cycle_problems(register),
    ]
