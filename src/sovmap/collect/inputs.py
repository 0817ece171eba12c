"""Scan input: a CSV with a ``domain`` column (other columns kept as attributes) or a plain
list of domains, one per line (``#`` starts a comment). Read through :mod:`sovmap.readers`:
every problem is reported with its file, line and a stable code and the run goes on with the
remaining lines; a file unusable as a whole (too large, no header, ...) raises
:class:`~sovmap.readers.InputError` before any DNS is asked. Every line that holds something
counts once: ``read == accepted + rejected``.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from sovmap.orgs.domains import InvalidDomain, Note, normalise_domain
from sovmap.readers import (
    CsvTable,
    InputError,
    InputProblem,
    decode,
    iter_lines,
    localise,
    open_csv,
    quote,
    read_bytes,
)

_DOMAIN_COLUMNS = ("domain", "domein", "website", "url", "email", "e-mail", "mail")
#: The largest scan input read (bytes); checked before reading.
MAX_INPUT_BYTES = 256 * 1024 * 1024
#: A domain, URL or address longer than this is refused without being parsed.
MAX_VALUE_CHARS = 2048
_SEPARATORS = re.compile(r"[,;\t]")

__all__ = [
    "MAX_INPUT_BYTES",
    "DomainInput",
    "InputCounts",
    "InputError",
    "InputProblem",
    "check_input",
    "read_domains",
]


@dataclass(frozen=True, slots=True)
class DomainInput:
    domain: str
    line: int
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class InputCounts:
    """Lines of the input that hold something: ``read == accepted + rejected``."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0

    def line(self, lang: str = "en") -> str:
        """``input: rows read N = accepted A + rejected R`` (in ``lang``)."""
        return localise(
            lang,
            "INPUT_SCAN_ACCOUNTING",
            {"read": self.read, "accepted": self.accepted, "rejected": self.rejected},
        )


def _content(line: str) -> str:
    return line.split("#", 1)[0].strip()


@dataclass
class _Input:
    name: str
    text: str
    problems: list[InputProblem]
    csv_header_line: int | None  # None: a plain list


def _open(path: Path | str) -> _Input:
    p = Path(path)
    name = str(p)
    data = read_bytes(p, max_bytes=MAX_INPUT_BYTES)
    text, problems = decode(data, name)
    bad = {pr.line for pr in problems}
    for lineno, line in enumerate(iter_lines(text), start=1):
        if lineno in bad or not _content(line):
            continue
        cells = [c.strip().strip('"').lower() for c in _SEPARATORS.split(line)]
        if any(c in _DOMAIN_COLUMNS for c in cells):
            return _Input(name, text, problems, lineno)
        if _SEPARATORS.search(_content(line)):
            raise InputError.of(
                name,
                "NO_DOMAIN_COLUMN",
                "INPUT_SCAN_NO_DOMAIN_COLUMN_CSV",
                line=lineno,
                columns=", ".join(_DOMAIN_COLUMNS),
            )
        break
    return _Input(name, text, problems, None)


def _open_table(src: _Input) -> tuple[CsvTable, str]:
    """The CSV of ``src`` and the name of its domain column."""
    table = open_csv(
        src.text,
        file=src.name,
        want=_DOMAIN_COLUMNS,
        multiline=False,
        encoding_problems=src.problems,
    )
    cols = [h.lower() for h in table.header]
    key = next((c for c in _DOMAIN_COLUMNS if c in cols), None)
    if key is None:
        raise InputError.of(
            src.name,
            "NO_DOMAIN_COLUMN",
            "INPUT_SCAN_NO_DOMAIN_COLUMN",
            line=table.header_line,
            columns=", ".join(_DOMAIN_COLUMNS),
        )
    return table, table.header[cols.index(key)]


def check_input(path: Path | str) -> None:
    """Fail early (before any DNS is asked) on an input that cannot be read at all."""
    src = _open(path)
    if src.csv_header_line is not None:
        _open_table(src)


def read_domains(
    path: Path | str,
    problems: list[InputProblem] | None = None,
    counts: InputCounts | None = None,
) -> Generator[DomainInput, None, None]:
    """Yield valid, de-duplicated domains; append every problem to ``problems`` and count the
    lines in ``counts``. Raises :class:`~sovmap.readers.InputError` (before yielding) for an
    input unusable as a whole."""
    if problems is None:
        problems = []
    if counts is None:
        counts = InputCounts()
    src = _open(path)
    seen: set[str] = set()
    if src.csv_header_line is not None:
        table, column = _open_table(src)
        email = column.lower() in ("email", "e-mail", "mail")
        before = 0  # the table's problems start with the lines that were not UTF-8
        for lineno, row in table.iter_rows():
            _sync(table.problems, before, problems)
            before = len(table.problems)
            attrs = {k.lower(): v for k, v in row.items() if k != column}
            value = row[column]
            if email and value.strip() and "@" not in value:
                problems.append(
                    InputProblem.of(
                        src.name, lineno, "BAD_EMAIL", "INPUT_SCAN_BAD_EMAIL", value=quote(value)
                    )
                )
                continue
            item = _accept(src.name, value, lineno, attrs, seen, problems, counts)
            if item is not None:
                yield item
        _sync(table.problems, before, problems)
        # rows the reader rejected (quotes, columns, bytes) and the ones rejected here
        counts.read = table.read
        counts.rejected = table.rejected + (table.accepted - counts.accepted)
        return
    bad = {pr.line for pr in src.problems}
    problems.extend(src.problems)
    for lineno, line in enumerate(iter_lines(src.text), start=1):
        text = _content(line)
        if not text:
            continue
        counts.read += 1
        if lineno in bad:
            counts.rejected += 1
            continue
        item = _accept(src.name, text, lineno, {}, seen, problems, counts)
        if item is not None:
            yield item


def _sync(source: list[InputProblem], start: int, target: list[InputProblem]) -> None:
    target.extend(source[start:])


def _accept(
    file: str,
    text: str,
    lineno: int,
    attrs: dict[str, str],
    seen: set[str],
    problems: list[InputProblem],
    counts: InputCounts,
) -> DomainInput | None:
    value = text.strip()
    if len(value) > MAX_VALUE_CHARS:
        problems.append(
            InputProblem.of(
                file,
                lineno,
                "TOO_LONG",
                "INPUT_SCAN_TOO_LONG",
                limit=MAX_VALUE_CHARS,
                value=quote(value),
            )
        )
        counts.rejected += 1
        return None
    try:
        domain, notes = normalise_domain(value)
    except InvalidDomain as exc:
        if len(value) <= 80:
            problem = InputProblem(file, lineno, exc.code, str(exc), exc.text.key, exc.text.params)
        else:
            problem = InputProblem.of(
                file, lineno, exc.code, "INPUT_SCAN_NOT_A_DOMAIN", value=quote(value)
            )
        problems.append(problem)
        counts.rejected += 1
        return None
    if domain in seen:
        problems.append(
            InputProblem.of(file, lineno, "DUPLICATE", "INPUT_SCAN_DUPLICATE", domain=domain)
        )
        counts.rejected += 1
        return None
    seen.add(domain)
    counts.accepted += 1
    for note in notes:
        said = note.text if isinstance(note, Note) else note
        problems.append(
            InputProblem.of(
                file, lineno, "NORMALISED", "INPUT_SCAN_NORMALISED", value=quote(value), note=said
            )
        )
    return DomainInput(domain, lineno, attrs)
