"""Issue 19, case 26: loose RoI package checks. A short row, a missing or garbage
``parameters.csv``, a directory named like a template file: each is a clear
``FILE:LINE: CODE: message`` problem, no other row is lost, the rows are accounted for
(``rows read = accepted + rejected``), and nothing ends in a traceback."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regtools import EXAMPLE

from sovmap.cli import main
from sovmap.readers import InputError
from sovmap.register.dora.package import file_name, read_package
from support.mutate import mutated

(ROOT,) = [p for p in (EXAMPLE.parent / "roi").iterdir() if p.is_dir()]
ROWS = sum(len((ROOT / "reports" / p.name).read_text().splitlines()) - 1 for p in
           (ROOT / "reports").glob("b_*.csv"))  # fmt: skip


ACCOUNT = f"rows read: {ROWS} = accepted {ROWS - 1} + rejected 1; problems per code: 1 COLUMNS"


def _copy(tmp_path: Path) -> Path:
    """A copy of the example package (the folder holding its root folder)."""
    base = tmp_path / "pkg"
    shutil.copytree(ROOT, base / ROOT.name)
    return base


def _reports(base: Path) -> Path:
    return base / ROOT.name / "reports"


def _shorten(path: Path, line: int) -> str:
    """Cut the row on ``line`` to two fields; return what is left of it."""
    lines = path.read_text().splitlines()
    lines[line - 1] = ",".join(lines[line - 1].split(",")[:2])
    path.write_text("\n".join(lines) + "\n")
    return lines[line - 1]


def _import(
    base: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, list[str], str]:
    code = main(["register", "import-roi", str(base), "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.splitlines(), captured.out


def test_a_short_row_is_rejected_at_its_line_and_no_other_row_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    b0701 = _reports(base) / "b_07.01.csv"
    total = len(b0701.read_text().splitlines())
    left = _shorten(b0701, total)  # the last row of B_07.01 (nothing refers to it)
    package = read_package(base)
    assert [(p.file, p.line, p.code) for p in package.problems] == [
        ("reports/b_07.01.csv", total, "COLUMNS")
    ]
    assert (package.read, package.accepted, package.rejected) == (ROWS, ROWS - 1, 1)
    assert len(package.tables["B_07.01"]) == total - 2  # every other row of the file kept
    code, err, out = _import(base, tmp_path / "reg", capsys)
    assert code == 1  # a row was lost: never exit 0 without --allow-loss
    assert (
        f"reports/b_07.01.csv:{total}: COLUMNS: 2 fields where the header has 12: {left!r}" in err
    )
    assert f"{base}: {ACCOUNT}" in err
    assert f"{ROWS - 1} rows read, {ROWS - 1} kept" in out
    assert (tmp_path / "reg" / "contracts.yaml").exists()  # the rest was imported
    code, err, _ = _import(base, tmp_path / "reg2", capsys, "--allow-loss")
    assert code == 0


def test_a_short_row_others_refer_to_stops_the_import_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    _shorten(_reports(base) / "b_05.01.csv", 2)
    code, err, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0].startswith("reports/b_05.01.csv:2: COLUMNS: 2 fields where the header has 12")
    assert any(": 807: " in line for line in err)  # the rows naming it: dangling references
    assert err[-2] == f"{base}: {ACCOUNT}"
    assert not (tmp_path / "reg").exists()


def test_a_missing_parameters_csv_is_a_problem_not_a_guessed_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    (_reports(base) / "parameters.csv").unlink()
    code, err, out = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0] == (
        "reports/parameters.csv:1: ROI_PARAMETERS: the package has no parameters.csv "
        "(entityID, refPeriod, baseCurrency); nothing is imported without it"
    )
    assert err[-1] == f"{base}: 1 problem(s) with the package itself; nothing written"
    assert out == ""
    assert not (tmp_path / "reg").exists()


P = "reports/parameters.csv"
ENTITY = b"name,value\nentityID,rs:724500PFVELDHOVEN021.CON\n"
GARBAGE = [
    pytest.param(b'\x00\xff\xfe garbage\n;;;"\n', f"{P}:1: ENCODING", id="binary"),
    pytest.param(b"foo;bar\n1;2\n", f"{P}:1: ROI_PARAMETERS: the header is 'foo,bar'", id="header"),
    pytest.param(ENTITY, f"{P}:1: ROI_PARAMETERS: no refPeriod row", id="no-refperiod"),
    pytest.param(
        ENTITY + b"refPeriod,yesterday\n",
        f"{P}:3: ROI_PARAMETERS: refPeriod 'yesterday' is not a date",
        id="bad-date",
    ),
    pytest.param(
        ENTITY + b"refPeriod,2025-12-31\nrefPeriod,2024-12-31\n",
        f"{P}:4: DUPLICATE: parameter 'refPeriod' is already given on line 3",
        id="twice",
    ),
    pytest.param(
        b'name,value\n"entityID,rs:x\nrefPeriod,2025-12-31\n',
        f"{P}:2: UNTERMINATED_QUOTE",
        id="quote",
    ),
    pytest.param(b"", f"{P}:1: EMPTY: no header row", id="empty"),
]


@pytest.mark.parametrize(("content", "first"), GARBAGE)
def test_a_garbage_parameters_csv_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, first: str
) -> None:
    base = _copy(tmp_path)
    (_reports(base) / "parameters.csv").write_bytes(content)
    code, err, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert any(line.startswith(first) for line in err), err
    assert err[-1] == f"{base}: {err[-1].split(': ', 1)[1]}"
    assert "nothing written" in err[-1]
    assert not (tmp_path / "reg").exists()
    # the templates were all read all the same: no row lost to a bad metadata file
    assert (read_package(base).read, read_package(base).rejected) == (ROWS, 0)


def test_a_directory_named_like_a_template_is_not_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    b0401 = _reports(base) / "b_04.01.csv"
    b0401.unlink()
    b0401.mkdir()
    (b0401 / "x.csv").write_text("c0010\n")
    code, err, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0] == "reports/b_04.01.csv:1: NOT_A_FILE: a directory, not a file"
    assert err[-1] == f"{base}: 1 problem(s) with the package itself; nothing written"


def test_a_directory_named_like_a_template_in_a_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / f"{ROOT.name}.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted(ROOT.rglob("*")):
            rel = p.relative_to(ROOT.parent).as_posix()
            if p.name == "b_04.01.csv":
                zf.writestr(rel + "/", b"")
            elif p.is_file():
                zf.write(p, rel)
    code, err, _ = _import(target, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0] == "reports/b_04.01.csv:1: NOT_A_FILE: a directory, not a file"


def test_a_pipe_named_like_a_template_is_never_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    base = _copy(tmp_path)
    (_reports(base) / "b_04.01.csv").unlink()
    os.mkfifo(_reports(base) / "b_04.01.csv")  # reading it would wait for a writer forever
    code, err, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0].startswith("reports/b_04.01.csv:1: NOT_A_FILE: not a regular file")


def test_a_deeply_nested_report_json_is_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    (_reports(base) / "report.json").write_text("[" * 100_000 + "]" * 100_000)
    package = read_package(base)
    assert package.extends == []
    code, _, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 0  # the templates are fine; rule 505 (an export check) names report.json


def test_package_problems_in_dutch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _copy(tmp_path)
    _shorten(_reports(base) / "b_07.01.csv", 2)
    (_reports(base) / "parameters.csv").write_bytes(b"foo;bar\n1;2\n")
    code, err, _ = _import(base, tmp_path / "reg", capsys, "--lang", "nl")
    assert code == 1
    assert "reports/b_07.01.csv:2: COLUMNS: 2 velden waar de kopregel er 12 heeft: " in "\n".join(
        err
    )
    assert (
        "reports/parameters.csv:1: ROI_PARAMETERS: de kopregel is 'foo,bar', niet name,value; "
        "zonder de parameters wordt niets ingelezen"
    ) in err
    assert err[-2] == (
        f"{base}: rijen gelezen: {ROWS} = aanvaard {ROWS - 1} + afgewezen 1; "
        "problemen per code: 1 COLUMNS, 1 ROI_PARAMETERS"
    )
    assert err[-1] == f"{base}: 1 probleem/problemen met het pakket zelf; niets geschreven"


def test_case11_a_latin1_byte_in_a_template_names_file_line_and_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19 case 11 for an RoI package: a Latin-1 file was a traceback without the file
    name; now the line is rejected naming file, line and byte, and every other row is read."""
    base = _copy(tmp_path)
    b0701 = _reports(base) / "b_07.01.csv"
    data = b0701.read_bytes()
    lines = data.split(b"\n")
    lines[2] = lines[2].replace(b"PF-", b"P\xc9-", 1)  # 'É' in Latin-1 on line 3
    b0701.write_bytes(b"\n".join(lines))
    offset = len(lines[0]) + len(lines[1]) + 2 + lines[2].index(b"\xc9")
    code, err, out = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0] == (
        f"reports/b_07.01.csv:3: ENCODING: byte 0xc9 at offset {offset:,} is not UTF-8 "
        "(save the file as UTF-8)"
    )
    assert f"{base}: rows read: {ROWS} = accepted {ROWS - 1} + rejected 1" in err[-2]
    assert f"{ROWS - 1} rows read, {ROWS - 1} kept" in out


