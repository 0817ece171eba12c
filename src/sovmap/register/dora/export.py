"""A register as the 15 templates of the DORA register of information.

Rows are plain dicts of column code -> CSV text; ``_source`` names the register file and
line each row was made from, so a finding points back to what to fix. Nothing is invented:
a value the register does not hold stays empty (and the EBA rules say whether that blocks);
placeholders are written only where the rules define one for "not applicable" (a country
column when no data is stored, the branch code of an entity that is not a branch, the open
end date). Amounts stay in their contract's currency; a provider's total is converted only
with an explicit rates table. Sovmap's own blocking findings (a parent known only by name,
mixed currencies without rates, a provider without any code) come back with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sovmap.register.dora.rules import Finding, finding, placeholder, templates
from sovmap.register.model import (
    Classification,
    Contract,
    Criticality,
    ExitPlan,
    Level,
    Location,
    Process,
    Provider,
    Register,
    Service,
    Valued,
)
from sovmap.register.ownership import control_of
from sovmap.register.roi import code_list, codes

_SENSITIVITY = {
    Classification.PUBLIC: Level.LOW,
    Classification.INTERNAL: Level.LOW,
    Classification.CONFIDENTIAL: Level.MEDIUM,
    Classification.STATE_CONFIDENTIAL: Level.HIGH,
    Classification.STATE_SECRET: Level.HIGH,
    Classification.STATE_TOP_SECRET: Level.HIGH,
}
Rows = list[dict[str, str]]


@dataclass
class Export:
    tables: dict[str, Rows]
    findings: list[Finding] = field(default_factory=list)  # sovmap's own


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def _ga(value: str | None) -> str:
    return f"{codes()['prefixes']['country']}{value}" if value else ""


def _cu(value: str | None) -> str:
    return f"{codes()['prefixes']['currency']}{value}" if value else ""


def _code(name: str, value: Any) -> str:
    if value is None:
        return ""
    return code_list(name).get(str(value), "")


def _src(entity: Any) -> str:
    at: Location | None = getattr(entity, "at", None)
    return str(at) if at else ""


def identifiers(provider: Provider) -> list[tuple[str, str]]:
    """(code, eba_qCO type) of a provider in the order the RoI uses: LEI, EUID, others."""
    types = code_list("id_type")
    out: list[tuple[str, str]] = []
    if provider.lei.value:
        out.append((provider.lei.value, types["lei"]))
    if provider.euid.value:
        out.append((provider.euid.value, types["euid"]))
    for code, kind in (
        (provider.other_id, provider.other_id_type),
        (provider.extra_id, provider.extra_id_type),
    ):
        if code.value:
            out.append((code.value, types.get(kind.value or "", "")))
    return out


def provider_code(provider: Provider) -> tuple[str, str]:
    """(identification code, type of code); without any code: the register id, no type
    (which the EBA rules report)."""
    ids = identifiers(provider)
    return ids[0] if ids else (provider.id, "")


def _first(services: Iterable[Service], attr: str) -> Any:
    for s in services:
        v: Valued[Any] = getattr(s, attr)
        if v.value is not None:
            return v.value
    return None


def _sensitivity(register: Register, services: list[Service]) -> Level | None:
    entered = _first(services, "data_sensitivity")
    if entered is not None:
        return Level(entered)
    levels = [
        _SENSITIVITY[d.classification.value]
        for s in services
        for d in register.data_of(s.id)
        if d.classification.value is not None
    ]
    order = [Level.LOW, Level.MEDIUM, Level.HIGH]
    return max(levels, key=order.index) if levels else None


def _groups(register: Register, contract: Contract) -> dict[str, list[Service]]:
    ids = list(contract.services) + [
        s.id for s in register.services.values() if s.contract.value == contract.id
    ]
    groups: dict[str, list[Service]] = {}
    for sid in dict.fromkeys(ids):
        svc = register.services.get(sid)
        if svc is not None:
            groups.setdefault(svc.dora_service_type.value or "", []).append(svc)
    return groups


def register_to_tables(
    register: Register,
    reference_date: date,
    rates: Mapping[str, float] | None = None,
    reported_on: date | None = None,
) -> Export:
    """The templates of ``register`` at ``reference_date``. ``rates``: units of the
    organisation's currency per unit of another currency, used only for B_05.01 totals.
    ``reported_on``: the date of the reporting (B_01.01 c0060) when the register states none
    (the command gives the day the package is made)."""
    org = register.organisation
    lei = org.lei.value or ""
    base = org.currency.value or ""
    open_end = placeholder("open_date")
    out = Export({})
    t = out.tables
    for name in templates():
        t[name] = []
    src = _src(org)
    t["B_01.01"].append(
        {
            "c0010": lei,
            "c0020": org.name,
            "c0030": _ga(org.country.value),
            "c0040": org.dora_entity_type.value or "",
            "c0050": org.competent_authority.value or "",
            "c0060": (org.reported_on.value or reported_on or reference_date).isoformat(),
            "_source": src,
        }
    )
    standalone = not register.entities and not org.parent_lei.value
    hierarchy = org.hierarchy.value or ("ultimate-parent" if standalone else "")
    t["B_01.02"].append(
        {
            "c0010": lei,
            "c0020": org.name,
            "c0030": _ga(org.country.value),
            "c0040": org.dora_entity_type.value or "",
            "c0050": _code("hierarchy", hierarchy or None),
            "c0060": org.parent_lei.value or (lei if hierarchy == "ultimate-parent" else ""),
            "c0070": _d(org.updated_on.value),
            "c0080": _d(org.integrated_on.value),
            "c0090": open_end,
            "c0100": _cu(org.currency.value),
            "c0110": _num(org.total_assets.value),
            "_source": src,
        }
    )
    group_leis = {lei} | {e.lei.value or e.id for e in register.entities.values()}
    for e in register.entities.values():
        elei = e.lei.value or ""
        t["B_01.02"].append(
            {
                "c0010": elei,
                "c0020": e.name,
                "c0030": _ga(e.country.value),
                "c0040": e.dora_entity_type.value or "",
                "c0050": _code("hierarchy", e.hierarchy.value),
                "c0060": e.parent_lei.value
                or (elei if e.hierarchy.value == "ultimate-parent" else ""),
                "c0070": _d(e.updated_on.value),
                "c0080": _d(e.integrated_on.value),
                "c0090": _d(e.deleted_on.value) or open_end,
                "c0100": _cu(e.currency.value),
                "c0110": _num(e.total_assets.value),
                "_source": _src(e),
            }
        )
    for b in register.branches.values():
        t["B_01.03"].append(
            {
                "c0010": b.id,
                "c0020": b.entity.value or "",
                "c0030": b.name,
                "c0040": _ga(b.country.value),
                "_source": _src(b),
            }
        )
    providers_used: dict[str, None] = {}
    spend: dict[str, dict[str, float]] = {}  # provider -> currency -> annual cost
    for c in register.contracts.values():
        _contract(register, c, reference_date, out, providers_used, spend, group_leis)
    _providers(register, out, providers_used, spend, base, rates or {})
    for p in register.processes.values():
        crit = p.criticality.value
        t["B_06.01"].append(
            {
                "c0010": p.id,
                "c0020": p.licensed_activity.value or "",
                "c0030": p.name,
                "c0040": p.entity.value or lei,
                "c0050": _code(
                    "assessment",
                    "not-performed"
                    if crit is None
                    else ("no" if crit == Criticality.NORMAL else "yes"),
                ),
                "c0060": p.criticality_reason.value or "",
                "c0070": _d(p.assessed_on.value),
                "c0080": _num(p.rto_hours.value),
                "c0090": _num(p.rpo_hours.value),
                "c0100": _code(
                    "impact",
                    p.discontinuing_impact.value.value
                    if p.discontinuing_impact.value
                    else "not-performed",
                ),
                "_source": _src(p),
            }
        )
    definitions = org.dora_definitions.value or ()
    if definitions:
        row = {"_source": src}
        for item in definitions:
            col, _, text = item.partition(":")
            row[col.strip()] = text.strip()
        t["B_99.01"].append(row)
    return out


def _contract(
    register: Register,
    c: Contract,
    reference_date: date,
    out: Export,
    providers_used: dict[str, None],
    spend: dict[str, dict[str, float]],
    group_leis: set[str],
) -> None:
    t = out.tables
    org_lei = register.organisation.lei.value or ""
    src = _src(c)
    prov = register.providers.get(c.provider.value or "")
    if prov is not None:
        providers_used[prov.id] = None
        if c.annual_cost.value is not None and c.currency.value:
            by = spend.setdefault(prov.id, {})
            by[c.currency.value] = by.get(c.currency.value, 0.0) + c.annual_cost.value
    code, ctype = provider_code(prov) if prov is not None else ("", "")
    t["B_02.01"].append(
        {
            "c0010": c.id,
            "c0020": _code("contract_kind", c.kind.value),
            "c0030": c.overarching.value or "",
            "c0040": _cu(c.currency.value),
            "c0050": _num(c.annual_cost.value),
            "_source": src,
        }
    )
    for other in c.linked:
        t["B_02.03"].append({"c0010": c.id, "c0020": other, "c0030": "true", "_source": src})
    for e in c.signed_by or (org_lei,):
        t["B_03.01"].append({"c0010": c.id, "c0020": e, "c0030": "true", "_source": src})
    t["B_03.02"].append({"c0010": c.id, "c0020": code, "c0030": ctype, "_source": src})
    provided = c.provided_by
    if not provided and prov is not None and prov.lei.value in group_leis:
        provided = (prov.lei.value or "",)
    for e in provided:
        t["B_03.03"].append({"c0010": c.id, "c0020": e, "c0031": "true", "_source": src})
    for user in c.used_by or (org_lei,):
        branch = register.branches.get(user)
        if branch is not None:
            row = {
                "c0020": branch.entity.value or "",
                "c0030": _code("nature", "branch"),
                "c0040": user,
            }
        else:
            row = {
                "c0020": user,
                "c0030": _code("nature", "not-branch"),
                "c0040": placeholder("text"),
            }
        t["B_04.01"].append({"c0010": c.id, **row, "_source": src})
    if c.end.value is not None and c.end.value < reference_date and not c.termination_reason.value:
        out.findings.append(
            finding(
                "SOV_ENDED",
                "B_02.02",
                "c0090",
                0,
                f"c0010={c.id}",
                "SOV_ENDED",
                src,
                blocking=False,
                end=c.end.value.isoformat(),
            )
        )
    if prov is None:
        return
    ta = codes()["prefixes"]["service_type"]
    for stype, services in _groups(register, c).items():
        ids = {s.id for s in services}
        functions = [
            p for p in register.processes.values() if ids & set(register.closure(p.services))
        ]
        stores = _first(services, "stores_data")
        data_loc = _first(services, "data_location")
        processing = _first(services, "processing_location")
        sens = _sensitivity(register, services)
        na = placeholder("country")
        rows_for: list[Process | None] = list(functions) or [None]
        for p in rows_for:
            t["B_02.02"].append(
                {
                    "c0010": c.id,
                    "c0020": (p.entity.value if p else None) or org_lei,
                    "c0030": code,
                    "c0040": ctype,
                    "c0050": p.id if p else "",
                    "c0060": f"{ta}{stype}" if stype else "",
                    "c0070": _d(c.start.value),
                    "c0080": _d(c.end.value) or placeholder("open_date"),
                    "c0090": _code("termination_reason", c.termination_reason.value),
                    "c0100": _num(c.notice_days.value),
                    "c0110": _num(c.provider_notice_days.value),
                    "c0120": _ga(c.governing_law.value),
                    "c0130": _ga(_first(services, "provision_country")),
                    "c0140": _code(
                        "binary", None if stores is None else ("yes" if stores else "no")
                    ),
                    "c0150": na if stores is False else _ga(data_loc),
                    "c0160": _ga(processing) or (na if stores is False else ""),
                    "c0170": _code("sensitivity", sens.value if sens else None),
                    "c0180": _code("reliance", _first(services, "reliance")),
                    "_source": _src(p) if p else src,
                }
            )
        alternatives = _first(services, "alternatives")
        exit_plan = _first(services, "exit_plan")
        t["B_07.01"].append(
            {
                "c0010": c.id,
                "c0020": code,
                "c0030": ctype,
                "c0040": f"{ta}{stype}" if stype else "",
                "c0050": _code("substitutability", _first(services, "substitutability")),
                "c0060": _code(
                    "substitutability_reason", _first(services, "substitutability_reason")
                ),
                "c0070": _d(_first(services, "last_audit")),
                "c0080": ""
                if exit_plan is None
                else _code("binary", "no" if exit_plan == ExitPlan.NONE else "yes"),
                "c0090": _code("reintegration", _first(services, "reintegration")),
                "c0100": _code("impact", _first(services, "discontinuing_impact")),
                "c0110": _code(
                    "assessment",
                    "not-performed" if alternatives is None else ("yes" if alternatives else "no"),
                ),
                "c0120": "; ".join(alternatives or ()),
                "_source": _src(services[0]),
            }
        )
        _chain(register, c, prov, f"{ta}{stype}" if stype else "", ids, out, providers_used)


def _chain(
    register: Register,
    c: Contract,
    prov: Provider,
    stype: str,
    ids: set[str],
    out: Export,
    providers_used: dict[str, None],
) -> None:
    code, ctype = provider_code(prov)
    rows = [
        {
            "c0030": code,
            "c0040": ctype,
            "c0050": "1",
            "c0060": code,
            "c0070": ctype,
            "_source": _src(prov),
        }
    ]
    queue: list[tuple[Provider, int]] = [(prov, 1)]
    seen: set[tuple[str, str]] = set()
    while queue:
        recipient, rank = queue.pop(0)
        rcode, rtype = provider_code(recipient)
        for sub in recipient.subcontractors:
            sp = register.providers.get(sub.provider)
            if sp is None or (sub.services and not ids & set(sub.services)):
                continue
            if (recipient.id, sp.id) in seen:
                continue
            seen.add((recipient.id, sp.id))
            providers_used[sp.id] = None
            sub_rank = max(sub.rank, rank + 1)
            scode, stype_code = provider_code(sp)
            rows.append(
                {
                    "c0030": scode,
                    "c0040": stype_code,
                    "c0050": str(sub_rank),
                    "c0060": rcode,
                    "c0070": rtype,
                    "_source": _src(recipient),
                }
            )
            queue.append((sp, sub_rank))
    for row in rows:
        out.tables["B_05.02"].append({"c0010": c.id, "c0020": stype, **row})


def _parent(
    register: Register, prov: Provider, out: Export
) -> tuple[str, str, dict[str, str] | None]:
    """(code, type) of the ultimate parent, plus a B_05.01 row for a parent known only by its
    LEI, name and country. A parent known by name or country only is a blocking finding."""
    chain = control_of(register, prov.id).chain
    entries = [link for link in chain if link.id in register.providers]
    top = register.providers[entries[-1].id] if entries else prov
    described = chain[-1] if chain[-1].id not in register.providers else None
    lei_type = code_list("id_type")["lei"]
    lei = top.parent_lei.value or ""
    if lei:
        name = top.parent_name.value or ""
        country = top.parent_country.value or ""
        row = None
        if name and country:
            row = {
                "c0010": lei,
                "c0020": lei_type,
                "c0050": name,
                "c0060": name,
                "c0070": code_list("person_type")["legal-person"],
                "c0080": _ga(country),
                "c0110": lei,
                "c0120": lei_type,
                "_source": _src(top),
            }
        return lei, lei_type, row
    if described is None:
        return (*provider_code(top), None)
    what = " / ".join(x for x in (described.name, described.country) if x) or described.id
    out.findings.append(
        finding(
            "SOV_PARENT",
            "B_05.01",
            "c0110",
            0,
            f"c0010={provider_code(prov)[0]}",
            "SOV_PARENT",
            _src(top),
            parent=what,
        )
    )
    return "", "", None


def _providers(
    register: Register,
    out: Export,
    used: dict[str, None],
    spend: dict[str, dict[str, float]],
    base: str,
    rates: Mapping[str, float],
) -> None:
    queue = list(used)
    while queue:
        prov = register.providers[queue.pop(0)]
        control = control_of(register, prov.id)
        for link in control.chain[1:]:
            if link.id in register.providers and link.id not in used:
                used[link.id] = None
                queue.append(link.id)
    extra_rows: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    for pid in [p for p in register.providers if p in used]:
        prov = register.providers[pid]
        ids = identifiers(prov)
        code, ctype = provider_code(prov)
        extra = ids[1] if len(ids) > 1 else ("", "")
        pcode, ptype, parent_row = _parent(register, prov, out)
        if parent_row is not None and pcode not in extra_rows:
            extra_rows[pcode] = parent_row
        currency, total = _total(prov, spend.get(pid, {}), base, rates, out)
        if not ids:
            out.findings.append(
                finding(
                    "SOV_NO_CODE", "B_05.01", "c0020", 0, f"c0010={code}", "SOV_NO_CODE", _src(prov)
                )
            )
        written.add(code)
        out.tables["B_05.01"].append(
            {
                "c0010": code,
                "c0020": ctype,
                "c0030": extra[0],
                "c0040": extra[1],
                "c0050": prov.legal_name.value or prov.name,
                "c0060": prov.name,
                "c0070": _code("person_type", prov.person_type.value),
                "c0080": _ga(prov.country.value),
                "c0090": _cu(currency),
                "c0100": total,
                "c0110": pcode,
                "c0120": ptype,
                "_source": _src(prov),
            }
        )
    for code, row in extra_rows.items():
        if code not in written:
            out.tables["B_05.01"].append(row)


def _total(
    prov: Provider,
    by_currency: dict[str, float],
    base: str,
    rates: Mapping[str, float],
    out: Export,
) -> tuple[str, str]:
    """(currency, amount) of a provider's total annual cost: in the contracts' currency when
    there is one, converted to ``base`` with ``rates`` when there are several."""
    if not by_currency:
        return "", ""
    if len(by_currency) == 1:
        ((cur, amount),) = by_currency.items()
        return cur, _num(round(amount, 2))
    missing = sorted(c for c in by_currency if c != base and c not in rates)
    if missing or not base:
        parts = ", ".join(f"{cur} {_num(round(a, 2))}" for cur, a in sorted(by_currency.items()))
        out.findings.append(
            finding(
                "SOV_CURRENCIES",
                "B_05.01",
                "c0100",
                0,
                f"c0010={provider_code(prov)[0]}",
                "SOV_CURRENCIES",
                _src(prov),
                amounts=parts,
                missing=", ".join(missing) or "-",
                base=base or "?",
            )
        )
        return "", ""
    amount = sum(a * (1.0 if cur == base else rates[cur]) for cur, a in by_currency.items())
    return base, _num(round(amount, 2))
