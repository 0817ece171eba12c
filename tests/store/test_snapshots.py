"""The one "latest scan" rule: the newest finished scan; a running scan (live lease) and an
interrupted one (no live lease) are never the latest result, and every surface — explain,
export, report, figures, the web — shows the latest finished scan and names the newer one."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from sovmap.cli import main
from sovmap.model import Capability, DomainResult, Finding
from sovmap.store import Store
from sovmap.store.schema import scans
from sovmap.store.snapshots import INTERRUPTED, RUNNING, scan_state
from sovmap.web.app import create_app
from sovmap.web.auth import create_token, create_user


def _mailbox(domain: str, provider: str, jur: str) -> Finding:
    return Finding(
        domain, Capability.MAILBOX, provider, provider, "", jur, 0.9, "C", role="primary"
    )


def _store(tmp_path: Path) -> tuple[Store, int, int]:
    """A finished scan (old.example at NL) and a newer one still running (new.example at US)."""
    store = Store(tmp_path / "s.sqlite")
    done = store.start_scan(input="a", input_digest="a")
    store.write_results(
        done,
        [
            (
                DomainResult("old.example", (), {}, 0, 0, 0),
                [_mailbox("old.example", "nl-host", "NL")],
            )
        ],
        "kv",
    )
    store.finish_scan(done)
    running = store.start_scan(input="b", input_digest="b")  # holds its lease from here on
    store.write_results(
        running,
        [
            (
                DomainResult("new.example", (), {}, 0, 0, 0),
                [_mailbox("new.example", "us-host", "US")],
            )
        ],
        "kv",
    )
    return store, done, running


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_states_from_the_lease() -> None:
    assert scan_state("done", None) == "done"
    assert scan_state("running", None) == INTERRUPTED
    assert scan_state("running", "2000-01-01T00:00:00Z") == INTERRUPTED
    from sovmap.store.snapshots import now_iso

    assert scan_state("running", now_iso()) == RUNNING


def test_surfaces_show_the_latest_finished_scan_while_a_newer_one_runs(tmp_path: Path) -> None:
    store, done, running = _store(tmp_path)
    db = str(tmp_path / "s.sqlite")
    try:
        states = {s.id: s.state for s in store.scans()}
        assert states == {done: "done", running: RUNNING}
        assert store.latest_finished() is not None and store.latest_finished().id == done  # type: ignore[union-attr]

        code, out, err = _run("explain", "old.example", "--db", db)
        assert code == 0 and f"(scan {done})" in out and "nl-host" in out
        assert f"scan {running} is still running" in err
        code, out, err = _run("explain", "new.example", "--db", db)
        assert code == 2 and f"not in scan {done}" in err  # the running scan is no result yet

        code, _, err = _run("export", str(tmp_path / "x.csv"), "--db", db)
        assert code == 0 and f"scan {running} is still running" in err
        rows = (tmp_path / "x.csv").read_text().splitlines()
        assert len(rows) == 2 and rows[1].startswith("old.example,")

        code, out, err = _run("figures", "--db", db, "--format", "json")
        assert code == 0 and json.loads(out)["domains_scanned"]["value"] == 1
        assert f"scan {running} is still running" in err

        code, _, _ = _run("report", "--db", db, "--out", str(tmp_path / "rep"))
        assert code == 0
        html = (tmp_path / "rep" / "report.html").read_text()
        assert f"scan {running} is still running" in html and f"Scan #{done}" in html

        with store.engine.begin() as conn:
            uid = create_user(conn, "v", "correct horse battery", "viewer")
            token = create_token(conn, uid, "t")
        with TestClient(create_app(store.engine), base_url="http://testserver") as client:
            h = {"Authorization": f"Bearer {token}"}
            page = client.get("/", headers=h)
            assert f"scan {running} is still running" in page.text
            assert client.get("/api/figures", headers=h).json()["domains_scanned"]["value"] == 1
            assert client.get("/api/domains/old.example", headers=h).status_code == 200
    finally:
        store.close()


def test_a_scan_without_a_live_lease_is_interrupted(tmp_path: Path) -> None:
    store, _done, running = _store(tmp_path)
    store.release_lease(running)  # the process is gone: nobody renews the lease
    with store.engine.begin() as conn:
        conn.execute(
            update(scans).where(scans.c.id == running).values(heartbeat_at="2000-01-01T00:00:00Z")
        )
    assert {s.id: s.state for s in store.scans()}[running] == INTERRUPTED
    code, _out, err = _run("explain", "old.example", "--db", str(tmp_path / "s.sqlite"))
    assert code == 0 and f"scan {running} was interrupted" in err
    store.close()


@pytest.mark.parametrize(
    "text",
    [
        "https://www.old.example/contact",
        "OLD.EXAMPLE.",
        "mailto:info@old.example",
        "www.old.example",
    ],
)
def test_explain_takes_what_the_scan_takes(tmp_path: Path, text: str) -> None:
    store, done, _ = _store(tmp_path)
    code, out, _ = _run("explain", text, "--db", str(tmp_path / "s.sqlite"))
    assert code == 0 and out.startswith(f"old.example (scan {done})")
    store.close()
