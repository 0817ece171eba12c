"""DORA register of information (15 templates) -> register, and what could not be kept.

:func:`tables_to_register` maps every template onto the register: the head entity and the
other group entities (B_01.01/B_01.02), branches (B_01.03), contracts with their signing,
using and providing entities and intra-group links (B_02.01, B_02.03, B_03.01-B_03.03,
B_04.01), providers with every type of identifier (B_05.01), supply chains (B_05.02),
functions (B_06.01), services per contract and type (B_02.02, B_07.01) and the definitions
(B_99.01). :func:`losses` then writes the register back as templates and lists every input
row that does not come back: that row is what the register cannot represent.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sovmap.register.dora.rules import (
    Finding,
    columns,
    finding,
    key_columns,
    placeholder,
    rule_set,
)
from sovmap.register.identifiers import ict_service_types
from sovmap.register.model import (
    Branch,
    Contract,
    ContractKind,
    Criticality,
    ExitPlan,
    GroupEntity,
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
from sovmap.register.roi import code_list, codes, decode_list

Rows = list[dict[str, str]]
Tables = Mapping[str, Rows]
_SAFE = re.compile(r"[^A-Za-z0-9._:-]")


def _id(text: str) -> str:
    return _SAFE.sub("-", text) or "-"


def _at(template: str, row: Mapping[str, str]) -> Location:
    return Location(f"reports/{template.lower()}.csv", int(row.get("_line", "1") or 1))


def _v(value: Any, template: str, row: Mapping[str, str]) -> Valued[Any]:
    if value is None or value == "":
        return Valued(at=_at(template, row))
    return Valued(value, Origin.ENTERED, at=_at(template, row))


def _na(value: str) -> bool:
    return value.strip().casefold() == placeholder("text").casefold()


def _country(value: str) -> str | None:
    if not value or value == placeholder("country"):
        return None
    return value.removeprefix(codes()["prefixes"]["country"])


def _currency(value: str) -> str | None:
    return value.removeprefix(codes()["prefixes"]["currency"]) or None


def _float(value: str) -> float | None:
    return float(value) if value else None


def _whole(value: str) -> int | None:
    return int(float(value)) if value else None


def _date(value: str) -> date | None:
    if not value or value == placeholder("open_date"):
        return None
    return date.fromisoformat(value)


def _decode(name: str, value: str) -> str | None:
    try:
        return decode_list(name, value)
    except ValueError:
        return None


def _type_name(member: str) -> str | None:
    """eba_qCO member -> sovmap identifier kind (lei, euid, vat, ...)."""
    return _decode("id_type", member)


def tables_to_register(tables: Tables) -> Register:
    """Build a register from RoI rows; values outside their code list are left out (the
    rules report them, and :func:`losses` lists the rows)."""
    head = (tables.get("B_01.01") or [{}])[0]
    lei = head.get("c0010", "")
    entity_rows = tables.get("B_01.02", [])
    own = next((r for r in entity_rows if r.get("c0010") == lei), {})
    T = "B_01.01"
    defs = tuple(
        f"{c}: {v}"
        for row in tables.get("B_99.01", [])[:1]
        for c, v in row.items()
        if not c.startswith("_") and v
    )
    org = Organisation(
        id=_id(lei or "organisation"),
        name=head.get("c0020", ""),
        lei=_v(lei, T, head),
        country=_v(_country(head.get("c0030", "")), T, head),
        dora_entity_type=_v(head.get("c0040"), T, head),
        competent_authority=_v(head.get("c0050"), T, head),
        reported_on=_v(_date(head.get("c0060", "")), T, head),
        currency=_v(_currency(own.get("c0100", "")), "B_01.02", own),
        total_assets=_v(_float(own.get("c0110", "")), "B_01.02", own),
        hierarchy=_v(_decode("hierarchy", own.get("c0050", "")), "B_01.02", own),
        parent_lei=_v(own.get("c0060"), "B_01.02", own),
        integrated_on=_v(_date(own.get("c0080", "")), "B_01.02", own),
        updated_on=_v(_date(own.get("c0070", "")), "B_01.02", own),
        dora_definitions=_v(defs or None, "B_99.01", (tables.get("B_99.01") or [{}])[0]),
    )
    entities: dict[str, GroupEntity] = {}
    for row in entity_rows:
        if row is own or not row.get("c0010"):
            continue
        T = "B_01.02"
        entities[_id(row["c0010"])] = GroupEntity(
            id=_id(row["c0010"]),
            name=row.get("c0020", ""),
            lei=_v(row["c0010"], T, row),
            country=_v(_country(row.get("c0030", "")), T, row),
            dora_entity_type=_v(row.get("c0040"), T, row),
            hierarchy=_v(_decode("hierarchy", row.get("c0050", "")), T, row),
            parent_lei=_v(row.get("c0060"), T, row),
            currency=_v(_currency(row.get("c0100", "")), T, row),
            total_assets=_v(_float(row.get("c0110", "")), T, row),
            integrated_on=_v(_date(row.get("c0080", "")), T, row),
            updated_on=_v(_date(row.get("c0070", "")), T, row),
            deleted_on=_v(_date(row.get("c0090", "")), T, row),
            at=_at(T, row),
        )
    branches: dict[str, Branch] = {}
    for row in tables.get("B_01.03", []):
        T = "B_01.03"
        branches[_id(row.get("c0010", ""))] = Branch(
            id=_id(row.get("c0010", "")),
            name=row.get("c0030", ""),
            entity=_v(row.get("c0020"), T, row),
            country=_v(_country(row.get("c0040", "")), T, row),
            at=_at(T, row),
        )
    providers = _providers(tables)
    contracts = _contracts(tables, lei)
    services, process_services = _services(tables)
    processes: dict[str, Process] = {}
    for row in tables.get("B_06.01", []):
        T = "B_06.01"
        crit = _decode("assessment", row.get("c0050", ""))
        impact = _decode("impact", row.get("c0100", ""))
        pid = _id(row.get("c0010", ""))
        processes[pid] = Process(
            id=pid,
            name=row.get("c0030", ""),
            licensed_activity=_v(row.get("c0020"), T, row),
            entity=_v(row.get("c0040") if row.get("c0040") != lei else None, T, row),
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
            services=tuple(dict.fromkeys(process_services.get(row.get("c0010", ""), []))),
            at=_at(T, row),
        )
    return Register(
        organisation=org,
        processes=processes,
        services=services,
        providers=providers,
        contracts=contracts,
        entities=entities,
        branches=branches,
    )


def _providers(tables: Tables) -> dict[str, Provider]:
    types = code_list("id_type")
    providers: dict[str, Provider] = {}
    parents: dict[str, tuple[str, str]] = {}
    for row in tables.get("B_05.01", []):
        T = "B_05.01"
        code = row.get("c0010", "")
        slots: dict[str, Any] = {}
        for c, kind_col in (("c0010", "c0020"), ("c0030", "c0040")):
            value, kind = row.get(c, ""), _type_name(row.get(kind_col, ""))
            if not value or kind is None:
                continue
            if kind in ("lei", "euid") and kind not in slots:
                slots[kind] = value
            elif "other_id" not in slots:
                slots["other_id"], slots["other_id_type"] = value, kind
            else:
                slots["extra_id"], slots["extra_id_type"] = value, kind
        pid = _id(code)
        if row.get("c0110") and row["c0110"] != code:
            parents[pid] = (row["c0110"], row.get("c0120", ""))
        providers[pid] = Provider(
            id=pid,
            name=row.get("c0060") or row.get("c0050") or code,
            legal_name=_v(row.get("c0050"), T, row),
            country=_v(_country(row.get("c0080", "")), T, row),
            person_type=_v(_decode("person_type", row.get("c0070", "")), T, row),
            at=_at(T, row),
            **{k: _v(v, T, row) for k, v in slots.items()},  # type: ignore[arg-type]
        )
    for pid, (pcode, ptype) in parents.items():
        prov = providers[pid]
        if _id(pcode) in providers:
            providers[pid] = dataclasses.replace(prov, parent=Valued(_id(pcode), Origin.ENTERED))
        elif ptype == types["lei"]:
            providers[pid] = dataclasses.replace(prov, parent_lei=Valued(pcode, Origin.ENTERED))
    for row in tables.get("B_05.02", []):
        rank = _whole(row.get("c0050") or "1") or 1
        if rank < 2:
            continue
        recipient = providers.get(_id(row.get("c0060", "")))
        if recipient is None:
            continue
        stype = row.get("c0020", "").removeprefix(codes()["prefixes"]["service_type"])
        sid = _id(f"{row.get('c0010', '')}:{stype}")
        sub_id = _id(row.get("c0030", ""))
        subs = list(recipient.subcontractors)
        for i, s in enumerate(subs):
            if s.provider == sub_id and s.rank == rank:
                if sid not in s.services:
                    subs[i] = Subcontract(s.provider, s.role, s.rank, (*s.services, sid))
                break
        else:
            subs.append(Subcontract(sub_id, "", rank, (sid,)))
        providers[recipient.id] = dataclasses.replace(recipient, subcontractors=tuple(subs))
    return providers


def _contracts(tables: Tables, lei: str) -> dict[str, Contract]:
    details: dict[str, dict[str, str]] = {}
    for r in tables.get("B_02.02", []):
        details.setdefault(r.get("c0010", ""), r)
    signers = {r.get("c0010", ""): r.get("c0020", "") for r in tables.get("B_03.02", [])}

    def many(template: str, column: str, cid: str) -> tuple[str, ...]:
        return tuple(r.get(column, "") for r in tables.get(template, []) if r.get("c0010") == cid)

    contracts: dict[str, Contract] = {}
    for row in tables.get("B_02.01", []):
        T = "B_02.01"
        cid = row.get("c0010", "")
        d = details.get(cid, {})
        kind = _decode("contract_kind", row.get("c0020", ""))
        signed = many("B_03.01", "c0020", cid)
        used: list[str] = []
        for r in tables.get("B_04.01", []):
            if r.get("c0010") != cid:
                continue
            if r.get("c0040") and not _na(r["c0040"]):
                used.append(_id(r["c0040"]))
            else:
                used.append(r.get("c0020", ""))
        over = row.get("c0030", "")
        contracts[_id(cid)] = Contract(
            id=_id(cid),
            provider=_v(_id(signers[cid]) if cid in signers else None, "B_03.02", row),
            kind=_v(ContractKind(kind) if kind else None, T, row),
            overarching=_v(_id(over) if over and not _na(over) else None, T, row),
            currency=_v(_currency(row.get("c0040", "")), T, row),
            annual_cost=_v(_float(row.get("c0050", "")), T, row),
            start=_v(_date(d.get("c0070", "")), "B_02.02", d),
            end=_v(_date(d.get("c0080", "")), "B_02.02", d),
            termination_reason=_v(_decode("termination_reason", d.get("c0090", "")), "B_02.02", d),
            notice_days=_v(_whole(d.get("c0100", "")), "B_02.02", d),
            provider_notice_days=_v(_whole(d.get("c0110", "")), "B_02.02", d),
            governing_law=_v(_country(d.get("c0120", "")), "B_02.02", d),
            signed_by=() if signed == (lei,) else signed,
            used_by=() if used == [lei] else tuple(used),
            provided_by=many("B_03.03", "c0020", cid),
            linked=tuple(_id(x) for x in many("B_02.03", "c0020", cid)),
            at=_at(T, row),
        )
    return contracts


def _services(tables: Tables) -> tuple[dict[str, Service], dict[str, list[str]]]:
    services: dict[str, Service] = {}
    process_services: dict[str, list[str]] = {}
    prefix = codes()["prefixes"]["service_type"]
    assessments = {(r.get("c0010"), r.get("c0040")): r for r in tables.get("B_07.01", [])}
    for row in tables.get("B_02.02", []):
        T = "B_02.02"
        stype = row.get("c0060", "").removeprefix(prefix)
        sid = _id(f"{row.get('c0010', '')}:{stype}")
        if row.get("c0050"):
            process_services.setdefault(row["c0050"], []).append(sid)
        if sid in services:
            continue
        a = assessments.get((row.get("c0010"), row.get("c0060")), {})
        stores = _decode("binary", row.get("c0140", ""))
        sens = _decode("sensitivity", row.get("c0170", ""))
        rel = _decode("reliance", row.get("c0180", ""))
        sub = _decode("substitutability", a.get("c0050", ""))
        rein = _decode("reintegration", a.get("c0090", ""))
        impact = _decode("impact", a.get("c0100", ""))
        exit_plan = _decode("binary", a.get("c0080", ""))
        alt = _decode("assessment", a.get("c0110", ""))
        alternatives: tuple[str, ...] | None = None
        if alt in ("yes", "no"):
            alternatives = tuple(x.strip() for x in a.get("c0120", "").split(";") if x.strip())
        type_name = ict_service_types().get(stype, {}).get("name", stype or "ICT service")
        services[sid] = Service(
            id=sid,
            name=f"{type_name} ({row.get('c0010', '')})",
            provider=_v(_id(row.get("c0030", "")), T, row),
            contract=_v(_id(row.get("c0010", "")), T, row),
            dora_service_type=_v(stype or None, T, row),
            provision_country=_v(_country(row.get("c0130", "")), T, row),
            stores_data=_v(None if stores is None else stores == "yes", T, row),
            data_location=_v(_country(row.get("c0150", "")), T, row),
            processing_location=_v(_country(row.get("c0160", "")), T, row),
            data_sensitivity=_v(Level(sens) if sens else None, T, row),
            reliance=_v(Reliance(rel) if rel else None, T, row),
            substitutability=_v(Substitutability(sub) if sub else None, "B_07.01", a),
            substitutability_reason=_v(
                _decode("substitutability_reason", a.get("c0060", "")), "B_07.01", a
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
            at=_at(T, row),
        )
    return services, process_services


def normalise_placeholders(tables: Tables) -> dict[str, Rows]:
    """The literal "Not applicable" (any case) read as the placeholder of its column: the
    country placeholder in a country column that has one, no value in a column of a closed
    list, a date or a number; text and key columns keep it (the importer reads it there)."""
    spec = rule_set()["templates"]
    out: dict[str, Rows] = {}
    for template, rows in tables.items():
        cols = spec.get(template, {}).get("columns", {})
        fixed: Rows = []
        for row in rows:
            new = dict(row)
            for column, kind in cols.items():
                if kind == "s" or not _na(new.get(column, "")):
                    continue
                new[column] = placeholder("country") if kind == "GA_NA" else ""
            fixed.append(new)
        out[template] = fixed
    return out


# --------------------------------------------------------------------------- losses


def _norm(template: str, column: str, value: str) -> str:
    kind = rule_set()["templates"][template]["columns"].get(column, "s")
    value = value.strip()
    if column in key_columns(template) and kind == "s" and (not value or _na(value)):
        return placeholder("text").casefold()  # an empty key column and the placeholder
    if kind == "GA_NA" and not value:
        return placeholder("country")
    if _na(value):
        return ""
    if kind in ("i", "m") and value:
        try:
            return repr(float(value))
        except ValueError:
            return value
    if kind == "t":
        return value.lower().replace("1", "true")
    return value


def _row_key(template: str, row: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(_norm(template, c, row.get(c, "")) for c in columns(template))


def losses(tables: Tables, register: Register, reference_date: date) -> list[Finding]:
    """Input rows that the register does not give back when written as templates."""
    from sovmap.register.dora.export import register_to_tables

    again = register_to_tables(register, reference_date).tables
    out: list[Finding] = []
    for template, rows in tables.items():
        produced: dict[tuple[str, ...], int] = {}
        for row in again.get(template, []):
            k = _row_key(template, row)
            produced[k] = produced.get(k, 0) + 1
        for row in rows:
            k = _row_key(template, row)
            if produced.get(k, 0) > 0:
                produced[k] -= 1
                continue
            key = "|".join(f"{c}={row.get(c, '')}" for c in key_columns(template)[:3])
            close = _closest(template, row, again.get(template, []))
            out.append(
                finding(
                    "LOSS",
                    template,
                    close,
                    int(row.get("_line", "0") or 0),
                    key,
                    "DORA_LOSS_COLUMN" if close else "DORA_LOSS",
                    col=close,
                )
            )
    return out


def _closest(template: str, row: Mapping[str, str], rows: list[dict[str, str]]) -> str:
    """The first differing column of the most similar produced row ('' when none)."""
    cols = columns(template)
    best: tuple[int, str] = (-1, "")
    for other in rows:
        same = [
            c
            for c in cols
            if _norm(template, c, row.get(c, "")) == _norm(template, c, other.get(c, ""))
        ]
        if len(same) > best[0]:
            diff = next((c for c in cols if c not in same), "")
            best = (len(same), diff)
    return best[1]
