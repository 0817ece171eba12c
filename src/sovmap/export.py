"""Write a scan's findings as CSV, JSON (lines) or Parquet, and summarise them."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
)


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
    }
    return {k: printable(v) if isinstance(v, str) else v for k, v in row.items()}


#: roles left out of the tabular outputs: alternatives the classifier weighed and rejected
#: (they stay in the store, in JSON output and in ``sovmap explain``)
TABLE_EXCLUDED_ROLES = frozenset({"candidate"})


def write_findings(path: Path, findings: Iterable[Finding]) -> int:
    """Format by extension: .csv, .json / .jsonl (one finding per line), .parquet.

    CSV and Parquet hold one row per domain, capability and provider actually found;
    JSON also keeps the rejected candidates with their evidence.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".csv", ".parquet"):
        findings = (f for f in findings if f.role not in TABLE_EXCLUDED_ROLES)
    suffix = path.suffix.lower()
    n = 0
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            for f in findings:
                w.writerow(finding_row(f))
                n += 1
    elif suffix in (".json", ".jsonl"):
        with path.open("w", encoding="utf-8") as fh:
            for f in findings:
                fh.write(json.dumps(f.to_json(), ensure_ascii=False) + "\n")
                n += 1
    elif suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise RuntimeError("Parquet output needs the 'parquet' extra (pyarrow)") from exc
        rows = [finding_row(f) for f in findings]
        n = len(rows)
        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in COLUMNS})
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
