"""The report in Dutch and English: ``report.nl.html`` holds no English UI text (checked
against the message catalogue, as the web app's Dutch pages are), its numbers and dates are
written the Dutch way, and each language links to the brief in the same language."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.support.webstore import fill
from tests.web.test_web_nl import english_fragments, english_left

from sovmap.cli import main
from sovmap.i18n import t
from sovmap.store.migrate import open_engine

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "examples" / "register"
EXIT = ROOT / "examples" / "scenario" / "ldh-exit-m365.yaml"
#: more domains than --max-domains, and more than a thousand: "1.100" in Dutch
DOMAINS = 1100

#: elements whose text is data, not UI: identifiers, queries, records and plan names
DATA_TAGS = {"code", "pre", "style", "script"}


class _Text(HTMLParser):
    """The text a reader sees, without the data elements (DATA_TAGS, ``data-from``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: is it data?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"meta", "br", "img", "input", "link", "hr"}:
            return
        data = tag in DATA_TAGS or any(k == "data-from" for k, _ in attrs)
        self.stack.append(data or (bool(self.stack) and self.stack[-1]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag not in {"meta", "br", "img", "input", "link", "hr"} and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report-nl")
    db = tmp / "store.db"
    engine = open_engine(str(db))
    fill(engine, n=DOMAINS, with_orgs=False)
    engine.dispose()
    out = tmp / "out"
    args = ["report", "--db", str(db), "--register", str(REGISTER), "--out", str(out)]
    args += ["--exit-settings", str(EXIT), "--runs", "300", "--max-domains", "60"]
    assert main(args) == 0
    return out


def test_both_languages_are_written(built: Path) -> None:
    for name in ("report.en.html", "report.nl.html", "report.en.md", "report.nl.md"):
        assert (built / name).stat().st_size > 1000, name
    # report.html and report.md stay: the English report under its old name
    assert (built / "report.html").read_bytes() == (built / "report.en.html").read_bytes()
    assert (built / "report.md").read_bytes() == (built / "report.en.md").read_bytes()
    nl = (built / "report.nl.html").read_text("utf-8")
    en = (built / "report.en.html").read_text("utf-8")
    assert '<html lang="nl">' in nl and '<html lang="en">' in en
    # each links to the brief in its own language and to the other language's report
    assert 'id="brief-link" href="brief.nl.html"' in nl
    assert 'id="brief-link" href="brief.en.html"' in en
    assert 'href="report.en.html"' in nl and 'href="report.nl.html"' in en
    assert "brief.en.html" not in nl and "brief.nl.html" not in en


def test_no_english_ui_text_in_the_dutch_report(built: Path) -> None:
    fragments = english_fragments()
    text = visible_text((built / "report.nl.html").read_text("utf-8"))
    assert t("nl", "REPORT_FINDINGS") in text and t("nl", "REPORT_CUTOFF") in text
    assert english_left(text, fragments) == {}
    md = (built / "report.nl.md").read_text("utf-8")
    md = re.sub(r"`[^`]*`", "", md)  # queries and identifiers are data
    assert english_left(md, fragments) == {}
    # the English report does say them: the check can fail
    en = visible_text((built / "report.en.html").read_text("utf-8"))
    found = english_left(en, fragments)
    for code in ("REPORT_HEADLINE", "REPORT_CUTOFF", "REPORT_FINDINGS", "REPORT_QUERIES"):
        assert code in found.values(), code


def test_dutch_numbers_and_dates(built: Path) -> None:
    nl = visible_text((built / "report.nl.html").read_text("utf-8"))
    en = visible_text((built / "report.en.html").read_text("utf-8"))
    # the scan line: a Dutch date and 1.100 domains; English 1,100 and a capital month
    assert re.search(r"gestart 1 juni 2026 00:00; 1\.100 domeinen", nl), nl[:600]
    assert re.search(r"started 1 June 2026 00:00; 1,100 domains", en)
    assert "60 van 1.100 domeinen" in nl and "60 of 1,100 domains" in en
    # control unknown is said as unknown (the jurisdiction classes of the charts)
    assert "onbekend" in nl and "unknown" not in nl and "unknown" in en
    # confidences and evidence weights with a decimal comma, none with a decimal point
    nl_html = (built / "report.nl.html").read_text("utf-8")
    confidences = re.findall(r'<td class="num">([^<]*)</td>\s*<td><details>', nl_html)
    assert confidences and all(re.fullmatch(r"[01],\d\d", c) for c in confidences)
    assert re.search(r"gewicht \d,\d\d", nl)
    # the charts: titles and shares in Dutch
    assert t("nl", "REPORT_CHART_US_SHARE") in nl_html
    assert re.search(r">\d+(,\d)?%<", nl_html) and not re.search(r">\d+\.\d%<", nl_html)
    charts = re.findall(r"<svg.*?</svg>", nl_html, re.S)
    assert len(charts) >= 4  # jurisdictions, US share, trend, cut-off, Gantt
    for chart in charts:  # tooltips too: 25,0%, never 25.0%
        assert not re.search(r"\d\.\d+%", chart), re.search(r".{60}\d\.\d+%", chart)
    assert re.search(r"@ #\d: \d+,\d%", nl_html)  # the trend's tooltips
    md = (built / "report.nl.md").read_text("utf-8")
    assert re.search(r"\| \d+(,\d)?% \|", md) and "1.100 domeinen" in md


def test_unknown_is_said_not_zero(tmp_path: Path) -> None:
    """A store without a scan: the report says so in each language, and the brief's figures
    that cannot be known are "onbekend"/"unknown", never 0."""
    db = tmp_path / "empty.db"
    engine = open_engine(str(db))
    from sovmap.store.migrate import upgrade

    upgrade(engine)
    engine.dispose()
    out = tmp_path / "out"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    nl = visible_text((out / "report.nl.html").read_text("utf-8"))
    assert t("nl", "REPORT_NO_SCAN") in nl and t("en", "REPORT_NO_SCAN") not in nl
    brief = visible_text((out / "brief.nl.html").read_text("utf-8"))
    assert t("nl", "REPORT_ALL_ORGANISATIONS") in brief
    assert "all organisations" not in brief
