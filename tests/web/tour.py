"""A served store and headless Chromium for the browser tests of every page (accessibility,
the Dutch UI, mobile layout): ``sovmap serve`` on loopback over a generated store with two
scans, organisations, users and the example register; Debian's Chromium driven by
Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.support.webstore import PASSWORD, fill
from tests.web.serving import serve

from sovmap.store.migrate import open_engine

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SOVMAP_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Chromium is not installed"
)

#: every page an admin reaches from the menu, by name: path (``{org}``, ``{service}``
#: filled from the listings). The cut-off and exit results are reached by submitting their
#: forms (see :func:`visit`).
PAGES: dict[str, str] = {
    "overview": "/",
    "domains": "/domains",
    "domain": "/domains/gemeente000001.nl",
    "organisations": "/orgs",
    "organisation": "{org}",
    "provider": "/providers/microsoft",
    "changes": "/changes",
    "trends": "/trends",
    "map": "/map",
    "register": "/register",
    "register-service": "{service}",
    "admin": "/admin",
    "account": "/account",
    "error": "/no/such/page",
    "cutoff": "/cutoff",
    "exit": "/exit",
}


@contextmanager
def served(tmp_path: Path, n: int = 40) -> Iterator[str]:
    """``sovmap serve`` on a store of ``n`` generated domains, with the example register and
    exit settings: the server every browser test drives."""
    db = tmp_path / "tour.db"
    engine = open_engine(str(db))
    fill(engine, n=n)
    engine.dispose()
    with serve(
        str(db),
        "--host",
        "127.0.0.1",
        "--register",
        str(ROOT / "examples" / "register"),
        "--exit-settings",
        str(ROOT / "examples" / "scenario" / "ldh-exit-m365.yaml"),
    ) as s:
        yield s.url


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, base: str, user: str = "admin") -> None:
    page.goto(base + "/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/")


def visit(page: Any, base: str, name: str) -> None:
    """Open one page of :data:`PAGES`; the cut-off and exit pages with their results (the
    form filled in and submitted)."""
    path = PAGES[name]
    if path == "{org}":
        page.goto(base + "/orgs")
        path = page.locator("#table-orgs tbody a").first.get_attribute("href")
    elif path == "{service}":
        page.goto(base + "/register")
        path = page.locator("#table-register tbody a").first.get_attribute("href")
    page.goto(base + path)
    if name == "cutoff":
        page.select_option("#jurisdiction", "US")
        page.click("#run-cutoff")
        page.wait_for_selector("#cutoff-result")
    elif name == "exit":
        page.fill("#deadline", "9mo")
        page.check("input[value='capacity+2']")
        page.click("#run-exit")
        page.wait_for_selector("#table-whatif")
