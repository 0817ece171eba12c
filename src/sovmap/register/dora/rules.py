"""The EBA's DORA RoI validation rules, applied from data (``data/dora_rules.yaml``).

Nothing here knows a rule id: the rules file says which templates, columns, keys, foreign
keys, closed lists and conditions there are, and :func:`validate_tables` applies each kind
the same way for every template. Package-level checks (names, metadata files, filing
indicators) are in :mod:`sovmap.register.dora.package`, which calls :func:`filing_findings`
here for the indicator rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sovmap.register.identifiers import countries, currencies, ict_service_types

#: one template's rows; each row maps column code -> CSV text; ``_line`` is the row's line
#: in the template CSV (header = 1) and ``_source`` where the row came from in a register
Rows = list[dict[str, str]]
Tables = Mapping[str, Rows]


@dataclass(frozen=True, slots=True)
class Finding:
    """One breach of an EBA rule: rule id, template, column, the row's key and line."""

    rule: str
    template: str
    column: str
    line: int  # line in the template CSV (1 = header); 0 for the package as a whole
    key: str
    message: str
    source: str = ""  # the register file and line the row was made from, when known
    blocking: bool = True

    @property
    def file(self) -> str:
        if not self.template.startswith("B_"):
            return self.template
        return f"reports/{self.template.lower()}.csv"

    def render(self) -> str:
        where = f"{self.template}.{self.column}" if self.column else self.template
        key = f" [{self.key}]" if self.key else ""
        if self.line == 0 and self.source:  # sovmap's own findings: the register's place
            return f"{self.source}: {self.rule}: {where}{key}: {self.message}"
        origin = f" (from {self.source})" if self.source else ""
        return f"{self.file}:{self.line}: {self.rule}: {where}{key}: {self.message}{origin}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "template": self.template,
            "column": self.column or None,
            "file": self.file,
            "line": self.line,
            "key": self.key or None,
            "message": self.message,
            "source": self.source or None,
            "blocking": self.blocking,
        }


