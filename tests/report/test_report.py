"""``sovmap report``: files, self-containment, traceability of every figure, both languages."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.support.webstore import fill

from sovmap.cli import main
from sovmap.report.build import compute_brief
from sovmap.report.i18n import messages
from sovmap.store.migrate import open_engine
from sovmap.store.schema import findings

ROOT = Path(__file__).resolve().parents[2]
REGISTER = ROOT / "examples" / "register"
EXIT = ROOT / "examples" / "scenario" / "ldh-exit-m365.yaml"
#: figures that count the rows of their CSV
COUNTS = (
    "Q1_DOMAINS",
    "Q1_MAIL_US",
    "Q1_GATEWAY_US",
    "Q1_PROCESSES_US",
    "Q1_REGISTERS_US",
    "Q2_SERVICES_US",
    "Q2_MOVES",
    "Q3_DATA",
    "Q5_SCOPE",
    "Q6_OPTIONS",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "store.db"
    engine = open_engine(str(db))
    fill(engine, n=40)
    engine.dispose()
    out = tmp / "out"
    code = main(
        [
            "report",
            "--db",
            str(db),
            "--register",
            str(REGISTER),
            "--exit-settings",
            str(EXIT),
            "--runs",
            "500",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return db, out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_files_are_written_and_self_contained(built: tuple[Path, Path]) -> None:
    _, out = built
    for name in ("report.html", "report.md", "brief.en.html", "brief.nl.html", "brief.en.md"):
        assert (out / name).stat().st_size > 1000, name
    for name in ("report.html", "brief.en.html", "brief.nl.html"):
        html = (out / name).read_text()
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), name
        assert "<style>" in html
    report = (out / "report.html").read_text()
    assert report.count("<svg") >= 4  # jurisdictions, US share, trend, cut-off, Gantt
    assert 'class="sortable"' in report
    assert report.count("<details>") >= 40  # every finding expandable to its evidence
    assert "gemeente000003.nl IN MX" not in report  # evidence shows records, not raw dumps
    assert "MX 10 gemeente000003-nl" in report


def test_every_figure_is_traceable(built: tuple[Path, Path]) -> None:
    db, out = built
    md = (out / "brief.en.md").read_text()
    links = re.findall(r"\]\((data/[a-z0-9_]+\.csv)\)", md)
    assert len(links) >= 25
    for link in links:
        assert (out / link).exists(), link
    engine = open_engine(str(db))
    with engine.connect() as conn:
        brief = compute_brief(conn, "test", None, None, None, None)
        us_mail = conn.execute(
            select(func.count(func.distinct(findings.c.domain))).where(
                (findings.c.scan_id == 2)
                & (findings.c.capability == "mailbox")
                & (findings.c.jurisdiction == "US")
            )
        ).scalar_one()
    engine.dispose()
    q1 = {f.code: f for f in brief.sections[0].figures}
    assert q1["Q1_MAIL_US"].value == us_mail
    assert len(_csv_rows(out / "data" / f"{q1['Q1_MAIL_US'].rows}.csv")) == us_mail
    # with the register: each counting figure equals the rows of its CSV
    text = md
    for code in COUNTS:
        label = messages("en")[code].split("{")[0].strip()
        m = re.search(
            re.escape(label) + r"[^|]*\| \*\*([\d,]+)\*\* \| \[rows\]\((data/\w+\.csv)\)", text
        )
        assert m, code
        assert int(m.group(1).replace(",", "")) == len(_csv_rows(out / m.group(2))), code


def test_brief_in_dutch_and_english(built: tuple[Path, Path]) -> None:
    _, out = built
    assert set(messages("en")) == set(messages("nl"))
    en = (out / "brief.en.md").read_text()
    nl = (out / "brief.nl.md").read_text()
    for i in range(1, 7):
        assert f"## {i}. " in en and f"## {i}. " in nl
    assert "Welke processen, registers en maildiensten" in nl
    assert "CLOUD Act" in en and "Kans om binnen de termijn klaar te zijn" in nl
    # the exit-plan probability is stated as a percentage
    assert re.search(r"Probability of finishing before the deadline, % \| \*\*[\d.]+\*\*", en)


def test_without_register_the_inside_out_questions_say_so(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    engine = open_engine(str(db))
    fill(engine, n=10, with_orgs=False)
    engine.dispose()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "o"), "--runs", "200"]) == 0
    en = (tmp_path / "o" / "brief.en.md").read_text()
    # questions 1-5 each say so (1 still answers its mail figures from the scan)
    assert en.count("No register given") == 5
    assert "Domains whose mailboxes are hosted by a US-controlled provider" in en
    assert "No organisations imported" in en


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "no such store" in capsys.readouterr().err
    db = tmp_path / "s.db"
    open_engine(str(db)).dispose()
    db.touch()
    bad = tmp_path / "reg"
    bad.mkdir()
    (bad / "services.yaml").write_text("services: [{id: x, name: }]\n")
    code = main(["report", "--db", str(db), "--register", str(bad), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "sovmap: error:" in capsys.readouterr().err


def _table_cells(md: str) -> tuple[list[str], list[str]]:
    """Header cells and body cells of the Markdown tables (figure tables excluded)."""
    heads: list[str] = []
    body: list[str] = []
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("| ") or line.startswith("| |"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            heads.extend(cells)
        elif not line.startswith("|---") and "**" not in line:
            body.extend(cells)
    return heads, body


def test_dutch_brief_has_no_english_header_or_catalogued_value(
    built: tuple[Path, Path],
) -> None:
    _, out = built
    en, nl = messages("en"), messages("nl")
    text = (out / "brief.nl.md").read_text()
    heads, body = _table_cells(text)
    nl_headers = {v for k, v in nl.items() if k.startswith("H_")}
    assert heads and set(heads) <= nl_headers, set(heads) - nl_headers
    english_only = {v for k, v in en.items() if (k.startswith(("H_", "V_"))) and v != nl[k]}
    leaked = [c for c in heads + body for part in c.split("; ") if part in english_only]
    assert not leaked, leaked[:10]
    # Dutch number formats for every figure; unknown as a word, never as 0 or blank
    values = re.findall(r"\| \*\*([^*]+)\*\* \|", text)
    assert values
    for v in values:
        assert re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d+)?|onbekend", v), v
    assert "18.120.000" in text and "50.506.000" not in text
    assert "met 90% zekerheid" not in text and "december" in text.split("\n", 3)[2]
    # the English brief states the same figures in English formats
    en_text = (out / "brief.en.md").read_text()
    assert "(each counted once) | **18,120,000**" in en_text
    assert "--settings" in en_text and "ldh-exit-m365.yaml" in en_text  # reproducible


def test_people_affected_never_above_the_population(built: tuple[Path, Path]) -> None:
    _, out = built
    rows = _csv_rows(out / "data" / "q3_processes.csv")
    population = 18_120_000
    assert all(int(r["people"]) <= population for r in rows if r["people"])
    gap = _csv_rows(out / "data" / "q3_gap.csv")
    assert gap and {"process", "gap_p50_weeks", "gap_p90_weeks"} <= set(gap[0])
