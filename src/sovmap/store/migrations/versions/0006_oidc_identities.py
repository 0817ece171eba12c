"""oidc identities: OpenID Connect sign-ins linked to local users by (issuer, subject)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

import json
from typing import Any

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
    _link_users_made_by_oidc(op.get_bind())


def _detail(raw: Any) -> dict[str, Any]:
    try:
        found = json.loads(raw or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _link_users_made_by_oidc(conn: Any) -> None:
    """Before this revision a user was found by e-mail address. A user that an OIDC sign-in
    created was made in one transaction with that sign-in's audit entries: ``user.create``
    (via oidc), then ``login.oidc`` with the identity's issuer and subject. Link each such
    user, still the one that creation made (its latest creation, not made again later), to
    that identity alone, so it keeps signing in. Any other identity that signed in as it by
    address, and every password user, stays unlinked: an admin links those."""
    log = sa.table(
        "web_audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", sa.String),
        sa.column("target", sa.Text),
        sa.column("action", sa.String),
        sa.column("detail", sa.Text),
    )
    people = sa.table(
        "web_users",
        sa.column("id", sa.Integer),
        sa.column("username", sa.String),
        sa.column("created_at", sa.String),
    )
    links = sa.table(
        "web_oidc_identities",
        sa.column("issuer", sa.String),
        sa.column("subject", sa.String),
        sa.column("user_id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("created_at", sa.String),
    )
    latest: dict[str, tuple[int, str, bool]] = {}  # user name -> (entry id, at, by oidc)
    for row in conn.execute(
        sa.select(log.c.id, log.c.at, log.c.target, log.c.detail)
        .where(log.c.action == "user.create")
        .order_by(log.c.id)
    ):
        latest[row.target] = (row.id, row.at, _detail(row.detail).get("via") == "oidc")
    users = {r.username: (r.id, r.created_at) for r in conn.execute(sa.select(people))}
    taken: set[tuple[str, str]] = set()
    for name, (entry, at, by_oidc) in latest.items():
        if not by_oidc or name not in users or users[name][1] > at:
            continue
        first = conn.execute(
            sa.select(log.c.detail)
            .where((log.c.action == "login.oidc") & (log.c.target == name) & (log.c.id > entry))
            .order_by(log.c.id)
            .limit(1)
        ).scalar()
        found = _detail(first)
        issuer, subject = str(found.get("issuer", "")), str(found.get("sub", ""))
        if not (0 < len(issuer) <= 512 and 0 < len(subject) <= 255) or (issuer, subject) in taken:
            continue
        taken.add((issuer, subject))
        conn.execute(
            sa.insert(links).values(
                issuer=issuer, subject=subject, user_id=users[name][0], email=name, created_at=at
            )
        )


def downgrade() -> None:
    op.drop_index("ix_web_oidc_identities_user_id", table_name="web_oidc_identities")
    op.drop_table("web_oidc_identities")
