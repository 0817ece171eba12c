"""Change events between scans and trend series, on hand-made findings and a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.model import RR, Capability, DomainResult, Finding, Observation, Status
from sovmap.orgs.history import (
    EventKind,
    OrgRef,
    diff_scans,
    domain_orgs,
    trend_csv,
    trend_point,
)
from sovmap.store import Store

MS = ("microsoft", "Microsoft 365", "US")
GOOGLE = ("google", "Google Workspace", "US")
HETZNER = ("hetzner", "Hetzner", "DE")
PROOFPOINT = ("proofpoint", "Proofpoint", "US")
SELF = ("self:b.nl", "self-hosted", "NL")


def f(domain: str, cap: Capability, p: tuple[str, str, str]) -> Finding:
    return Finding(domain, cap, p[0], p[1], p[1], p[2], 0.9, "TEST")


MAILBOX, GATEWAY, DNS, WEB = (
    Capability.MAILBOX,
    Capability.MAIL_GATEWAY,
    Capability.DNS,
    Capability.WEB,
)

OLD = [
    f("a.nl", MAILBOX, MS),
    f("a.nl", DNS, HETZNER),
    f("b.nl", MAILBOX, SELF),
    f("c.nl", MAILBOX, MS),
    f("c.nl", GATEWAY, PROOFPOINT),
    f("d.nl", MAILBOX, HETZNER),
    f("gone.nl", MAILBOX, MS),
]
NEW = [
    f("a.nl", MAILBOX, HETZNER),  # moved away from Microsoft
    f("a.nl", DNS, HETZNER),
    f("b.nl", MAILBOX, GOOGLE),  # moved to Google
    f("c.nl", MAILBOX, MS),  # gateway dropped
    f("d.nl", MAILBOX, HETZNER),
    f("d.nl", WEB, MS),  # web hosting newly found
    f("new.nl", MAILBOX, MS),
]
DOMAINS_OLD = ["a.nl", "b.nl", "c.nl", "d.nl", "gone.nl"]
DOMAINS_NEW = ["a.nl", "b.nl", "c.nl", "d.nl", "new.nl"]


def _summary(events: list) -> list[tuple[str, str, str, tuple[str, ...], tuple[str, ...]]]:
    return [
        (
            e.kind.value,
            e.subject,
            e.capability.value,
            tuple(p.id for p in e.old),
            tuple(p.id for p in e.new),
        )
        for e in events
    ]


def test_diff_per_domain_when_unmapped() -> None:
    events = diff_scans(OLD, NEW, old_domains=DOMAINS_OLD, new_domains=DOMAINS_NEW, orgs_of={})
    assert _summary(events) == [
        ("PROVIDER_CHANGED", "a.nl", "mailbox", ("microsoft",), ("hetzner",)),
        ("US_DEPENDENCY_REMOVED", "a.nl", "mailbox", ("microsoft",), ("hetzner",)),
        ("JURISDICTION_CHANGED", "a.nl", "mailbox", ("microsoft",), ("hetzner",)),
        ("PROVIDER_CHANGED", "b.nl", "mailbox", ("self:b.nl",), ("google",)),
        ("NEW_US_DEPENDENCY", "b.nl", "mailbox", ("self:b.nl",), ("google",)),
        ("JURISDICTION_CHANGED", "b.nl", "mailbox", ("self:b.nl",), ("google",)),
        ("DEPENDENCY_REMOVED", "c.nl", "mail-gateway", ("proofpoint",), ()),
        ("US_DEPENDENCY_REMOVED", "c.nl", "mail-gateway", ("proofpoint",), ()),
        ("NEW_CAPABILITY", "d.nl", "web-hosting", (), ("microsoft",)),
        ("NEW_US_DEPENDENCY", "d.nl", "web-hosting", (), ("microsoft",)),
    ]
    line = events[0].render()
    assert "a.nl" in line and "mailbox" in line and "Microsoft 365 (US) -> Hetzner (DE)" in line


def test_diff_per_organisation_over_its_domains() -> None:
    refs = {"org:x": OrgRef("org:x", "Gemeente X", "municipality")}
    # X owns a.nl and d.nl: its mailboxes are at Microsoft (a) and Hetzner (d) before,
    # at Hetzner only after.
    orgs_of = domain_orgs(DOMAINS_OLD, {}, {"a.nl": ["org:x"], "d.nl": ["org:x"]}, refs)
    events = diff_scans(OLD, NEW, old_domains=DOMAINS_OLD, new_domains=DOMAINS_NEW, orgs_of=orgs_of)
    org_events = [e for e in events if e.subject == "org:x"]
    assert _summary(org_events) == [
        ("PROVIDER_CHANGED", "org:x", "mailbox", ("hetzner", "microsoft"), ("hetzner",)),
        ("US_DEPENDENCY_REMOVED", "org:x", "mailbox", ("microsoft",), ("hetzner",)),
        ("JURISDICTION_CHANGED", "org:x", "mailbox", ("hetzner", "microsoft"), ("hetzner",)),
        ("NEW_CAPABILITY", "org:x", "web-hosting", (), ("microsoft",)),
        ("NEW_US_DEPENDENCY", "org:x", "web-hosting", (), ("microsoft",)),
    ]
    assert org_events[0].domains == ("a.nl", "d.nl")
    assert "Gemeente X [org:x]" in org_events[0].render()


def test_unchanged_scans_give_no_events_and_jurisdiction_update_is_seen() -> None:
    assert diff_scans(OLD, OLD, old_domains=DOMAINS_OLD, new_domains=DOMAINS_OLD, orgs_of={}) == []
    moved = [f("d.nl", MAILBOX, ("hetzner", "Hetzner", "US"))]
    events = diff_scans(
        [f("d.nl", MAILBOX, HETZNER)], moved, old_domains=["d.nl"], new_domains=["d.nl"], orgs_of={}
    )
    assert [e.kind for e in events] == [EventKind.NEW_US_DEPENDENCY, EventKind.JURISDICTION_CHANGED]


def test_scan_attributes_name_the_organisations() -> None:
    attrs = {
        "ssc.nl": {"org_id": "o:1;o:2", "org_name": "A;B", "org_type": "zbo;agency", "group": "g"}
    }
    got = domain_orgs(["ssc.nl", "x.nl"], attrs, {}, {})
    assert got["ssc.nl"] == (
        OrgRef("o:1", "A", "zbo", "", ("g",)),
        OrgRef("o:2", "B", "agency", "", ("g",)),
    )
    assert got["x.nl"] == ()


def test_trend_point_and_csv() -> None:
    refs = {
        "m1": OrgRef("m1", "M1", "municipality"),
        "m2": OrgRef("m2", "M2", "municipality"),
        "z1": OrgRef("z1", "Z1", "zbo", groups=("debate",)),
    }
    orgs_of = {"a.nl": (refs["m1"],), "b.nl": (refs["m2"],), "c.nl": (refs["z1"],)}
    p_old = trend_point(1, "2026-01-01", "type:municipality", OLD, orgs_of)
    p_new = trend_point(2, "2026-02-01", "type:municipality", NEW, orgs_of)
    assert (p_old.organisations, p_old.us_mailbox) == (2, 1)  # a.nl at Microsoft
    assert (p_new.organisations, p_new.us_mailbox) == (2, 1)  # b.nl at Google
    assert trend_point(2, "x", "debate", NEW, orgs_of).us_mailbox == 1
    assert trend_csv([p_old, p_new]).splitlines() == [
        "scan_id,started_at,group,organisations,us_mailbox,share",
        "1,2026-01-01,type:municipality,2,1,0.5000",
        "2,2026-02-01,type:municipality,2,1,0.5000",
    ]


def _store_scan(
    store: Store,
    found: list[Finding],
    domains: list[str],
    attrs: dict[str, dict[str, str]],
    dead: tuple[str, ...] = (),
) -> int:
    sid = store.start_scan(input="t.csv", input_digest=f"d{len(store.scans())}")
    batch = []
    for i, d in enumerate(domains):
        status = Status.NXDOMAIN if d in dead else Status.NOERROR
        answers = () if d in dead else (RR(d, "MX", 300, f"10 mx.{d}"),)
        obs = (Observation("mx", d, "MX", status, answers),)
        batch.append(
            (
                DomainResult(d, obs, attrs.get(d, {}), queries=1, position=i + 1),
                [x for x in found if x.domain == d],
            )
        )
    store.write_results(sid, batch, "kv1")
    store.finish_scan(sid)
    return sid


def test_diff_and_trend_commands_on_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite")
    store = Store(db)
    attrs = {
        "a.nl": {"org_id": "list:a", "org_name": "Gemeente A", "org_type": "municipality"},
        "b.nl": {"org_id": "list:b", "org_name": "Gemeente B", "org_type": "municipality"},
    }
    s1 = _store_scan(store, OLD, DOMAINS_OLD, attrs)
    s2 = _store_scan(store, NEW, DOMAINS_NEW, attrs, dead=("new.nl",))
    store.close()
    assert main(["diff", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"scan {s1} (") and "10 change events" in out[0]
    assert out[1].split()[:3] == ["PROVIDER_CHANGED", "Gemeente", "A"]
    assert "Gemeente A [list:a] | mailbox | Microsoft 365 (US) -> Hetzner (DE)" in out[1]
    assert any(
        line.startswith("NEW_US_DEPENDENCY") and "Gemeente B [list:b]" in line for line in out
    )
    assert any("c.nl | mail-gateway | Proofpoint (US) -> -" in line for line in out)
    assert out[-1] == "not compared: 1 domains only in the old scan, 1 only in the new one"
    assert main(["diff", "--db", db, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 10 and rows[0]["kind"] == "PROVIDER_CHANGED"
    assert rows[0]["subject"] == "list:a" and rows[0]["old"][0]["jurisdiction"] == "US"
    assert (rows[0]["old_scan"], rows[0]["new_scan"]) == (s1, s2)
    assert main(["diff", "--db", db, str(s2), str(s1)]) == 0
    assert "PROVIDER_CHANGED" in capsys.readouterr().out
    assert main(["diff", "--db", db, "99", "1"]) == 2
    assert "no scan with id 99" in capsys.readouterr().err

    csv_path, png = tmp_path / "t.csv", tmp_path / "t.png"
    rc = main(
        [
            "trend",
            "--db",
            db,
            "--group",
            "type:municipality",
            "--csv",
            str(csv_path),
            "--png",
            str(png),
        ]
    )
    assert rc == 0
    assert csv_path.read_text().splitlines()[1:] == [
        f"{s1},{store_started(db, s1)},type:municipality,2,1,0.5000",
        f"{s2},{store_started(db, s2)},type:municipality,2,1,0.5000",
    ]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_trend_of_an_unknown_group_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite")
    store = Store(db)
    _store_scan(store, OLD, DOMAINS_OLD, {})
    store.close()
    assert main(["trend", "--db", db, "--group", "type:zbo"]) == 2
    assert "no organisation of group(s) type:zbo in any scan" in capsys.readouterr().err


def store_started(db: str, sid: int) -> str:
    return next(s.started_at for s in Store(db).scans() if s.id == sid)


def test_diff_needs_two_scans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--db", str(tmp_path / "e.sqlite")]) == 2
    assert "holds 0 finished scan(s); a diff needs two" in capsys.readouterr().err


def test_events_on_domains_with_dns_errors_are_marked_uncertain() -> None:
    events = diff_scans(
        OLD,
        NEW,
        old_domains=DOMAINS_OLD,
        new_domains=DOMAINS_NEW,
        orgs_of={},
        incomplete={"c.nl"},
    )
    flagged = [e for e in events if e.uncertain]
    assert {e.subject for e in flagged} == {"c.nl"} and len(flagged) == 2
    assert flagged[0].render().endswith("[uncertain: DNS errors for c.nl]")
    assert not any(e.uncertain for e in events if e.subject != "c.nl")


def test_store_marks_dead_and_incomplete_domains(tmp_path: Path) -> None:
    from sovmap.orgs.store import load_scan, open_store

    db = str(tmp_path / "s.sqlite")
    store = Store(db)
    sid = store.start_scan(input="t", input_digest="t")
    ok = (Observation("mx", "a.nl", "MX", Status.NOERROR, (RR("a.nl", "MX", 1, "10 m.a.nl"),)),)
    dead = (Observation("mx", "b.nl", "MX", Status.NXDOMAIN),)
    shaky = (
        Observation("mx", "c.nl", "MX", Status.TIMEOUT),
        Observation("txt", "c.nl", "TXT", Status.NOERROR),
        Observation("dmarc", "_dmarc.c.nl", "TXT", Status.SERVFAIL),
    )
    refused_elsewhere = (
        Observation("mx", "d.nl", "MX", Status.NOERROR, (RR("d.nl", "MX", 1, "0 x.other.com"),)),
        Observation("mx-host", "x.other.com", "A", Status.REFUSED),
    )
    batch = [(DomainResult(o[0].qname, o), []) for o in (ok, dead, shaky, refused_elsewhere)]
    store.write_results(sid, batch, "kv")
    store.finish_scan(sid)
    data = load_scan(open_store(db), sid)
    assert data.dead == ("b.nl",)
    assert data.incomplete == ("c.nl",)


def test_organisations_of_a_stored_scan(tmp_path: Path) -> None:
    from sovmap.orgs.history import in_group
    from sovmap.orgs.service import organisations_of_scan

    db = str(tmp_path / "s.sqlite")
    store = Store(db)
    attrs = {"a.nl": {"org_id": "list:a", "org_name": "A", "org_type": "zbo", "group": "g1"}}
    sid = _store_scan(store, OLD, DOMAINS_OLD, attrs)
    store.close()
    got = organisations_of_scan(db, sid)
    assert got["a.nl"] == (OrgRef("list:a", "A", "zbo", "", ("g1",)),) and got["b.nl"] == ()
    assert in_group(got["a.nl"][0], "group:g1") and in_group(got["a.nl"][0], "type:zbo")
    assert not in_group(got["a.nl"][0], "parent:x")
