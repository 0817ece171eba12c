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

from sovmap.i18n import has, t
from sovmap.register.identifiers import (
    countries,
    currencies,
    euid_problem,
    ict_service_types,
    lei_problem,
)

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
    code: str = ""  # message code in the catalogue (sovmap.i18n), with its parameters
    params: tuple[tuple[str, str], ...] = ()

    @property
    def file(self) -> str:
        if not self.template.startswith("B_"):
            return self.template
        return f"reports/{self.template.lower()}.csv"

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (en, nl)."""
        if lang == "en":
            return self.message
        if self.code:
            return t(lang, self.code, **dict(self.params))
        generic = f"DORA_RULE_{self.rule}"
        return t(lang, generic) if has(lang, generic) else self.message

    def render(self, lang: str = "en") -> str:
        where = f"{self.template}.{self.column}" if self.column else self.template
        key = f" [{self.key}]" if self.key else ""
        if self.line == 0 and self.source:  # sovmap's own findings: the register's place
            return f"{self.source}: {self.rule}: {where}{key}: {self.text(lang)}"
        origin = f" ({t(lang, 'DORA_FROM')} {self.source})" if self.source else ""
        return f"{self.file}:{self.line}: {self.rule}: {where}{key}: {self.text(lang)}{origin}"

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


def finding(
    rule: str,
    template: str,
    column: str,
    line: int,
    key: str,
    code: str,
    source: str = "",
    *,
    blocking: bool = True,
    **params: Any,
) -> Finding:
    """A finding whose message is the catalogue's ``code`` (English kept, Dutch on request)."""
    pairs = tuple((k, str(v)) for k, v in params.items())
    return Finding(
        rule,
        template,
        column,
        line,
        key,
        t("en", code, **dict(pairs)),
        source,
        blocking,
        code,
        pairs,
    )


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


def _describe(condition: Any) -> tuple[str, dict[str, object]]:
    if condition == "filled":
        return "DORA_REQUIRE_FILLED", {}
    if "in" in condition:
        return "DORA_REQUIRE_IN", {"members": ", ".join(condition["in"])}
    if "pattern" in condition:
        return "DORA_REQUIRE_PATTERN", {"pattern": condition["pattern"]}
    if "min" in condition:
        return "DORA_REQUIRE_MIN", {"min": condition["min"]}
    if "after" in condition:
        return "DORA_REQUIRE_AFTER", {"other": condition["after"]}
    raise ValueError(f"unknown condition {condition!r}")


def _line(row: Mapping[str, str]) -> int:
    return int(row.get("_line", "0") or 0)


def validate_tables(tables: Tables) -> list[Finding]:
    """Every row-level, key and reference rule over the templates that are present."""
    out: list[Finding] = []
    spec = rule_set()["templates"]

    def add(
        rule_id: str,
        template: str,
        column: str,
        row: Mapping[str, str],
        code: str,
        **params: Any,
    ) -> None:
        out.append(
            finding(
                rule_id,
                template,
                column,
                _line(row),
                _key_text(template, row),
                code,
                row.get("_source", ""),
                **params,
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
                        add(
                            type_rules[kind],
                            template,
                            column,
                            row,
                            f"DORA_BAD_{kind.upper()}",
                            value=repr(value[:80]),
                        )
                elif kind != "s" and not in_domain(kind, value):
                    add(
                        list_rule,
                        template,
                        column,
                        row,
                        "DORA_NOT_IN_LIST",
                        value=repr(value[:80]),
                        domain=kind,
                    )
    for r in _rules("filled"):
        for row in tables.get(r["template"], []):
            for column in r["columns"]:
                if not row.get(column, ""):
                    add(r["id"], r["template"], column, row, "DORA_MANDATORY")
    for r in _rules("when"):
        for row in tables.get(r["template"], []):
            if not _when(r["when"], row):
                continue
            for column, condition in r["require"].items():
                if not _holds(condition, row, column):
                    code, params = _describe(condition)
                    add(
                        r["id"],
                        r["template"],
                        column,
                        row,
                        code,
                        value=repr(row.get(column, "")[:80]),
                        **params,
                    )
    out.extend(_key_findings(tables))
    out.extend(_identifier_findings(tables))
    return out


def _euid_countries() -> frozenset[str]:
    from sovmap.control import eu_member_states

    return eu_member_states() | frozenset(rule_set()["euid_countries_extra"])


def _identifier_problem(check: str, value: str) -> str:
    if check == "lei":
        return lei_problem(value)
    why = euid_problem(value)
    if not why and value[:2] not in _euid_countries():
        why = f"{value[:2]!r} has no EU/EEA business register"
    return why


def _identifier_findings(tables: Tables) -> Iterator[Finding]:
    types = {"lei": "eba_qCO:qx2000", "euid": "eba_qCO:qx2002"}
    for r in _rules("identifier"):
        places = [(t, c, "") for t, c in r.get("columns", ())]
        places += [(t, c, k) for t, c, k in r.get("typed", ())]
        for template, column, type_column in places:
            for row in tables.get(template, []):
                value = row.get(column, "")
                if not value or (type_column and row.get(type_column) != types[r["check"]]):
                    continue
                if why := _identifier_problem(r["check"], value):
                    yield finding(
                        r["id"],
                        template,
                        column,
                        _line(row),
                        _key_text(template, row),
                        f"DORA_BAD_{r['check'].upper()}",
                        row.get("_source", ""),
                        value=repr(value[:80]),
                        why=why,
                    )


def _key_findings(tables: Tables) -> Iterator[Finding]:
    spec = rule_set()["templates"]
    filled_rule = next(r for r in _rules("key") if r["check"] == "filled")["id"]
    unique_rule = next(r for r in _rules("key") if r["check"] == "unique")["id"]
    ref_rule = next(_rules("reference"))["id"]
    for template, rows in tables.items():
        if template not in spec:
            continue
        kcols = key_columns(template)
        seen: dict[tuple[str, ...], int] = {}
        for row in rows:
            for c in kcols:
                if not row.get(c, ""):
                    yield finding(
                        filled_rule,
                        template,
                        c,
                        _line(row),
                        _key_text(template, row),
                        "DORA_KEY_EMPTY",
                        row.get("_source", ""),
                    )
            key = tuple(row.get(c, "") for c in kcols)
            if kcols and key in seen:
                yield finding(
                    unique_rule,
                    template,
                    "+".join(kcols),
                    _line(row),
                    _key_text(template, row),
                    "DORA_KEY_DUPLICATE",
                    row.get("_source", ""),
                    first=seen[key],
                )
            seen.setdefault(key, _line(row))
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
                    yield finding(
                        ref_rule,
                        template,
                        "+".join(ref["columns"]),
                        _line(row),
                        _key_text(template, row),
                        "DORA_REFERENCE",
                        row.get("_source", ""),
                        value=repr("/".join(value)),
                        target=ref["to"],
                    )


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
