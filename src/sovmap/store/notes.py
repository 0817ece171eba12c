"""Notes on findings: accept, dispute or annotate what a scan found, with an audit trail.

A note is keyed by what a finding *says*, not by the scan that said it: the domain, the
capability and the provider (``utrecht.nl``, ``mailbox``, ``microsoft``). A dispute therefore
holds for the same finding in every later scan, until someone accepts it again. Notes are only
ever added, never changed or deleted: the table is the history. A finding's *status* is the
newest ``accepted`` or ``disputed`` note (a ``noted`` one is a comment and leaves the status as
it was); without either it has none.

The headline figures do not change their counting rule because of a dispute (their
definitions live in :mod:`sovmap.figures`); the report and the brief state how many counted
rows are disputed beside each figure (:func:`disputed_rows`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    inspect,
    select,
    tuple_,
)

from sovmap.errors import SovmapError
from sovmap.model import Capability
from sovmap.orgs.domains import InvalidDomain, normalise_domain
from sovmap.store.schema import metadata
from sovmap.store.snapshots import now_iso

ACCEPTED = "accepted"
DISPUTED = "disputed"
NOTED = "noted"
STATUSES: tuple[str, ...] = (ACCEPTED, DISPUTED, NOTED)

#: the longest note text (characters), checked before anything is written
MAX_TEXT = 2000
_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9:._-]{0,199}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

finding_notes = Table(
    "finding_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(253), nullable=False),
    Column("capability", String(32), nullable=False),
    Column("provider", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # accepted | disputed | noted
    Column("text", Text, nullable=False, default=""),
    Column("username", String(64), nullable=False),  # web user, or cli:USER
    Column("at", String(32), nullable=False),  # ISO 8601 UTC
)
Index(
    "ix_finding_notes_key",
    finding_notes.c.domain,
    finding_notes.c.capability,
    finding_notes.c.provider,
)


class NoteError(SovmapError):
    """A note that cannot be stored: ``code`` is a stable catalogue code (``NOTE_*``)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


Key = tuple[str, str, str]  # domain, capability, provider


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    domain: str
    capability: str
    provider: str
    status: str
    text: str
    username: str
    at: str

    @property
    def key(self) -> Key:
        return (self.domain, self.capability, self.provider)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "capability": self.capability,
            "provider": self.provider,
            "status": self.status,
            "text": self.text,
            "user": self.username,
            "at": self.at,
        }


def check_key(domain: str, capability: str, provider: str) -> Key:
    """The key of a finding as stored: the domain normalised by the one normaliser, the
    capability one of :class:`~sovmap.model.Capability`, the provider a catalogue id."""
    try:
        dom, _ = normalise_domain(domain)
    except InvalidDomain as exc:
        raise NoteError("NOTE_BAD_DOMAIN", f"not a domain: {domain[:80]!r} ({exc})") from None
    caps = [c.value for c in Capability]
    if capability not in caps:
        raise NoteError(
            "NOTE_BAD_CAPABILITY",
            f"unknown capability {capability[:40]!r}: choose one of {', '.join(caps)}",
        )
    if not _PROVIDER.match(provider or ""):
        raise NoteError("NOTE_BAD_PROVIDER", f"not a provider id: {provider[:80]!r}")
    return (dom, capability, provider)


def add_note(
    conn: Connection,
    domain: str,
    capability: str,
    provider: str,
    status: str,
    text: str,
    username: str,
    *,
    at: str | None = None,
) -> Note:
    """Append one note (limits and values checked before anything is written)."""
    if status not in STATUSES:
        raise NoteError(
            "NOTE_BAD_STATUS",
            f"unknown status {status[:20]!r}: choose one of {', '.join(STATUSES)}",
        )
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise NoteError("NOTE_TOO_LONG", f"the text has {len(text)} characters, at most {MAX_TEXT}")
    if _CONTROL.search(text):
        raise NoteError("NOTE_CONTROL", "the text contains control characters")
    if status != ACCEPTED and not text:
        raise NoteError("NOTE_TEXT_NEEDED", f"a {status} note needs a text saying why")
    dom, cap, prov = check_key(domain, capability, provider)
    when = at or now_iso()
    row = {
        "domain": dom,
        "capability": cap,
        "provider": prov,
        "status": status,
        "text": text,
        "username": username[:64],
        "at": when,
    }
    new_id = conn.execute(finding_notes.insert().values(**row)).inserted_primary_key
    assert new_id is not None
    return Note(id=int(new_id[0]), **row)


def _note(r: Any) -> Note:
    return Note(int(r.id), r.domain, r.capability, r.provider, r.status, r.text, r.username, r.at)


#: one domain's notes, newest first: the statement every domain page runs, built once
_OF_DOMAIN = (
    select(finding_notes)
    .where(finding_notes.c.domain == bindparam("domain"))
    .order_by(finding_notes.c.id.desc())
    .limit(bindparam("limit"))
)


def history(
    conn: Connection,
    *,
    domain: str | None = None,
    capability: str | None = None,
    provider: str | None = None,
    limit: int = 500,
) -> list[Note]:
    """Notes, newest first, optionally of one domain (and capability, provider)."""
    if domain is not None and capability is None and provider is None:  # a domain's page
        return [_note(r) for r in conn.execute(_OF_DOMAIN, {"domain": domain, "limit": limit})]
    conds = []
    if domain is not None:
        conds.append(finding_notes.c.domain == domain)
    if capability is not None:
        conds.append(finding_notes.c.capability == capability)
    if provider is not None:
        conds.append(finding_notes.c.provider == provider)
    stmt = select(finding_notes).order_by(finding_notes.c.id.desc()).limit(limit)
    if conds:
        stmt = stmt.where(and_(*conds))
    return [_note(r) for r in conn.execute(stmt)]


def statuses(conn: Connection, keys: Iterable[Key] | None = None) -> dict[Key, Note]:
    """The deciding note (newest ``accepted``/``disputed``) per finding key; of ``keys``
    only when given."""
    stmt = (
        select(finding_notes)
        .where(finding_notes.c.status.in_((ACCEPTED, DISPUTED)))
        .order_by(finding_notes.c.id)
    )
    wanted = None if keys is None else set(keys)
    if wanted is not None:
        if not wanted:
            return {}
        if len(wanted) <= 500:
            cols = (finding_notes.c.domain, finding_notes.c.capability, finding_notes.c.provider)
            stmt = stmt.where(tuple_(*cols).in_(sorted(wanted)))
    out: dict[Key, Note] = {}
    for r in conn.execute(stmt):
        n = _note(r)
        if wanted is None or n.key in wanted:
            out[n.key] = n  # ordered by id: the newest wins
    return out


def disputed(conn: Connection, keys: Iterable[Key] | None = None) -> set[Key]:
    return {k for k, n in statuses(conn, keys).items() if n.status == DISPUTED}


def disputed_notes(conn: Connection) -> dict[Key, Note]:
    """Every finding disputed now, with the note that disputes it; empty for a store made
    before notes existed (read without migrating)."""
    if not inspect(conn).has_table(finding_notes.name):
        return {}
    return {k: n for k, n in statuses(conn).items() if n.status == DISPUTED}


def disputed_rows(rows: Sequence[Sequence[Any]], disputes: set[Key]) -> int:
    """How many of a capability figure's rows (domain, capability, class, provider, ...:
    the rows of :mod:`sovmap.figures`) are disputed."""
    return sum(1 for r in rows if len(r) > 3 and (str(r[0]), str(r[1]), str(r[3])) in disputes)
