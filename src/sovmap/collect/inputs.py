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
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
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


@cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


class InvalidDomain(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def normalise_domain(text: str) -> tuple[str, list[str]]:
    """Turn a domain, URL, e-mail address or IDN into a lower-case ASCII domain name.

    Returns the domain and notes on what was changed. Raises :class:`InvalidDomain`.
    """
    notes: list[str] = []
    raw = text.strip().strip('"').strip()
    if not raw:
        raise InvalidDomain("EMPTY", "empty value")
    host = raw
    if "://" in host or host.startswith("//"):
        parts = urlsplit(host if "://" in host else "http:" + host)
        host = parts.hostname or ""
        notes.append("URL reduced to its host")
    elif host.lower().startswith("mailto:"):
        host = host[7:]
    if "@" in host:
        host = host.rsplit("@", 1)[1]
        notes.append("e-mail address reduced to its domain")
    if "/" in host:
        host = host.split("/", 1)[0]
        notes.append("path removed")
    if ":" in host and host.count(":") == 1:
        host = host.split(":", 1)[0]
        notes.append("port removed")
    host = host.strip().rstrip(".")
    if not host:
        raise InvalidDomain("INVALID", f"no domain in {text.strip()!r}")
    try:
        # IDNA 2008 with UTS 46 mapping, non-transitional (as registries and browsers do:
        # "ß" stays "ß", it is not folded to "ss" as Python's own IDNA 2003 codec would)
        ascii_host = (
            idna.encode(host, uts46=True, transitional=False).decode("ascii")
            if not host.isascii()
            else host
        )
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomain("INVALID", f"not a valid internationalised name: {exc}") from exc
    if ascii_host != host:
        notes.append(f"internationalised name converted to {ascii_host}")
    host = ascii_host.lower()
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
        notes.append("leading www. removed")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(x) for x in labels):
        raise InvalidDomain("INVALID", f"not a valid domain name: {text.strip()!r}")
    if _psl().is_public(host):
        raise InvalidDomain("PUBLIC_SUFFIX", f"{host} is a public suffix, not a domain")
    if len(labels) < 2:
        raise InvalidDomain("INVALID", f"not a valid domain name: {text.strip()!r}")
    if labels[-1].isdigit():
        raise InvalidDomain("INVALID", f"an address, not a domain name: {text.strip()!r}")
    return host, notes


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
