"""``sovmap findings``: accept, dispute or annotate a finding, and list the notes, from the
command line (the library is :mod:`sovmap.store.notes`; the web app and API write the same
notes). Each note is also written to the audit log as ``cli:USER``."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from sovmap import i18n
from sovmap.store import DEFAULT_DB, Store
from sovmap.store import notes as nt


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"SQLite path or URL (default {DEFAULT_DB})")
    p.add_argument("--lang", choices=i18n.LANGUAGES, default=None, help="language of the output")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "findings",
        help="accept, dispute or annotate a finding (kept across scans, with history)",
        description="A note is kept by domain, capability and provider, so it holds for the "
        "same finding in later scans; notes are only added, never changed. Example: sovmap "
        "findings dispute utrecht.nl mailbox microsoft --text 'MX moved to an EU host'",
    )
    a = p.add_subparsers(dest="findings_command", metavar="ACTION", required=True)
    for status, verb, why in (
        (nt.DISPUTED, "dispute", "dispute a finding (a text saying why is required)"),
        (nt.ACCEPTED, "accept", "accept a finding (ends a dispute)"),
        (nt.NOTED, "note", "add a comment to a finding (the status stays as it was)"),
    ):
        c = a.add_parser(
            verb,
            help=why,
            description=f"{why[0].upper()}{why[1:]}. Example: sovmap findings {verb} utrecht.nl "
            "mailbox microsoft --text 'checked the MX records on 1 December'",
        )
        c.add_argument("domain")
        c.add_argument("capability", help="e.g. mailbox, mail-gateway, dns-hosting")
        c.add_argument("provider", help="the provider id, as in sovmap explain or the web app")
        c.add_argument("--text", default="", help=f"why (at most {nt.MAX_TEXT} characters)")
        c.add_argument("--user", default="", help="who (default: the login name)")
        _common(c)
        c.set_defaults(func=_add, status=status)
    s = a.add_parser(
        "list",
        help="notes, newest first",
        description="The notes on findings, newest first, optionally of one domain. Example: "
        "sovmap findings list --domain utrecht.nl --format json",
    )
    s.add_argument("--domain", default=None)
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--limit", type=int, default=500)
    _common(s)
    s.set_defaults(func=_list)


def _who(given: str) -> str:
    if given:
        return f"cli:{given}"[:64]
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli:unknown"


def _add(args: argparse.Namespace) -> int:
    lang = i18n.cli_language(args.lang)
    who = _who(args.user)
    store = Store(args.db)
    try:
        with store.engine.begin() as conn:
            note = nt.add_note(
                conn, args.domain, args.capability, args.provider, args.status, args.text, who
            )
            _audit(conn, who, note)
    finally:
        store.close()
    status = i18n.t(lang, "NOTE_STATUS_" + note.status.upper())
    print(i18n.t(lang, "NOTE_CLI_SAVED", status=status, key=" ".join(note.key), id=note.id))
    return 0


def _audit(conn: Any, who: str, note: nt.Note) -> None:
    """The web app's audit log, where the web app writes its notes too."""
    from sqlalchemy import insert

    from sovmap.web.tables import audit_log

    conn.execute(
        insert(audit_log).values(
            at=note.at,
            username=who,
            action="finding.note",
            target="/".join(note.key),
            detail=json.dumps({"status": note.status, "text": note.text, "note": note.id}),
        )
    )


def _list(args: argparse.Namespace) -> int:
    lang = i18n.cli_language(args.lang)
    store = Store.for_reading(args.db)
    try:
        with store.engine.connect() as conn:
            notes = nt.history(conn, domain=args.domain, limit=max(1, min(args.limit, 100_000)))
            disputed = nt.disputed(conn, {n.key for n in notes})
    finally:
        store.close()
    if args.format == "json":
        out = {
            "notes": [n.to_json() for n in notes],
            "disputed": [list(k) for k in sorted(disputed)],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not notes:
        print(i18n.t(lang, "NOTE_NONE"))
    for n in notes:
        status = i18n.t(lang, "NOTE_STATUS_" + n.status.upper())
        print(f"{n.at}  {n.username}  {status}  {' '.join(n.key)}  {n.text}".rstrip())
    return 0
