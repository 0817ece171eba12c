"""Users, passwords, API tokens, sessions and roles, and the account lifecycle (disable,
enable, delete, role, password), which revokes sessions and tokens where it must.

Secrets are never stored: passwords as argon2id hashes, API tokens and session ids as
SHA-256 digests (they are long random strings, so a fast digest is enough). Roles are
ordered: viewer < editor < admin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError

from sovmap import i18n
from sovmap.store.migrate import BUSY_TIMEOUT
from sovmap.web.tables import api_tokens, oidc_identities, sessions, settings, users

ROLES = ("viewer", "editor", "admin")
PUBLIC = "public"  # pseudo-role of anonymous visitors when the scan is published
SESSION_HOURS = 12
TOKEN_USE_MINUTES = 5
TOKEN_PREFIX = "svm_"
TOKEN_DAYS = 90  # default lifetime of an API token
MAX_TOKEN_DAYS = 3650
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_hasher = PasswordHasher()


class AuthError(ValueError):
    """A user-facing problem with a user, password or token: a catalogue ``code`` with its
    parameters; ``str()`` is the English text (the CLI), :meth:`render` any language (web)."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(i18n.t("en", code, **params))

    def render(self, lang: str) -> str:
        return i18n.t(lang, self.code, **self.params)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user (by session or token) or an anonymous public visitor."""

    username: str
    role: str
    via: str  # session | token | public
    user_id: int = 0
    csrf: str = ""

    def can(self, role: str) -> bool:
        if self.role == PUBLIC:
            return role == PUBLIC
        return role == PUBLIC or ROLES.index(self.role) >= ROLES.index(role)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < 10:
        raise AuthError("AUTH_PASSWORD_SHORT", n=10)


def create_user(conn: Connection, username: str, password: str, role: str) -> int:
    if not _USERNAME.match(username):
        raise AuthError("AUTH_BAD_USERNAME", name=repr(username))
    if role not in ROLES:
        raise AuthError("AUTH_UNKNOWN_ROLE", role=repr(role), roles=", ".join(ROLES))
    check_password_rules(password)
    if conn.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AuthError("AUTH_USER_EXISTS", name=repr(username))
    res = conn.execute(
        insert(users).values(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=now_iso(),
            disabled=False,
        )
    )
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def user_id(conn: Connection, username: str) -> int:
    """The id of a user; AuthError when there is none."""
    uid = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if uid is None:
        raise AuthError("AUTH_NO_USER", name=repr(username))
    return int(uid)


def revoke_all(conn: Connection, uid: int) -> int:
    """End every session and revoke every token of a user; returns how many."""
    n = conn.execute(delete(sessions).where(sessions.c.user_id == uid)).rowcount or 0
    return int(n) + int(
        conn.execute(delete(api_tokens).where(api_tokens.c.user_id == uid)).rowcount or 0
    )


def set_password(conn: Connection, username: str, password: str) -> None:
    """A new password; every session and token of the user ends at once."""
    check_password_rules(password)
    uid = user_id(conn, username)
    conn.execute(
        update(users).where(users.c.id == uid).values(password_hash=hash_password(password))
    )
    revoke_all(conn, uid)


def _other_active_admins(conn: Connection, username: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(users)
            .where(
                (users.c.role == "admin")
                & (users.c.disabled.is_(False))
                & (users.c.username != username)
            )
        ).scalar_one()
    )


def _keep_an_admin(conn: Connection, username: str, what: str) -> None:
    row = conn.execute(
        select(users.c.role, users.c.disabled).where(users.c.username == username)
    ).first()
    if row is None:
        raise AuthError("AUTH_NO_USER", name=repr(username))
    if row.role == "admin" and not row.disabled and _other_active_admins(conn, username) == 0:
        raise AuthError(f"AUTH_LAST_ADMIN_{what.upper()}", name=repr(username))


def set_disabled(conn: Connection, username: str, disabled: bool) -> None:
    """Disable (every session and token ends at once) or enable a user."""
    if disabled:
        _keep_an_admin(conn, username, "disable")
    uid = user_id(conn, username)
    conn.execute(update(users).where(users.c.id == uid).values(disabled=disabled))
    if disabled:
        revoke_all(conn, uid)


def set_role(conn: Connection, username: str, role: str) -> str:
    """Change a user's role; returns the old one. Sessions and tokens carry the new role from
    the next request (they look the role up each time)."""
    if role not in ROLES:
        raise AuthError("AUTH_UNKNOWN_ROLE", role=repr(role), roles=", ".join(ROLES))
    old = conn.execute(select(users.c.role).where(users.c.username == username)).scalar()
    if old is None:
        raise AuthError("AUTH_NO_USER", name=repr(username))
    if old == "admin" and role != "admin":
        _keep_an_admin(conn, username, "demote")
    conn.execute(update(users).where(users.c.username == username).values(role=role))
    return str(old)


def delete_user(conn: Connection, username: str) -> None:
    """Remove a user with its sessions and tokens (the audit log keeps the name)."""
    _keep_an_admin(conn, username, "delete")
    uid = user_id(conn, username)
    revoke_all(conn, uid)
    # its OIDC links too (the foreign key cascades as well, where the backend enforces it)
    conn.execute(delete(oidc_identities).where(oidc_identities.c.user_id == uid))
    conn.execute(delete(users).where(users.c.id == uid))


# --- OpenID Connect identities linked to users ----------------------------------------------

MAX_ISSUER = 512
MAX_SUBJECT = 255  # OpenID Connect Core 1.0, 2: sub is at most 255 ASCII characters


def check_identity(issuer: str, subject: str) -> tuple[str, str]:
    """The (issuer, subject) pair as stored: the issuer an http(s) URL without trailing
    slash, the subject 1 to 255 printable characters; AuthError otherwise."""
    issuer = issuer.strip().rstrip("/")
    if (
        not issuer.startswith(("https://", "http://"))
        or len(issuer) > MAX_ISSUER
        or not issuer.isprintable()
        or " " in issuer
    ):
        raise AuthError("AUTH_OIDC_BAD_ISSUER", issuer=repr(issuer[:80]), n=MAX_ISSUER)
    if not subject or len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise AuthError("AUTH_OIDC_BAD_SUBJECT", n=MAX_SUBJECT)
    return issuer, subject


def identity_owner(conn: Connection, issuer: str, subject: str) -> Any:
    """The link row of an identity joined with its user (id, username, role, disabled), or
    None when the identity is linked to no one."""
    return (
        conn.execute(
            select(
                oidc_identities.c.id.label("link_id"),
                users.c.id,
                users.c.username,
                users.c.role,
                users.c.disabled,
            )
            .join(users, users.c.id == oidc_identities.c.user_id)
            .where((oidc_identities.c.issuer == issuer) & (oidc_identities.c.subject == subject))
        )
        .mappings()
        .first()
    )


def link_identity(
    conn: Connection, username: str, issuer: str, subject: str, email: str = ""
) -> tuple[str, str]:
    """Link the identity (issuer, subject) to a user, so that it signs in as that user; an
    identity links to one user only (AuthError when it is linked to another). Returns the
    pair as stored. Linking twice to the same user changes nothing."""
    issuer, subject = check_identity(issuer, subject)
    uid = user_id(conn, username)
    owner = identity_owner(conn, issuer, subject)
    if owner is not None:
        if int(owner["id"]) == uid:
            return issuer, subject
        raise AuthError("AUTH_OIDC_LINKED", name=repr(owner["username"]))
    conn.execute(
        insert(oidc_identities).values(
            issuer=issuer,
            subject=subject,
            user_id=uid,
            email=email[:320],
            created_at=now_iso(),
        )
    )
    return issuer, subject


def unlink_identity(conn: Connection, username: str, issuer: str, subject: str) -> None:
    """Remove the link of (issuer, subject) to a user; AuthError when there is none."""
    issuer, subject = check_identity(issuer, subject)
    uid = user_id(conn, username)
    gone = conn.execute(
        delete(oidc_identities).where(
            (oidc_identities.c.user_id == uid)
            & (oidc_identities.c.issuer == issuer)
            & (oidc_identities.c.subject == subject)
        )
    ).rowcount
    if not gone:
        raise AuthError("AUTH_OIDC_NO_LINK", name=repr(username))


def identities_of(conn: Connection, username: str) -> list[dict[str, Any]]:
    """The identities linked to a user, oldest first."""
    uid = user_id(conn, username)
    rows = conn.execute(
        select(
            oidc_identities.c.issuer,
            oidc_identities.c.subject,
            oidc_identities.c.email,
            oidc_identities.c.created_at,
            oidc_identities.c.last_used_at,
        )
        .where(oidc_identities.c.user_id == uid)
        .order_by(oidc_identities.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def identities_by_user(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every linked identity in one query, by user name, each user's oldest first (the
    admin page lists them all); the rows have the keys :func:`identities_of` gives."""
    rows = conn.execute(
        select(
            users.c.username,
            oidc_identities.c.issuer,
            oidc_identities.c.subject,
            oidc_identities.c.email,
            oidc_identities.c.created_at,
            oidc_identities.c.last_used_at,
        )
        .join(users, users.c.id == oidc_identities.c.user_id)
        .order_by(oidc_identities.c.id)
    ).mappings()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        row = dict(r)
        out.setdefault(row.pop("username"), []).append(row)
    return out


