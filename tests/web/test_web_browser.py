"""Headless Chromium (Debian's, driven by Playwright) against ``sovmap serve`` on loopback:
log in, open the overview and an organisation, run a cut-off scenario, open the exit plan;
screenshots go to docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.webstore import PASSWORD
from tests.web.tour import served

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("SOVMAP_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with served(tmp_path, n=80) as url:
        yield url


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed")
def test_log_in_browse_and_run_a_cutoff(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(30_000)
            # anonymous: sent to the log-in page, and no data shown
            page.goto(server + "/")
            assert "/login" in page.url
            page.fill("#username", "viewer")
            page.fill("#password", "wrong password!")
            page.click("main button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
            page.fill("#username", "viewer")
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            expect(page.locator("h1")).to_have_text("Overview")
            expect(page.locator("#chart-jurisdiction svg")).to_be_visible()
            page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

            # sortable table: clicking the header sorts by domains
            page.click("#table-providers th:has-text('Domains')")
            page.click("#table-providers th:has-text('Domains')")
            first = page.locator("#table-providers tbody tr td.num").first.inner_text()
            counts = page.locator("#table-providers tbody tr td.num").all_inner_texts()
            assert int(first) == max(int(c) for c in counts)

            # an organisation, its findings and the evidence behind one
            page.click("a[href='/orgs']")
            page.fill("input[name=search]", "Gemeente 000007")
            page.click("main form button[type=submit]")
            page.click("text=Gemeente 000007")
            expect(page.locator("#org-name")).to_have_text("Gemeente 000007")
            page.locator("details.evidence summary").first.click()
            expect(page.locator("details.evidence li").first).to_contain_text("MX")
            page.screenshot(path=str(SHOTS / "organisation.png"), full_page=True)

            # the cut-off scenario runner
            page.click("a[href='/cutoff']")
            page.select_option("#jurisdiction", "US")
            page.click("#run-cutoff")
            expect(page.locator("#cutoff-result")).to_be_visible()
            expect(page.locator("#table-cutoff tbody tr").first).to_contain_text("down")
            expect(page.locator("#cutoff-matched")).to_contain_text(
                "microsoft-ireland: controlled from US"
            )
            # the form offers controlling jurisdictions and EU / non-EU, not headquarters
            options = page.locator("#jurisdiction option")
            offered = options.evaluate_all("os => os.map(o => o.value)")
            assert "non-EU" in offered and "EU" in offered and "IE" not in offered
            page.screenshot(path=str(SHOTS / "cutoff.png"), full_page=True)

            # the exit plan and its Gantt chart against a nine-month deadline
            page.goto(server + "/exit?deadline=9mo&what_if=capacity%2B2")
            expect(page.locator("#gantt svg")).to_be_visible()
            expect(page.locator("#p-deadline")).to_contain_text("%")
            page.screenshot(path=str(SHOTS / "exit-gantt.png"), full_page=True)

            # log out: the session ends
            page.click("header button:has-text('Log out')")
            assert "/login" in page.url
            page.goto(server + "/orgs")
            assert "/login" in page.url
        finally:
            browser.close()
    for name in ("overview", "organisation", "cutoff", "exit-gantt"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
