"""Accept, dispute and annotate a finding: the domain page's form (editors, CSRF), the API
(bearer, typed), the audit log, messages by code only, and a dispute that holds for the same
finding in a later scan."""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.support.storegen import add_scan, domain_findings
from tests.support.webstore import PASSWORD, Store, auth, fill
from tests.web.test_web_api import login, session_csrf

from sovmap import figures
from sovmap.store import notes as nt
from sovmap.store.migrate import open_engine
from sovmap.store.snapshots import latest_finished
from sovmap.web.app import create_app
from sovmap.web.tables import audit_log

DOMAIN = "gemeente000001.nl"
CHROMIUM = os.environ.get("SOVMAP_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _mailbox_provider(c: TestClient, store: Store) -> str:
    found = c.get(f"/api/domains/{DOMAIN}", headers=auth(store, "viewer")).json()
    return str(next(f["provider"] for f in found["findings"] if f["capability"] == "mailbox"))


def test_api_notes_roles_validation_and_history(store: Store) -> None:
    with TestClient(create_app(store.engine)) as c:
        prov = _mailbox_provider(c, store)
        body = {
            "domain": DOMAIN,
            "capability": "mailbox",
            "provider": prov,
            "status": "disputed",
            "text": "MX moved to an EU host on 1 December",
        }
        # viewers read but do not write; anonymous gets nothing
        assert (
            c.post("/api/findings/notes", json=body, headers=auth(store, "viewer")).status_code
            == 403
        )
        assert c.get("/api/findings/notes").status_code == 401
        r = c.post("/api/findings/notes", json=body, headers=auth(store, "editor"))
        assert r.status_code == 201, r.text
        made = r.json()
        assert (
            made["status"] == "disputed" and made["user"] == "editor" and made["domain"] == DOMAIN
        )
        # typed refusals: a dispute without a reason, an unknown capability or status
        bad = {**body, "text": ""}
        r = c.post("/api/findings/notes", json=bad, headers=auth(store, "editor"))
        assert r.status_code == 422 and r.json()["detail"].startswith("Say why")
        for field, value in (("capability", "mail"), ("status", "rejected"), ("provider", "A B")):
            r = c.post(
                "/api/findings/notes", json={**body, field: value}, headers=auth(store, "editor")
            )
            assert r.status_code == 422, field
        # an accept later ends the dispute; the history keeps both, newest first
        ok = {**body, "status": "accepted", "text": ""}
        assert (
            c.post("/api/findings/notes", json=ok, headers=auth(store, "admin")).status_code == 201
        )
        listed = c.get(f"/api/findings/notes?domain={DOMAIN}", headers=auth(store, "viewer")).json()
        assert [n["status"] for n in listed["notes"]] == ["accepted", "disputed"]
        assert listed["disputed"] == []
        # notes are never changed or deleted
        r = c.delete("/api/findings/notes", headers=auth(store, "admin"))
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        # the OpenAPI document declares the routes with their types
        schema = c.get("/openapi.json").json()
        assert "post" in schema["paths"]["/api/findings/notes"]
        assert "NoteIn" in schema["components"]["schemas"]
    with store.engine.connect() as conn:
        acts = conn.execute(
            select(audit_log.c.action, audit_log.c.username, audit_log.c.target).where(
                audit_log.c.action == "finding.note"
            )
        ).all()
    assert [(a, u) for a, u, _ in acts] == [("finding.note", "editor"), ("finding.note", "admin")]
    assert acts[0][2] == f"{DOMAIN}/mailbox/{prov}"


def test_domain_page_form_for_editors_and_a_dispute_that_survives_a_rescan(store: Store) -> None:
    app = create_app(store.engine)
    with TestClient(app) as viewer, TestClient(app) as editor:
        login(viewer, "viewer")
        page = viewer.get(f"/domains/{DOMAIN}").text
        assert 'class="finding-notes"' in page and 'class="note-form"' not in page
        prov = _mailbox_provider(viewer, store)
        # a viewer's POST is refused
        r = viewer.post(
            f"/domains/{DOMAIN}/notes",
            data={
                "csrf": session_csrf(viewer),
                "capability": "mailbox",
                "provider": prov,
                "status": "noted",
                "text": "x",
            },
            follow_redirects=False,
        )
        assert r.status_code == 403

        login(editor, "editor")
        csrf = session_csrf(editor)
        page = editor.get(f"/domains/{DOMAIN}").text
        assert 'class="note-form"' in page and f'value="{prov}"' in page
        form = {
            "csrf": csrf,
            "capability": "mailbox",
            "provider": prov,
            "status": "disputed",
            "text": "",
        }
        # without CSRF: refused; with an empty reason: back with a message chosen by code
        assert (
            editor.post(
                f"/domains/{DOMAIN}/notes", data={**form, "csrf": "x"}, follow_redirects=False
            ).status_code
            == 403
        )
        r = editor.post(f"/domains/{DOMAIN}/notes", data=form, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith(
            "?note_error=NOTE_TEXT_NEEDED#findings-notes"
        )
        assert "Say why" in editor.get(r.headers["location"]).text
        # no text from the query string is ever shown
        assert "<script>" not in editor.get(f"/domains/{DOMAIN}?note_error=<script>x").text
        r = editor.post(
            f"/domains/{DOMAIN}/notes",
            data={**form, "text": "the MX is <b>ours</b>"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        after = editor.get(r.headers["location"]).text
        assert "The note is saved." in after
        block = after.split(f'id="note-mailbox-{prov}"')[1].split("</details>")[0]
        assert "<strong>Disputed</strong>" in block and "the MX is &lt;b&gt;ours&lt;/b&gt;" in block
        assert 'data-status="disputed"' in after

        # a later scan finds the same thing again: the dispute holds (scan-independent key)
        seed = next(
            n
            for n in range(1, 500)
            if domain_findings(DOMAIN, random.Random(n), 0.5)[0].provider == prov
        )
        with store.engine.begin() as conn:
            new = add_scan(
                conn, [(DOMAIN, {})], seed=seed, us_bias=0.5, started_at="2026-11-01T00:00:00Z"
            )
        page = editor.get(f"/domains/{DOMAIN}").text
        assert f"scan={new}" in page and f'id="note-mailbox-{prov}"' in page
        assert 'data-status="disputed"' in page
        with store.engine.connect() as conn:
            assert (DOMAIN, "mailbox", prov) in nt.disputed(conn)

        # Dutch
        editor.cookies.set("sovmap_lang", "nl")
        nl = editor.get(f"/domains/{DOMAIN}").text
        assert re.search(r"Notities \(\d+\)", nl) and "Betwist" in nl


def test_a_disputed_finding_is_marked_in_the_brief_and_the_report(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sovmap.report.build import ReportOptions, build_report, compute_brief
    from sovmap.report.render import brief_markdown

    with store.engine.connect() as conn:
        scan = latest_finished(conn)
        assert scan is not None
        before = figures.compute(conn, scan)
    mail_us = before["mailbox_us_domains"]
    dom, cap, _cls, prov = mail_us.rows[0][:4]
    with store.engine.begin() as conn:
        nt.add_note(conn, dom, cap, prov, "disputed", "MX changed last week", "editor")
    with store.engine.connect() as conn:
        after = figures.compute(conn, scan)
        brief = compute_brief(conn, "test", None, None, None, None)
    # the figure is counted as its definition says: unchanged by the dispute
    assert after.value("mailbox_us_domains") == mail_us.value
    for lang, said in (("en", "of which disputed: 1"), ("nl", "waarvan betwist: 1")):
        md = brief_markdown(brief, lang)
        line = next(x for x in md.splitlines() if f"**{mail_us.value}**" in x and said in x)
        assert line
        assert f"{dom}, {cap}, {prov}" in md and "MX changed last week" in md
    rows = brief.rows["mailbox_us_domains"]
    assert rows.header[-1] == "disputed" and len(rows.rows) == mail_us.value
    assert [r[-1] for r in rows.rows if r[0] == dom] == ["disputed"]
    assert sum(1 for r in rows.rows if r[-1] == "disputed") == 1
    # sovmap figures: the value as defined, the disputed rows on a line of their own
    from sovmap.cli import main

    capsys.readouterr()
    assert main(["figures", "--db", str(store.engine.url.database), "--lang", "nl"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(x.startswith("mailbox_us_domains ") and f" {mail_us.value} " in x for x in out)
    assert "mailbox_us_domains                       waarvan betwist: 1" in out
    # the HTML report states it beside the figure and marks the finding
    out = tmp_path / "report"
    build_report(store.engine, "test", out, ReportOptions(max_domains=500))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-disputed="1"' in html and "(of which disputed: 1)" in html
    assert f"<td>{dom}</td>" in html and "<strong>disputed</strong>" in html


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed")
def test_dispute_a_finding_in_the_browser(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright
    from tests.web.serving import serve
    from tests.web.test_a11y import axe

    db = tmp_path / "notes.db"
    engine = open_engine(str(db))
    fill(engine, n=10)
    engine.dispose()
    with serve(str(db), "--host", "127.0.0.1") as s, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            # bypass_csp: only so that the test can inject axe-core (the CSP is tested elsewhere)
            page = browser.new_context(bypass_csp=True).new_page()
            page.set_default_timeout(30_000)
            page.goto(s.url + f"/login?next=/domains/{DOMAIN}")
            page.fill("#username", "editor")
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(f"**/domains/{DOMAIN}")
            block = page.locator(".finding-notes").first
            block.locator("summary").click()
            expect(block.locator("form.note-form")).to_be_visible()
            assert axe(page) == []
            block.locator("select[name=status]").select_option("disputed")
            block.locator("textarea[name=text]").fill("The MX records changed on 1 December.")
            block.locator("button[type=submit]").click()
            expect(page.get_by_role("status")).to_contain_text("The note is saved.")
            first = page.locator(".finding-notes").first
            expect(first).to_have_attribute("data-status", "disputed")
            expect(first.locator(".note-status")).to_contain_text("Disputed")
            expect(first.locator(".note-history li")).to_have_count(1)
            assert axe(page) == []
        finally:
            browser.close()
