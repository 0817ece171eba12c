"""Screenshots of the main pages in English and Dutch (docs/screenshots/), and the CSV export
of the domains table downloaded the way a reader does it: the link under the table, in
headless Chromium against ``sovmap serve``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from tests.web.tour import ROOT, chromium, log_in, needs_chromium, served, visit

pytestmark = [pytest.mark.browser, needs_chromium]
SHOTS = ROOT / "docs" / "screenshots"
#: screenshot name -> page of tests.web.tour.PAGES
MAIN = {
    "overview": "overview",
    "domains": "domains",
    "organisation": "organisation",
    "cutoff": "cutoff",
    "exit-gantt": "exit",
}


def test_screenshots_in_both_languages_and_the_domains_csv(tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    made = []
    with served(tmp_path) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.set_default_timeout(60_000)
        log_in(page, base)
        for lang in ("en", "nl"):
            if lang == "nl":
                page.click("#lang-switch")
            for shot, name in MAIN.items():
                visit(page, base, name)
                assert page.locator("html").get_attribute("lang") == lang
                path = SHOTS / (f"{shot}.png" if lang == "en" else f"{shot}-{lang}.png")
                page.screenshot(path=str(path), full_page=True)
                made.append(path)
        # the domains table, filtered and sorted, downloaded from its CSV link (in Dutch)
        page.goto(base + "/domains?prefix=gemeente00001")
        page.click("#table-domains th a:text('Domein')")
        page.click("#table-domains th a:text('Domein')")  # again: descending
        with page.expect_download() as info:
            page.click("a[data-export='domains-csv']")
        text = Path(info.value.path()).read_text("utf-8-sig")
        got = list(csv.reader(io.StringIO(text)))
        assert got[0][0] == "Domein"
        names = [r[0] for r in got[1:]]
        assert len(names) == 10 and names == sorted(names, reverse=True)
        # a phone
        phone = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
        phone.set_default_timeout(60_000)
        log_in(phone, base)
        phone.screenshot(path=str(SHOTS / "overview-phone.png"), full_page=True)
        made.append(SHOTS / "overview-phone.png")
    for path in made:
        assert path.stat().st_size > 10_000, path
