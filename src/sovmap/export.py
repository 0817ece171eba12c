"""Write a scan's findings, or its mail security posture, as CSV, JSON (lines) or Parquet,
and summarise the findings."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovmap.classify.location import data_location
from sovmap.classify.posture import PostureFinding
from sovmap.control import jurisdiction_class
from sovmap.figures import THRESHOLD, Figures, headline
from sovmap.model import Finding
from sovmap.readers import printable

COLUMNS = (
    "domain",
    "capability",
    "provider",
    "parent",
    "jurisdiction",
    "confidence",
    "provider_name",
    "service",
    "role",
    "code",
    "tags",
    "evidence",
    "data_location",  # appended last: earlier columns keep their places
)

#: the columns of ``sovmap export --what posture``: one row per domain and standard
POSTURE_COLUMNS = ("domain", "standard", "level", "code", "details", "evidence")


def _located(f: Finding) -> str:
    """``cloud:region COUNTRY`` of each located address ("unknown" for a region the table
    does not place), ``; ``-separated; empty when no address is in a published region."""
    return "; ".join(f"{ref} {country or 'unknown'}" for ref, country in data_location(f))


def finding_row(f: Finding) -> dict[str, Any]:
    """One finding as a table row; text that came from DNS is written with its control
    characters escaped (:func:`sovmap.readers.printable`)."""
    row = {
        "domain": f.domain,
        "capability": f.capability.value,
        "provider": f.provider,
        "parent": f.parent,
        "jurisdiction": f.jurisdiction,
        "confidence": round(f.confidence, 3),
        "provider_name": f.provider_name,
        "service": f.service,
        "role": f.role,
        "code": f.code,
        "tags": " ".join(f.tags),
        "evidence": "; ".join(f"{e.probe}:{e.value}" for e in f.evidence[:6]),
        "data_location": _located(f),
    }
    return {k: printable(v) if isinstance(v, str) else v for k, v in row.items()}


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding as a JSON object: :meth:`Finding.to_json` and its data location
    (``[{"region": "azure:westeurope", "country": "NL"}]``, country null when unknown)."""
    out = f.to_json()
    out["data_location"] = [{"region": r, "country": c or None} for r, c in data_location(f)]
    return out


def posture_row(p: PostureFinding) -> dict[str, Any]:
    """One posture finding as a table row (:data:`POSTURE_COLUMNS`); record data escaped."""
    row = {
        "domain": p.domain,
        "standard": p.standard,
        "level": p.level,
        "code": p.code,
        "details": " ".join(f"{k}={v}" for k, v in p.details),
        "evidence": "; ".join(f"{e.probe}:{e.qname} {e.rtype} {e.value}" for e in p.evidence[:6]),
    }
    return {k: printable(v) for k, v in row.items()}


#: roles left out of the tabular outputs: alternatives the classifier weighed and rejected
#: (they stay in the store, in JSON output and in ``sovmap explain``)
TABLE_EXCLUDED_ROLES = frozenset({"candidate"})


def write_findings(path: Path, findings: Iterable[Finding]) -> int:
    """Format by extension: .csv, .json / .jsonl (one finding per line), .parquet.

    CSV and Parquet hold one row per domain, capability and provider actually found;
    JSON also keeps the rejected candidates with their evidence.
    """
    if path.suffix.lower() in (".csv", ".parquet"):
        findings = (f for f in findings if f.role not in TABLE_EXCLUDED_ROLES)
    return _write(path, findings, COLUMNS, finding_row, finding_json)


def write_posture(path: Path, found: Iterable[PostureFinding]) -> int:
    """The mail security posture, one row (JSON: one object) per domain and standard, in the
    format the extension names, like :func:`write_findings`."""
    return _write(path, found, POSTURE_COLUMNS, posture_row, PostureFinding.to_json)


def _write(
    path: Path,
    items: Iterable[Any],
    columns: tuple[str, ...],
    row: Callable[[Any], dict[str, Any]],
    as_json: Callable[[Any], dict[str, Any]],
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    n = 0
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            for item in items:
                w.writerow(row(item))
                n += 1
    elif suffix in (".json", ".jsonl"):
        with path.open("w", encoding="utf-8") as fh:
            for item in items:
                fh.write(json.dumps(as_json(item), ensure_ascii=False) + "\n")
                n += 1
    elif suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise RuntimeError("Parquet output needs the 'parquet' extra (pyarrow)") from exc
        rows = [row(item) for item in items]
        n = len(rows)
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns})
        pq.write_table(table, str(path))
    else:
        raise ValueError(f"unknown output format {suffix!r}: use .csv, .json, .jsonl or .parquet")
    return n


@dataclass
class Summary:
    domains: int
    by_capability: dict[str, Counter[str]]  # capability -> jurisdiction class -> domains
    providers: Counter[tuple[str, str, str]]  # (capability, provider name, jurisdiction)


_SUMMARY_ROLES = ("primary", "behind-gateway", "behind-relay")


def summarise(findings: Iterable[Finding], domains: int) -> Summary:
    """The summary of findings read one by one (each counted once)."""
    return summarise_counts(
        (
            (f.capability.value, f.provider_name, f.jurisdiction, f.tags, f.role, 1)
            for f in findings
        ),
        domains,
    )


def summarise_counts(
    counts: Iterable[tuple[str, str, str, tuple[str, ...], str, int]], domains: int
) -> Summary:
    """The summary from counted groups ``(capability, provider name, jurisdiction, tags, role,
    count)``, as :meth:`sovmap.store.Store.finding_counts` gives them for a whole scan without
    reading any finding back."""
    by_cap: dict[str, Counter[str]] = {}
    providers: Counter[tuple[str, str, str]] = Counter()
    for cap, name, jur, tags, role, n in counts:
        if role not in _SUMMARY_ROLES:
            continue
        jclass = jurisdiction_class(jur, tags)
        by_cap.setdefault(cap, Counter())[jclass] += n
        providers[(cap, name, jur or "?")] += n
    return Summary(domains, by_cap, providers)


def render_summary(figs: Figures, s: Summary | None = None, top: int = 12) -> Iterator[str]:
    """The scan summary: the headline figures of :mod:`sovmap.figures` (the same numbers as
    ``sovmap figures``, the web and the report), then the most frequent providers."""
    scan = figs.scan
    n = figs.value("domains_scanned")
    yield f"{n} domains scanned" + (f" (scan {scan.id})" if scan is not None else "")
    yield ""
    yield f"{'capability':<16} {'US':>7} {'non-US':>7} {'unknown':>8} {'none found':>11}"
    for cap, us, non, unk in headline(figs):
        found = sum(v or 0 for v in (us, non, unk))
        if not found:
            continue
        none = "?" if n is None else str(n - found)
        yield f"{cap.value:<16} {us!s:>7} {non!s:>7} {unk!s:>8} {none:>11}"
    yield (
        f"(domains; US = a US-controlled provider runs it, directly, behind a gateway or relay, "
        f"with confidence >= {THRESHOLD}; unknown = control unknown or confidence lower; "
        "definitions: sovmap figures --format json)"
    )
    if s is None:
        return
    yield ""
    yield f"{'capability':<16} {'provider':<32} {'jur':<4} {'findings':>8}"
    for (cap_name, name, jur), k in s.providers.most_common(top):
        yield f"{cap_name:<16} {name[:32]:<32} {jur:<4} {k:>8}"