# A hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def authenticate(conn: Connection, username: str, password: str) -> Principal | None:
    row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if _hasher.check_needs_rehash(stored):
        conn.execute(
            update(users)
            .where(users.c.id == row["id"])
            .values(password_hash=hash_password(password))
        )
    return Principal(row["username"], row["role"], "session", user_id=int(row["id"]))


def create_token(conn: Connection, uid: int, name: str, days: int = TOKEN_DAYS) -> str:
    """A new API token for a user, valid ``days`` days; the secret is returned once and only
    its digest kept."""
    if not name or len(name) > 64:
        raise AuthError("AUTH_TOKEN_NAME")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AuthError("AUTH_TOKEN_DAYS", days=MAX_TOKEN_DAYS)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.execute(
        insert(api_tokens).values(
            user_id=uid,
            name=name,
            token_digest=digest(token),
            created_at=now_iso(),
            expires_at=expires,
        )
    )
    return token


def revoke_token(conn: Connection, user_id: int, token_id: int) -> bool:
    return bool(
        conn.execute(
            delete(api_tokens).where(
                (api_tokens.c.id == token_id) & (api_tokens.c.user_id == user_id)
            )
        ).rowcount
    )


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.last_used_at,
                api_tokens.c.expires_at,
                users.c.id.label("uid"),
                users.c.username,
                users.c.role,
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where((api_tokens.c.token_digest == digest(token)) & (users.c.disabled.is_(False)))
        )
        .mappings()
        .first()
    )
    now = now_iso()
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
        return None
    # record use at most every few minutes, so reads do not turn into writes that contend
    stale = (datetime.now(UTC) - timedelta(minutes=TOKEN_USE_MINUTES)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    if (row["last_used_at"] or "") < stale:
        _record_token_use(conn, int(row["id"]), now)
    return Principal(row["username"], row["role"], "token", user_id=int(row["uid"]))


#: per process: when each token's use was last written (monotonic seconds, by store and
#: token); one writer at a time
_token_use_written: dict[tuple[str, int], float] = {}
_token_use_lock = threading.Lock()
#: milliseconds the write of a token's time of use waits for SQLite's write lock
TOKEN_USE_WAIT_MS = 200


def _record_token_use(conn: Connection, token_id: int, now: str) -> None:
    """Write a token's time of use in a short statement of its own, by one request of this
    process at a time, waiting at most :data:`TOKEN_USE_WAIT_MS` for SQLite's write lock.
    Written in the request's own transaction after the token was read, as before, SQLite
    refused at once to turn that read into a write while another connection held the write
    lock ("database is locked", without waiting for the busy timeout), so a request whose
    token's time was stale failed with 500 whenever another request was writing (32 answers
    of 500 in one load run; tests/web/test_token_use.py). A busy store skips the write: a
    later request writes it."""
    url = conn.engine.url
    if url.database in (None, "", ":memory:"):  # a single connection: write in place
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
        return
    if not _token_use_lock.acquire(blocking=False):
        return  # another request of this process is writing it
    try:
        key = (url.render_as_string(hide_password=True), token_id)
        t = time.monotonic()
        if t - _token_use_written.get(key, -1e18) < TOKEN_USE_MINUTES * 60:
            return
        if len(_token_use_written) >= 10_000:  # bounded: forgetting costs one more write
            _token_use_written.clear()
        _token_use_written[key] = t
        sqlite = url.get_backend_name() == "sqlite"
        with conn.engine.connect() as own:
            own = own.execution_options(isolation_level="AUTOCOMMIT")
            try:
                if sqlite:
                    own.exec_driver_sql(f"PRAGMA busy_timeout = {TOKEN_USE_WAIT_MS}")
                own.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
                )
            except OperationalError:
                _token_use_written.pop(key, None)  # not written: the next request tries
            finally:
                if sqlite:
                    own.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
    finally:
        _token_use_lock.release()


