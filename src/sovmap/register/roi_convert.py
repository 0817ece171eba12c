"""Register <-> DORA register of information (plain-CSV rows).

The RoI knows ICT services only as (contractual arrangement, type of ICT services): register
services of one contract with the same type become one RoI service. Functions are the
register's processes (function identifier = process id). Providers without an LEI or EUID
are written with their register id and the type ``sovmap:internal``, which the checks report
(missing provider identifiers are the most common defect of real registers).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sovmap.register.identifiers import ict_service_types
from sovmap.register.model import (
    Classification,
    Contract,
    ContractKind,
    Criticality,
    ExitPlan,
    Level,
    Location,
    Organisation,
    Origin,
    Process,
    Provider,
    Register,
    Reintegration,
    Reliance,
    Service,
    Subcontract,
    Substitutability,
    Valued,
)
from sovmap.register.roi import RoI, code_list, codes, decode_list, file_name

_SENSITIVITY = {
    Classification.PUBLIC: Level.LOW,
    Classification.INTERNAL: Level.LOW,
    Classification.CONFIDENTIAL: Level.MEDIUM,
    Classification.STATE_CONFIDENTIAL: Level.HIGH,
    Classification.STATE_SECRET: Level.HIGH,
    Classification.STATE_TOP_SECRET: Level.HIGH,
}


def _whole(text: str) -> int:
    """A whole number as the RoI checks accept it (``2``, ``2.0``, ``2E0``)."""
    return int(float(text))


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def _country(value: str | None) -> str:
    return f"{codes()['prefixes']['country']}{value}" if value else ""


def _code(name: str, value: Any) -> str:
    return code_list(name)[str(value)] if value is not None else ""


def provider_code(register: Register, provider: Provider) -> tuple[str, str]:
    """(identification code, type of code): LEI, else EUID, else the register id."""
    types = code_list("id_type")
    if provider.lei.value:
        return provider.lei.value, types["lei"]
    if provider.euid.value:
        return provider.euid.value, types["euid"]
    return provider.id, types["internal"]


def _parent_code(register: Register, provider: Provider) -> tuple[str, str]:
    parent = register.providers.get(provider.parent.value or "")
    if parent is not None:
        return provider_code(register, parent)
    if provider.parent_lei.value:
        return provider.parent_lei.value, code_list("id_type")["lei"]
    return provider_code(register, provider)


def _groups(register: Register, contract: Contract) -> dict[str, list[Service]]:
    """Services of a contract grouped by type of ICT services (file order)."""
    ids = list(contract.services) + [
        s.id for s in register.services.values() if s.contract.value == contract.id
    ]
    groups: dict[str, list[Service]] = {}
    for sid in dict.fromkeys(ids):
        svc = register.services.get(sid)
        if svc is not None:
            groups.setdefault(svc.dora_service_type.value or "", []).append(svc)
    return groups


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


def register_to_roi(register: Register, reporting_date: date) -> RoI:
    org = register.organisation
    lei = org.lei.value or ""
    prefix_type = codes()["prefixes"]["service_type"]
    open_end = codes()["open_end_date"]
    roi: RoI = {t: [] for t in code_list_templates()}
    roi["B_01.01"].append(
        {
            "c0010": lei,
            "c0020": org.name,
            "c0030": _country(org.country.value),
            "c0040": org.dora_entity_type.value or "",
            "c0050": org.competent_authority.value or "",
            "c0060": reporting_date.isoformat(),
        }
    )
    roi["B_01.02"].append(
        {
            "c0010": lei,
            "c0020": org.name,
            "c0030": _country(org.country.value),
            "c0040": org.dora_entity_type.value or "",
            "c0050": code_list("hierarchy")["ultimate-parent"],
            "c0060": lei,
            "c0070": reporting_date.isoformat(),
            "c0080": reporting_date.isoformat(),
            "c0090": open_end,
            "c0100": f"{codes()['prefixes']['currency']}{org.currency.value}"
            if org.currency.value
            else "",
            "c0110": _num(org.total_assets.value),
        }
    )
    cur = codes()["prefixes"]["currency"]
    providers_used: dict[str, None] = {}
    expense: dict[str, float] = {}
    for c in register.contracts.values():
        prov = register.providers.get(c.provider.value or "")
        if prov is None:
            continue
        providers_used[prov.id] = None
        code, ctype = provider_code(register, prov)
        if c.annual_cost.value is not None:
            expense[prov.id] = expense.get(prov.id, 0.0) + c.annual_cost.value
        roi["B_02.01"].append(
            {
                "c0010": c.id,
                "c0020": _code("contract_kind", c.kind.value),
                "c0030": c.overarching.value or "",
                "c0040": f"{cur}{c.currency.value}" if c.currency.value else "",
                "c0050": _num(c.annual_cost.value),
            }
        )
        roi["B_03.01"].append({"c0010": c.id, "c0020": lei, "c0030": "true"})
        roi["B_03.02"].append({"c0010": c.id, "c0020": code, "c0030": ctype})
        roi["B_04.01"].append(
            {"c0010": c.id, "c0020": lei, "c0030": code_list("nature")["not-branch"], "c0040": ""}
        )
        for stype, services in _groups(register, c).items():
            ids = {s.id for s in services}
            functions = [
                p for p in register.processes.values() if ids & set(register.closure(p.services))
            ]
            stores = _first(services, "stores_data")
            data_loc = _first(services, "data_location")
            sens = _sensitivity(register, services)
            rows_for: list[Process | None] = list(functions) or [None]
            for p in rows_for:
                roi["B_02.02"].append(
                    {
                        "c0010": c.id,
                        "c0020": lei,
                        "c0030": code,
                        "c0040": ctype,
                        "c0050": p.id if p else "",
                        "c0060": f"{prefix_type}{stype}" if stype else "",
                        "c0070": _d(c.start.value),
                        "c0080": _d(c.end.value) or open_end,
                        "c0090": _code("termination_reason", c.termination_reason.value),
                        "c0100": _num(c.notice_days.value),
                        "c0110": _num(c.provider_notice_days.value),
                        "c0120": _country(c.governing_law.value),
                        "c0130": _country(
                            _first(services, "provision_country") or prov.country.value
                        ),
                        "c0140": _code(
                            "binary", None if stores is None else ("yes" if stores else "no")
                        ),
                        "c0150": _country(data_loc) if stores else "",
                        "c0160": _country(_first(services, "processing_location") or data_loc),
                        "c0170": _code("sensitivity", sens.value if sens else None),
                        "c0180": _code("reliance", _first(services, "reliance")),
                    }
                )
            alternatives = _first(services, "alternatives")
            exit_plan = _first(services, "exit_plan")
            roi["B_07.01"].append(
                {
                    "c0010": c.id,
                    "c0020": code,
                    "c0030": ctype,
                    "c0040": f"{prefix_type}{stype}" if stype else "",
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
                        "not-performed"
                        if alternatives is None
                        else ("yes" if alternatives else "no"),
                    ),
                    "c0120": "; ".join(alternatives or ()),
                }
            )
            chain_rows = [
                {"c0030": code, "c0040": ctype, "c0050": "1", "c0060": code, "c0070": ctype}
            ]
            # the supply chain, rank by rank: subcontractors of subcontractors too
            chain_queue: list[tuple[Provider, int]] = [(prov, 1)]
            seen_links: set[tuple[str, str]] = set()
            while chain_queue:
                recipient, rank = chain_queue.pop(0)
                rcode, rtype = provider_code(register, recipient)
                for sub in recipient.subcontractors:
                    sp = register.providers.get(sub.provider)
                    if sp is None or (sub.services and not ids & set(sub.services)):
                        continue
                    if (recipient.id, sp.id) in seen_links:
                        continue
                    seen_links.add((recipient.id, sp.id))
                    providers_used[sp.id] = None
                    sub_rank = max(sub.rank, rank + 1)
                    scode, stype_code = provider_code(register, sp)
                    chain_rows.append(
                        {
                            "c0030": scode,
                            "c0040": stype_code,
                            "c0050": str(sub_rank),
                            "c0060": rcode,
                            "c0070": rtype,
                        }
                    )
                    chain_queue.append((sp, sub_rank))
            for row in chain_rows:
                roi["B_05.02"].append(
                    {"c0010": c.id, "c0020": f"{prefix_type}{stype}" if stype else "", **row}
                )
    # providers: direct, subcontractors and their ultimate parents
    queue = list(providers_used)
    while queue:
        pid = queue.pop(0)
        prov = register.providers[pid]
        parent = register.providers.get(prov.parent.value or "")
        if parent is not None and parent.id not in providers_used:
            providers_used[parent.id] = None
            queue.append(parent.id)
    for pid in [p for p in register.providers if p in providers_used]:
        prov = register.providers[pid]
        code, ctype = provider_code(register, prov)
        extra = prov.euid.value if prov.lei.value and prov.euid.value else ""
        pcode, ptype = _parent_code(register, prov)
        roi["B_05.01"].append(
            {
                "c0010": code,
                "c0020": ctype,
                "c0030": extra,
                "c0040": code_list("id_type")["euid"] if extra else "",
                "c0050": prov.legal_name.value or prov.name,
                "c0060": prov.name,
                "c0070": _code("person_type", prov.person_type.value),
                "c0080": _country(prov.country.value),
                "c0090": f"{cur}{org.currency.value}"
                if pid in expense and org.currency.value
                else "",
                "c0100": _num(expense.get(pid)),
                "c0110": pcode,
                "c0120": ptype,
            }
        )
    for p in register.processes.values():
        crit = p.criticality.value
        roi["B_06.01"].append(
            {
                "c0010": p.id,
                "c0020": p.licensed_activity.value or "",
                "c0030": p.name,
                "c0040": lei,
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
            }
        )
    return roi


def code_list_templates() -> tuple[str, ...]:
    return tuple(codes()["templates"])


# --------------------------------------------------------------------------- import

_SAFE = re.compile(r"[^A-Za-z0-9._:-]")


def _id(text: str) -> str:
    return _SAFE.sub("-", text) or "-"


def _v(value: Any, template: str, row: dict[str, str]) -> Valued[Any]:
    at = Location(f"reports/{file_name(template)}", int(row.get("_line", "1")))
    if value is None or value == "":
        return Valued(at=at)
    return Valued(value, Origin.ENTERED, at=at)


def _uncountry(value: str) -> str | None:
    if not value or value == codes()["not_applicable_country"]:
        return None
    return value.removeprefix(codes()["prefixes"]["country"])


def _float(value: str) -> float | None:
    return float(value) if value else None


def _date(value: str) -> date | None:
    if not value or value == codes()["open_end_date"]:
        return None
    return date.fromisoformat(value)


def roi_to_register(roi: RoI) -> Register:
    """Build a register from RoI rows (run :func:`check_roi` first: bad codes raise)."""
    head = (roi.get("B_01.01") or [{}])[0]
    entity = next((r for r in roi.get("B_01.02", []) if r.get("c0010") == head.get("c0010")), {})
    T = "B_01.01"
    org = Organisation(
        id=_id(head.get("c0010", "") or "organisation"),
        name=head.get("c0020", ""),
        lei=_v(head.get("c0010"), T, head),
        country=_v(_uncountry(head.get("c0030", "")), T, head),
        dora_entity_type=_v(head.get("c0040"), T, head),
        competent_authority=_v(head.get("c0050"), T, head),
        currency=_v(
            entity.get("c0100", "").removeprefix(codes()["prefixes"]["currency"]), "B_01.02", entity
        ),
        total_assets=_v(_float(entity.get("c0110", "")), "B_01.02", entity),
    )
    types = code_list("id_type")
    providers: dict[str, Provider] = {}
    parents: dict[str, str] = {}
    for row in roi.get("B_05.01", []):
        T = "B_05.01"
        code, ctype = row["c0010"], row["c0020"]
        lei = (
            code
            if ctype == types["lei"]
            else row["c0030"]
            if row.get("c0040") == types["lei"]
            else None
        )
        euid = (
            code
            if ctype == types["euid"]
            else row["c0030"]
            if row.get("c0040") == types["euid"]
            else None
        )
        if row.get("c0110") and row["c0110"] != code:
            parents[_id(code)] = row["c0110"]
        providers[_id(code)] = Provider(
            id=_id(code),
            name=row.get("c0060") or row.get("c0050") or code,
            legal_name=_v(row.get("c0050"), T, row),
            lei=_v(lei, T, row),
            euid=_v(euid, T, row),
            country=_v(_uncountry(row.get("c0080", "")), T, row),
            person_type=_v(decode_list("person_type", row.get("c0070", "")), T, row),
        )
    for pid, pcode in parents.items():
        prov = providers[pid]
        if _id(pcode) in providers:
            providers[pid] = _replace(prov, parent=Valued(_id(pcode), Origin.ENTERED))
        else:
            providers[pid] = _replace(prov, parent_lei=Valued(pcode, Origin.ENTERED))
    contracts: dict[str, Contract] = {}
    details = {r["c0010"]: r for r in roi.get("B_02.02", [])}
    signers = {r["c0010"]: r["c0020"] for r in roi.get("B_03.02", [])}
    prefix_cur = codes()["prefixes"]["currency"]
    for row in roi.get("B_02.01", []):
        T = "B_02.01"
        d = details.get(row["c0010"], {})
        kind = decode_list("contract_kind", row.get("c0020", ""))
        contracts[_id(row["c0010"])] = Contract(
            id=_id(row["c0010"]),
            provider=_v(
                _id(signers[row["c0010"]]) if row["c0010"] in signers else None, "B_03.02", row
            ),
            kind=_v(ContractKind(kind) if kind else None, T, row),
            overarching=_v(_id(row["c0030"]) if row.get("c0030") else None, T, row),
            currency=_v(row.get("c0040", "").removeprefix(prefix_cur) or None, T, row),
            annual_cost=_v(_float(row.get("c0050", "")), T, row),
            start=_v(_date(d.get("c0070", "")), "B_02.02", d),
            end=_v(_date(d.get("c0080", "")), "B_02.02", d),
            termination_reason=_v(
                decode_list("termination_reason", d.get("c0090", "")), "B_02.02", d
            ),
            notice_days=_v(_whole(d["c0100"]) if d.get("c0100") else None, "B_02.02", d),
            provider_notice_days=_v(_whole(d["c0110"]) if d.get("c0110") else None, "B_02.02", d),
            governing_law=_v(_uncountry(d.get("c0120", "")), "B_02.02", d),
        )
    services: dict[str, Service] = {}
    process_services: dict[str, list[str]] = {}
    prefix_type = codes()["prefixes"]["service_type"]
    assessments = {(r["c0010"], r["c0040"]): r for r in roi.get("B_07.01", [])}
    for row in roi.get("B_02.02", []):
        T = "B_02.02"
        stype = row.get("c0060", "").removeprefix(prefix_type)
        sid = _id(f"{row['c0010']}:{stype}")
        if row.get("c0050"):
            process_services.setdefault(row["c0050"], []).append(sid)
        if sid in services:
            continue
        a = assessments.get((row["c0010"], row.get("c0060", "")), {})
        stores = decode_list("binary", row.get("c0140", ""))
        sens = decode_list("sensitivity", row.get("c0170", ""))
        rel = decode_list("reliance", row.get("c0180", ""))
        sub = decode_list("substitutability", a.get("c0050", ""))
        rein = decode_list("reintegration", a.get("c0090", ""))
        impact = decode_list("impact", a.get("c0100", ""))
        exit_plan = decode_list("binary", a.get("c0080", ""))
        alt = decode_list("assessment", a.get("c0110", ""))
        alternatives: tuple[str, ...] | None = None
        if alt in ("yes", "no"):
            alternatives = tuple(x.strip() for x in a.get("c0120", "").split(";") if x.strip())
        type_name = ict_service_types().get(stype, {}).get("name", stype or "ICT service")
        services[sid] = Service(
            id=sid,
            name=f"{type_name} ({row['c0010']})",
            provider=_v(_id(row["c0030"]), T, row),
            contract=_v(_id(row["c0010"]), T, row),
            dora_service_type=_v(stype or None, T, row),
            provision_country=_v(_uncountry(row.get("c0130", "")), T, row),
            stores_data=_v(None if stores is None else stores == "yes", T, row),
            data_location=_v(_uncountry(row.get("c0150", "")), T, row),
            processing_location=_v(_uncountry(row.get("c0160", "")), T, row),
            data_sensitivity=_v(Level(sens) if sens else None, T, row),
            reliance=_v(Reliance(rel) if rel else None, T, row),
            substitutability=_v(Substitutability(sub) if sub else None, "B_07.01", a),
            substitutability_reason=_v(
                decode_list("substitutability_reason", a.get("c0060", "")), "B_07.01", a
            ),
            last_audit=_v(_date(a.get("c0070", "")), "B_07.01", a),
            exit_plan=_v(
                None
                if exit_plan is None
                else ExitPlan.NONE
                if exit_plan == "no"
                else ExitPlan.DOCUMENTED,
                "B_07.01",
                a,
            ),
            reintegration=_v(Reintegration(rein) if rein else None, "B_07.01", a),
            discontinuing_impact=_v(
                Level(impact) if impact and impact != "not-performed" else None, "B_07.01", a
            ),
            alternatives=_v(alternatives, "B_07.01", a),
        )
    for row in roi.get("B_05.02", []):
        if _whole(row.get("c0050") or "1") < 2:
            continue
        recipient = _id(row["c0060"])
        stype = row.get("c0020", "").removeprefix(prefix_type)
        sid = _id(f"{row['c0010']}:{stype}")
        recipient_provider = providers.get(recipient)
        if recipient_provider is None:
            continue
        subs = list(recipient_provider.subcontractors)
        for i, s in enumerate(subs):
            if s.provider == _id(row["c0030"]) and s.rank == _whole(row["c0050"]):
                if sid not in s.services:
                    subs[i] = Subcontract(s.provider, s.role, s.rank, (*s.services, sid))
                break
        else:
            subs.append(Subcontract(_id(row["c0030"]), "", _whole(row["c0050"]), (sid,)))
        providers[recipient] = _replace(recipient_provider, subcontractors=tuple(subs))
    processes: dict[str, Process] = {}
    for row in roi.get("B_06.01", []):
        T = "B_06.01"
        crit = decode_list("assessment", row.get("c0050", ""))
        impact = decode_list("impact", row.get("c0100", ""))
        processes[_id(row["c0010"])] = Process(
            id=_id(row["c0010"]),
            name=row.get("c0030", ""),
            licensed_activity=_v(row.get("c0020"), T, row),
            criticality=_v(
                None
                if crit in (None, "not-performed")
                else Criticality.NORMAL
                if crit == "no"
                else Criticality.CRITICAL,
                T,
                row,
            ),
            criticality_reason=_v(row.get("c0060"), T, row),
            assessed_on=_v(_date(row.get("c0070", "")), T, row),
            rto_hours=_v(_float(row.get("c0080", "")), T, row),
            rpo_hours=_v(_float(row.get("c0090", "")), T, row),
            discontinuing_impact=_v(
                Level(impact) if impact and impact != "not-performed" else None, T, row
            ),
            services=tuple(dict.fromkeys(process_services.get(row["c0010"], []))),
        )
    return Register(
        organisation=org,
        processes=processes,
        services=services,
        providers=providers,
        contracts=contracts,
    )


def _replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)
