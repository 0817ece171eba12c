"""finding notes: accept, dispute or annotate a finding (scan-independent key, history kept)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a store adopted from create_all may have the table already (made from the newest tables)
    if "finding_notes" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "finding_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("capability", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_finding_notes_key",
        "finding_notes",
        ["domain", "capability", "provider"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_finding_notes_key", table_name="finding_notes")
    op.drop_table("finding_notes")