@cache
def rule_set() -> dict[str, Any]:
    text = (resources.files("sovmap.register") / "data" / "dora_rules.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def templates() -> tuple[str, ...]:
    return tuple(rule_set()["templates"])


def columns(template: str) -> tuple[str, ...]:
    return tuple(rule_set()["templates"][template]["columns"])


def key_columns(template: str) -> tuple[str, ...]:
    return tuple(rule_set()["templates"][template]["key"])


def placeholder(kind: str) -> str:
    value: str = rule_set()["placeholders"][kind]
    return value


def _rules(kind: str) -> Iterator[dict[str, Any]]:
    return (r for r in rule_set()["rules"] if r["kind"] == kind)


def rule(rule_id: str) -> dict[str, Any]:
    for r in rule_set()["rules"]:
        if r["id"] == rule_id:
            found: dict[str, Any] = r
            return found
    raise KeyError(rule_id)


@cache
def _members(domain: str) -> frozenset[str] | re.Pattern[str]:
    spec = rule_set()["domains"][domain]
    if "pattern" in spec:
        return re.compile(spec["pattern"])
    members: set[str] = set(spec.get("members", ()))
    prefix = spec.get("prefix", "")
    if spec.get("iso") == "countries":
        members |= {prefix + c for c in countries()}
    elif spec.get("iso") == "currencies":
        members |= {prefix + c for c in currencies()}
    if spec.get("service_types"):
        members |= {prefix + s for s in ict_service_types()}
    members |= set(spec.get("extra", ()))
    return frozenset(members)


def in_domain(domain: str, value: str) -> bool:
    members = _members(domain)
    if isinstance(members, re.Pattern):
        return bool(members.fullmatch(value))
    return value in members


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def _type_ok(kind: str, value: str) -> bool:
    if kind == "d":
        if not _DATE.match(value):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "i":
        return bool(_INT.match(value))
    if kind == "m":
        return bool(_NUM.match(value))
    if kind == "t":
        return value.lower() in ("true", "1")
    return True


def _key_text(template: str, row: Mapping[str, str]) -> str:
    cols = key_columns(template) or columns(template)[:1]
    return "|".join(f"{c}={row.get(c, '')}" for c in cols)


def _holds(condition: Any, row: Mapping[str, str], column: str) -> bool:
    value = row.get(column, "")
    if condition == "filled":
        return value != ""
    if "in" in condition:
        return value in condition["in"]
    if "not_in" in condition:
        return value != "" and value not in condition["not_in"]
    if "pattern" in condition:
        return bool(re.fullmatch(condition["pattern"], value))
    if "min" in condition:
        return bool(_NUM.match(value)) and float(value) >= condition["min"]
    if "after" in condition:
        other = row.get(condition["after"], "")
        return bool(value) and bool(other) and value > other
    raise ValueError(f"unknown condition {condition!r}")


def _when(conditions: Mapping[str, Any], row: Mapping[str, str]) -> bool:
    for column, condition in conditions.items():
        if column == "any_filled":
            if not any(row.get(c, "") for c in condition):
                return False
        elif not _holds(condition, row, column):
            return False
    return True


def _describe(condition: Any) -> str:
    if condition == "filled":
        return "must be filled"
    if "in" in condition:
        return "must be one of " + ", ".join(condition["in"])
    if "pattern" in condition:
        return f"must match {condition['pattern']}"
    if "min" in condition:
        return f"must be >= {condition['min']}"
    if "after" in condition:
        return f"must be after {condition['after']}"
    return str(condition)


def _line(row: Mapping[str, str]) -> int:
    return int(row.get("_line", "0") or 0)


def validate_tables(tables: Tables) -> list[Finding]:
    """Every row-level, key and reference rule over the templates that are present."""
    out: list[Finding] = []
    spec = rule_set()["templates"]

    def add(rule_id: str, template: str, column: str, row: Mapping[str, str], msg: str) -> None:
        out.append(
            Finding(
                rule_id,
                template,
                column,
                _line(row),
                _key_text(template, row),
                msg,
                row.get("_source", ""),
            )
        )

    type_rules = {r["type"]: r["id"] for r in _rules("type")}
    list_rule = next(_rules("list"))["id"]
    for template, rows in tables.items():
        if template not in spec:
            continue
        cols = spec[template]["columns"]
        for row in rows:
            for column, kind in cols.items():
                value = row.get(column, "")
                if not value:
                    continue
                if kind in type_rules:
                    if not _type_ok(kind, value):
                        add(type_rules[kind], template, column, row, f"{value[:80]!r} is not valid")
                elif kind != "s" and not in_domain(kind, value):
                    add(list_rule, template, column, row, f"{value[:80]!r} is not in {kind}")
    for r in _rules("filled"):
        for row in tables.get(r["template"], []):
            for column in r["columns"]:
                if not row.get(column, ""):
                    add(r["id"], r["template"], column, row, "mandatory value is empty")
    for r in _rules("when"):
        for row in tables.get(r["template"], []):
            if not _when(r["when"], row):
                continue
            for column, condition in r["require"].items():
                if not _holds(condition, row, column):
                    value = row.get(column, "")
                    add(
                        r["id"],
                        r["template"],
                        column,
                        row,
                        f"{value[:80]!r} {_describe(condition)}",
                    )
    out.extend(_key_findings(tables))
    return out


def _key_findings(tables: Tables) -> Iterator[Finding]:
    spec = rule_set()["templates"]
    filled_rule = next(r for r in _rules("key") if r["check"] == "filled")["id"]
    unique_rule = next(r for r in _rules("key") if r["check"] == "unique")["id"]
    ref_rule = next(_rules("reference"))["id"]
    keys: dict[str, set[tuple[str, ...]]] = {}
    for template, rows in tables.items():
        if template not in spec:
            continue
        kcols = key_columns(template)
        seen: dict[tuple[str, ...], int] = {}
        for row in rows:
            for c in kcols:
                if not row.get(c, ""):
                    yield Finding(
                        filled_rule,
                        template,
                        c,
                        _line(row),
                        _key_text(template, row),
                        "key column is empty (write the placeholder where it does not apply)",
                        row.get("_source", ""),
                    )
            key = tuple(row.get(c, "") for c in kcols)
            if kcols and key in seen:
                yield Finding(
                    unique_rule,
                    template,
                    "+".join(kcols),
                    _line(row),
                    _key_text(template, row),
                    f"the same key is on line {seen[key]}",
                    row.get("_source", ""),
                )
            seen.setdefault(key, _line(row))
        keys[template] = set(seen)
    placeholders = set(rule_set()["placeholders"].values())
    for template, rows in tables.items():
        for ref in spec.get(template, {}).get("references", ()):
            target = tables.get(ref["to"])
            target_cols = ref["target"]
            index = {tuple(r.get(c, "") for c in target_cols) for r in target or ()}
            for row in rows:
                value = tuple(row.get(c, "") for c in ref["columns"])
                if not all(value) or (len(value) == 1 and value[0] in placeholders):
                    continue
                if value not in index:
                    yield Finding(
                        ref_rule,
                        template,
                        "+".join(ref["columns"]),
                        _line(row),
                        _key_text(template, row),
                        f"{'/'.join(value)!r} has no row in {ref['to']}",
                        row.get("_source", ""),
                    )
    del keys


def filing_findings(header: list[str], rows: list[tuple[int, str, str]]) -> list[Finding]:
    """Filing-indicator rules: ``rows`` are (line, templateID, reported)."""
    by = {r["check"]: r for r in _rules("filing")}
    file = "reports/FilingIndicators.csv"
    out: list[Finding] = []
    if [h.strip() for h in header] != ["templateID", "reported"]:
        out.append(Finding(by["header"]["id"], file, "", 1, "", by["header"]["message"]))
    seen: set[str] = set()
    for line, template, reported in rows:
        if template not in templates():
            out.append(
                Finding(by["unknown"]["id"], file, "", line, template, by["unknown"]["message"])
            )
        if template in seen:
            out.append(
                Finding(by["duplicate"]["id"], file, "", line, template, by["duplicate"]["message"])
            )
        seen.add(template)
        if reported.lower() not in ("true", "false", "1", "0"):
            out.append(Finding(by["value"]["id"], file, "", line, template, by["value"]["message"]))
        elif reported.lower() not in ("true", "1"):
            out.append(
                Finding(by["not_true"]["id"], file, "", line, template, by["not_true"]["message"])
            )
    for template in templates():
        if template not in seen:
            out.append(
                Finding(
                    by["missing"]["id"], file, "", 0, template, f"{template}: no filing indicator"
                )
            )
    return out


def header_findings(template: str, header: list[str], ragged: list[int]) -> list[Finding]:
    by = {r["check"]: r for r in _rules("header")}
    expected = columns(template)
    out: list[Finding] = []
    seen: set[str] = set()
    for h in header:
        if h not in expected:
            out.append(
                Finding(
                    by["unknown"]["id"], template, h, 1, "", f"{h!r} is not a column of {template}"
                )
            )
        elif h in seen:
            out.append(Finding(by["duplicate"]["id"], template, h, 1, "", f"{h} appears twice"))
        seen.add(h)
    for c in expected:
        if c not in seen:
            out.append(Finding(by["missing"]["id"], template, c, 1, "", f"column {c} is missing"))
    for line in ragged:
        out.append(
            Finding(
                by["missing"]["id"],
                template,
                "",
                line,
                "",
                "the row has more or fewer cells than the header",
            )
        )
    return out
