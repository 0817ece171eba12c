"""A register is a directory of YAML files (and CSV files for tabular sections).

Any ``*.yaml``/``*.yml`` file may hold any section (``organisation``, ``processes``,
``services``, ``providers``, ``data_assets``, ``contracts``); a CSV file holds the section
it is named after (``contracts.csv``). An entity with the same id in several files is merged
field by field: a value a person entered wins over an inferred one, which wins over a
missing one; two different entered values are a conflict. That is how proposals from a scan
(written to their own file) never overwrite what a person entered.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from sovmap.readers import CsvTable, InputError, accounting, quote, read_bytes, read_csv
from sovmap.register.checks import check_semantics
from sovmap.register.codec import (
    ENTITY_KINDS,
    DecodeError,
    decode_entity,
    encode_entity,
    field_specs,
)
from sovmap.register.model import (
    Location,
    Organisation,
    Origin,
    Register,
    Valued,
)
from sovmap.register.problems import Problem, RegisterError, Severity, field_path
from sovmap.register.quality import quality_problems
from sovmap.register.yamlio import LineMap, YamlSyntaxError, dump_yaml, load_yaml

SECTION_ORDER = ("organisation", *ENTITY_KINDS)
#: The largest register file read (bytes), checked before reading.
MAX_FILE_BYTES = 64 * 1024 * 1024


@cache
def schema() -> dict[str, Any]:
    text = (resources.files("sovmap.register") / "schema" / "register.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class CheckResult:
    register: Register | None
    problems: tuple[Problem, ...]
    inputs: tuple[str, ...] = ()  # the input accounting of every CSV file read
    #: the same as numbers: (file, rows read, accepted, rejected), for :meth:`accounting`
    counts: tuple[tuple[str, int, int, int], ...] = ()

    def accounting(self, lang: str = "en") -> list[str]:
        """``FILE: rows read: N = accepted A + rejected R`` for every CSV file, in ``lang``."""
        return [f"{f}: {accounting(r, a, x, lang)}" for f, r, a, x in self.counts]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return self.register is not None and not self.errors


@dataclass
class _Doc:
    file: str
    data: dict[str, Any]
    lines: LineMap
    accounting: str = ""  # a CSV file: rows read = accepted + rejected
    counts: tuple[int, int, int] | None = None  # the same as numbers


def _label(data: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """Field path with entity ids instead of list positions where known."""
    if len(path) >= 2 and isinstance(path[1], int):
        items = data.get(str(path[0]))
        if isinstance(items, list) and path[1] < len(items):
            item = items[path[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return field_path((f"{path[0]}[{item['id']}]", *path[2:]))
    return field_path(path)


def _schema_problems(doc: _Doc) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema())
    out = []
    for err in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {}) if isinstance(err.schema, dict) else {}
            for key in [k for k in err.instance if k not in known]:
                at = (*path, key)
                line = doc.lines.line(at)
                label = _label(doc.data, at)
                unknown = "REGCHECK_UNKNOWN_FIELD"
                out.append(
                    Problem.of(doc.file, line, label, "UNKNOWN_FIELD", unknown, key=repr(key))
                )
            continue
        line = doc.lines.line(path)
        out.append(Problem(doc.file, line, _label(doc.data, path), "SCHEMA", err.message))
    return out


# --------------------------------------------------------------------------- CSV


def _csv_value(base: Any, text: str) -> Any:
    if text == "":
        return None
    if base is tuple:
        return [x.strip() for x in text.split(";") if x.strip()]
    if base is bool:
        low = text.strip().lower()
        if low in ("true", "yes", "ja", "1"):
            return True
        if low in ("false", "no", "nee", "0"):
            return False
        return text
    if base in (int, float):
        try:
            return int(text) if base is int else float(text)
        except ValueError:
            return text
    return text


def _csv_nested(name: str, text: str) -> list[Any]:
    items = [x.strip() for x in text.split(";") if x.strip()]
    if name == "depends_on":
        out: list[Any] = []
        for item in items:
            service, _, kind = item.partition(":")
            out.append({"service": service, "kind": kind or "other"})
        return out
    if name == "escalation":
        steps: list[Any] = []
        for item in items:
            hours, _, impact = item.partition(":")
            try:
                steps.append({"after_hours": float(hours), "impact": impact})
            except ValueError:
                steps.append({"after_hours": hours, "impact": impact})
        return steps
    if name == "subcontractors":
        return [{"provider": x} for x in items]
    return items


def _read_csv(
    data: bytes, section: str, file: str, problems: list[Problem]
) -> tuple[dict[str, Any], LineMap, CsvTable] | None:
    """One section from a CSV file, read by :func:`sovmap.readers.read_csv`: a rejected row
    (an unclosed quote, a wrong number of fields, bytes that are not UTF-8) is an error naming
    its line, and the rows after it are read; ``None`` for a file unusable as a whole."""
    cls = ENTITY_KINDS[section]
    specs = {s.name: s for s in field_specs(cls)}
    try:
        table = read_csv(data, file=file, delimiters=",", comments=False)
    except InputError as exc:
        problems.append(
            Problem(
                file,
                exc.line or 1,
                "(file)",
                exc.code or "CSV",
                exc.message,
                key=exc.key,
                params=exc.params,
            )
        )
        return None
    for p in table.problems:
        problems.append(
            Problem(file, p.line, "(row)", p.code, p.message, key=p.key, params=p.params)
        )
    rows: list[dict[str, Any]] = []
    lines = LineMap()
    lines.lines[(section,)] = 1
    for i, (line, row) in enumerate(table.rows):
        lines.lines[(section, i)] = line
        raw: dict[str, Any] = {}
        for column, cell in row.items():
            text = (cell or "").strip()
            name, _, attr = column.strip().partition(".")
            lines.lines[(section, i, name)] = line
            if text == "":
                continue
            spec = specs.get(name)
            if attr:  # provenance.columns: field.provenance / .source / .evidence
                wrapper = raw.setdefault(name, {"value": None})
                if not isinstance(wrapper, dict):
                    wrapper = raw[name] = {"value": wrapper}
                wrapper[attr] = text.split(";") if attr == "evidence" else text
            elif spec is not None and spec.many:
                raw[name] = _csv_nested(name, text)
            elif spec is not None and spec.valued:
                value = _csv_value(spec.base, text)
                if isinstance(raw.get(name), dict):
                    raw[name]["value"] = value
                else:
                    raw[name] = value
            elif name == "evidence":
                raw[name] = text.split(";")
            else:
                raw[name] = text
        for value in raw.values():
            if isinstance(value, dict) and "value" in value:
                value.setdefault("provenance", "entered")
        rows.append(raw)
    return {section: rows}, lines, table


# --------------------------------------------------------------------------- loading


def _read_docs(root: Path) -> tuple[list[_Doc], list[Problem]]:
    docs: list[_Doc] = []
    problems: list[Problem] = []
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".csv")
    )
    for path in files:
        rel = str(path.relative_to(root))
        try:
            data = read_bytes(path, max_bytes=MAX_FILE_BYTES)
        except InputError as exc:
            problems.append(
                Problem(
                    rel,
                    1,
                    "(file)",
                    exc.code or "UNREADABLE",
                    exc.message,
                    key=exc.key,
                    params=exc.params,
                )
            )
            continue
        if path.suffix == ".csv":
            if path.stem not in ENTITY_KINDS:
                problems.append(
                    Problem.of(
                        rel,
                        1,
                        "(file)",
                        "CSV_SECTION",
                        "REGCHECK_CSV_SECTION",
                        sections=", ".join(ENTITY_KINDS),
                    )
                )
                continue
            section = _read_csv(data, path.stem, rel, problems)
            if section is None:
                continue
            sections, lines, table = section
            counts: tuple[int, int, int] | None = (table.read, table.accepted, table.rejected)
            accounting = f"{rel}: {table.accounting()}"
        else:
            try:
                loaded, lines = load_yaml(data, rel)
            except YamlSyntaxError as exc:
                problems.append(
                    Problem(
                        rel,
                        exc.line,
                        "(document)",
                        exc.code,
                        exc.message,
                        key=exc.key,
                        params=exc.params,
                    )
                )
                continue
            if loaded is None:
                continue
            if not isinstance(loaded, dict):
                problems.append(
                    Problem.of(rel, 1, "(document)", "SCHEMA", "REGCHECK_NOT_A_MAPPING")
                )
                continue
            sections, accounting, counts = loaded, "", None
        docs.append(_Doc(rel, sections, lines, accounting, counts))
    return docs, problems


_PRECEDENCE = {Origin.ENTERED: 2, Origin.INFERRED: 1, Origin.MISSING: 0}


def _merge(a: Any, b: Any, problems: list[Problem], section: str) -> Any:
    """Merge two readings of one entity; ``a`` was read first."""
    changes: dict[str, Any] = {}
    for spec in field_specs(type(a)):
        va, vb = getattr(a, spec.name), getattr(b, spec.name)
        if spec.valued:
            assert isinstance(va, Valued) and isinstance(vb, Valued)
            if va.origin is Origin.ENTERED and vb.origin is Origin.ENTERED and va.value != vb.value:
                at = vb.at or Location("?", 1)
                problems.append(
                    Problem.of(
                        at.file,
                        at.line,
                        f"{section}[{a.id}].{spec.name}",
                        "CONFLICT",
                        "REGCHECK_CONFLICT_ENTERED",
                        first=repr(va.value),
                        at=str(va.at),
                        second=repr(vb.value),
                    )
                )
            elif _PRECEDENCE[vb.origin] > _PRECEDENCE[va.origin]:
                changes[spec.name] = vb
        elif spec.many:
            seen = list(va)
            keys = {_key(x) for x in va}
            seen += [x for x in vb if _key(x) not in keys]
            changes[spec.name] = tuple(seen)
    origin_a = getattr(a, "origin", Origin.ENTERED)
    origin_b = getattr(b, "origin", Origin.ENTERED)
    if origin_a is Origin.ENTERED and origin_b is Origin.ENTERED:
        for spec in field_specs(type(a)):
            va, vb = getattr(a, spec.name), getattr(b, spec.name)
            if spec.valued or spec.many or va in (None, "") or vb in (None, "") or va == vb:
                continue
            at = b.at or Location("?", 1)
            problems.append(
                Problem.of(
                    at.file,
                    at.line,
                    f"{section}[{a.id}].{spec.name}",
                    "CONFLICT",
                    "REGCHECK_CONFLICT_GIVEN_AT" if a.at else "REGCHECK_CONFLICT_GIVEN",
                    first=_short(va),
                    at=str(a.at),
                    second=_short(vb),
                )
            )
    if _PRECEDENCE[origin_b] > _PRECEDENCE[origin_a]:
        changes["origin"] = origin_b
        changes["name"] = b.name
        changes["at"] = b.at
    return replace(a, **changes)


def _short(value: Any) -> str:
    return quote(str(value.value if hasattr(value, "value") else value))


def _key(item: Any) -> Any:
    for attr in ("service", "provider"):
        if hasattr(item, attr):
            return (attr, getattr(item, attr), getattr(item, "kind", None))
    return item


def check_register(root: Path | str) -> CheckResult:
    """Read and check a register directory; never raises for bad content."""
    root = Path(root)
    if not root.is_dir():
        return CheckResult(
            None,
            (Problem.of(str(root), 1, "(path)", "NOT_A_DIRECTORY", "REGCHECK_NOT_A_DIRECTORY"),),
        )
    docs, problems = _read_docs(root)
    inputs = tuple(d.accounting for d in docs if d.accounting)
    counts = tuple((d.file, *d.counts) for d in docs if d.counts is not None)
    organisation: Organisation | None = None
    sections: dict[str, dict[str, Any]] = {k: {} for k in ENTITY_KINDS}
    first_seen: dict[tuple[str, str], tuple[str, int]] = {}  # (section, id) -> file, line
    for doc in docs:
        schema_problems = _schema_problems(doc)
        if schema_problems:
            problems.extend(schema_problems)
            continue

        def locate(
            path: tuple[str | int, ...], base: tuple[str | int, ...] = (), doc: _Doc = doc
        ) -> Location:
            return Location(doc.file, doc.lines.line((*base, *path)))

        if "organisation" in doc.data:
            try:
                org = decode_entity(
                    Organisation, doc.data["organisation"], lambda p: locate(p, ("organisation",))
                )
            except DecodeError as exc:
                problems.append(_decode_problem(doc, ("organisation",), exc))
            else:
                organisation = (
                    org
                    if organisation is None
                    else _merge(organisation, org, problems, "organisation")
                )
        for section, cls in ENTITY_KINDS.items():
            for i, raw in enumerate(doc.data.get(section, ())):
                base: tuple[str | int, ...] = (section, i)
                try:
                    entity = decode_entity(cls, raw, functools.partial(locate, base=base))
                except DecodeError as exc:
                    problems.append(_decode_problem(doc, base, exc))
                    continue
                line = doc.lines.line(base)
                where = first_seen.setdefault((section, entity.id), (doc.file, line))
                if where != (doc.file, line) and where[0] == doc.file:
                    problems.append(
                        Problem.of(
                            doc.file,
                            line,
                            f"{section}[{entity.id}]",
                            "DUPLICATE_ID",
                            "REGCHECK_DUPLICATE_ID",
                            id=_short(entity.id),
                            first=str(where[1]),
                        )
                    )
                    continue
                known = sections[section]
                known[entity.id] = (
                    _merge(known[entity.id], entity, problems, section)
                    if entity.id in known
                    else entity
                )
    if organisation is None:
        if problems:  # the organisation may sit in a file that could not be read
            return CheckResult(None, tuple(problems), inputs, counts)
        problems.append(
            Problem.of(".", 1, "organisation", "NO_ORGANISATION", "REGCHECK_NO_ORGANISATION")
        )
        return CheckResult(None, tuple(problems), inputs, counts)
    register = Register(
        organisation=organisation,
        processes=sections["processes"],
        services=sections["services"],
        providers=sections["providers"],
        data_assets=sections["data_assets"],
        contracts=sections["contracts"],
        entities=sections["entities"],
        branches=sections["branches"],
    )
    problems.extend(check_semantics(register))
    problems.extend(quality_problems(register))
    return CheckResult(register, tuple(problems), inputs, counts)


def _decode_problem(doc: _Doc, base: tuple[str | int, ...], exc: DecodeError) -> Problem:
    path = (*base, exc.field)
    return Problem(doc.file, doc.lines.line(path), _label(doc.data, path), "BAD_VALUE", exc.message)


def load_register(root: Path | str) -> Register:
    """Read a register directory; raise :class:`RegisterError` listing every error."""
    result = check_register(root)
    if result.register is None or result.errors:
        raise RegisterError(list(result.errors))
    return result.register


def load_register_dir(path: Path | str) -> Register:
    """The register of a directory, loaded once per command or request by its caller (the
    cut-off, exit plan, report and web take the loaded value). A path that is not a
    directory, or a register with errors, raises :class:`RegisterError` naming the path."""
    root = Path(path)
    if not root.is_dir():
        raise RegisterError([], f"{root}: not a register directory")
    try:
        return load_register(root)
    except RegisterError as exc:
        raise RegisterError(
            exc.problems,
            f"{root}: the register has errors (run sovmap register check):\n{exc}",
        ) from exc


def load_register_or_roi(path: Path | str) -> Register:
    """A register directory, or a DORA register of information (a directory with
    ``b_01.01.csv``, at its top or under ``reports/``) converted to a register; an RoI with
    structural problems, or a register with errors, raises :class:`RegisterError`."""
    from sovmap.register.roi import BLOCKING, check_roi, read_roi
    from sovmap.register.roi_convert import roi_to_register

    root = Path(path)
    if not root.is_dir():
        raise RegisterError([], f"{root}: not a directory")
    if (
        (root / "reports" / "b_01.01.csv").exists()
        or (root / "b_01.01.csv").exists()
        or any(root.glob("*/reports/b_01.01.csv"))  # the package's root folder inside
    ):
        roi, problems = read_roi(root)
        problems += check_roi(roi)
        structural = [p for p in problems if p.code in BLOCKING]
        if structural:
            more = len(structural) - 1
            raise RegisterError(structural, f"{root}: {structural[0]} (and {more} more)")
        return roi_to_register(roi)
    try:
        return load_register(root)
    except RegisterError as exc:
        raise RegisterError(exc.problems, f"{root}: {exc}") from exc


# --------------------------------------------------------------------------- writing


def register_to_data(register: Register, only: Iterable[str] | None = None) -> dict[str, Any]:
    """Plain data of a register, one key per section (``only``: entity ids to keep)."""
    keep = set(only) if only is not None else None
    out: dict[str, Any] = {}
    if keep is None or register.organisation.id in keep:
        out["organisation"] = encode_entity(register.organisation)
    for section in ENTITY_KINDS:
        entities = getattr(register, section).values()
        items = [encode_entity(e) for e in entities if keep is None or e.id in keep]
        if items:
            out[section] = items
    return out


def write_register(register: Register, root: Path | str) -> list[Path]:
    """Write a register as one YAML file per section; returns the files written."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data = register_to_data(register)
    written = []
    for section, value in data.items():
        path = root / f"{section.replace('_', '-')}.yaml"
        path.write_text(dump_yaml({section: value}), encoding="utf-8")
        written.append(path)
    return written
