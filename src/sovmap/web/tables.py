"""Tables of the web app: users, API tokens, sessions, settings, the audit log, the log-in
throttle and the OpenID Connect identities linked to users.

They live on the store's shared :data:`sovmap.store.schema.metadata`, so one Alembic history
covers every room's tables. Secrets are never stored: passwords as argon2 hashes, API tokens
and session ids as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from sovmap.store.schema import metadata

#: A person who can log in. ``role`` is viewer | editor | admin.
users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

#: An API token (``Authorization: Bearer ...``); only its SHA-256 digest is kept.
api_tokens = Table(
    "web_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    Column("expires_at", String(32)),  # None: made before tokens expired (never)
)

#: A log-in session; the cookie holds the secret, the store its digest and the CSRF token.
sessions = Table(
    "web_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
)

#: Switches an admin sets, e.g. ``public_scan`` = ``"1"`` publishes the outside-in scan.
settings = Table(
    "web_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: Who changed what, when: every write through the web app or API appends one row.
audit_log = Table(
    "web_audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("username", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),  # JSON
)
Index("ix_web_audit_log_at", audit_log.c.at)

#: Log-in attempts per key (address, user name, or both) in a fixed window, shared by every
#: process serving the store. ``key`` is the SHA-256 of scope and value; ``label`` shows the
#: value to admins. Rows whose window ended are deleted, so the table stays small.
login_throttle = Table(
    "web_login_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),  # end of the window, Unix seconds
)
Index("ix_web_login_throttle_expires_at", login_throttle.c.expires_at)

#: An identity at an OpenID Connect provider linked to a local user. OIDC names a person by
#: the pair (issuer, subject) alone (OpenID Connect Core 1.0, 5.7), never by e-mail address;
#: ``email`` is the address last seen, for admins only. A user's links go with the user.
oidc_identities = Table(
    "web_oidc_identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", String(512), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    UniqueConstraint("issuer", "subject", name="uq_web_oidc_identities_issuer_subject"),
)
Index("ix_web_oidc_identities_user_id", oidc_identities.c.user_id)
