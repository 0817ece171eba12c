"""The DORA RoI package as it is filed: names, metadata files, directory and zip.

    <LEI>.<IND|CON>_<CC>_DORA010100_DORA_<refdate>_<yyyyMMddHHmmssSSS>/
        META-INF/reportPackage.json
        reports/report.json, parameters.csv, FilingIndicators.csv, b_01.01.csv ... b_99.01.csv

The zip of the same name holds that one root folder. Reading goes through the shared input
layer (:func:`sovmap.readers.read_csv`: BOM, semicolons, limits) for a directory or a zip.
A member that cannot be read (not a file, not decodable, a broken header), a missing or
unusable ``parameters.csv`` and every rejected row (a short one included) are input problems
``FILE:LINE: CODE: message``; the other members and rows are still read, and the rows are
accounted for (``read == accepted + rejected``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from sovmap.readers import CsvTable, InputError, InputProblem, quote, read_csv
from sovmap.register.dora.rules import (
    Finding,
    Tables,
    columns,
    filing_findings,
    header_findings,
    rule,
    templates,
)
from sovmap.register.identifiers import lei_problem

MODULE = "DORA010100"
ENTRY_POINT = "http://www.eba.europa.eu/eu/fr/xbrl/crr/fws/dora/4.0/mod/dora.json"
NAME = re.compile(
    r"^(?P<lei>[A-Z0-9]{20})\.(?P<scope>CON|IND)_(?P<cc>[A-Z]{2})_DORA(?P<module>\d{6})_DORA_"
    r"(?P<date>\d{4}-\d{2}-\d{2})_(?P<stamp>\d{17})$"
)
METADATA = ("report.json", "parameters.csv", "FilingIndicators.csv")
#: the largest package member read (a template of a large group stays far below)
MAX_MEMBER = 64 * 1024 * 1024
MAX_MEMBERS = 64


def file_name(template: str) -> str:
    return f"{template.lower()}.csv"


def package_name(lei: str, scope: str, country: str, refdate: date, stamp: datetime) -> str:
    ms = f"{stamp.microsecond // 1000:03d}"
    return (
        f"{lei}.{scope}_{country}_{MODULE}_DORA_{refdate.isoformat()}_"
        f"{stamp.strftime('%Y%m%d%H%M%S')}{ms}"
    )


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def package_files(
    tables: Tables, *, lei: str, scope: str, refdate: date, currency: str
) -> dict[str, str]:
    """Relative path (inside the root folder) -> text, for every file of the package."""
    files: dict[str, str] = {
        "META-INF/reportPackage.json": json.dumps(
            {"documentInfo": {"documentType": "https://xbrl.org/report-package/2023"}}, indent=2
        )
        + "\n",
        "reports/report.json": json.dumps(
            {
                "documentInfo": {
                    "documentType": "https://xbrl.org/2021/xbrl-csv",
                    "extends": [ENTRY_POINT],
                }
            },
            indent=2,
        )
        + "\n",
        "reports/parameters.csv": _csv_text(
            ["name", "value"],
            [
                ["entityID", f"rs:{lei}.{scope}"],
                ["refPeriod", refdate.isoformat()],
                ["baseCurrency", f"iso4217:{currency}"],
                ["decimalsInteger", "0"],
                ["decimalsMonetary", "-3"],
            ],
        ),
        "reports/FilingIndicators.csv": _csv_text(
            ["templateID", "reported"], [[t, "true"] for t in templates()]
        ),
    }
    for template in templates():
        cols = list(columns(template))
        rows = [[row.get(c, "") for c in cols] for row in tables.get(template, [])]
        files[f"reports/{file_name(template)}"] = _csv_text(cols, rows)
    return files


def write_package(files: dict[str, str], out: Path, name: str, *, zip_: bool) -> list[Path]:
    """Write the root folder ``out/name`` and, with ``zip_``, ``out/name.zip`` beside it."""
    root = out / name
    written: list[Path] = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if zip_:
        target = out / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in sorted(files):
                zf.writestr(f"{name}/{rel}", files[rel])
        written.append(target)
    return written


# --------------------------------------------------------------------------- reading


@dataclass
class Package:
    """A package read from a directory or zip: template rows plus what the checks need."""

    name: str  # the root folder's name ("" when the files sit directly in the directory)
    zip_name: str = ""
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # templates that have a file
    parameters: dict[str, str] = field(default_factory=dict)
    parameters_header: list[str] = field(default_factory=list)
    filing_header: list[str] = field(default_factory=list)
    filing: list[tuple[int, str, str]] = field(default_factory=list)
    extends: list[str] = field(default_factory=list)
    has_report_package: bool = False
    metadata: set[str] = field(default_factory=set)
    stray: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # header/structure findings
    problems: list[InputProblem] = field(default_factory=list)
    #: problems with the package as a whole (a member unreadable, parameters.csv missing or
    #: unusable): its meaning is uncertain, so nothing is imported while one remains
    blocking: list[InputProblem] = field(default_factory=list)
    read: int = 0  # template rows read = accepted + rejected
    accepted: int = 0
    rejected: int = 0

    def add_blocking(self, problem: InputProblem) -> None:
        self.problems.append(problem)
        self.blocking.append(problem)

    def count(self, table: CsvTable) -> None:
        self.read += table.read
        self.accepted += table.accepted
        self.rejected += table.rejected


def _member_problem(rel: str, exc: InputError) -> InputProblem:
    """An :class:`InputError` of one member as a problem of the package (the rest goes on)."""
    return InputProblem(
        rel, exc.line or 1, exc.code or "UNREADABLE", exc.message, exc.key, exc.params
    )


def _members_of(path: Path) -> tuple[str, str, dict[str, bytes], dict[str, str]]:
    """(zip name, root folder, relative path -> bytes, relative path -> catalogue key of why
    it is no file) of a directory or zip; the last names folders called like a package file
    and, in a directory, devices, pipes and broken links."""
    odd: dict[str, str] = {}
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise InputError.of(str(path), "NOT_A_PACKAGE", "INPUT_ROI_NOT_A_PACKAGE")
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() and _looks_like_member(info.filename.rstrip("/")):
                    odd[info.filename.rstrip("/")] = "INPUT_DIRECTORY"
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise InputError.of(
                    str(path), "TOO_LARGE", "INPUT_ROI_MEMBERS", count=len(infos), limit=MAX_MEMBERS
                )
            for info in infos:
                if info.file_size > MAX_MEMBER:
                    raise InputError.of(
                        f"{path}:{info.filename}", "TOO_LARGE", "INPUT_TOO_LARGE",
                        size=info.file_size, limit=MAX_MEMBER,
                    )  # fmt: skip
            try:
                raw = {i.filename: zf.read(i) for i in infos}
            except (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, EOFError) as exc:
                reason = str(exc) or type(exc).__name__
                raise InputError.of(
                    str(path), "UNREADABLE", "INPUT_CANNOT_READ", reason=reason
                ) from None
        roots = {PurePosixPath(n).parts[0] for n in raw if len(PurePosixPath(n).parts) > 1}
        root = next(iter(roots)) if len(roots) == 1 else ""

        def strip(n: str) -> str:
            return n[len(root) + 1 :] if root and n.startswith(root + "/") else n

        inside = {strip(n): b for n, b in raw.items()}
        return path.name, root, inside, {strip(n): why for n, why in odd.items()}
    if not path.is_dir():
        raise InputError.of(str(path), "UNREADABLE", "INPUT_ROI_NOT_A_PACKAGE")
    base = path
    if not (path / "reports").is_dir():
        subs = [p for p in path.iterdir() if p.is_dir() and (p / "reports").is_dir()]
        if len(subs) == 1:
            base = subs[0]
    flat = not (base / "reports").is_dir() and (base / "b_01.01.csv").is_file()
    members: dict[str, bytes] = {}
    try:
        found = sorted(base.rglob("*"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError.of(str(path), "UNREADABLE", "INPUT_CANNOT_READ", reason=reason) from None
    for p in found:
        rel = p.relative_to(base).as_posix()
        rel = f"reports/{rel}" if flat else rel
        if p.is_file():
            if p.stat().st_size > MAX_MEMBER:
                raise InputError.of(
                    str(p), "TOO_LARGE", "INPUT_TOO_LARGE", size=p.stat().st_size, limit=MAX_MEMBER
                )
            try:
                members[rel] = p.read_bytes()
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise InputError.of(
                    str(p), "UNREADABLE", "INPUT_CANNOT_READ", reason=reason
                ) from None
        elif p.is_dir():
            if _looks_like_member(rel):
                odd[rel] = "INPUT_DIRECTORY"
        else:  # a device, pipe, socket or broken link: never opened (a pipe would hang)
            odd[rel] = "INPUT_NOT_REGULAR"
        if len(members) > MAX_MEMBERS:
            raise InputError.of(
                str(path), "TOO_LARGE", "INPUT_ROI_MEMBERS", count=len(members), limit=MAX_MEMBERS
            )
    return "", base.name if base != path or NAME.match(path.name) else "", members, odd


def _looks_like_member(rel: str) -> bool:
    """A name a package file has (``b_04.01.csv``, ``parameters.csv``, ``report.json``)."""
    leaf = PurePosixPath(rel).name.lower()
    return leaf.endswith((".csv", ".json"))


def read_package(path: Path) -> Package:
    """Read a package directory (the root folder or a directory holding it) or zip.

    Raises :class:`InputError` when it cannot be read at all; a member that cannot be read is
    a problem of the package and the others are still read."""
    zip_name, root, members, odd = _members_of(path)
    pkg = Package(name=root, zip_name=zip_name)
    pkg.has_report_package = "META-INF/reportPackage.json" in members
    for rel, why in sorted(odd.items()):
        pkg.add_blocking(InputProblem.of(rel, 1, "NOT_A_FILE", why))
    by_lower = {k.lower(): k for k in members}
    for rel in members:
        parts = PurePosixPath(rel).parts
        if parts[0] == "reports":
            leaf = parts[-1]
            if leaf in METADATA:
                pkg.metadata.add(leaf)
            elif leaf not in {file_name(t) for t in templates()} or len(parts) != 2:
                pkg.stray.append(rel)
    for template in templates():
        rel = f"reports/{file_name(template)}"
        key = rel if rel in members else by_lower.get(rel)
        if key is None:
            if rel in odd or rel.lower() in {o.lower() for o in odd}:
                pkg.present.add(template)  # there, but no file: reported above
            continue
        pkg.present.add(template)
        try:
            table = read_csv(members[key], file=rel, want=("c0010",), multiline=True)
        except InputError as exc:
            pkg.add_blocking(_member_problem(rel, exc))
            continue
        pkg.count(table)
        pkg.problems.extend(table.problems)
        header = [h.strip() for h in table.header]
        pkg.findings.extend(header_findings(template, header, []))
        rows: list[dict[str, str]] = []
        for line, row in table.rows:
            clean = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            clean["_line"] = str(line)
            rows.append(clean)
        pkg.tables[template] = rows
    _read_parameters(pkg, members, odd)
    filing = "reports/FilingIndicators.csv"
    if filing in members:
        try:
            table = read_csv(members[filing], file=filing)
        except InputError as exc:
            pkg.add_blocking(_member_problem(filing, exc))
        else:
            pkg.filing_header = [h.strip() for h in table.header]
            pkg.problems.extend(table.problems)
            for line, row in table.rows:
                pkg.filing.append(
                    (line, row.get("templateID", "").strip(), row.get("reported", "").strip())
                )
    if "reports/report.json" in members:
        try:
            doc = json.loads(members["reports/report.json"].decode("utf-8-sig"))
            pkg.extends = list(doc.get("documentInfo", {}).get("extends", []))
        except (ValueError, AttributeError, TypeError, RecursionError):
            pkg.extends = []  # rule 505 names it
    return pkg


#: parameters.csv rows an import cannot do without
REQUIRED_PARAMETERS = ("entityID", "refPeriod")


def _read_parameters(pkg: Package, members: dict[str, bytes], odd: dict[str, str]) -> None:
    """``reports/parameters.csv``: the reporting entity and the reference date. Missing,
    unreadable, without its ``name,value`` header or without a usable ``refPeriod`` it is a
    blocking problem (the import would otherwise guess the reference date)."""
    rel = "reports/parameters.csv"
    if rel not in members:
        if rel not in odd:
            pkg.add_blocking(InputProblem.of(rel, 1, "ROI_PARAMETERS", "INPUT_ROI_NO_PARAMETERS"))
        return
    try:
        table = read_csv(members[rel], file=rel, want=("name", "value"))
    except InputError as exc:
        pkg.add_blocking(_member_problem(rel, exc))
        return
    pkg.parameters_header = [h.strip() for h in table.header]
    pkg.problems.extend(table.problems)
    if [h.lower() for h in pkg.parameters_header[:2]] != ["name", "value"]:
        pkg.add_blocking(
            InputProblem.of(
                rel,
                table.header_line,
                "ROI_PARAMETERS",
                "INPUT_ROI_PARAMETERS_HEADER",
                header=quote(",".join(pkg.parameters_header)),
            )
        )
        return
    lines: dict[str, int] = {}
    for line, row in table.rows:
        name = row.get("name", "").strip()
        if name in lines:
            pkg.add_blocking(
                InputProblem.of(
                    rel, line, "DUPLICATE", "INPUT_ROI_PARAMETER_TWICE", name=quote(name),
                    first=lines[name],
                )
            )  # fmt: skip
            continue
        lines[name] = line
        pkg.parameters[name] = row.get("value", "").strip()
    for name in REQUIRED_PARAMETERS:
        if name not in pkg.parameters:
            pkg.add_blocking(
                InputProblem.of(rel, 1, "ROI_PARAMETERS", "INPUT_ROI_NO_PARAMETER", name=name)
            )
    ref = pkg.parameters.get("refPeriod")
    if ref is not None:
        try:
            date.fromisoformat(ref)
        except ValueError:
            pkg.add_blocking(
                InputProblem.of(
                    rel, lines["refPeriod"], "ROI_PARAMETERS", "INPUT_ROI_BAD_REFPERIOD",
                    value=quote(ref),
                )
            )  # fmt: skip


def _pf(rule_id: str, key: str = "", message: str = "") -> Finding:
    return Finding(rule_id, "package", "", 0, key, message or rule(rule_id)["message"])


def package_findings(pkg: Package, today: date) -> list[Finding]:
    """The package rules (names, metadata, filing indicators) of a package read back."""
    out: list[Finding] = []
    m = NAME.match(pkg.zip_name.removesuffix(".zip") if pkg.zip_name else pkg.name)
    if pkg.zip_name and (m is None or pkg.name != pkg.zip_name.removesuffix(".zip")):
        out.append(_pf("103", pkg.name))
    if pkg.zip_name and m is None:
        out.append(_pf("105", pkg.zip_name))
    if not pkg.has_report_package:
        out.append(_pf("103", "META-INF/reportPackage.json"))
    for leaf in METADATA:
        if leaf not in pkg.metadata:
            out.append(_pf("701", leaf))
    if "report.json" in pkg.metadata and not any(e == ENTRY_POINT for e in pkg.extends):
        out.append(_pf("505", ", ".join(pkg.extends)))
    for rel in pkg.stray:
        out.append(_pf("720", rel))
    if "parameters.csv" in pkg.metadata:
        if pkg.parameters_header[:2] != ["name", "value"]:
            out.append(_pf("723", ",".join(pkg.parameters_header)))
        entity = pkg.parameters.get("entityID", "")
        em = re.fullmatch(r"rs:([A-Z0-9]{20})\.(IND|CON)", entity)
        if em is None:
            out.append(_pf("514", entity))
        elif lei_problem(em.group(1)):
            out.append(_pf("514", entity, f"entityID {entity}: {lei_problem(em.group(1))}"))
        ref = pkg.parameters.get("refPeriod", "")
        if m is not None:
            if entity != f"rs:{m['lei']}.{m['scope']}":
                out.append(_pf("714", entity))
            if ref != m["date"]:
                out.append(_pf("320", ref))
            if m["module"] != MODULE[4:]:
                out.append(_pf("105", m["module"], f"module DORA{m['module']} is not {MODULE}"))
        try:
            if date.fromisoformat(ref) > today:
                out.append(_pf("111", ref))
        except ValueError:
            out.append(_pf("320", ref, f"refPeriod {ref!r} is not a date"))
    if "FilingIndicators.csv" in pkg.metadata:
        out.extend(filing_findings(pkg.filing_header, pkg.filing))
    return out
