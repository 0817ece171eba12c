"""Which scans a store holds, and which one is *the latest*: the one rule every surface uses.

A scan's ``status`` column says running | done | aborted. "Running" alone cannot tell a scan
in progress from one whose process was killed, so the process that runs a scan renews a lease
(``scans.heartbeat_at``) every :data:`HEARTBEAT_SECONDS`. Its *state* is then:

- ``done`` / ``aborted``: as stored;
- ``running``: status running and a heartbeat younger than :data:`LEASE_SECONDS`;
- ``interrupted``: status running without a live lease (killed; ``sovmap scan`` resumes it).

**The latest scan is the newest finished one** (state ``done``). A running or interrupted scan
is never shown as the latest result: surfaces show the latest finished scan and say that a
newer one is running (:func:`newer_unfinished`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from sovmap import i18n
from sovmap.store.schema import scan_domains, scans

#: how often the scanning process renews its lease
HEARTBEAT_SECONDS = 5.0
#: a running scan whose lease is older than this is interrupted
LEASE_SECONDS = 30.0

RUNNING = "running"
INTERRUPTED = "interrupted"
DONE = "done"

#: domain counts of finished scans (they never change), keyed by (id, finished_at)
KnownCounts = dict[tuple[int, str | None], int]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def scan_state(status: str, heartbeat_at: str | None, now: datetime | None = None) -> str:
    """The state of a scan from its stored status and lease (see the module docs)."""
    if status != RUNNING:
        return status
    beat = _parse(heartbeat_at)
    now = now or datetime.now(UTC)
    if beat is not None and now - beat <= timedelta(seconds=LEASE_SECONDS):
        return RUNNING
    return INTERRUPTED


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """One scan as every surface sees it (the one read model of a scan)."""

    id: int
    started_at: str
    finished_at: str | None
    status: str  # as stored: running | done | aborted
    state: str  # done | aborted | running (live lease) | interrupted
    label: str = ""
    domains: int = 0
    input: str = ""
    input_digest: str = ""
    shard: str = ""
    knowledge_version: str = ""
    heartbeat_at: str | None = None
    #: when ``sovmap reclassify`` last rewrote the findings (None: as scanned)
    classified_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.state == DONE

    @property
    def revision(self) -> tuple[int, str | None, str | None]:
        """What anything derived from this scan's findings is keyed by: it changes when the
        scan finishes and when a reclassify rewrites its findings."""
        return (self.id, self.finished_at, self.classified_at)


def _info(r: Any, domains: int, now: datetime) -> ScanInfo:
    """A ``scans`` row as the read model."""
    return ScanInfo(
        id=int(r["id"]),
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        status=r["status"],
        state=scan_state(r["status"], r["heartbeat_at"], now),
        label=r["label"] or "",
        domains=domains,
        input=r["input"] or "",
        input_digest=r["input_digest"] or "",
        shard=r["shard"] or "",
        knowledge_version=r["knowledge_version"] or "",
        heartbeat_at=r["heartbeat_at"],
        classified_at=r["classified_at"],
    )


def list_scans(conn: Connection, known: KnownCounts | None = None) -> list[ScanInfo]:
    """Every scan, oldest first, with its number of stored domains. ``known`` caches the
    counts of finished scans between calls."""
    rows = conn.execute(select(scans).order_by(scans.c.id)).mappings().all()
    missing = [
        int(r["id"]) for r in rows if known is None or (r["id"], r["finished_at"]) not in known
    ]
    counts: dict[int, int] = {}
    if missing:
        q = select(scan_domains.c.scan_id, func.count()).group_by(scan_domains.c.scan_id)
        if len(missing) < len(rows):
            q = q.where(scan_domains.c.scan_id.in_(missing))
        counts = {int(sid): int(n) for sid, n in conn.execute(q)}
    now = datetime.now(UTC)
    out: list[ScanInfo] = []
    for r in rows:
        key = (int(r["id"]), r["finished_at"])
        n = known.get(key) if known is not None else None
        if n is None:
            n = counts.get(int(r["id"]), 0)
            if known is not None and r["status"] == DONE:
                known[key] = n
        out.append(_info(r, n, now))
    return out


def scan_info(conn: Connection, scan_id: int, known: KnownCounts | None = None) -> ScanInfo | None:
    return next((s for s in list_scans(conn, known) if s.id == scan_id), None)


#: the newest finished scan's row (built once: the web app asks it on every request)
_NEWEST_DONE = select(scans).where(scans.c.status == DONE).order_by(scans.c.id.desc()).limit(1)
_DOMAINS_OF = (
    select(func.count())
    .select_from(scan_domains)
    .where(scan_domains.c.scan_id == bindparam("scan"))
)


def latest_finished(conn: Connection, known: KnownCounts | None = None) -> ScanInfo | None:
    """The newest finished scan (state ``done``), or None: *the* latest scan. One row read
    (and its domain count once per ``known`` cache), not the whole scan list."""
    r = conn.execute(_NEWEST_DONE).mappings().first()
    if r is None:
        return None
    key = (int(r["id"]), r["finished_at"])
    n = known.get(key) if known is not None else None
    if n is None:
        n = int(conn.execute(_DOMAINS_OF, {"scan": key[0]}).scalar_one())
        if known is not None:
            known[key] = n
    return _info(r, n, datetime.now(UTC))


def newer_unfinished(
    conn: Connection, than: ScanInfo | None, known: KnownCounts | None = None
) -> list[ScanInfo]:
    """Scans newer than ``than`` that are running or were interrupted: what a surface names
    next to the latest finished scan ("a newer scan is running")."""
    floor = than.id if than is not None else 0
    return [
        s for s in list_scans(conn, known) if s.id > floor and s.state in (RUNNING, INTERRUPTED)
    ]


@dataclass(frozen=True, slots=True)
class ScanChoice:
    """The scan a surface shows, and the newer unfinished ones it must mention."""

    scan: ScanInfo | None
    newer: tuple[ScanInfo, ...] = ()

    def notice(self, lang: str = "en") -> str:
        """One line for the reader: which scan is shown and what is newer; "" when nothing."""
        if not self.newer:
            return ""
        parts = [
            i18n.t(
                lang,
                "SCAN_STILL_RUNNING" if s.state == RUNNING else "SCAN_INTERRUPTED",
                scan=s.id,
                domains=i18n.format_number(s.domains, lang),
            )
            for s in self.newer
        ]
        head = (
            i18n.t(lang, "SCAN_SHOWN", scan=self.scan.id)
            if self.scan is not None
            else i18n.t(lang, "SCAN_NONE_FINISHED")
        )
        return f"{head}; " + "; ".join(parts) + "."


def choose_scan(
    conn: Connection,
    scan_id: int | None = None,
    known: KnownCounts | None = None,
    all_scans: Sequence[ScanInfo] | None = None,
) -> ScanChoice:
    """Scan ``scan_id`` when given (any state), else the latest finished scan; with the newer
    unfinished scans to mention. ``scan`` is None when there is no such scan. ``all_scans``:
    :func:`list_scans` when the caller has read it already."""
    if all_scans is None:
        all_scans = list_scans(conn, known)
    if scan_id is not None:
        scan = next((s for s in all_scans if s.id == scan_id), None)
    else:
        scan = latest_finished(conn, known)  # the one rule for "the latest"
    floor = scan.id if scan is not None else 0
    newer = tuple(s for s in all_scans if s.id > floor and s.state in (RUNNING, INTERRUPTED))
    return ScanChoice(scan, newer)


__all__ = [
    "DONE",
    "HEARTBEAT_SECONDS",
    "INTERRUPTED",
    "LEASE_SECONDS",
    "RUNNING",
    "KnownCounts",
    "ScanChoice",
    "ScanInfo",
    "choose_scan",
    "latest_finished",
    "list_scans",
    "newer_unfinished",
    "now_iso",
    "scan_info",
    "scan_state",
]
