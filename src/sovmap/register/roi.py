"""The DORA register of information (Commission Implementing Regulation (EU) 2024/2956) in
its plain-CSV form: code lists, reading, writing and checking.

An RoI is held as ``{"B_05.01": [{"c0010": ..., ...}, ...], ...}``: one list of rows per
template (all 15, B_01.01 ... B_99.01), each row keyed by column code, values as the CSV
text (``_line``: the row's line in its file; ``_source``: the register file and line it was
made from). The checks are the EBA's rules as data (:mod:`sovmap.register.dora.rules`);
the package as filed (name, metadata, zip) is :mod:`sovmap.register.dora.package`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sovmap.register.dora import package as pkg
from sovmap.register.dora.rules import Finding, columns, templates, validate_tables
from sovmap.register.problems import Problem, Severity

RoI = dict[str, list[dict[str, str]]]

TEMPLATES = templates()
#: rules whose findings make the meaning of an RoI uncertain (structure, values outside their
#: type or list, duplicated keys, dangling references): nothing is imported while they remain
BLOCKING = frozenset({"801", "802", "809", "330", "331", "305", "333", "503", "806", "807"})
TAXONOMY_MODULE = pkg.ENTRY_POINT

__all__ = [
    "BLOCKING",
    "TEMPLATES",
    "RoI",
    "check_roi",
    "code_list",
    "codes",
    "columns",
    "decode_list",
    "file_name",
    "finding_problem",
    "read_roi",
    "write_roi",
]


@cache
def codes() -> dict[str, Any]:
    text = (resources.files("sovmap.register") / "data" / "dora_codes.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


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
    return pkg.file_name(template)


def finding_problem(f: Finding) -> Problem:
    field = f"{f.template}.{f.column}" if f.column else f.template
    msg = f"[{f.key}] {f.message}" if f.key else f.message
    if f.source:
        msg += f" (from {f.source})"
    return Problem(
        f.file, f.line, field, f.rule, msg, Severity.ERROR if f.blocking else Severity.WARNING
    )


def write_roi(
    roi: RoI,
    out: Path,
    lei: str,
    reference_date: date,
    currency: str,
    *,
    scope: str = "IND",
    country: str = "",
    stamp: datetime | None = None,
    zip_: bool = False,
) -> list[Path]:
    """Write the package root folder ``out/<package name>`` (and its zip with ``zip_``)."""
    files = pkg.package_files(roi, lei=lei, scope=scope, refdate=reference_date, currency=currency)
    name = pkg.package_name(lei, scope, country, reference_date, stamp or datetime.now(UTC))
    return pkg.write_package(files, out, name, zip_=zip_)


def read_roi(root: Path) -> tuple[RoI, list[Problem]]:
    """Read the templates of a package (directory, root folder or zip); problems are input
    problems, header findings and templates without a file."""
    package = pkg.read_package(root)
    problems = [Problem(p.file, p.line, "(file)", p.code, p.message) for p in package.problems] + [
        finding_problem(f) for f in package.findings
    ]
    roi: RoI = {}
    for template in TEMPLATES:
        if template not in package.present:
            problems.append(
                Problem(
                    f"reports/{file_name(template)}",
                    1,
                    "(file)",
                    "ROI_MISSING_TEMPLATE",
                    f"no file for {template}",
                )
            )
        roi[template] = package.tables.get(template, [])
    return roi, problems


def check_roi(roi: RoI) -> list[Problem]:
    """The EBA's row, key and reference rules; each problem names file, row line and column."""
    return [finding_problem(f) for f in validate_tables(roi)]
