"""Accessibility (WCAG 2.1 A/AA, as EN 301 549 asks of Dutch public-sector software) and
mobile layout, in headless Chromium against ``sovmap serve``: axe-core (npm, installed into
.tools/ by ``make system-deps``) on every page, the cut-off and exit results included, with
0 violations; the log-in, cut-off and exit forms used with the keyboard only (Tab, Space,
arrow keys and Enter) with a visible focus; no horizontal overflow at 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.webstore import PASSWORD
from tests.web.tour import AXE, PAGES, chromium, log_in, needs_chromium, served, visit

pytestmark = [pytest.mark.browser, needs_chromium]
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe(page: Any) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA violations axe-core finds on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text("utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {
            "id": v["id"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
            "summary": v["nodes"][0].get("failureSummary", "")[:300],
        }
        for v in result["violations"]
    ]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run make system-deps")
    with served(tmp_path_factory.mktemp("a11y")) as url:
        yield url


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_page_has_no_wcag_violations(base: str, lang: str) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    with chromium() as browser:
        # bypass_csp: only so that the test can inject axe-core (the CSP is tested elsewhere)
        ctx = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale=lang, bypass_csp=True
        )
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(base + "/login")
        assert page.locator("html").get_attribute("lang") == lang
        found["login"] = axe(page)
        log_in(page, base)
        for name in PAGES:
            visit(page, base, name)
            found[name] = axe(page)
        # a page with a form error and the sorted, filtered domain list
        page.goto(base + "/domains?prefix=gemeente&sort=domains.mailbox&dir=desc")
        found["domains-sorted"] = axe(page)
    bad = {k: v for k, v in found.items() if v}
    assert len(found) == len(PAGES) + 2
    assert not bad, bad


def _focused(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
            return {id: e.id, tag: e.tagName, outline: s.outlineStyle,
                    width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; }"""
        )
    )


def _tab_to(page: Any, element_id: str, limit: int = 80) -> None:
    """Press Tab until ``element_id`` has the focus; its focus must be visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        f = _focused(page)
        if f["id"] == element_id:
            assert f["outline"] != "none" and f["width"] >= 2, f  # focus visible
            return
    raise AssertionError(f"#{element_id} not reached with Tab")


def test_forms_work_with_the_keyboard_only(base: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        # log in: Tab to each field, type, Enter
        page.goto(base + "/login")
        _tab_to(page, "username")
        page.keyboard.type("viewer")
        _tab_to(page, "password")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/")
        # cut-off: choose the jurisdiction with the arrow keys, submit with Enter
        page.goto(base + "/cutoff")
        _tab_to(page, "jurisdiction")
        for _ in range(12):
            if page.eval_on_selector("#jurisdiction", "e => e.value") == "US":
                break
            page.keyboard.press("ArrowDown")
        assert page.eval_on_selector("#jurisdiction", "e => e.value") == "US"
        _tab_to(page, "run-cutoff")
        page.keyboard.press("Enter")
        page.wait_for_selector("#cutoff-result")
        assert "jurisdiction=US" in page.url
        # exit plan: type a deadline, tick a what-if with Space, submit with Enter
        page.goto(base + "/exit")
        _tab_to(page, "deadline")
        page.keyboard.type("9mo")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        assert page.eval_on_selector("input[name=what_if]", "e => e.checked")
        _tab_to(page, "run-exit")
        page.keyboard.press("Enter")
        page.wait_for_selector("#table-whatif")
        assert "deadline=9mo" in page.url and "what_if=" in page.url


def test_no_horizontal_overflow_on_a_phone(base: str, tmp_path: Path) -> None:
    wide: dict[str, tuple[int, int]] = {}
    with chromium() as browser:
        ctx = browser.new_context(
            viewport={"width": 375, "height": 740}, is_mobile=True, device_scale_factor=2
        )
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        page.goto(base + "/login")
        log_in(page, base)
        for name in PAGES:
            visit(page, base, name)
            sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if sw > iw:
                wide[name] = (sw, iw)
    assert not wide, wide