def test_case11_a_latin1_header_makes_the_template_unreadable_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _copy(tmp_path)
    b0401 = _reports(base) / "b_04.01.csv"
    b0401.write_bytes(b"c0010,c0020,c0030,c\xe9040\n" + b0401.read_bytes().split(b"\n", 1)[1])
    code, err, _ = _import(base, tmp_path / "reg", capsys)
    assert code == 1
    assert err[0] == "reports/b_04.01.csv:1: ENCODING: the header row is not UTF-8 text"
    assert err[-1] == f"{base}: 1 problem(s) with the package itself; nothing written"


def test_a_rates_file_with_a_bad_row_in_the_middle_names_it_and_accounts(tmp_path: Path) -> None:
    from sovmap.cli import CommandError
    from sovmap.register.dora.cli import read_rates

    path = tmp_path / "rates.csv"
    path.write_text("currency,rate\nUSD,0.92\nEURO,1\nGBP,\nCHF,1.05\n")
    with pytest.raises(CommandError) as err:
        read_rates(path)
    assert str(err.value).splitlines() == [
        "rates file rejected:",
        f"{path}:3: BAD_RATE: not a currency code with a rate above 0: EURO '1'",
        f"{path}:4: BAD_RATE: not a currency code with a rate above 0: GBP ''",
        f"{path}: rows read: 4 = accepted 2 + rejected 2",
    ]
    with pytest.raises(CommandError) as err:
        read_rates(path, "nl")
    assert str(err.value).splitlines()[0] == "koersenbestand afgewezen:"
    assert str(err.value).splitlines()[-1] == f"{path}: rijen gelezen: 4 = aanvaard 2 + afgewezen 2"
    path.write_text("currency,rate\nUSD,0.92\nCHF,1.05\n")
    assert read_rates(path) == {"USD": 0.92, "CHF": 1.05}


