"""The organisation room's tables, on the store's shared metadata.

Every import is an ``org_sets`` row (a dated snapshot of one source) with its organisations,
their domains and the reasons for gaps, written in one transaction: a failed import leaves
the store as it was. The current organisations are the newest set of each ``source`` key
(the source name with its options or file, see :func:`sovmap.orgs.service.set_key`).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from sovmap.store.schema import metadata

org_sets = Table(
    "org_sets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),  # ISO 8601 UTC
    Column("source", String(64), nullable=False),
    Column("origin", Text, nullable=False, default=""),  # URLs or paths, newline-separated
    Column("params", Text, nullable=False, default="{}"),  # JSON
    Column("organisations", Integer, nullable=False, default=0),
    Column("domains", Integer, nullable=False, default=0),
)
Index("ix_org_sets_source", org_sets.c.source, org_sets.c.id)

organisations = Table(
    "organisations",
    metadata,
    Column("set_id", Integer, ForeignKey("org_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(32), nullable=False),
    Column("parent_id", String(200), nullable=False, default=""),
    Column("country", String(8), nullable=False, default=""),
    Column("lat", Float),
    Column("lon", Float),
    Column("data", Text, nullable=False),  # JSON of the whole Organisation
)

org_domains = Table(
    "org_domains",
    metadata,
    Column("set_id", Integer, ForeignKey("org_sets.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", String(200), primary_key=True),
    Column("domain", String(253), primary_key=True),
    Column("how", String(16), nullable=False),  # domain | website | email | override
    Column("value", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_org_domains_domain", org_domains.c.domain)

org_unmapped = Table(
    "org_unmapped",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("set_id", Integer, ForeignKey("org_sets.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", String(200), nullable=False),
    Column("value", Text, nullable=False, default=""),
    Column("how", String(16), nullable=False, default=""),
    Column("code", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

TABLES = (org_sets, organisations, org_domains, org_unmapped)
