"""Persistence of scans, raw observations and findings: SQLite by default, PostgreSQL by URL.

Every domain's observations and findings are written in one transaction together with the
row that marks the domain done, so a scan killed at any point resumes without losing or
doubling a domain (the primary key ``(scan_id, domain)`` makes a second write impossible).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from sovmap.model import RR, DomainResult, Finding, Observation, Status
from sovmap.store import snapshots as scan_rules
from sovmap.store.migrate import DEFAULT_DB, MigrationError, database_url, open_store_engine
from sovmap.store.schema import findings, scan_domains, scan_figures, scans
from sovmap.store.snapshots import ScanInfo, now_iso

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# one compressor per process (a forked worker gets its own copy); zstd at level 3 packs the
# rows as small as zlib at level 1 in about 40 % of the time
_compressor = zstandard.ZstdCompressor(level=3)
_decompressor = zstandard.ZstdDecompressor()


def _pack_observations(obs: Sequence[Observation]) -> bytes:
    """Observations as compact JSON rows ``[probe, qname, qtype, status, answers, via]``
    (answers as ``[name, type, ttl, data]``), compressed with zstd; Status is a str, so it
    encodes as its value."""
    raw = orjson.dumps(
        [
            (
                o.probe,
                o.qname,
                o.qtype,
                o.status,
                [(r.name, r.rtype, r.ttl, r.data) for r in o.answers],
                o.via,
            )
            for o in obs
        ]
    )
    return _compressor.compress(raw)


def observations_json(blob: bytes) -> bytes:
    """The JSON text of a stored observations blob: zstd, or zlib as earlier stores hold.
    A damaged blob raises ValueError."""
    try:
        if blob[:4] == _ZSTD_MAGIC:
            return bytes(_decompressor.decompress(blob))
        return zlib.decompress(blob)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise ValueError(f"stored observations are damaged: {exc}") from None


def _observation(raw: Any) -> Observation:
    if isinstance(raw, dict):  # the first stored form: Observation.to_json()
        return Observation.from_json(raw)
    probe, qname, qtype, status, answers, via = raw
    return Observation(
        str(probe),
        str(qname),
        str(qtype),
        Status(status),
        tuple(RR.from_json(a) for a in answers),
        str(via),
    )


#: The columns of the rows :func:`encode_results` makes, in their order (the domain second).
DOMAIN_COLUMNS = (
    "scan_id",
    "domain",
    "position",
    "attributes",
    "queries",
    "errors",
    "observations",
)
FINDING_COLUMNS = (
    "scan_id",
    "domain",
    "capability",
    "provider",
    "provider_name",
    "parent",
    "jurisdiction",
    "confidence",
    "code",
    "role",
    "service",
    "tags",
    "evidence",
    "knowledge_version",
)
Row = tuple[Any, ...]


def encode_results(
    scan_id: int,
    batch: Iterable[tuple[DomainResult, Sequence[Finding]]],
    knowledge_version: str,
) -> tuple[list[Row], list[Row]]:
    """The rows of a batch of results, ready for :meth:`Store.write_rows`: plain tuples in
    the order of :data:`DOMAIN_COLUMNS` and :data:`FINDING_COLUMNS`, so a scan worker can
    make them and hand them to the process that owns the store."""
    dom_rows: list[Row] = []
    find_rows: list[Row] = []
    for result, fs in batch:
        dom_rows.append(
            (
                scan_id,
                result.domain,
                result.position,
                orjson.dumps(result.attributes).decode(),
                result.queries,
                result.errors,
                _pack_observations(result.observations),
            )
        )
        find_rows.extend(_finding_row(scan_id, f, knowledge_version) for f in fs)
    return dom_rows, find_rows


def unpack_observations(blob: bytes) -> tuple[Observation, ...]:
    return tuple(_observation(o) for o in json.loads(observations_json(blob)))


def _finding_row(scan_id: int, f: Finding, kv: str) -> Row:
    return (
        scan_id,
        f.domain,
        f.capability.value,
        f.provider,
        f.provider_name,
        f.parent,
        f.jurisdiction,
        f.confidence,
        f.code,
        f.role,
        f.service,
        orjson.dumps(f.tags).decode(),
        orjson.dumps([e.to_json() for e in f.evidence]).decode(),
        kv,
    )


def finding_from_row(row: Any) -> Finding:
    m = row._mapping
    return Finding.from_json(
        {
            "domain": m["domain"],
            "capability": m["capability"],
            "provider": m["provider"],
            "provider_name": m["provider_name"],
            "parent": m["parent"],
            "jurisdiction": m["jurisdiction"],
            "confidence": m["confidence"],
            "code": m["code"],
            "role": m["role"],
            "service": m["service"],
            "tags": json.loads(m["tags"]),
            "evidence": json.loads(m["evidence"]),
        }
    )


class Store:
    """The one door to a store: opened at the newest schema revision (migrations applied, for
    SQLite as for PostgreSQL), written by scans, read through :mod:`sovmap.store.snapshots` and
    :mod:`sovmap.store.queries`. Surfaces hold a Store, never its URL (which may carry a
    password)."""

    def __init__(
        self, target: str | Path, *, readonly: bool = False, connections: int | None = None
    ) -> None:
        """``connections``: how many connections the engine keeps open at once (the web app
        asks one per request thread; None: SQLAlchemy's default of 5, and 10 more on demand)."""
        self.url = database_url(str(target))
        pool = {} if connections is None else {"pool_size": connections, "max_overflow": 10}
        self.engine: Engine = open_store_engine(str(target), readonly=readonly, **pool)
        self._leases: dict[int, threading.Event] = {}

    @classmethod
    def for_reading(cls, target: str | Path) -> Store:
        """A store opened to be read: read-only (so a store on a read-only disk can be read),
        unless it needs migrating first, which a writable store then gets."""
        try:
            return cls(target, readonly=True)
        except MigrationError:
            return cls(target)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def connect(self) -> Connection:
        return self.engine.connect()

    def close(self) -> None:
        for stop in self._leases.values():
            stop.set()
        self._leases.clear()
        self.engine.dispose()

    # -- the lease of a running scan ---------------------------------------------------
    def hold_lease(self, scan_id: int) -> None:
        """Renew scan ``scan_id``'s heartbeat every few seconds from a daemon thread until
        :meth:`finish_scan` or :meth:`close`: the scan shows as running, not interrupted."""
        if scan_id in self._leases:
            return
        self.beat(scan_id)
        stop = threading.Event()
        self._leases[scan_id] = stop

        def renew() -> None:
            while not stop.wait(scan_rules.HEARTBEAT_SECONDS):
                try:
                    self.beat(scan_id)
                except Exception:
                    continue

        threading.Thread(target=renew, name=f"sovmap-lease-{scan_id}", daemon=True).start()

    def beat(self, scan_id: int) -> None:
        with self.engine.begin() as c:
            c.execute(update(scans).where(scans.c.id == scan_id).values(heartbeat_at=now_iso()))

    def release_lease(self, scan_id: int) -> None:
        stop = self._leases.pop(scan_id, None)
        if stop is not None:
            stop.set()

    # -- scans -------------------------------------------------------------------------
    def start_scan(
        self,
        *,
        input: str,
        input_digest: str,
        shard: str = "",
        knowledge_version: str = "",
        params: dict[str, Any] | None = None,
        label: str = "",
    ) -> int:
        with self.engine.begin() as c:
            res = c.execute(
                insert(scans).values(
                    started_at=now_iso(),
                    status="running",
                    input=input,
                    input_digest=input_digest,
                    shard=shard,
                    knowledge_version=knowledge_version,
                    params=json.dumps(params or {}),
                    label=label,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            scan_id = int(pk[0])
        self.hold_lease(scan_id)
        return scan_id

    def resumable_scan(self, input_digest: str, shard: str = "") -> int | None:
        """The newest unfinished scan of this input and shard, to resume; the caller resumes
        it, so the store takes its lease (see :meth:`hold_lease`)."""
        with self.engine.connect() as c:
            row = c.execute(
                select(scans.c.id)
                .where(scans.c.input_digest == input_digest, scans.c.shard == shard)
                .where(scans.c.status == "running")
                .order_by(scans.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        self.hold_lease(int(row[0]))
        return int(row[0])

    def finish_scan(self, scan_id: int, status: str = "done") -> None:
        self.release_lease(scan_id)
        with self.engine.begin() as c:
            c.execute(
                update(scans)
                .where(scans.c.id == scan_id)
                .values(status=status, finished_at=now_iso())
            )

    def scans(self) -> list[ScanInfo]:
        """Every scan, oldest first, with its state (see :mod:`sovmap.store.snapshots`)."""
        with self.engine.connect() as c:
            return scan_rules.list_scans(c)

    def choose_scan(self, scan_id: int | None = None) -> scan_rules.ScanChoice:
        """Scan ``scan_id``, else the latest finished scan, with newer unfinished ones."""
        with self.engine.connect() as c:
            return scan_rules.choose_scan(c, scan_id)

    def latest_finished(self) -> ScanInfo | None:
        """The newest finished scan: *the* latest scan of every surface."""
        with self.engine.connect() as c:
            return scan_rules.latest_finished(c)

    def finding_counts(self, scan_id: int) -> list[tuple[str, str, str, tuple[str, ...], str, int]]:
        """How many findings of a scan share (capability, provider name, jurisdiction, tags,
        role), counted by the database: what a summary needs, without reading a million
        domains' evidence. Ordered by those columns."""
        cols = (
            findings.c.capability,
            findings.c.provider_name,
            findings.c.jurisdiction,
            findings.c.tags,
            findings.c.role,
        )
        q = (
            select(*cols, func.count())
            .where(findings.c.scan_id == scan_id)
            .group_by(*cols)
            .order_by(*cols)
        )
        with self.engine.connect() as c:
            return [
                (cap, name, jur, tuple(json.loads(tags)), role, int(n))
                for cap, name, jur, tags, role, n in c.execute(q)
            ]

    def done_domains(self, scan_id: int) -> set[str]:
        with self.engine.connect() as c:
            return {
                r[0]
                for r in c.execute(
                    select(scan_domains.c.domain).where(scan_domains.c.scan_id == scan_id)
                )
            }

    def stored_among(self, scan_id: int, domains: Sequence[str]) -> set[str]:
        """Which of ``domains`` scan ``scan_id`` already holds (a shard's resume point)."""
        with self.engine.connect() as c:
            return _stored_among(c, scan_id, domains)

    # -- results -----------------------------------------------------------------------
    def write_results(
        self,
        scan_id: int,
        batch: Iterable[tuple[DomainResult, Sequence[Finding]]],
        knowledge_version: str,
    ) -> int:
        """Write a batch of domains (observations + findings) in ONE transaction."""
        return self.write_rows(scan_id, *encode_results(scan_id, batch, knowledge_version))

    def write_rows(self, scan_id: int, dom_rows: list[Row], find_rows: list[Row]) -> int:
        """Write rows made by :func:`encode_results` in ONE transaction; a domain already
        stored for this scan keeps its first rows (never a domain twice)."""
        if not dom_rows:
            return 0
        try:
            with self.engine.begin() as c:
                self._insert_rows(c, dom_rows, find_rows)
            return len(dom_rows)
        except IntegrityError:
            # another writer (e.g. what was left of a killed run) stored some of these
            # domains first: keep theirs, write the rest, never a domain twice
            with self.engine.begin() as c:
                have = _stored_among(c, scan_id, [r[1] for r in dom_rows])
                dom_rows = [r for r in dom_rows if r[1] not in have]
                find_rows = [r for r in find_rows if r[1] not in have]
                self._insert_rows(c, dom_rows, find_rows)
            return len(dom_rows)

    def _insert_rows(self, c: Connection, dom_rows: list[Row], find_rows: list[Row]) -> None:
        """Plain driver ``executemany`` for the positional rows (the scan's hot path: no
        per-row work in between); other parameter styles take SQLAlchemy's insert."""
        mark = _MARKS.get(self.engine.dialect.paramstyle)
        for table, columns, rows in (
            (scan_domains, DOMAIN_COLUMNS, dom_rows),
            (findings, FINDING_COLUMNS, find_rows),
        ):
            if not rows:
                continue
            if mark is None:
                c.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
            else:
                sql = (
                    f"INSERT INTO {table.name} ({', '.join(columns)}) "
                    f"VALUES ({', '.join([mark] * len(columns))})"
                )
                c.exec_driver_sql(sql, rows)

    def iter_results(
        self, scan_id: int, domain: str | None = None, chunk: int = 2000
    ) -> Iterator[tuple[str, dict[str, str], tuple[Observation, ...]]]:
        """Stored domains of a scan in input order, with attributes and raw observations."""
        q = select(
            scan_domains.c.domain, scan_domains.c.attributes, scan_domains.c.observations
        ).where(scan_domains.c.scan_id == scan_id)
        if domain is not None:
            q = q.where(scan_domains.c.domain == domain)
        q = q.order_by(scan_domains.c.position, scan_domains.c.domain)
        with self.engine.connect() as c:
            res = c.execution_options(stream_results=True, yield_per=chunk).execute(q)
            for row in res:
                yield row[0], json.loads(row[1]), unpack_observations(row[2])

    def findings(
        self, scan_id: int, domain: str | None = None, capability: str | None = None
    ) -> list[Finding]:
        q = select(findings).where(findings.c.scan_id == scan_id)
        if domain is not None:
            q = q.where(findings.c.domain == domain)
        if capability is not None:
            q = q.where(findings.c.capability == capability)
        q = q.order_by(findings.c.domain, findings.c.capability, findings.c.id)
        with self.engine.connect() as c:
            return [finding_from_row(r) for r in c.execute(q)]

    def iter_findings(self, scan_id: int, chunk: int = 5000) -> Iterator[Finding]:
        q = (
            select(findings)
            .where(findings.c.scan_id == scan_id)
            .order_by(findings.c.domain, findings.c.capability, findings.c.id)
        )
        with self.engine.connect() as c:
            res = c.execution_options(stream_results=True, yield_per=chunk).execute(q)
            for r in res:
                yield finding_from_row(r)

    def replace_findings(
        self, scan_id: int, batch: Iterable[tuple[str, Sequence[Finding]]], knowledge_version: str
    ) -> None:
        """Reclassification: swap the findings of these domains in one transaction."""
        items = list(batch)
        with self.engine.begin() as c:
            _delete_findings(c, scan_id, [d for d, _ in items])
            rows = [_finding_row(scan_id, f, knowledge_version) for _, fs in items for f in fs]
            self._insert_rows(c, [], rows)

    def begin_reclassify(self, scan_id: int) -> None:
        """Before a reclassify rewrites the findings: the scan's kept figures no longer hold."""
        with self.engine.begin() as c:
            c.execute(delete(scan_figures).where(scan_figures.c.scan_id == scan_id))

    def end_reclassify(self, scan_id: int, version: str) -> None:
        """After a reclassify: the knowledge version it used, and a new ``classified_at``, so
        what was derived from the old findings (cached figures, kept change events) is keyed
        differently from what is derived from the new ones."""
        with self.engine.begin() as c:
            c.execute(
                update(scans)
                .where(scans.c.id == scan_id)
                # microseconds: two reclassifies within a second still differ
                .values(
                    knowledge_version=version,
                    classified_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                )
            )


def _stored_among(c: Connection, scan_id: int, domains: Sequence[str]) -> set[str]:
    return {
        row[0]
        for i in range(0, len(domains), 500)
        for row in c.execute(
            select(scan_domains.c.domain).where(
                scan_domains.c.scan_id == scan_id,
                scan_domains.c.domain.in_(domains[i : i + 500]),
            )
        )
    }


def _delete_findings(c: Connection, scan_id: int, domains: list[str]) -> None:
    for i in range(0, len(domains), 500):
        part = domains[i : i + 500]
        c.execute(
            delete(findings).where(findings.c.scan_id == scan_id, findings.c.domain.in_(part))
        )


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # positional placeholders


__all__ = [
    "DEFAULT_DB",
    "DOMAIN_COLUMNS",
    "FINDING_COLUMNS",
    "Row",
    "ScanInfo",
    "Store",
    "database_url",
    "finding_from_row",
    "observations_json",
    "unpack_observations",
]
