"""Hostile and broken scan input (issue 19): nothing lost, nothing hangs, no traceback.

Each test carries the issue's case number and its input. The scans run against the bundled
nameserver on loopback.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.collect.inputs import InputCounts, InputProblem, check_input, read_domains
from sovmap.devserver import DevServer
from sovmap.readers import InputError
from sovmap.store import Store

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
DEMO_DOMAINS = [
    "gemeente-zonnedal.nl",
    "waterschap-lageland.nl",
    "provincie-noordkust.nl",
    "dienst-registers.nl",
    "gemeente-heuvelrijk.nl",
    "ziekenhuis-oostrand.nl",
    "marktgemeinde-almtal.at",
    "kommune-fjordby.no",
]


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(DEMO / "zones") as srv:
        yield srv


def _read(path: Path) -> tuple[list[str], list[InputProblem], InputCounts]:
    problems: list[InputProblem] = []
    counts = InputCounts()
    domains = [d.domain for d in read_domains(path, problems, counts)]
    assert counts.read == counts.accepted + counts.rejected
    assert counts.accepted == len(domains)
    return domains, problems, counts


def _scan(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["scan", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- reading


def test_case1_unterminated_quote_does_not_swallow_later_domains(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('domain,name\na.nl,A\nb.nl,"Gemeente B\nc.nl,C\nd.nl,D\n', encoding="utf-8")
    domains, problems, counts = _read(path)
    assert domains == ["a.nl", "c.nl", "d.nl"]
    assert [p.render() for p in problems] == [
        f"{path}:3: UNTERMINATED_QUOTE: a quote opened on this line is not closed on this "
        "line; this line is skipped and reading goes on at the next"
    ]
    assert (counts.read, counts.accepted, counts.rejected) == (4, 3, 1)


def test_case6_one_latin1_byte_rejects_its_line_only(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    lines = [b"domain,name"] + [f"d{i}.nl,Gemeente {i}".encode() for i in range(3100)]
    lines[671] = b"d670.nl,Gemeente Caf\xe9"
    path.write_bytes(b"\n".join(lines) + b"\n")
    domains, problems, counts = _read(path)
    assert len(domains) == 3099 and "d670.nl" not in domains and domains[-1] == "d3099.nl"
    assert [(p.line, p.code) for p in problems] == [(672, "ENCODING")]
    assert "byte 0xe9 at offset" in problems[0].message
    assert (counts.read, counts.accepted, counts.rejected) == (3100, 3099, 1)


def test_case7_field_over_128_kib_rejects_its_row(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"domain,notes\na.nl,{'x' * 200_000}\nb.nl,ok\n", encoding="utf-8")
    domains, problems, counts = _read(path)
    assert domains == ["b.nl"]
    assert [p.code for p in problems] == ["FIELD_TOO_LARGE"]
    assert counts.rejected == 1


def test_case8_header_with_more_commas_than_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "domain;naam, voluit, met komma's;land\na.nl;Gemeente A, B, C;NL\n", encoding="utf-8"
    )
    domains, problems, _ = _read(path)
    assert domains == ["a.nl"] and problems == []


def test_case20_comment_with_a_comma_on_the_first_line_of_a_plain_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# gemeenten, versie 2\na.nl\nb.nl # tweede\n", encoding="utf-8")
    domains, problems, counts = _read(path)
    assert domains == ["a.nl", "b.nl"] and problems == []
    assert counts.read == 2


def test_case22_a_10_mb_line_is_quoted_short(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("a.nl\n" + "x" * 10_000_000 + "\nb.nl\n", encoding="utf-8")
    domains, problems, _ = _read(path)
    assert domains == ["a.nl", "b.nl"]
    (problem,) = problems
    assert problem.code == "TOO_LONG" and len(problem.render()) < len(str(path)) + 200


def test_case22_dev_zero_is_refused_before_reading() -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match=r"^/dev/zero: TOO_LARGE: more than"):
        check_input("/dev/zero")
    assert time.monotonic() - start < 5


def test_a_csv_without_domain_column_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("# kop\nnaam,land\nA,NL\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in.csv:2: NO_DOMAIN_COLUMN: looks like a CSV but"):
        check_input(path)


def test_accounting_with_errors_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"domain,name\n"
        b"a.nl,A\n"
        b'b.nl,"B\n'  # unterminated quote
        b"c.nl,C,extra\n"  # a column too many
        b"d\xff.nl,D\n"  # not UTF-8
        b"nl,public suffix\n"
        b"a.nl,duplicate\n"
        b"\n"  # blank: not a row
        b"# a comment, not a row\n"
        b"e.nl,E\n"
    )
    domains, problems, counts = _read(path)
    assert domains == ["a.nl", "e.nl"]
    assert [(p.line, p.code) for p in problems] == [
        (5, "ENCODING"),
        (3, "UNTERMINATED_QUOTE"),
        (4, "COLUMNS"),
        (6, "PUBLIC_SUFFIX"),
        (7, "DUPLICATE"),
    ]
    assert (counts.read, counts.accepted, counts.rejected) == (7, 2, 5)
    assert counts.line() == "input: rows read 7 = accepted 2 + rejected 5"


# --------------------------------------------------------------------------- the scan command


def test_case1_scan_scans_every_domain_after_a_broken_quote_and_prints_accounting(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.csv"
    rows = [f"{d},Org {i}" for i, d in enumerate(DEMO_DOMAINS)]
    rows[2] = f'{DEMO_DOMAINS[2]},"Provincie'
    path.write_text("domain,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "s.sqlite"
    code, out, err = _scan(
        [str(path), "--resolver", server.address, "--db", str(db), "--timeout", "0.3"], capsys
    )
    assert code == 0
    assert f"{path}:4: UNTERMINATED_QUOTE: " in err
    assert f"{path}: input: rows read 8 = accepted 7 + rejected 1" in err
    assert "7 domains scanned" in out and "1 input lines rejected" in out
    done = Store(db).done_domains(1)
    assert done == set(DEMO_DOMAINS) - {DEMO_DOMAINS[2]}


def test_case22_many_duplicates_are_summarised(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("gemeente-zonnedal.nl\n" * 100_000, encoding="utf-8")
    code, _, err = _scan(
        [str(path), "--resolver", server.address, "--db", str(tmp_path / "s.sqlite")], capsys
    )
    assert code == 0
    lines = err.splitlines()
    assert len(lines) < 30
    assert f"{path}: 99,979 more DUPLICATE not shown" in lines
    assert f"{path}: 99,999 DUPLICATE" in lines
    assert f"{path}: input: rows read 100,000 = accepted 1 + rejected 99,999" in lines


@pytest.mark.parametrize("name", ["out.txt", "out.xlsx", "out"])
def test_case14_unsupported_out_is_refused_before_the_scan(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.sqlite"
    code, _, err = _scan(
        [str(DEMO / "domains.csv"), "--resolver", "127.0.0.1:9", "--db", str(db), "--out",
         str(tmp_path / name)],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "unknown output format" in err and "Traceback" not in err
    assert not db.exists()  # refused before the store was opened, let alone a scan started


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--timeout", "0"], "--timeout 0.0: give more than 0"),
        (["--timeout", "-1"], "--timeout -1.0: give more than 0"),
        (["--timeout", "nan"], "--timeout nan: give more than 0"),
        (["--attempts", "0"], "--attempts 0: give 1 to 10"),
        (["--active", "0"], "--active 0: give 1 to"),
        (["--active", "-5"], "--active -5: give 1 to"),
        (["--knowledge", "/nonexistent"], "--knowledge /nonexistent: no such directory"),
    ],
)
def test_case19_scan_options_are_checked_before_work(
    tmp_path: Path, option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.sqlite"
    argv = [str(DEMO / "domains.csv"), "--resolver", "127.0.0.1:9", "--db", str(db), *option]
    code, _, err = _scan(argv, capsys)
    assert code == 2
    assert err.strip() == f"sovmap: error: {message}" or message in err
    assert not db.exists()


def test_case5_resume_with_another_knowledge_version_is_refused(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from sovmap.collect.pipeline import input_digest

    path = tmp_path / "in.csv"
    shutil.copy(DEMO / "domains.csv", path)
    db = tmp_path / "s.sqlite"
    store = Store(db)
    # an interrupted scan of this input, started with another knowledge base
    scan_id = store.start_scan(
        input=str(path),
        input_digest=input_digest(path),
        shard="",
        knowledge_version="0123456789ab",
        params={},
        label="",
    )
    store.close()
    argv = [str(path), "--resolver", server.address, "--db", str(db), "--timeout", "0.3"]
    code, _, err = _scan(argv, capsys)
    assert code == 2
    assert f"scan {scan_id} of this input was started with knowledge version 0123456789ab" in err
    assert "--new" in err
    assert Store(db).done_domains(scan_id) == set()  # nothing mixed into it
    code, out, _ = _scan([*argv, "--new"], capsys)
    assert code == 0 and "scan 2:" in out


# --------------------------------------------------------------------------- the store


def _make_readonly(path: Path) -> bool:
    if os.geteuid() == 0:  # root writes through permissions: make the files immutable
        if shutil.which("chattr") is None:
            return False
        result = subprocess.run(["chattr", "+i", str(path), str(path.parent)], check=False)
        return result.returncode == 0
    path.chmod(0o444)
    path.parent.chmod(0o555)
    return True


def _undo_readonly(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path), str(path.parent)], check=False)
    else:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_case12_a_readonly_store_can_be_read(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    db = store_dir / "s.sqlite"
    code, _, _ = _scan(
        [str(DEMO / "domains.csv"), "--resolver", server.address, "--db", str(db)], capsys
    )
    assert code == 0
    if not _make_readonly(db):
        pytest.skip("cannot make a file read-only here")
    try:
        with pytest.raises(OSError):
            db.open("ab").close()
        assert main(["scans", "--db", str(db)]) == 0
        assert " done " in capsys.readouterr().out
        assert main(["explain", "gemeente-zonnedal.nl", "--db", str(db)]) == 0
        assert "mailbox" in capsys.readouterr().out
        out = tmp_path / "export.csv"
        assert main(["export", str(out), "--db", str(db)]) == 0
        assert out.read_text(encoding="utf-8").count("\n") > 10
        # a scan into it is refused with a message, not a traceback
        code, _, err = _scan(
            [str(DEMO / "domains.csv"), "--resolver", server.address, "--db", str(db), "--new"],
            capsys,
        )
        assert code == 2 and "Traceback" not in err
    finally:
        _undo_readonly(db)


def test_case13_full_disk_gives_a_message_and_the_scan_resumes(
    tmp_path: Path, server: DevServer
) -> None:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"gemeente-{i}.nl\n" for i in range(1200)), encoding="utf-8")
    db = tmp_path / "s.sqlite"
    Store(db).close()
    room = db.stat().st_size + 150_000

    def small_disk() -> None:  # writes past this size fail, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    argv = [sys.executable, "-m", "sovmap", "scan", str(path), "--resolver", server.address]
    argv += ["--db", str(db), "--timeout", "0.3", "--quiet", "--workers", "1"]
    full = subprocess.run(
        argv, capture_output=True, text=True, preexec_fn=small_disk, timeout=300, check=False
    )
    assert full.returncode == 2, full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    assert "is the disk full?" in full.stderr and "run the same command to resume" in full.stderr
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = con.execute("select count(*) from scan_domains").fetchone()[0]
    con.close()
    assert 0 < stored < 1200
    resumed = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "already stored" in resumed.stdout
    assert Store(db).done_domains(1) == {f"gemeente-{i}.nl" for i in range(1200)}


def test_fuzz_found_a_header_whose_domain_column_the_reader_does_not_see(tmp_path: Path) -> None:
    # found by tests/test_hostile_cli.py: a space before a quoted header name made the line
    # look like a CSV header, but the parsed header had no domain column (RuntimeError)
    path = tmp_path / "in.csv"
    path.write_text(' "domain",name\na.nl,A\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"in.csv:1: NO_DOMAIN_COLUMN: no domain column in"):
        check_input(path)
    with pytest.raises(InputError, match=r"in.csv:1: NO_DOMAIN_COLUMN: no domain column in"):
        list(read_domains(path))


def test_case23_normalisation_gaps(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(
        "https://user:pw@gemeente-a.nl:443/x\n"  # a URL with user info: its host
        "xn--a.nl\n"  # not a valid A-label
        "verborgen.onion\n"
        "printer.local\n"
        "iets.invalid\n"
        "zone.test\n"  # reserved for testing: local test zones use it
        "not-an-email\n",
        encoding="utf-8",
    )
    domains, problems, counts = _read(path)
    assert domains == ["gemeente-a.nl", "zone.test"]
    rejected = [(p.line, p.code) for p in problems if p.code != "NORMALISED"]
    assert rejected == [(2, "INVALID"), (3, "SPECIAL_USE"), (4, "SPECIAL_USE"),
                        (5, "SPECIAL_USE"), (7, "INVALID")]  # fmt: skip
    assert "not a valid A-label" in problems[1].message
    assert "no known top-level domain" in problems[-1].message
    assert counts.rejected == 5


def test_case23_a_value_without_at_in_an_email_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("email,name\ninfo@a.nl,A\nnot-an-email,B\n", encoding="utf-8")
    domains, problems, counts = _read(path)
    assert domains == ["a.nl"]
    assert [(p.line, p.code) for p in problems if p.code != "NORMALISED"] == [(3, "BAD_EMAIL")]
    assert (counts.read, counts.accepted, counts.rejected) == (2, 1, 1)


def test_case18_export_and_explain_default_to_the_latest_finished_scan(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.sqlite"
    code, _, _ = _scan(
        [str(DEMO / "domains.csv"), "--resolver", server.address, "--db", str(db)], capsys
    )
    assert code == 0
    store = Store(db)
    running = store.start_scan(input="other.csv", input_digest="x" * 64, knowledge_version="k")
    store.release_lease(running)
    store.close()
    out = tmp_path / "f.csv"
    assert main(["export", str(out), "--db", str(db)]) == 0
    captured = capsys.readouterr()
    assert "of scan 1 to" in captured.out
    assert f"scan {running}" in captured.err  # the newer, unfinished scan is named
    assert main(["explain", "gemeente-zonnedal.nl", "--db", str(db)]) == 0
    assert "(scan 1)" in capsys.readouterr().out


def test_strict_makes_rejected_lines_exit_1(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(DEMO / "domains.csv"), "--resolver", server.address]
    code, _, err = _scan([*argv, "--db", str(tmp_path / "a.sqlite"), "--strict"], capsys)
    assert code == 1 and "rejected 3" in err
    path = tmp_path / "clean.txt"
    path.write_text("gemeente-zonnedal.nl\n", encoding="utf-8")
    argv = [str(path), "--resolver", server.address, "--db", str(tmp_path / "b.sqlite")]
    assert _scan([*argv, "--strict"], capsys)[0] == 0
