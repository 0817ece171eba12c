"""oidc identities: OpenID Connect sign-ins linked to local users by (issuer, subject)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a store adopted from create_all may have the table already (made from the newest tables)
    if "web_oidc_identities" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "web_oidc_identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("last_used_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["web_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject", name="uq_web_oidc_identities_issuer_subject"),
    )
    op.create_index(
        "ix_web_oidc_identities_user_id", "web_oidc_identities", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_web_oidc_identities_user_id", table_name="web_oidc_identities")
    op.drop_table("web_oidc_identities")
