"""web accounts: token expiry (web_api_tokens.expires_at) and the shared log-in throttle

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a store adopted from create_all may have these already (made from the newest tables)
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "expires_at" not in {c["name"] for c in inspector.get_columns("web_api_tokens")}:
        with op.batch_alter_table("web_api_tokens") as batch:
            batch.add_column(sa.Column("expires_at", sa.String(length=32), nullable=True))
    if "web_login_throttle" in tables:
        return
    op.create_table(
        "web_login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        "ix_web_login_throttle_expires_at", "web_login_throttle", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_web_login_throttle_expires_at", table_name="web_login_throttle")
    op.drop_table("web_login_throttle")
    with op.batch_alter_table("web_api_tokens") as batch:
        batch.drop_column("expires_at")
