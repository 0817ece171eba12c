"""Register entities <-> plain data (what YAML/CSV/JSON hold), and the JSON Schema of it.

The model's dataclasses are the single description of the format: the JSON Schema
(``schema/register.schema.json``) is generated from them, and so are the decoders and
encoders. In files, a value is written plainly (entered by a person) or as a mapping with
``value`` and ``provenance`` (``entered`` | ``inferred`` | ``missing``) plus ``evidence``,
``source`` and ``confirmed_by``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sovmap.register.model import (
    Audience,
    Branch,
    Contract,
    DataAsset,
    DataLink,
    DataUse,
    Dependency,
    DependencyKind,
    EscalationStep,
    GroupEntity,
    Level,
    Location,
    Organisation,
    Origin,
    Process,
    Provider,
    Service,
    Subcontract,
    Valued,
)

Entity = Organisation | Process | Service | Provider | DataAsset | Contract | GroupEntity | Branch

#: top-level keys of a register file and the entity each list holds
ENTITY_KINDS: dict[str, type[Any]] = {
    "processes": Process,
    "services": Service,
    "providers": Provider,
    "data_assets": DataAsset,
    "contracts": Contract,
    "entities": GroupEntity,  # DORA: other entities of the group
    "branches": Branch,  # DORA: branches of group entities
}

COUNTRY_FIELDS = frozenset(
    {
        "country",
        "data_location",
        "processing_location",
        "parent_country",
        "jurisdiction",
        "governing_law",
        "provision_country",
    }
)
CURRENCY_FIELDS = frozenset({"currency"})
LEI_FIELDS = frozenset({"lei", "parent_lei"})
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_SKIP = frozenset({"at", "origin", "evidence", "source", "locations"})
_LIST_FIELDS = {
    "depends_on": Dependency,
    "escalation": EscalationStep,
    "subcontractors": Subcontract,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    valued: bool
    base: Any  # str, int, float, bool, date, a StrEnum, tuple (of str), or a nested class
    many: bool = False  # tuple of nested items


_SPECS: dict[type[Any], tuple[FieldSpec, ...]] = {}


def field_specs(cls: type[Any]) -> tuple[FieldSpec, ...]:
    """The fields of an entity class that files carry, with their value types (cached)."""
    if cls in _SPECS:
        return _SPECS[cls]
    hints = typing.get_type_hints(cls)
    out: list[FieldSpec] = []
    for f in dataclasses.fields(cls):
        if f.name in _SKIP or f.name in ("id",):
            continue
        hint = hints[f.name]
        if typing.get_origin(hint) is Valued:
            (base,) = typing.get_args(hint)
            if typing.get_origin(base) is tuple:
                base = tuple
            out.append(FieldSpec(f.name, True, base))
        elif typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            out.append(FieldSpec(f.name, False, item, many=True))
        elif isinstance(hint, (type, types.UnionType)):
            out.append(FieldSpec(f.name, False, hint))
    _SPECS[cls] = tuple(out)
    return _SPECS[cls]


# --------------------------------------------------------------------------- JSON Schema


def _base_schema(name: str, base: Any, nullable: bool) -> dict[str, Any]:
    null: list[str] = ["null"] if nullable else []
    if isinstance(base, type) and issubclass(base, StrEnum):
        return {"enum": [m.value for m in base] + ([None] if nullable else [])}
    if base is bool:
        return {"type": ["boolean", *null]}
    if base is int:
        return {"type": ["integer", *null], "minimum": 0}
    if base is float:
        return {"type": ["number", *null], "minimum": 0}
    if base is date:
        return {"type": ["string", *null], "pattern": _DATE_PATTERN}
    if base is tuple:
        return {"type": ["array", *null], "items": {"type": "string"}}
    schema: dict[str, Any] = {"type": ["string", *null]}
    if name in COUNTRY_FIELDS:
        schema["pattern"] = "^[A-Z]{2}$"
    elif name in CURRENCY_FIELDS:
        schema["pattern"] = "^[A-Z]{3}$"
    elif name in LEI_FIELDS:
        schema["pattern"] = "^[A-Z0-9]{18}[0-9]{2}$"
    return schema


def _valued_schema(key: str, name: str, base: Any) -> dict[str, Any]:
    return {
        "if": {"type": "object"},
        "then": {"$ref": f"#/$defs/valued/{key}"},
        "else": _base_schema(name, base, nullable=True),
    }


def _wrapper_schema(name: str, base: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["value"],
        "properties": {
            "value": _base_schema(name, base, nullable=True),
            "provenance": {"enum": [o.value for o in Origin]},
            "evidence": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string"},
            "confirmed_by": {"type": "string"},
        },
    }


_NESTED: dict[type[Any], dict[str, Any]] = {
    Audience: {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "name": {"type": "string"},
            "people": {"type": ["integer", "null"], "minimum": 0},
            "organisations": {"type": ["integer", "null"], "minimum": 0},
            "within": {"type": "string", "pattern": ID_PATTERN},
            "disjoint_from": {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}},
            "source": {"type": "string"},
        },
    },
    Dependency: {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "kind"],
        "properties": {
            "service": {"type": "string", "pattern": ID_PATTERN},
            "kind": {"enum": [k.value for k in DependencyKind]},
            "provenance": {"enum": [o.value for o in Origin]},
            "note": {"type": "string"},
        },
    },
    EscalationStep: {
        "type": "object",
        "additionalProperties": False,
        "required": ["after_hours", "impact"],
        "properties": {
            "after_hours": {"type": "number", "minimum": 0},
            "impact": {"enum": [v.value for v in Level]},
            "description": {"type": "string"},
        },
    },
    Subcontract: {
        "type": "object",
        "additionalProperties": False,
        "required": ["provider"],
        "properties": {
            "provider": {"type": "string", "pattern": ID_PATTERN},
            "role": {"type": "string"},
            "rank": {"type": "integer", "minimum": 2},
            "services": {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}},
            "provenance": {"enum": [o.value for o in Origin]},
        },
    },
    DataLink: {
        "oneOf": [
            {"type": "string", "pattern": ID_PATTERN},
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["service"],
                "properties": {
                    "service": {"type": "string", "pattern": ID_PATTERN},
                    "use": {"enum": [u.value for u in DataUse]},
                },
            },
        ]
    },
}


def _entity_schema(section: str, cls: type[Any], wrappers: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "name": {"type": "string", "minLength": 1},
    }
    for spec in field_specs(cls):
        if spec.name == "name":
            continue
        if spec.valued:
            key = f"{section}.{spec.name}"
            props[spec.name] = _valued_schema(key, spec.name, spec.base)
            wrappers[key] = _wrapper_schema(spec.name, spec.base)
        elif spec.many:
            item = _NESTED.get(spec.base, {"type": "string", "pattern": ID_PATTERN})
            if spec.name == "domains":
                item = {"type": "string"}
            props[spec.name] = {"type": "array", "items": item}
        elif isinstance(spec.base, type) and issubclass(spec.base, StrEnum):
            props[spec.name] = {"enum": [m.value for m in spec.base]}
        else:
            props[spec.name] = {"type": "string"}
    props["provenance"] = {"enum": [o.value for o in Origin]}
    if cls in (Service, Provider):
        props["evidence"] = {"type": "array", "items": {"type": "string"}}
        props["source"] = {"type": "string"}
    required = ["id", "name"] if cls is not Contract else ["id"]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": props,
    }


def build_schema() -> dict[str, Any]:
    """The JSON Schema of one register file (any file may hold any of the sections)."""
    wrappers: dict[str, Any] = {}
    defs: dict[str, Any] = {"organisation": _entity_schema("organisation", Organisation, wrappers)}
    for key, cls in ENTITY_KINDS.items():
        defs[key] = _entity_schema(key, cls, wrappers)
    defs["valued"] = dict(sorted(wrappers.items()))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sovmap.invalid/schema/register.schema.json",
        "title": "sovmap register file",
        "description": "One YAML file of a register directory. A value is written plainly "
        "(entered by a person) or as {value, provenance, evidence, source, confirmed_by}.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "organisation": {"$ref": "#/$defs/organisation"},
            **{k: {"type": "array", "items": {"$ref": f"#/$defs/{k}"}} for k in ENTITY_KINDS},
        },
        "$defs": defs,
    }


# --------------------------------------------------------------------------- decoding


class DecodeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _convert(name: str, base: Any, raw: Any) -> Any:
    if raw is None:
        return None
    if isinstance(base, type) and issubclass(base, StrEnum):
        return base(raw)
    if base is date:
        try:
            return date.fromisoformat(str(raw))
        except ValueError as exc:
            raise DecodeError(name, f"{raw!r} is not a valid date (YYYY-MM-DD)") from exc
    if base is float:
        return float(raw)
    if base is int:
        return int(raw)
    if base is bool:
        return bool(raw)
    if base is tuple:
        return tuple(str(x) for x in raw)
    return str(raw)


def decode_valued(name: str, base: Any, raw: Any, at: Location | None) -> Valued[Any]:
    if isinstance(raw, dict):
        origin = Origin(raw.get("provenance", "entered"))
        value = _convert(name, base, raw.get("value"))
        if value is None:
            origin = Origin.MISSING
        return Valued(
            value,
            origin,
            evidence=tuple(raw.get("evidence", ())),
            source=str(raw.get("source", "")),
            confirmed_by=str(raw.get("confirmed_by", "")),
            at=at,
        )
    value = _convert(name, base, raw)
    return Valued(value, Origin.ENTERED if value is not None else Origin.MISSING, at=at)


def _nested(base: Any, raw: Any, at: Location | None) -> Any:
    if base is Audience:
        return Audience(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            people=raw.get("people"),
            organisations=raw.get("organisations"),
            within=str(raw.get("within", "")),
            disjoint_from=tuple(raw.get("disjoint_from", ())),
            source=str(raw.get("source", "")),
        )
    if base is Dependency:
        return Dependency(
            service=raw["service"],
            kind=DependencyKind(raw["kind"]),
            origin=Origin(raw.get("provenance", "entered")),
            note=raw.get("note", ""),
            at=at,
        )
    if base is EscalationStep:
        return EscalationStep(
            float(raw["after_hours"]), Level(raw["impact"]), raw.get("description", "")
        )
    if base is Subcontract:
        return Subcontract(
            provider=raw["provider"],
            role=raw.get("role", ""),
            rank=int(raw.get("rank", 2)),
            services=tuple(raw.get("services", ())),
            origin=Origin(raw.get("provenance", "entered")),
            at=at,
        )
    if base is DataLink:
        if isinstance(raw, str):
            return DataLink(raw)
        return DataLink(raw["service"], DataUse(raw.get("use", "stores")))
    return str(raw)


def decode_entity(
    cls: type[Any], raw: dict[str, Any], locate: Callable[[tuple[str | int, ...]], Location]
) -> Any:
    """Build one entity from schema-valid plain data; ``locate`` maps a relative path to a
    file location. Raises DecodeError for values the schema cannot check (dates)."""
    locations: dict[str, Location] = {}
    kwargs: dict[str, Any] = {"id": str(raw["id"]), "at": locate(()), "locations": locations}
    for spec in field_specs(cls):
        if spec.name not in raw:
            continue
        value = raw[spec.name]
        locations[spec.name] = locate((spec.name,))
        if spec.many:
            for i in range(len(value)):
                locations[f"{spec.name}.{i}"] = locate((spec.name, i))
        if spec.valued:
            kwargs[spec.name] = decode_valued(spec.name, spec.base, value, locate((spec.name,)))
        elif spec.many:
            kwargs[spec.name] = tuple(
                _nested(spec.base, item, locate((spec.name, i))) for i, item in enumerate(value)
            )
        elif isinstance(spec.base, type) and issubclass(spec.base, StrEnum):
            kwargs[spec.name] = spec.base(value)
        else:
            kwargs[spec.name] = str(value)
    if cls is not Organisation:
        kwargs["origin"] = Origin(raw.get("provenance", "entered"))
    if cls in (Service, Provider):
        kwargs["evidence"] = tuple(raw.get("evidence", ()))
        kwargs["source"] = str(raw.get("source", ""))
    if "name" not in kwargs and cls is not Contract:
        kwargs["name"] = kwargs["id"]
    return cls(**kwargs)


# --------------------------------------------------------------------------- encoding


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def encode_valued(v: Valued[Any]) -> Any:
    """Plain value for an entered value, a mapping otherwise; ``None`` when missing."""
    if v.origin is Origin.MISSING and not v.evidence and not v.source:
        return None
    if v.origin is Origin.ENTERED and not (v.evidence or v.source or v.confirmed_by):
        return _plain(v.value)
    out: dict[str, Any] = {"value": _plain(v.value), "provenance": v.origin.value}
    if v.evidence:
        out["evidence"] = list(v.evidence)
    if v.source:
        out["source"] = v.source
    if v.confirmed_by:
        out["confirmed_by"] = v.confirmed_by
    return out


def _encode_nested(item: Any) -> Any:
    if isinstance(item, Audience):
        a: dict[str, Any] = {"id": item.id}
        for key in ("name", "people", "organisations", "within", "disjoint_from", "source"):
            value = getattr(item, key)
            if value not in ("", (), None):
                a[key] = list(value) if isinstance(value, tuple) else value
        return a
    if isinstance(item, Dependency):
        d: dict[str, Any] = {"service": item.service, "kind": item.kind.value}
        if item.origin is not Origin.ENTERED:
            d["provenance"] = item.origin.value
        if item.note:
            d["note"] = item.note
        return d
    if isinstance(item, EscalationStep):
        e: dict[str, Any] = {"after_hours": item.after_hours, "impact": item.impact.value}
        if item.description:
            e["description"] = item.description
        return e
    if isinstance(item, Subcontract):
        s: dict[str, Any] = {"provider": item.provider}
        if item.role:
            s["role"] = item.role
        if item.rank != 2:
            s["rank"] = item.rank
        if item.services:
            s["services"] = list(item.services)
        if item.origin is not Origin.ENTERED:
            s["provenance"] = item.origin.value
        return s
    if isinstance(item, DataLink):
        return (
            item.service
            if item.use is DataUse.STORES
            else {
                "service": item.service,
                "use": item.use.value,
            }
        )
    return item


def encode_entity(entity: Any) -> dict[str, Any]:
    cls = type(entity)
    out: dict[str, Any] = {"id": entity.id}
    for spec in field_specs(cls):
        value = getattr(entity, spec.name)
        if spec.valued:
            enc = encode_valued(value)
            if enc is not None:
                out[spec.name] = enc
        elif spec.many:
            if value:
                out[spec.name] = [_encode_nested(x) for x in value]
        elif isinstance(value, StrEnum):
            out[spec.name] = value.value
        elif value:
            out[spec.name] = value
    origin = getattr(entity, "origin", Origin.ENTERED)
    if origin is not Origin.ENTERED:
        out["provenance"] = origin.value
    if getattr(entity, "evidence", ()):
        out["evidence"] = list(entity.evidence)
    if getattr(entity, "source", ""):
        out["source"] = entity.source
    return out
