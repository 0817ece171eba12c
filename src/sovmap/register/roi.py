"""The DORA register of information (Commission Implementing Regulation (EU) 2024/2956) in
its plain-CSV form: reading, writing and the cross-template checks.

An RoI is held as ``{"B_05.01": [{"c0010": ..., ...}, ...], ...}``: one list of rows per
template, each row keyed by column code, values as the CSV text. Files are named after their
template in lower case (``b_05.01.csv``) under ``reports/``, next to the package metadata
(``META-INF/reportPackage.json``, ``reports/report.json``, ``reports/parameters.csv``,
``reports/FilingIndicators.csv``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sovmap.register.identifiers import countries, currencies, ict_service_types, lei_problem
from sovmap.register.problems import Problem, Severity

RoI = dict[str, list[dict[str, str]]]

TEMPLATES = (
    "B_01.01",
    "B_01.02",
    "B_02.01",
    "B_02.02",
    "B_03.01",
    "B_03.02",
    "B_04.01",
    "B_05.01",
    "B_05.02",
    "B_06.01",
    "B_07.01",
)
#: problems that make the meaning of an RoI uncertain: nothing is imported while they remain
BLOCKING = frozenset(
    {
        "ROI_MISSING_TEMPLATE",
        "ROI_HEADER",
        "ROI_UNKNOWN_KEY",
        "ROI_BAD_DATE",
        "ROI_BAD_CODE",
        "ROI_BAD_NUMBER",
    }
)
TAXONOMY_MODULE = "http://www.eba.europa.eu/eu/fr/xbrl/crr/fws/dora/4.0/mod/dora.json"


@cache
def codes() -> dict[str, Any]:
    text = (resources.files("sovmap.register") / "data" / "dora_codes.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def columns(template: str) -> tuple[str, ...]:
    return tuple(codes()["templates"][template])


def code_list(name: str) -> dict[str, str]:
    """sovmap value -> EBA member code for one closed list."""
    lst: dict[str, str] = codes()["lists"][name]
    return lst


def decode_list(name: str, member: str) -> str | None:
    """EBA member code -> sovmap value (None for an empty cell)."""
    if not member:
        return None
    for key, value in code_list(name).items():
        if value == member:
            return key
    raise ValueError(f"{member!r} is not in the code list {name}")


def file_name(template: str) -> str:
    return f"{template.lower()}.csv"


# --------------------------------------------------------------------------- I/O


def write_roi(roi: RoI, out: Path, lei: str, reference_date: date, currency: str) -> list[Path]:
    """Write the plain-CSV package: one CSV per template plus the package metadata."""
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (out / "META-INF").mkdir(exist_ok=True)
    written: list[Path] = []
    for template in TEMPLATES:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns(template)), lineterminator="\n")
        writer.writeheader()
        for row in roi.get(template, []):
            writer.writerow({c: row.get(c, "") for c in columns(template)})
        path = reports / file_name(template)
        path.write_text(buf.getvalue(), encoding="utf-8")
        written.append(path)
    indicators = "templateID,reported\n" + "".join(f"{t},true\n" for t in TEMPLATES)
    (reports / "FilingIndicators.csv").write_text(indicators, encoding="utf-8")
    params = (
        "name,value\n"
        f"entityID,rs:{lei or 'UNKNOWN'}.CON\n"
        f"refPeriod,{reference_date.isoformat()}\n"
        f"baseCurrency,iso4217:{currency}\n"
        "decimalsInteger,0\n"
        "decimalsMonetary,-3\n"
    )
    (reports / "parameters.csv").write_text(params, encoding="utf-8")
    report = {
        "documentInfo": {
            "documentType": "https://xbrl.org/2021/xbrl-csv",
            "extends": [TAXONOMY_MODULE],
        }
    }
    (reports / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    package = {"documentInfo": {"documentType": "https://xbrl.org/report-package/2023"}}
    (out / "META-INF" / "reportPackage.json").write_text(
        json.dumps(package, indent=2) + "\n", encoding="utf-8"
    )
    written += [reports / n for n in ("FilingIndicators.csv", "parameters.csv", "report.json")]
    return written


def read_roi(root: Path) -> tuple[RoI, list[Problem]]:
    """Read the template CSVs of a package directory (``reports/`` or the directory itself)."""
    base = root / "reports" if (root / "reports").is_dir() else root
    roi: RoI = {}
    problems: list[Problem] = []
    for template in TEMPLATES:
        path = base / file_name(template)
        rel = str(path.relative_to(root))
        if not path.exists():
            problems.append(
                Problem(rel, 1, "(file)", "ROI_MISSING_TEMPLATE", f"no file for {template}")
            )
            roi[template] = []
            continue
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        header = tuple(reader.fieldnames or ())
        expected = columns(template)
        if header != expected:
            unknown = [c for c in header if c not in expected]
            absent = [c for c in expected if c not in header]
            problems.append(
                Problem(
                    rel,
                    1,
                    "(header)",
                    "ROI_HEADER",
                    f"columns differ from {template}: unknown {unknown}, missing {absent}",
                )
            )
        rows = []
        for row in reader:
            clean = {k: (v or "").strip() for k, v in row.items() if k is not None}
            clean["_line"] = str(reader.line_num)
            rows.append(clean)
        roi[template] = rows
    return roi, problems


# --------------------------------------------------------------------------- checks


def _where(template: str, row: dict[str, str], column: str) -> tuple[str, int, str]:
    return f"reports/{file_name(template)}", int(row.get("_line", "1")), f"{template}.{column}"


def _problem(
    template: str,
    row: dict[str, str],
    column: str,
    code: str,
    msg: str,
    severity: Severity = Severity.ERROR,
) -> Problem:
    f, line, field = _where(template, row, column)
    return Problem(f, line, field, code, msg, severity)


_ID_COLUMNS = {  # (template, code column, type column)
    ("B_02.02", "c0030", "c0040"),
    ("B_03.02", "c0020", "c0030"),
    ("B_05.01", "c0010", "c0020"),
    ("B_05.01", "c0030", "c0040"),
    ("B_05.01", "c0110", "c0120"),
    ("B_05.02", "c0030", "c0040"),
    ("B_05.02", "c0060", "c0070"),
    ("B_07.01", "c0020", "c0030"),
}
_LEI_COLUMNS = {
    ("B_01.01", "c0010"),
    ("B_01.02", "c0010"),
    ("B_01.02", "c0060"),
    ("B_02.02", "c0020"),
    ("B_03.01", "c0020"),
    ("B_04.01", "c0020"),
    ("B_06.01", "c0040"),
}
_COUNTRY_COLUMNS = {
    ("B_01.01", "c0030"),
    ("B_01.02", "c0030"),
    ("B_02.02", "c0120"),
    ("B_02.02", "c0130"),
    ("B_02.02", "c0150"),
    ("B_02.02", "c0160"),
    ("B_05.01", "c0080"),
}
_CURRENCY_COLUMNS = {("B_01.02", "c0100"), ("B_02.01", "c0040"), ("B_05.01", "c0090")}
_DATE_COLUMNS = {
    ("B_01.01", "c0060"),
    ("B_01.02", "c0070"),
    ("B_01.02", "c0080"),
    ("B_01.02", "c0090"),
    ("B_02.02", "c0070"),
    ("B_02.02", "c0080"),
    ("B_06.01", "c0070"),
    ("B_07.01", "c0070"),
}
_SERVICE_TYPE_COLUMNS = {("B_02.02", "c0060"), ("B_05.02", "c0020"), ("B_07.01", "c0040")}
#: closed lists: (template, column) -> code list in data/dora_codes.yaml
_LIST_COLUMNS = {
    ("B_01.02", "c0050"): "hierarchy",
    ("B_02.01", "c0020"): "contract_kind",
    ("B_02.02", "c0090"): "termination_reason",
    ("B_02.02", "c0140"): "binary",
    ("B_02.02", "c0170"): "sensitivity",
    ("B_02.02", "c0180"): "reliance",
    ("B_04.01", "c0030"): "nature",
    ("B_05.01", "c0070"): "person_type",
    ("B_06.01", "c0050"): "assessment",
    ("B_06.01", "c0100"): "impact",
    ("B_07.01", "c0050"): "substitutability",
    ("B_07.01", "c0060"): "substitutability_reason",
    ("B_07.01", "c0080"): "binary",
    ("B_07.01", "c0090"): "reintegration",
    ("B_07.01", "c0100"): "impact",
    ("B_07.01", "c0110"): "assessment",
}
#: numbers: (template, column) -> True for whole numbers (days, rank)
_NUMBER_COLUMNS = {
    ("B_01.02", "c0110"): False,
    ("B_02.01", "c0050"): False,
    ("B_02.02", "c0100"): True,
    ("B_02.02", "c0110"): True,
    ("B_05.01", "c0100"): False,
    ("B_05.02", "c0050"): True,
    ("B_06.01", "c0080"): False,
    ("B_06.01", "c0090"): False,
}
_MANDATORY = {
    "B_01.01": ("c0010", "c0020", "c0030", "c0040"),
    "B_01.02": ("c0010", "c0020", "c0030", "c0040", "c0050"),
    "B_02.01": ("c0010", "c0020"),
    "B_02.02": ("c0010", "c0020", "c0030", "c0040", "c0050", "c0060", "c0070"),
    "B_03.01": ("c0010", "c0020"),
    "B_03.02": ("c0010", "c0020", "c0030"),
    "B_04.01": ("c0010", "c0020", "c0030"),
    "B_05.01": ("c0010", "c0020", "c0050", "c0070", "c0080"),
    "B_05.02": ("c0010", "c0020", "c0030", "c0040", "c0050"),
    "B_06.01": ("c0010", "c0030", "c0040", "c0050"),
    "B_07.01": ("c0010", "c0020", "c0030", "c0040", "c0050"),
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _number_ok(text: str, whole: bool) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    if value < 0 or math.isnan(value) or math.isinf(value):
        return False
    return value.is_integer() if whole else True


def _format_problems(roi: RoI) -> Iterator[Problem]:
    prefix = codes()["prefixes"]
    na_country = codes()["not_applicable_country"]
    id_types = code_list("id_type")
    for template, rows in roi.items():
        for row in rows:
            for column in _MANDATORY.get(template, ()):
                if not row.get(column):
                    yield _problem(
                        template, row, column, "ROI_MANDATORY", "mandatory value is empty"
                    )
            for t, column in _LEI_COLUMNS:
                if t == template and row.get(column) and (why := lei_problem(row[column])):
                    yield _problem(template, row, column, "ROI_BAD_LEI", f"{row[column]!r}: {why}")
            for t, column, type_column in _ID_COLUMNS:
                if t != template or not row.get(column):
                    continue
                kind = row.get(type_column, "")
                if kind not in id_types.values():
                    yield _problem(
                        template,
                        row,
                        type_column,
                        "ROI_BAD_CODE_TYPE",
                        f"{kind!r} is not a type of code",
                    )
                elif kind == id_types["lei"] and (why := lei_problem(row[column])):
                    yield _problem(template, row, column, "ROI_BAD_LEI", f"{row[column]!r}: {why}")
                elif kind == id_types["internal"] and (template, column) == ("B_05.01", "c0010"):
                    yield _problem(
                        template,
                        row,
                        column,
                        "ROI_NO_PROVIDER_CODE",
                        f"{row[column]!r} has no LEI or EUID (internal id used)",
                    )
            for t, column in _COUNTRY_COLUMNS:
                value = row.get(column, "")
                if t != template or not value or value == na_country:
                    continue
                if not value.startswith(prefix["country"]) or (
                    value.removeprefix(prefix["country"]) not in countries()
                ):
                    yield _problem(
                        template,
                        row,
                        column,
                        "ROI_BAD_COUNTRY",
                        f"{value!r} is not eba_GA:<ISO 3166 code>",
                    )
            for t, column in _CURRENCY_COLUMNS:
                value = row.get(column, "")
                if (
                    t == template
                    and value
                    and (
                        not value.startswith(prefix["currency"])
                        or value.removeprefix(prefix["currency"]) not in currencies()
                    )
                ):
                    yield _problem(
                        template,
                        row,
                        column,
                        "ROI_BAD_CURRENCY",
                        f"{value!r} is not eba_CU:<ISO 4217 code>",
                    )
            for t, column in _DATE_COLUMNS:
                value = row.get(column, "")
                if t == template and value:
                    ok = bool(_DATE.match(value))
                    if ok:
                        try:
                            date.fromisoformat(value)
                        except ValueError:
                            ok = False
                    if not ok:
                        yield _problem(
                            template,
                            row,
                            column,
                            "ROI_BAD_DATE",
                            f"{value!r} is not a date (YYYY-MM-DD)",
                        )
            for (t, column), list_name in _LIST_COLUMNS.items():
                value = row.get(column, "")
                if t == template and value and value not in code_list(list_name).values():
                    yield _problem(
                        template,
                        row,
                        column,
                        "ROI_BAD_CODE",
                        f"{value!r} is not in the code list {list_name}",
                    )
            for (t, column), whole in _NUMBER_COLUMNS.items():
                value = row.get(column, "")
                if t == template and value and not _number_ok(value, whole):
                    kind = "a whole number >= 0" if whole else "a number >= 0"
                    yield _problem(
                        template, row, column, "ROI_BAD_NUMBER", f"{value!r} is not {kind}"
                    )
            for t, column in _SERVICE_TYPE_COLUMNS:
                value = row.get(column, "")
                if (
                    t == template
                    and value
                    and (
                        value.removeprefix(prefix["service_type"]) not in ict_service_types()
                        or not value.startswith(prefix["service_type"])
                    )
                ):
                    yield _problem(
                        template,
                        row,
                        column,
                        "ROI_BAD_SERVICE_TYPE",
                        f"{value!r} is not a type of ICT services (eba_TA:S01..S19)",
                    )


def _key_problems(roi: RoI) -> Iterator[Problem]:
    def keys(template: str, column: str) -> set[str]:
        return {r.get(column, "") for r in roi.get(template, []) if r.get(column)}

    contracts = keys("B_02.01", "c0010")
    functions = keys("B_06.01", "c0010")
    providers = keys("B_05.01", "c0010")
    entities = keys("B_01.02", "c0010")
    refs = [
        ("B_02.01", "c0030", contracts, "contractual arrangement in B_02.01"),
        ("B_02.02", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_03.01", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_03.02", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_04.01", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_05.02", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_07.01", "c0010", contracts, "contractual arrangement in B_02.01"),
        ("B_02.02", "c0050", functions, "function in B_06.01"),
        ("B_02.02", "c0030", providers, "provider in B_05.01"),
        ("B_03.02", "c0020", providers, "provider in B_05.01"),
        ("B_05.01", "c0110", providers, "provider (ultimate parent) in B_05.01"),
        ("B_05.02", "c0030", providers, "provider in B_05.01"),
        ("B_05.02", "c0060", providers, "provider in B_05.01"),
        ("B_07.01", "c0020", providers, "provider in B_05.01"),
        ("B_01.01", "c0010", entities, "entity in B_01.02"),
        ("B_02.02", "c0020", entities, "entity in B_01.02"),
        ("B_03.01", "c0020", entities, "entity in B_01.02"),
        ("B_04.01", "c0020", entities, "entity in B_01.02"),
        ("B_06.01", "c0040", entities, "entity in B_01.02"),
    ]
    for template, column, known, what in refs:
        for row in roi.get(template, []):
            value = row.get(column, "")
            if value and value not in known:
                yield _problem(
                    template, row, column, "ROI_UNKNOWN_KEY", f"{value!r}: no such {what}"
                )
    for template, key_columns in (
        ("B_01.02", ("c0010",)),
        ("B_02.01", ("c0010",)),
        ("B_03.02", ("c0010", "c0020")),
        ("B_05.01", ("c0010",)),
        ("B_06.01", ("c0010",)),
        ("B_07.01", ("c0010", "c0020", "c0040")),
        ("B_02.02", ("c0010", "c0020", "c0030", "c0050", "c0060")),
    ):
        seen: set[tuple[str, ...]] = set()
        for row in roi.get(template, []):
            key = tuple(row.get(c, "") for c in key_columns)
            if key in seen:
                yield _problem(
                    template,
                    row,
                    key_columns[0],
                    "ROI_DUPLICATE",
                    f"row key {'/'.join(key)} appears more than once",
                )
            seen.add(key)
    for row in roi.get("B_02.01", []):
        if row.get("c0020") == code_list("contract_kind")["subsequent"] and not row.get("c0030"):
            yield _problem(
                "B_02.01",
                row,
                "c0030",
                "ROI_NO_OVERARCHING",
                "a subsequent arrangement names its overarching arrangement",
            )
    used = keys("B_02.02", "c0010")
    for row in roi.get("B_02.01", []):
        if row.get("c0010") and row["c0010"] not in used:
            yield _problem(
                "B_02.01",
                row,
                "c0010",
                "ROI_CONTRACT_UNUSED",
                "no B_02.02 row uses this contractual arrangement",
                Severity.WARNING,
            )
    for row in roi.get("B_02.02", []):
        start, end = row.get("c0070", ""), row.get("c0080", "")
        if _DATE.match(start) and _DATE.match(end) and end < start:
            yield _problem(
                "B_02.02",
                row,
                "c0080",
                "ROI_END_BEFORE_START",
                "the arrangement ends before it starts",
            )
    not_subst = {code_list("substitutability")[k] for k in ("none", "hard")}
    for row in roi.get("B_07.01", []):
        if row.get("c0050") in not_subst and not row.get("c0060"):
            yield _problem(
                "B_07.01",
                row,
                "c0060",
                "ROI_NO_SUBSTITUTABILITY_REASON",
                "a reason is required when the provider is hard or not substitutable",
            )


def check_roi(roi: RoI) -> list[Problem]:
    """Format and cross-template key checks; each problem names file, row line and column."""
    return [*_format_problems(roi), *_key_problems(roi)]
