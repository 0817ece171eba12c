"""Scan input: a CSV with a ``domain`` column (other columns kept as attributes) or a plain
list of domains, one per line. Every problem is reported with its line number and the run goes
on with the remaining lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from sovmap.orgs.domains import InvalidDomain, normalise_domain

_DOMAIN_COLUMNS = ("domain", "domein", "website", "url", "email", "e-mail", "mail")


@dataclass(frozen=True, slots=True)
class DomainInput:
    domain: str
    line: int
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InputProblem:
    line: int
    code: str  # EMPTY, INVALID, PUBLIC_SUFFIX, DUPLICATE, NORMALISED
    text: str
    detail: str

    def render(self, path: str) -> str:
        return f"{path}:{self.line}: {self.code.lower().replace('_', ' ')}: {self.detail}"


def _sniff_csv(first: str) -> bool:
    lowered = [c.strip().strip('"').lower() for c in re.split(r"[,;\t]", first)]
    return any(c in _DOMAIN_COLUMNS for c in lowered)


def check_input(path: Path | str) -> None:
    """Fail early (before any DNS is asked) on an input that cannot be read at all."""
    problems: list[InputProblem] = []
    gen = read_domains(path, problems)
    next(gen, None)
    gen.close()


def read_domains(
    path: Path | str, problems: list[InputProblem] | None = None
) -> Generator[DomainInput, None, None]:
    """Yield valid, de-duplicated domains; append every problem to ``problems``.

    Streams the file: memory grows only with the set of domains already seen.
    """
    if problems is None:
        problems = []
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise FileNotFoundError(f"cannot open input {p}: {exc.strerror}") from exc
    with fh:
        first = fh.readline()
        seen: set[str] = set()
        if _sniff_csv(first):
            dialect_delim = max((",", ";", "\t"), key=first.count)
            header = next(csv.reader(io.StringIO(first), delimiter=dialect_delim))
            cols = [h.strip().lower() for h in header]
            key = next(c for c in _DOMAIN_COLUMNS if c in cols)
            idx = cols.index(key)
            reader = csv.reader(fh, delimiter=dialect_delim)
            for lineno, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(cols):
                    problems.append(
                        InputProblem(
                            lineno,
                            "INVALID",
                            ",".join(row),
                            f"expected {len(cols)} columns, found {len(row)}",
                        )
                    )
                    continue
                attrs = {cols[i]: row[i] for i in range(len(cols)) if i != idx and cols[i]}
                item = _accept(row[idx], lineno, attrs, seen, problems)
                if item is not None:
                    yield item
        else:
            if any(sep in first for sep in (",", ";", "\t")):
                raise ValueError(
                    f"{p}:1: looks like a CSV but has no domain column "
                    f"(one of: {', '.join(_DOMAIN_COLUMNS)})"
                )
            lineno = 1
            line = first
            while line:
                text = line.split("#", 1)[0].strip()
                if text:
                    item = _accept(text, lineno, {}, seen, problems)
                    if item is not None:
                        yield item
                line = fh.readline()
                lineno += 1


def _accept(
    text: str,
    lineno: int,
    attrs: dict[str, str],
    seen: set[str],
    problems: list[InputProblem],
) -> DomainInput | None:
    try:
        domain, notes = normalise_domain(text)
    except InvalidDomain as exc:
        problems.append(InputProblem(lineno, exc.code, text, str(exc)))
        return None
    if domain in seen:
        problems.append(InputProblem(lineno, "DUPLICATE", text, f"{domain} already listed"))
        return None
    seen.add(domain)
    for note in notes:
        problems.append(InputProblem(lineno, "NORMALISED", text, f"{text.strip()!r}: {note}"))
    return DomainInput(domain, lineno, attrs)
