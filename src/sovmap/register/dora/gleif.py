"""Optional check of the RoI's LEIs against GLEIF (``--gleif FILE|URL``).

The source is GLEIF's LEI API (https://api.gleif.org/api/v1, JSON:API, documented at
https://www.gleif.org/en/lei-data/gleif-api): ``GET {base}/lei-records/{lei}`` gives the
record (``attributes.entity.legalName.name``, ``attributes.registration.status``), ``GET
{base}/lei-records/{lei}/ultimate-parent`` the record of its ultimate parent (404 when GLEIF
has none). A FILE holds the same records offline: ``{"data": [...]}`` with ``lei-records``
and GLEIF level-2 ``relationship-records`` (``IS_ULTIMATELY_CONSOLIDATED_BY``). Nothing is
contacted but the URL the user gives.

Findings: ``SOV_GLEIF_UNKNOWN`` (GLEIF has no such LEI), ``SOV_GLEIF_STATUS`` (registration
not ISSUED or LAPSED), ``SOV_GLEIF_PARENT`` (GLEIF's ultimate parent is another LEI than
B_05.01 c0110), all blocking; ``SOV_GLEIF_NAME`` (another legal name) a warning.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sovmap.errors import SovmapError
from sovmap.readers import read_bytes
from sovmap.register.dora.rules import Finding, finding

ACCEPTED = frozenset({"ISSUED", "LAPSED"})
LEI_TYPE = "eba_qCO:qx2000"
MAX_RESPONSE = 1024 * 1024
MAX_LOOKUPS = 500
TIMEOUT = 10.0


class GleifError(SovmapError):
    """GLEIF could not be reached (exit 3) or its answer is not GLEIF's format."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Record:
    lei: str
    name: str
    status: str


@dataclass
class Gleif:
    """LEI records and ultimate parents, from a file or looked up at a URL."""

    base: str = ""
    records: dict[str, Record | None] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    lookups: int = 0

    def _get(self, path: str) -> dict[str, Any] | None:
        if self.lookups >= MAX_LOOKUPS:
            raise GleifError(f"{self.base}: more than {MAX_LOOKUPS} look-ups")
        self.lookups += 1
        url = f"{self.base}/{path}"
        request = urllib.request.Request(url, headers={"Accept": "application/vnd.api+json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
                body = resp.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise GleifError(f"{url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GleifError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
        if len(body) > MAX_RESPONSE:
            raise GleifError(f"{url}: answer larger than {MAX_RESPONSE:,} bytes")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise GleifError(f"{url}: not JSON") from exc
        data = doc.get("data") if isinstance(doc, dict) else None
        return data if isinstance(data, dict) else None

    def record(self, lei: str) -> Record | None:
        if lei not in self.records and self.base:
            data = self._get(f"lei-records/{lei}")
            self.records[lei] = _record(data) if data else None
        return self.records.get(lei)

    def parent(self, lei: str) -> tuple[bool, str | None]:
        """(known, GLEIF's ultimate parent of ``lei``): at a URL GLEIF always answers (None:
        it records no parent); a file may simply not hold the relationship (not known)."""
        if lei not in self.parents and self.base:
            data = self._get(f"lei-records/{lei}/ultimate-parent")
            parent = _record(data) if data else None
            self.parents[lei] = parent.lei if parent else None
            if parent is not None:
                self.records.setdefault(parent.lei, parent)
        return lei in self.parents, self.parents.get(lei)


def _record(data: Mapping[str, Any]) -> Record | None:
    attrs = data.get("attributes") or {}
    lei = str(attrs.get("lei") or data.get("id") or "")
    if not lei:
        return None
    entity = attrs.get("entity") or {}
    name = str((entity.get("legalName") or {}).get("name") or "")
    status = str((attrs.get("registration") or {}).get("status") or "")
    return Record(lei, name, status)


def load(source: str) -> Gleif:
    """A URL (``http(s)://.../api/v1``) to look up, or a FILE of records."""
    if re.match(r"^https?://", source):
        return Gleif(base=source.rstrip("/"))
    try:
        doc = json.loads(read_bytes(Path(source)))
    except ValueError as exc:
        raise GleifError(f"{source}: not JSON") from exc
    gleif = Gleif()
    items = doc.get("data", []) if isinstance(doc, dict) else []
    if not isinstance(items, list):
        raise GleifError(f"{source}: 'data' is not a list of GLEIF records")
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "lei-records" and (rec := _record(item)) is not None:
            gleif.records[rec.lei] = rec
        elif item.get("type") == "relationship-records":
            rel = (item.get("attributes") or {}).get("relationship") or {}
            if rel.get("type") == "IS_ULTIMATELY_CONSOLIDATED_BY":
                child = str((rel.get("startNode") or {}).get("id") or "")
                parent = str((rel.get("endNode") or {}).get("id") or "")
                if child and parent:
                    gleif.parents[child] = parent
    return gleif


def _norm(name: str) -> str:
    return re.sub(r"[\s.,]+", " ", name.casefold()).strip()


def _leis(
    tables: Mapping[str, list[dict[str, str]]],
) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """(template, column, row, legal name) of each LEI the RoI defines."""
    for row in tables.get("B_01.02", []):
        if row.get("c0010"):
            yield "B_01.02", "c0010", row, row.get("c0020", "")
    for row in tables.get("B_05.01", []):
        if row.get("c0010") and row.get("c0020") == LEI_TYPE:
            yield "B_05.01", "c0010", row, row.get("c0050", "")


def check(tables: Mapping[str, list[dict[str, str]]], gleif: Gleif) -> list[Finding]:
    out: list[Finding] = []
    for template, column, row, name in _leis(tables):
        lei = row[column]
        key = f"c0010={lei}"
        line = int(row.get("_line", "0") or 0)
        src = row.get("_source", "")
        rec = gleif.record(lei)
        if rec is None:
            out.append(
                finding("SOV_GLEIF_UNKNOWN", template, column, line, key, "SOV_GLEIF_UNKNOWN", src)
            )
            continue
        if rec.status not in ACCEPTED:
            out.append(
                finding(
                    "SOV_GLEIF_STATUS",
                    template,
                    column,
                    line,
                    key,
                    "SOV_GLEIF_STATUS",
                    src,
                    status=rec.status or "?",
                )
            )
        if name and rec.name and _norm(name) != _norm(rec.name):
            out.append(
                finding(
                    "SOV_GLEIF_NAME",
                    template,
                    "c0050" if template == "B_05.01" else "c0020",
                    line,
                    key,
                    "SOV_GLEIF_NAME",
                    src,
                    blocking=False,
                    ours=name,
                    theirs=rec.name,
                )
            )
        if template == "B_05.01" and row.get("c0120") == LEI_TYPE:
            stated = row.get("c0110", "")
            known, parent = gleif.parent(lei)
            parent = parent or lei  # no parent in GLEIF: its own ultimate parent
            if known and stated and stated != parent:
                out.append(
                    finding(
                        "SOV_GLEIF_PARENT",
                        template,
                        "c0110",
                        line,
                        key,
                        "SOV_GLEIF_PARENT",
                        src,
                        ours=stated,
                        theirs=parent,
                    )
                )
    return out