# -- fuzz: a mutated member never escapes as another exception, loses no undamaged row ----

_MEMBERS = sorted(p.name for p in (ROOT / "reports").iterdir() if p.is_file())


@settings(
    max_examples=max(20, int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150")) // 3),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(_MEMBERS), data=st.data())
def test_fuzz_roi_package_a_mutated_member(name: str, data: st.DataObject) -> None:
    mutated_bytes = data.draw(mutated((ROOT / "reports" / name).read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "pkg"
        shutil.copytree(ROOT, base / ROOT.name)
        (base / ROOT.name / "reports" / name).write_bytes(mutated_bytes)
        try:
            package = read_package(base)
        except InputError:
            return
    assert package.read == package.accepted + package.rejected
    for template, rows in package.tables.items():
        if file_name(template) != name:  # an untouched template keeps every row
            original = (ROOT / "reports" / file_name(template)).read_text()
            assert len(rows) == len(original.splitlines()) - 1
    for p in package.problems:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", p.code) and p.line >= 1 and p.render("nl")


def test_a_package_that_cannot_be_read_at_all_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "roi.zip"
    text.write_text("not a zip\n")
    code, err, _ = _import(text, tmp_path / "reg", capsys)
    assert (code, err) == (
        2,
        [f"sovmap: error: {text}: NOT_A_PACKAGE: neither a zip file nor a directory: not a DORA "
         "package"],
    )  # fmt: skip
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(ROOT.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(ROOT.parent).as_posix())
    data = bytearray(broken.read_bytes())
    at = data.index(b"PK\x03\x04") + 30 + len(f"{ROOT.name}/META-INF/reportPackage.json") + 4
    data[at] ^= 0xFF  # a byte inside the first member's compressed data
    broken.write_bytes(bytes(data))
    code, err, _ = _import(broken, tmp_path / "reg", capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"sovmap: error: {broken}: UNREADABLE: cannot read: ")
    code, err, _ = _import(tmp_path / "missing", tmp_path / "reg", capsys, "--lang", "nl")
    assert err == [
        f"sovmap: error: {tmp_path / 'missing'}: UNREADABLE: geen zipbestand en geen map: geen "
        "DORA-pakket"
    ]
