"""The store's tables, as SQLAlchemy Core metadata shared by every room.

One store serves the CLI and the web app: SQLite by default, PostgreSQL by URL. Rooms that
need tables of their own define them in their own module on :data:`metadata` (for example
``sovmap.store.org_tables``) and import it from :func:`sovmap.store.tables_modules`.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: One run of ``sovmap scan``: a dated snapshot. ``status`` is running | done | aborted;
#: a running scan's process renews ``heartbeat_at`` (its lease, see
#: :mod:`sovmap.store.snapshots`): a "running" scan without a fresh heartbeat was interrupted.
scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", String(32), nullable=False),  # ISO 8601 UTC
    Column("finished_at", String(32)),
    Column("status", String(16), nullable=False),
    Column("input", Text, nullable=False, default=""),
    Column("input_digest", String(64), nullable=False, default=""),
    Column("shard", String(32), nullable=False, default=""),
    Column("knowledge_version", String(32), nullable=False, default=""),
    Column("params", Text, nullable=False, default="{}"),  # JSON
    Column("label", Text, nullable=False, default=""),
    Column("heartbeat_at", String(32)),  # ISO 8601 UTC, renewed while the scan runs
    # ISO 8601 UTC: when `sovmap reclassify` last rewrote the findings (NULL: as scanned);
    # with finished_at it tells whether what was derived from the findings is still theirs
    Column("classified_at", String(32)),
)

#: One domain of one scan, with its raw observations (compressed JSON), written in the same
#: transaction as its findings so a killed scan never holds half a domain.
scan_domains = Table(
    "scan_domains",
    metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("domain", String(253), primary_key=True),
    Column("position", Integer, nullable=False, default=0),  # line in the input
    Column("attributes", Text, nullable=False, default="{}"),  # JSON
    Column("queries", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("observations", LargeBinary, nullable=False),  # zstd(JSON list); zlib in older stores
)

#: Findings of one domain and capability (several per capability are allowed: e.g. senders).
findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("capability", String(32), nullable=False),
    Column("provider", String(128), nullable=False),
    Column("provider_name", Text, nullable=False),
    Column("parent", Text, nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("code", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("service", String(64), nullable=False, default=""),
    Column("tags", Text, nullable=False, default="[]"),  # JSON
    Column("evidence", Text, nullable=False, default="[]"),  # JSON
    Column("knowledge_version", String(32), nullable=False, default=""),
)
Index("ix_findings_scan_domain", findings.c.scan_id, findings.c.domain)

#: A finished scan's own headline values (``sovmap.figures.scan_figures``), kept when the scan
#: ends and again after ``sovmap reclassify``, so trend points need not recount every scan
#: (``value`` NULL: unknown). Absent rows: not kept, counted from the findings when asked.
scan_figures = Table(
    "scan_figures",
    metadata,
    Column("scan_id", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("figure", String(64), primary_key=True),
    Column("value", Integer),
)
Index(
    "ix_findings_scan_cap_provider", findings.c.scan_id, findings.c.capability, findings.c.provider
)