def create_session(conn: Connection, user_id: int) -> str:
    """A new session; returns the cookie secret."""
    secret = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    conn.execute(
        insert(sessions).values(
            digest=digest(secret),
            user_id=user_id,
            csrf=secrets.token_urlsafe(32),
            created_at=now_iso(),
            expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )
    return secret


def principal_for_session(conn: Connection, secret: str) -> Principal | None:
    row = (
        conn.execute(
            select(
                sessions.c.csrf, sessions.c.expires_at, users.c.id, users.c.username, users.c.role
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where((sessions.c.digest == digest(secret)) & (users.c.disabled.is_(False)))
        )
        .mappings()
        .first()
    )
    if row is None or row["expires_at"] < now_iso():
        return None
    return Principal(
        row["username"], row["role"], "session", user_id=int(row["id"]), csrf=row["csrf"]
    )


def end_session(conn: Connection, secret: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.digest == digest(secret)))
    conn.execute(delete(sessions).where(sessions.c.expires_at < now_iso()))


def same_secret(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def get_setting(conn: Connection, key: str, default: str = "") -> str:
    v = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return str(v) if v is not None else default


def put_setting(conn: Connection, key: str, value: str) -> None:
    if conn.execute(select(settings.c.key).where(settings.c.key == key)).first():
        conn.execute(update(settings).where(settings.c.key == key).values(value=value))
    else:
        conn.execute(insert(settings).values(key=key, value=value))
