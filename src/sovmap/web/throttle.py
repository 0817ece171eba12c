"""The log-in throttle: attempts counted in the store, so it holds across threads, processes
and workers that serve the same store.

An attempt is counted *before* the password is checked (one atomic ``INSERT … ON CONFLICT DO
UPDATE … RETURNING`` per key), so a burst of parallel guesses cannot all pass the check: the
first ``limit`` get their password checked, every later one is refused without, the right
password included, until the window ends. A successful log-in gives its attempt back. Keys
are the client address (an IPv6 address counts per /64), the user name, and both together;
each key has its own limit. A row lives for one window; ended windows are deleted, so the
table holds at most the keys tried in the last window.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sovmap.web.tables import audit_log
from sovmap.web.tables import login_throttle as t


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most ``limit`` attempts per address and user name in ``window`` seconds, and
    ``wide_limit`` per address and per user name alone."""

    limit: int = 5
    wide_limit: int = 20
    window: int = 300

    def keys(self, address: str, username: str) -> list[tuple[str, str, int]]:
        """(scope, label, limit) of the keys an attempt counts against."""
        addr = network_of(address)
        name = username.lower()[:64]
        return [
            ("address+user", f"{addr} {name}", self.limit),
            ("address", addr, self.wide_limit),
            ("user", name, self.wide_limit),
        ]

    def attempt(self, engine: Engine, address: str, username: str) -> float:
        """Count one attempt; 0 when the password may be checked, else the seconds to wait.

        Runs in its own short transaction, committed before the password is checked. The
        attempt that starts a lock-out is written to the audit log (once per key and window).
        """
        now = int(time.time())
        wait = 0.0
        with engine.begin() as conn:
            for scope, label, limit in self.keys(address, username):
                attempts, expires = _count(conn, scope, label, now, self.window)
                if attempts > limit:
                    wait = max(wait, float(expires - now))
                if attempts == limit + 1:
                    conn.execute(
                        insert(audit_log).values(
                            at=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            username="-",
                            action="login.locked",
                            target=label[:200],
                            detail=json.dumps({"scope": scope, "until": expires}),
                        )
                    )
            if random.random() < 0.05:  # housekeeping, not security
                purge(conn, now)
        return wait

    def succeeded(self, engine: Engine, address: str, username: str) -> None:
        """A correct log-in: forget the address+user key, give the attempt back to the rest."""
        with engine.begin() as conn:
            for scope, label, _ in self.keys(address, username):
                key = _key(scope, label)
                if scope == "address+user":
                    conn.execute(delete(t).where(t.c.key == key))
                else:
                    conn.execute(
                        update(t)
                        .where((t.c.key == key) & (t.c.attempts > 0))
                        .values(attempts=t.c.attempts - 1)
                    )

    def locked(self, conn: Connection) -> list[dict[str, Any]]:
        """Keys over their limit now (for admins): scope, label, attempts, until (UTC)."""
        now = int(time.time())
        limits = {"address+user": self.limit, "address": self.wide_limit, "user": self.wide_limit}
        rows = conn.execute(
            select(t.c.key, t.c.scope, t.c.label, t.c.attempts, t.c.expires_at)
            .where(t.c.expires_at > now)
            .order_by(t.c.expires_at.desc())
            .limit(500)
        ).mappings()
        return [
            {
                "key": r["key"],
                "scope": r["scope"],
                "label": r["label"],
                "attempts": r["attempts"],
                "until": datetime.fromtimestamp(r["expires_at"], UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
            for r in rows
            if r["attempts"] > limits.get(r["scope"], self.limit)
        ]


def unlock(conn: Connection, key: str) -> bool:
    """Lift one lock-out (admin)."""
    return bool(conn.execute(delete(t).where(t.c.key == key)).rowcount)


def purge(conn: Connection, now: int | None = None) -> int:
    """Delete the rows whose window ended."""
    cutoff = int(time.time()) if now is None else now
    return int(conn.execute(delete(t).where(t.c.expires_at <= cutoff)).rowcount or 0)


def network_of(address: str) -> str:
    """The unit an address is counted by: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _key(scope: str, label: str) -> str:
    return hashlib.sha256(f"{scope}\0{label}".encode()).hexdigest()


def _count(conn: Connection, scope: str, label: str, now: int, window: int) -> tuple[int, int]:
    """Add one attempt to a key atomically (a new window when the old one ended); returns the
    attempts in the window and its end."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t).values(
        key=_key(scope, label),
        scope=scope,
        label=label[:200],
        attempts=1,
        expires_at=now + window,
    )
    ended = t.c.expires_at <= now
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.key],
        set_={
            "attempts": case((ended, 1), else_=t.c.attempts + 1),
            "expires_at": case((ended, now + window), else_=t.c.expires_at),
        },
    ).returning(t.c.attempts, t.c.expires_at)
    attempts, expires = conn.execute(stmt).one()
    return int(attempts), int(expires)
