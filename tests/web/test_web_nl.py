"""The Dutch UI in headless Chromium: the language switch in the header, then every page
(the cut-off and exit results included) read as a Dutch reader sees it, with no English UI
text left. The English strings come from the message catalogue itself: every English
message that differs from its Dutch one, cut at its placeholders, must be absent from the
Dutch page's text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.web.tour import PAGES, chromium, log_in, needs_chromium, served, visit

from sovmap.i18n import messages

pytestmark = [pytest.mark.browser, needs_chromium]


def english_fragments() -> dict[str, str]:
    """Pieces of English UI text (fragment -> its code): each English message that differs
    from its Dutch one, split at its placeholders; pieces with two or more words or of
    eight or more letters (a short word alone could be a name)."""
    en, nl = messages("en"), messages("nl")
    out: dict[str, str] = {}
    for code, text in en.items():
        if nl.get(code) == text:
            continue
        dutch = nl.get(code, "")
        for piece in re.split(r"\{[^}]*\}", text):
            piece = piece.strip(" .,:;()–-…\n")
            letters = sum(c.isalpha() for c in piece)
            long_enough = (" " in piece and letters >= 5) or letters >= 8
            if long_enough and piece not in dutch:  # a piece both languages share is no tell
                out.setdefault(piece, code)
    return out


def english_left(text: str, fragments: dict[str, str]) -> dict[str, str]:
    found = {}
    for piece, code in fragments.items():
        left = r"\b" if piece[0].isalnum() else ""
        right = r"\b" if piece[-1].isalnum() else ""
        if re.search(left + re.escape(piece) + right, text):
            found[piece] = code
    return found


#: text on the pages that is data, not UI: names and identifiers from the store, the
#: register and the knowledge base (removed before the check). In the exit plan's Gantt
#: chart the task, team and platform names come from the plan templates and are marked
#: data-from="plan"; its title, months and marks are checked like the other charts.
DATA = "code, pre, #table-findings td:nth-child(2), .evidence, [data-from]"


def page_text(page: Any) -> str:
    return str(
        page.evaluate(
            """sel => { const c = document.body.cloneNode(true);
            c.querySelectorAll(sel).forEach(e => e.remove());
            return c.innerText; }""",
            DATA,
        )
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with served(tmp_path_factory.mktemp("nl")) as url:
        yield url


def test_fragments_come_from_the_catalogue() -> None:
    fr = english_fragments()
    assert "at a US-controlled provider" in fr and "Skip to the content" in fr
    assert len(fr) > 300
    assert english_left("Zie ook: at a US-controlled provider.", fr)
    assert not english_left("bij een door de VS beheerste aanbieder", fr)


def test_every_page_in_dutch(base: str) -> None:
    fragments = english_fragments()
    left: dict[str, dict[str, str]] = {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page.set_default_timeout(60_000)
        page.goto(base + "/login")
        assert page.locator("html").get_attribute("lang") == "en"
        page.click("#lang-switch")  # the switch in the header; remembered in a cookie
        page.wait_for_url(base + "/login")
        assert page.locator("html").get_attribute("lang") == "nl"
        assert page.locator("h1").inner_text() == "Inloggen"
        left["login"] = english_left(page_text(page), fragments)
        log_in(page, base)
        for name in PAGES:
            visit(page, base, name)
            assert page.locator("html").get_attribute("lang") == "nl", name
            text = page_text(page)
            assert "Overzicht" in text and "Uitloggen" in text, name  # the Dutch menu
            left[name] = english_left(text, fragments)
        # Dutch numbers: thousands with a full stop, decimals with a comma
        page.goto(base + "/exit?deadline=9mo")
        assert re.search(r"\d+,\d+%", page.locator("#p-deadline").inner_text())
        # and back to English with the same switch
        page.click("#lang-switch")
        assert page.locator("html").get_attribute("lang") == "en"
    bad = {k: v for k, v in left.items() if v}
    assert not bad, bad
