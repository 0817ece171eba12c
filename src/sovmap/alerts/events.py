"""Change events computed once, at the end of a scan, and kept in the store.

The events between the two latest finished scans come from the one place that computes them,
:func:`sovmap.orgs.service.diff`. On 100,000 organisations that takes tens of seconds, so the
scan computes them when it finishes and keeps them (zstd-compressed JSON) in the store's
key/value table, keyed by the two scans (as their findings stand: ``ScanInfo.revision``) and
the organisation sets in force; the web's ``/changes`` and the alerts read them from there.
When the organisation sets change (a new import) or ``sovmap reclassify`` rewrites one of the
two scans, the key no longer matches; a reclassify keeps them again.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
import zstandard
from sqlalchemy import Connection, Engine, delete, insert, select

from sovmap.model import Capability
from sovmap.orgs.history import ChangeEvent, EventKind, Provider
from sovmap.orgs.service import DiffResult, diff
from sovmap.store import queries as q
from sovmap.store.snapshots import ScanInfo, list_scans
from sovmap.web.tables import settings

PREFIX = "changes:"


def _key(conn: Connection, old: ScanInfo, new: ScanInfo) -> str:
    """The two scans, as their findings stand (a reclassify changes the key), and the
    organisation sets in force."""
    sets = ",".join(str(s) for s in q.current_sets(conn))
    text = f"{sets}|{old.revision}|{new.revision}"
    return f"{PREFIX}{old.id}:{new.id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _provider(p: Provider) -> list[Any]:
    return [p.id, p.name, p.jurisdiction, list(p.tags)]


def _encode(result: DiffResult) -> str:
    rows = [
        [
            e.kind.value,
            e.subject,
            e.subject_name,
            e.subject_kind,
            e.capability.value,
            [_provider(p) for p in e.old],
            [_provider(p) for p in e.new],
            list(e.domains),
            list(e.uncertain),
        ]
        for e in result.events
    ]
    blob = orjson.dumps({"only_old": result.only_old, "only_new": result.only_new, "e": rows})
    return base64.b64encode(zstandard.ZstdCompressor(level=3).compress(blob)).decode("ascii")


def _decode(text: str, old: ScanInfo, new: ScanInfo) -> DiffResult:
    data = orjson.loads(zstandard.ZstdDecompressor().decompress(base64.b64decode(text)))

    def ps(items: list[list[Any]]) -> tuple[Provider, ...]:
        return tuple(Provider(a, b, c, tuple(d)) for a, b, c, d in items)

    events = [
        ChangeEvent(EventKind(k), s, sn, sk, Capability(c), ps(o), ps(n), tuple(d), tuple(u))
        for k, s, sn, sk, c, o, n, d, u in data["e"]
    ]
    return DiffResult(old, new, events, int(data["only_old"]), int(data["only_new"]))


def keep_changes(engine: Engine, scan_id: int | None = None) -> DiffResult | None:
    """Compute the change events between the two latest finished scans and keep them in the
    store (replacing events kept earlier). With ``scan_id``, only when that scan is the latest
    finished one (a scan that finished after a newer one changes nothing). None with fewer
    than two finished scans."""
    with engine.connect() as conn:
        done = [s for s in list_scans(conn) if s.finished]
    if len(done) < 2 or (scan_id is not None and done[-1].id != scan_id):
        return None
    result = diff(engine, done[-2].id, done[-1].id)
    text = _encode(result)
    with engine.begin() as conn:
        key = _key(conn, done[-2], done[-1])
        conn.execute(delete(settings).where(settings.c.key.startswith(PREFIX)))
        conn.execute(insert(settings).values(key=key, value=text))
    return result


def kept_changes(conn: Connection, old: ScanInfo, new: ScanInfo) -> DiffResult | None:
    """The change events between ``old`` and ``new`` as the scan kept them, or None when they
    were not kept (or the organisation sets changed since)."""
    text = conn.execute(
        select(settings.c.value).where(settings.c.key == _key(conn, old, new))
    ).scalar()
    return None if text is None else _decode(str(text), old, new)
