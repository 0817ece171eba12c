"""kept scan figures: scans.classified_at (when ``sovmap reclassify`` last rewrote a scan's
findings) and scan_figures (a finished scan's own headline values, kept when it ends)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a store adopted from create_all may have the table or column already
    inspector = sa.inspect(op.get_bind())
    if "classified_at" not in {c["name"] for c in inspector.get_columns("scans")}:
        with op.batch_alter_table("scans") as batch:
            batch.add_column(sa.Column("classified_at", sa.String(length=32), nullable=True))
    if "scan_figures" in set(inspector.get_table_names()):
        return
    op.create_table(
        "scan_figures",
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("figure", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scan_id", "figure"),
    )


def downgrade() -> None:
    op.drop_table("scan_figures")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("classified_at")
