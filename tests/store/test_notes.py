"""Notes on findings: appended, never overwritten; the newest accept/dispute decides; keyed by
domain, capability and provider so a dispute survives rescans; bad input refused before any
write; revision 0005 upgrades an 0004 store; the same on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from sovmap.store import notes as nt
from sovmap.store.migrate import (
    current_revision,
    differences,
    head_revision,
    open_engine,
    upgrade,
)


def _exercise(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        key = ("utrecht.nl", "mailbox", "microsoft")
        nt.add_note(
            conn,
            "WWW.Utrecht.NL",
            "mailbox",
            "microsoft",
            "disputed",
            "moved to EU",
            "ed",
            at="2026-12-01T10:00:00Z",
        )
        nt.add_note(
            conn,
            "utrecht.nl",
            "mailbox",
            "microsoft",
            "noted",
            "asked the CIO",
            "ed",
            at="2026-12-02T10:00:00Z",
        )
        nt.add_note(conn, "duo.nl", "dns-hosting", "cloudflare", "accepted", "", "cli:root")
        # a comment does not change the status: still disputed
        assert nt.statuses(conn)[key].status == nt.DISPUTED
        assert nt.disputed(conn) == {key}
        assert nt.disputed(conn, [key, ("x.nl", "mailbox", "google")]) == {key}
        assert nt.disputed(conn, []) == set()
        # accepting again ends the dispute; the history keeps every note, newest first
        nt.add_note(
            conn,
            "utrecht.nl",
            "mailbox",
            "microsoft",
            "accepted",
            "checked MX again",
            "admin",
            at="2026-12-03T10:00:00Z",
        )
        assert nt.disputed(conn) == set()
        hist = nt.history(conn, domain="utrecht.nl")
        assert [(n.status, n.username) for n in hist] == [
            ("accepted", "admin"),
            ("noted", "ed"),
            ("disputed", "ed"),
        ]
        assert hist[-1].key == key and hist[-1].to_json()["user"] == "ed"
        assert conn.execute(select(func.count()).select_from(nt.finding_notes)).scalar_one() == 4
        # a capability figure's rows (domain, capability, class, provider, ...): disputed ones
        nt.add_note(conn, "rivm.nl", "mailbox", "google", "disputed", "wrong MX parse", "ed")
        rows = [
            ("rivm.nl", "mailbox", "us", "google", "Google", "US"),
            ("utrecht.nl", "mailbox", "us", "microsoft", "Microsoft", "US"),
            ("rivm.nl", "mailbox", "us", "microsoft", "Microsoft", "US"),
        ]
        assert nt.disputed_rows(rows, nt.disputed(conn)) == 1


def test_notes_on_sqlite(tmp_path: Path) -> None:
    _exercise(open_engine(str(tmp_path / "n.db")))


@pytest.mark.postgres
def test_notes_on_postgres(postgres_url: str) -> None:  # noqa: F811
    engine = open_engine(postgres_url)
    _exercise(engine)
    with engine.connect() as conn:
        assert differences(conn) == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("utrecht.nl", "mailbox", "microsoft", "rejected", "x"), "NOTE_BAD_STATUS"),
        (("utrecht.nl", "mailbox", "microsoft", "disputed", "x" * 2001), "NOTE_TOO_LONG"),
        (("utrecht.nl", "mailbox", "microsoft", "disputed", "a\x00b"), "NOTE_CONTROL"),
        (("utrecht.nl", "mailbox", "microsoft", "disputed", "  "), "NOTE_TEXT_NEEDED"),
        (("nl", "mailbox", "microsoft", "noted", "x"), "NOTE_BAD_DOMAIN"),
        (("utrecht.nl", "mail", "microsoft", "noted", "x"), "NOTE_BAD_CAPABILITY"),
        (("utrecht.nl", "mailbox", "Micro soft", "noted", "x"), "NOTE_BAD_PROVIDER"),
    ],
)
def test_bad_notes_are_refused_before_any_write(
    tmp_path: Path, args: tuple[str, str, str, str, str], code: str
) -> None:
    engine = open_engine(str(tmp_path / "bad.db"))
    upgrade(engine)
    with engine.begin() as conn:
        with pytest.raises(nt.NoteError) as err:
            nt.add_note(conn, *args, "ed")
        assert err.value.code == code and err.value.exit_code == 2
        assert conn.execute(select(func.count()).select_from(nt.finding_notes)).scalar_one() == 0


def test_revision_0005_upgrades_a_0004_store(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "old.db"))
    assert upgrade(engine, "0004") == "0004"
    with engine.connect() as conn:
        assert "finding_notes" not in {
            t for (t,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert upgrade(engine) == head_revision() == current_revision(engine)  # 0005 and later
    with engine.begin() as conn:
        nt.add_note(conn, "utrecht.nl", "mailbox", "microsoft", "disputed", "why", "ed")
        assert differences(conn) == []


def test_findings_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sovmap.cli import main
    from sovmap.web.tables import audit_log

    db = str(tmp_path / "cli.db")
    args = ["utrecht.nl", "mailbox", "microsoft", "--db", db, "--lang", "en", "--user", "ann"]
    assert main(["findings", "dispute", *args, "--text", "MX moved to an EU host"]) == 0
    assert capsys.readouterr().out.strip() == "disputed: utrecht.nl mailbox microsoft (note #1)"
    # a dispute without a reason, an unknown capability: exit 2 with the reason, nothing written
    assert main(["findings", "dispute", *args]) == 2
    assert "needs a text" in capsys.readouterr().err
    bad = ["utrecht.nl", "mail", "microsoft", "--db", db, "--text", "x"]
    assert main(["findings", "note", *bad]) == 2
    assert "unknown capability" in capsys.readouterr().err
    assert main(["findings", "accept", *args]) == 0
    capsys.readouterr()
    assert main(["findings", "list", "--db", db, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [n["status"] for n in listed["notes"]] == ["accepted", "disputed"]
    assert listed["notes"][0]["user"] == "cli:ann" and listed["disputed"] == []
    assert main(["findings", "list", "--db", db, "--lang", "nl"]) == 0
    out = capsys.readouterr().out
    assert "geaccepteerd" in out and "betwist" in out
    engine = open_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.username, audit_log.c.action)).all()
    assert rows == [("cli:ann", "finding.note"), ("cli:ann", "finding.note")]


@pytest.mark.parametrize("action", ["dispute", "accept", "note", "list"])
def test_findings_commands_document_an_example(action: str) -> None:
    import argparse

    from sovmap.cli import build_parser

    def sub(p: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
        act = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        return act.choices[name]

    group = sub(build_parser(), "findings")
    assert group.description and "Example: sovmap findings" in group.description
    p = sub(group, action)
    assert p.description and f"Example: sovmap findings {action}" in p.description
