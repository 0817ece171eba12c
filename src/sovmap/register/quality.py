"""Data quality of a register: expected values that are missing, and inferred values nobody
has confirmed. Warnings, not errors; the expectations are data (``data/quality.yaml``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap.readers import Text
from sovmap.register.model import Location, Origin, Register, Valued
from sovmap.register.problems import Problem, Severity

_NOWHERE = Location("?", 1)


@cache
def expectations() -> dict[str, list[dict[str, Any]]]:
    text = (resources.files("sovmap.register") / "data" / "quality.yaml").read_text("utf-8")
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(text)["expected"]
    return data


def _value(entity: Any, name: str) -> Any:
    v = getattr(entity, name)
    raw = v.value if isinstance(v, Valued) else v
    return getattr(raw, "value", raw)


def _applies(register: Register, entity: Any, when: Mapping[str, Any] | None) -> bool:
    if not when:
        return True
    for key, allowed in when.items():
        if key == "has":
            if _value(entity, allowed) in (None, "", ()):
                return False
        elif key == "used_by_contract":
            used = any(c.provider.value == entity.id for c in register.contracts.values())
            if used not in allowed:
                return False
        elif _value(entity, key) not in allowed:
            return False
    return True


def _entities(register: Register) -> Iterator[tuple[str, Any]]:
    yield "organisation", register.organisation
    for section in ("processes", "services", "providers", "data_assets", "contracts"):
        for entity in getattr(register, section).values():
            yield section, entity


def quality_problems(register: Register) -> list[Problem]:
    """MISSING_VALUE for expected values nobody filled in; UNCONFIRMED for inferred ones."""
    rules = expectations()
    out: list[Problem] = []
    for section, entity in _entities(register):
        label = section if section == "organisation" else f"{section}[{entity.id}]"
        at = entity.at or _NOWHERE
        for rule in rules.get(section, ()):
            if not _applies(register, entity, rule.get("when")):
                continue
            names = rule.get("any_of") or [rule["field"]]
            if all(getattr(entity, n).value is None for n in names):
                field = "|".join(names)
                out.append(
                    Problem.of(
                        at.file,
                        at.line,
                        f"{label}.{field}",
                        "MISSING_VALUE",
                        "REGCHECK_MISSING_VALUE",
                        Severity.WARNING,
                    )
                )
        for name in type(entity).__dataclass_fields__:
            v = getattr(entity, name)
            if isinstance(v, Valued) and v.origin is Origin.INFERRED and not v.confirmed_by:
                where = v.at or at
                source: Any = v.source or Text("REGCHECK_ANOTHER_SOURCE")
                out.append(
                    Problem.of(
                        where.file,
                        where.line,
                        f"{label}.{name}",
                        "UNCONFIRMED",
                        "REGCHECK_UNCONFIRMED",
                        Severity.WARNING,
                        source=source,
                    )
                )
    return out
