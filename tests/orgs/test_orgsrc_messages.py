"""The organisation sources' errors and ``sovmap orgs`` output in Dutch and English, from the
message catalogue (``messages/orgsrc.<lang>.yaml``): the language from ``SOVMAP_LANG``, the
exit codes unchanged (2 for unusable input)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orgs.orgs_testlib import DATA
from sovmap.cli import main
from sovmap.i18n import messages
from sovmap.orgs.sources import SourceError
from sovmap.orgs.sources.tabular import parse_table
from sovmap.orgs.sources.wikidata import build_query

#: messages whose words Dutch shares with English ("type", "scan")
SAME_IN_BOTH = {
    "ORGSRC_SHOW_TYPE",
    "ORGSRC_SHOW_SCAN",
    "ORGSRC_ACCOUNTING",
    "ORGSRC_COL_ID",
    "ORGSRC_COL_TYPE",
}


def _fields(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_orgsrc_message_has_the_same_placeholders_in_both_languages() -> None:
    en, nl = messages("en"), messages("nl")
    codes = [c for c in en if c.startswith("ORGSRC_")]
    assert len(codes) > 50
    for code in codes:
        assert _fields(en[code]) == _fields(nl[code]), code
        assert en[code] != nl[code] or code in SAME_IN_BOTH, code


def test_a_source_error_says_the_place_and_the_message_in_each_language() -> None:
    with pytest.raises(SourceError) as caught:
        parse_table(b"name;type\nGemeente X;municipality\n", "t.csv", excel=False)
    err = caught.value
    assert str(err) == "t.csv: line 1: no 'domain', 'website' or 'email' column (found: name, type)"
    assert err.localised("en") == str(err)
    assert err.localised("nl") == (
        "t.csv: regel 1: geen kolom 'domain', 'website' of 'email' (gevonden: name, type)"
    )
    with pytest.raises(SourceError) as caught:
        build_query("Netherlands", "municipality", "nl,en")
    assert "moet een ISO 3166-1 alpha-2-code zijn, niet 'NETHERLANDS'" in caught.value.localised(
        "nl"
    )


def test_rejected_lines_are_listed_in_the_readers_language() -> None:
    data = b'id,name,domain\na,"Open quote,a.nl\nb,B,b.nl\n'
    with pytest.raises(SourceError) as caught:
        parse_table(data, "q.csv", excel=False)
    en, nl = str(caught.value), caught.value.localised("nl")
    assert "the list is not imported until these lines are fixed: line 2:" in en
    assert "de lijst wordt pas ingelezen als deze regels zijn hersteld: regel 2:" in nl
    assert "rows read" in en and "rows read" not in nl


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "line 1: no 'domain', 'website' or 'email' column"),
        ("nl", "regel 1: geen kolom 'domain', 'website' of 'email'"),
    ],
)
def test_the_cli_error_follows_sovmap_lang(
    lang: str,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOVMAP_LANG", lang)
    db = str(tmp_path / "o.sqlite")
    assert main(["orgs", "import", str(DATA / "no_domain_column.csv"), "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sovmap: error: ") and said in err
    assert "Traceback" not in err


def test_the_import_summary_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "o.sqlite")
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    assert main(["orgs", "import", str(DATA / "bodies.csv"), "--db", db]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^\d+ organisaties: \d+ gekoppeld aan \d+ domeinen, \d+ zonder domein$", out, re.M
    )
    assert "opgeslagen als organisatieset 1 in" in out
    assert "organisations" not in out and "stored as" not in out
    monkeypatch.setenv("SOVMAP_LANG", "en")
    assert main(["orgs", "list", "--db", db]) == 0
    assert re.search(r"^\d+ organisations$", capsys.readouterr().out, re.M)
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    assert main(["orgs", "list", "--db", db]) == 0
    assert re.search(r"^\d+ organisaties$", capsys.readouterr().out, re.M)


def test_show_and_lookups_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "o.sqlite")
    assert main(["orgs", "import", str(DATA / "bodies.csv"), "--db", db]) == 0
    capsys.readouterr()
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    assert main(["orgs", "show", "no-such-body", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err == "sovmap: error: geen organisatie 'no-such-body'; zie sovmap orgs list\n"
    assert main(["orgs", "list", "--db", db]) == 0
    first = capsys.readouterr().out.splitlines()[1].split()[0]
    assert main(["orgs", "show", first, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "  bron " in out and "  nog niet gescand" in out and "not scanned" not in out
    assert main(["diff", "--db", db]) == 2
    assert "een vergelijking heeft er twee nodig" in capsys.readouterr().err
    monkeypatch.setenv("SOVMAP_LANG", "en")
    assert main(["orgs", "show", "no-such-body", "--db", db]) == 2
    assert "no organisation 'no-such-body'; see sovmap orgs list" in capsys.readouterr().err


def test_the_notes_of_a_source_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Skipped results and the accounting of a Wikidata file, printed as notes in Dutch."""

    def binding(n: int) -> dict[str, object]:
        return {
            "org": {"type": "uri", "value": f"http://www.wikidata.org/entity/Q{n}"},
            "orgLabel": {"type": "literal", "value": f"Gemeente {n}"},
            "website": {"type": "uri", "value": f"https://g{n}.example"},
        }

    rows = [binding(1), ["not", "an", "object"], binding(2)]
    path = tmp_path / "wd.json"
    path.write_text(json.dumps({"head": {"vars": ["org"]}, "results": {"bindings": rows}}))
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    argv = ["orgs", "import", str(path), "--source", "wikidata", "--country", "NL"]
    assert main([*argv, "--db", str(tmp_path / "o.sqlite")]) == 0
    out = capsys.readouterr().out
    assert f"let op: {path}: results.bindings[1] is geen object; overgeslagen" in out
    assert f"let op: {path}: rijen gelezen: 3 = aanvaard 2 + afgewezen 1 (resultaten; 2 " in out
    assert "skipped" not in out and "rows read" not in out


def test_an_overrides_error_in_dutch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "overrides.yaml"
    bad.write_text("overrides:\n  - org: a\n    add:\n      - domain: gv.at\n        reason: x\n")
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    argv = ["orgs", "import", str(DATA / "bodies.csv"), "--overrides", str(bad)]
    assert main([*argv, "--db", str(tmp_path / "o.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"sovmap: error: {bad}:4: veld 'domain': een publiek achtervoegsel, geen domein dat een "
        "organisatie kan bezitten (PUBLIC_SUFFIX: 'gv.at')\n"
    )
    assert main(["orgs", "list", "--db", str(tmp_path / "o.sqlite")]) == 0
    head = capsys.readouterr().out.splitlines()[0].split()
    assert head == ["id", "type", "onderdeel", "van", "naam", "domeinen"]
