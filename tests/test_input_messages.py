"""The input layer's messages in Dutch and English (issue 19): every problem, error and
accounting line of :mod:`sovmap.readers` and the readers on it comes from the catalogue
(``messages/input.<lang>.yaml``), Dutch numbers in Dutch; the CODE is never translated.
The command line's language: a command's ``--lang``, else ``SOVMAP_LANG``, else English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import yaml

from sovmap.cli import main
from sovmap.devserver import DevServer
from sovmap.i18n import cli_language
from sovmap.readers import InputError, load_yaml, read_bytes, read_csv

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
MESSAGES = Path(str(resources.files("sovmap.i18n") / "messages"))


def _part(lang: str) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load((MESSAGES / f"input.{lang}.yaml").read_text("utf-8"))
    return data


def test_every_input_message_has_both_languages_with_the_same_placeholders() -> None:
    en, nl = _part("en"), _part("nl")
    assert sorted(en) == sorted(nl)
    assert all(k.startswith("INPUT_") for k in en)
    for key in en:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", nl[key])), key


CSV = (
    "id,name\n"
    + "".join(f"r{i},row {i}\n" for i in range(1, 1500))
    + ('bad,"open\nshort\n' + "".join(f"s{i},x\n" for i in range(1, 100)))
)


def test_csv_problems_and_accounting_in_dutch_with_dutch_numbers() -> None:
    table = read_csv(CSV, file="t.csv")
    assert (table.read, table.accepted, table.rejected) == (1600, 1598, 2)
    en = [p.render() for p in table.problems]
    nl = [p.render("nl") for p in table.problems]
    assert en == [
        "t.csv:1501: UNTERMINATED_QUOTE: a quote opened on this line is not closed before the "
        "end of the file; this line is skipped and reading goes on at the next",
        "t.csv:1502: COLUMNS: 1 fields where the header has 2: 'short'",
    ]
    assert nl == [
        "t.csv:1501: UNTERMINATED_QUOTE: een aanhalingsteken dat op deze regel opent, sluit "
        "niet vóór het einde van het bestand; deze regel wordt overgeslagen en het lezen gaat "
        "verder bij de volgende",
        "t.csv:1502: COLUMNS: 1 velden waar de kopregel er 2 heeft: 'short'",
    ]
    assert table.accounting() == "rows read: 1,600 = accepted 1,598 + rejected 2"
    assert table.accounting("nl") == "rijen gelezen: 1.600 = aanvaard 1.598 + afgewezen 2"


def test_a_field_over_the_limit_in_dutch_numbers() -> None:
    table = read_csv("a,b\n" + "x" * 140_000 + ",y\nok,1\n", file="big.csv")
    assert [p.code for p in table.problems] == ["FIELD_TOO_LARGE"]
    assert table.problems[0].text("nl") == "veld 1 telt 140.000 tekens; de grens is 131.072"
    assert table.problems[0].text() == "field 1 is 140,000 characters; the limit is 131,072"


def test_errors_of_whole_files_in_dutch(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_csv("a,b,A\n1,2,3\n", file="dup.csv")
    assert err.value.code == "DUPLICATE_HEADER"
    assert (
        str(err.value) == "dup.csv:1: DUPLICATE_HEADER: column 'A' appears twice (columns 1 and 3)"
    )
    assert err.value.localised("nl") == (
        "dup.csv:1: DUPLICATE_HEADER: kolom 'A' komt twee keer voor (kolommen 1 en 3)"
    )
    with pytest.raises(InputError) as err:
        load_yaml("a: &x [1]\nb: *x\n", file="r.yaml")
    assert err.value.localised("nl") == (
        "r.yaml:2: YAML_ALIAS: aliassen (*x) worden niet aanvaard; schrijf de waarde voluit"
    )
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(InputError) as err:
        read_bytes(big, max_bytes=1000)
    assert err.value.localised("nl") == f"{big}: TOO_LARGE: 5.000 bytes; de grens is 1.000 bytes"
    assert str(err.value) == f"{big}: TOO_LARGE: 5,000 bytes; the limit is 1,000 bytes"


def test_the_cli_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOVMAP_LANG", raising=False)
    assert cli_language() == "en"
    monkeypatch.setenv("SOVMAP_LANG", "NL")
    assert cli_language() == "nl"
    assert cli_language("en") == "en"  # a command's --lang wins


def test_an_unknown_sovmap_lang_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SOVMAP_LANG", "klingon")
    assert main(["register", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "sovmap: error: SOVMAP_LANG=klingon: unknown language; choose one of en, nl\n"


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(DEMO / "zones") as srv:
        yield srv


def test_a_dutch_scan_prints_dutch_problems_and_dutch_numbers(
    server: DevServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "https://www.gemeente-zonnedal.nl/contact"
    dups = ["gemeente-zonnedal.nl"] * 1200
    lines = ["domain", url, *dups, "gemeente zonnedal.nl", "x" * 3000]
    path = tmp_path / "domains.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    argv = ["scan", str(path), "--resolver", server.address, "--timeout", "0.5"]
    code = main([*argv, "--db", str(tmp_path / "s.sqlite"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"{path}:2: NORMALISED: {url!r}: URL teruggebracht tot de hostnaam" in err
    assert f"{path}:2: NORMALISED: {url!r}: voorvoegsel www. verwijderd" in err
    assert f"{path}:3: DUPLICATE: gemeente-zonnedal.nl staat er al in" in err
    assert f"{path}:1203: INVALID: geen hostnaam: 'gemeente zonnedal.nl'" in err
    assert f"{path}:1204: TOO_LONG: langer dan 2.048 tekens, geen domein: 'xxx" in err
    assert f"{path}: 1.200 DUPLICATE, 1 INVALID, 2 NORMALISED, 1 TOO_LONG" in err
    assert f"{path}: invoer: rijen gelezen 1.203 = aanvaard 1 + afgewezen 1.202" in err
    assert re.search(rf"{re.escape(str(path))}: nog 1\.\d{{3}} × DUPLICATE niet getoond", err)


def test_a_dutch_usage_error_of_an_input_without_a_domain_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    path = tmp_path / "list.csv"
    path.write_text("naam;plaats\nZonnedal;Zonnedal\n")
    code = main(["scan", str(path), "--db", str(tmp_path / "s.sqlite"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"sovmap: error: {path}:1: NO_DOMAIN_COLUMN: lijkt een CSV, maar heeft geen domeinkolom "
        "(een van: domain, domein, website, url, email, e-mail, mail)\n"
    )


def test_a_dutch_register_check_prints_dutch_input_problems_and_accounting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "reg"
    root.mkdir()
    (root / "org.yaml").write_text("organisation:\n  id: org\n  name: Org\n  country: NL\n")
    rows = "".join(f"c{i},Contract {i},30\n" for i in range(1, 1200))
    (root / "contracts.csv").write_text(
        "id,name,notice_days\n" + rows + 'cx,"Open,30\ncy,Kort\n' + "cz,Laatste,60\n"
    )
    (root / "extra.yaml").write_text("a: &x [1]\nb: *x\n")
    monkeypatch.setenv("SOVMAP_LANG", "nl")
    assert main(["register", "check", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        "error: contracts.csv:1201: (row): een aanhalingsteken dat op deze regel opent, sluit "
        "niet vóór het einde van het bestand; deze regel wordt overgeslagen en het lezen gaat "
        "verder bij de volgende [UNTERMINATED_QUOTE]"
    ) in out
    columns = "2 velden waar de kopregel er 3 heeft: 'cy,Kort' [COLUMNS]"
    assert f"error: contracts.csv:1202: (row): {columns}" in out
    assert (
        "error: extra.yaml:2: (document): aliassen (*x) worden niet aanvaard; schrijf de waarde "
        "voluit [YAML_ALIAS]"
    ) in out
    assert out[-1] == "contracts.csv: rijen gelezen: 1.202 = aanvaard 1.200 + afgewezen 2"


def test_domain_errors_and_notes_survive_a_process_boundary() -> None:
    import pickle

    from sovmap.orgs.domains import DomainError, InvalidDomain, normalise_domain, normalise_host
    from sovmap.readers import localise

    with pytest.raises(InvalidDomain) as bad:
        normalise_domain("gemeente zonnedal.nl")
    again = pickle.loads(pickle.dumps(bad.value))
    assert (again.code, str(again)) == ("INVALID", "not a host name: 'gemeente zonnedal.nl'")
    assert localise("nl", again.text.key, again.text.params) == (
        "geen hostnaam: 'gemeente zonnedal.nl'"
    )
    with pytest.raises(DomainError) as ip:
        normalise_host("192.0.2.1")
    assert str(pickle.loads(pickle.dumps(ip.value))) == str(ip.value)
    (note,) = normalise_domain("https://a.nl/x")[1]
    assert pickle.loads(pickle.dumps(note)) == "URL reduced to its host"


def test_an_input_error_survives_a_process_boundary() -> None:
    import pickle

    with pytest.raises(InputError) as err:
        read_csv("a,b,A\n1,2,3\n", file="d.csv")
    again = pickle.loads(pickle.dumps(err.value))
    assert (str(again), again.code, again.line) == (str(err.value), "DUPLICATE_HEADER", 1)
    assert again.localised("nl") == err.value.localised("nl")
