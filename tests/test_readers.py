"""The input layer: encodings, CSV dialects and quotes, YAML limits; and a fuzz suite.

The fuzz tests give every reader random and mutated inputs of its format: each must accept or
reject with a sovmap error (never another exception), keep ``read == accepted + rejected``,
and never lose a row that was not damaged. ``SOVMAP_FUZZ_EXAMPLES`` sets the number of inputs
per test (``make fuzz`` runs a long variant).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sovmap.errors import SovmapError
from sovmap.readers import (
    InputError,
    InputProblem,
    decode,
    load_yaml,
    read_csv,
    read_text,
)

FUZZ = settings(
    max_examples=int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- decode


def test_decode_utf8_bom_and_utf16_boms() -> None:
    text = "domain,naam\nbé.nl,Gemeente Ærø\n"
    assert decode(text.encode(), "f") == (text, [])
    assert decode(codecs.BOM_UTF8 + text.encode(), "f") == (text, [])
    assert decode(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "f") == (text, [])
    assert decode(codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "f") == (text, [])


def test_decode_latin1_byte_names_line_and_offset_and_keeps_other_lines() -> None:
    text, problems = decode(b"a.nl\nb\xe9.nl\nc.nl\n", "list.txt")
    assert text.splitlines()[0] == "a.nl" and text.splitlines()[2] == "c.nl"
    assert [p.render() for p in problems] == [
        "list.txt:2: ENCODING: byte 0xe9 at offset 6 is not UTF-8 (save the file as UTF-8)"
    ]


def test_decode_broken_utf16_is_an_input_error_naming_line_and_byte() -> None:
    data = codecs.BOM_UTF16_LE + "a\nb\n".encode("utf-16-le") + b"\x00\xdc"
    with pytest.raises(InputError, match=r"^f:3: ENCODING: .* at byte 10"):
        decode(data, "f")


def test_problem_render_quotes_at_most_80_characters() -> None:
    text = "domain,naam\n" + "x" * 10_000_000 + ",a,b\n"
    table = read_csv(text, file="big.csv", max_field=20_000_000)
    (problem,) = table.problems
    assert problem.render().startswith("big.csv:2: COLUMNS: 3 fields where the header has 2: ")
    assert len(problem.render()) < 200


# --------------------------------------------------------------------------- size limits


def test_dev_zero_is_refused_fast() -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match="the limit is"):
        read_text("/dev/zero", max_bytes=1_000_000)
    assert time.monotonic() - start < 1


def test_a_sparse_10_gb_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(10 * 1024**3)
    start = time.monotonic()
    with pytest.raises(InputError, match=r"10,737,418,240 bytes; the limit is"):
        read_csv(big, max_bytes=100_000_000)
    assert time.monotonic() - start < 1


def test_a_named_pipe_without_a_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "list"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert read_text(fifo, max_bytes=100) == ("", [])
    assert time.monotonic() - start < 1


def test_a_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NOT_A_FILE: a directory"):
        read_text(tmp_path, max_bytes=10)


# --------------------------------------------------------------------------- CSV


def test_unterminated_quote_is_reported_where_it_opened_and_later_rows_are_kept() -> None:
    # issue 19 case 1: the quote on line 3 used to swallow every later line
    text = 'domain,name\na.nl,A\nb.nl,"B\nc.nl,C\nd.nl,D\n'
    for multiline in (True, False):
        table = read_csv(text, file="in.csv", multiline=multiline)
        assert [r["domain"] for _, r in table.rows] == ["a.nl", "c.nl", "d.nl"]
        assert [(p.line, p.code) for p in table.problems] == [(3, "UNTERMINATED_QUOTE")]
        assert (table.read, table.accepted, table.rejected) == (4, 3, 1)


def test_stray_quotes_on_two_lines_do_not_swallow_the_lines_between() -> None:
    text = 'domain,name\n"a.nl,A\nb.nl,B\nc.nl,C\n"d.nl,D\ne.nl,E\n'
    table = read_csv(text, multiline=True)
    assert [r["domain"] for _, r in table.rows] == ["b.nl", "c.nl", "e.nl"]
    assert [p.line for p in table.problems] == [2, 5]
    assert table.read == table.accepted + table.rejected == 5


def test_a_quoted_field_with_a_line_break_is_one_row_when_multiline() -> None:
    table = read_csv('id,notes\ns1,"two\nlines"\ns2,x\n', multiline=True)
    assert table.rows == [(2, {"id": "s1", "notes": "two\nlines"}), (4, {"id": "s2", "notes": "x"})]


def test_a_long_file_is_read_in_order_with_errors_far_apart() -> None:
    # past the reader's line buffer (4,096 lines), which it releases as it goes
    lines = ["domain,n"] + [f"d{i}.nl,{i}" for i in range(20_000)]
    broken = {5000: 'd5000.nl,"5000', 9000: "d9000.nl,1,2", 15000: 'd15000.nl,"x'}
    for index, text in broken.items():
        lines[index + 1] = text
    table = read_csv("\n".join(lines) + "\n", multiline=True)
    assert (table.read, table.accepted, table.rejected) == (20_000, 19_997, 3)
    assert [p.line for p in table.problems] == [5002, 9002, 15002]
    assert [n for n, _ in table.rows] == [i + 2 for i in range(20_000) if i not in broken]
    assert table.rows[-1] == (20_001, {"domain": "d19999.nl", "n": "19999"})


def test_field_over_the_limit_rejects_its_row_only() -> None:
    # issue 19 case 7: a 128 KiB field was a traceback mid-scan
    text = "domain,name\na.nl,A\nb.nl," + "x" * 200_000 + "\nc.nl,C\n"
    table = read_csv(text, file="in.csv")
    assert [r["domain"] for _, r in table.rows] == ["a.nl", "c.nl"]
    assert [p.render() for p in table.problems] == [
        "in.csv:3: FIELD_TOO_LARGE: field 2 is 200,000 characters; the limit is 131,072"
    ]


def test_header_with_more_commas_than_semicolons_picks_the_domain_delimiter() -> None:
    # issue 19 case 8: sniffing by count chose ',' and ended in a traceback
    text = "domain;name, with, commas;x\na.nl;Gemeente A, B;1\n"
    table = read_csv(text, want={"domain"})
    assert table.delimiter == ";"
    assert table.rows == [(2, {"domain": "a.nl", "name, with, commas": "Gemeente A, B", "x": "1"})]


def test_comment_lines_with_commas_are_skipped() -> None:
    # issue 19 case 20
    table = read_csv("# lijst van 2024, versie 2\ndomain\na.nl\n# tussenkop, b\nb.nl\n")
    assert [r["domain"] for _, r in table.rows] == ["a.nl", "b.nl"]
    assert table.read == 2 and table.header_line == 2


def test_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"domain;naam\na.nl;A\n")
    assert read_csv(path).rows == [(2, {"domain": "a.nl", "naam": "A"})]


def test_duplicate_header_names_are_an_error() -> None:
    with pytest.raises(InputError, match=r"^x.csv:1: DUPLICATE_HEADER: column 'Domain'"):
        read_csv("domain,name,Domain\na,b,c\n", file="x.csv")


def test_non_utf8_line_is_rejected_and_the_rest_kept() -> None:
    # issue 19 case 6: one Latin-1 byte used to stop the scan
    table = read_csv(b"domain,name\na.nl,A\nb.nl,Caf\xe9\nc.nl,C\n", file="in.csv")
    assert [r["domain"] for _, r in table.rows] == ["a.nl", "c.nl"]
    assert [(p.line, p.code) for p in table.problems] == [(3, "ENCODING")]
    assert (table.read, table.accepted, table.rejected) == (3, 2, 1)


def test_short_and_long_rows_are_rejected_trailing_empty_fields_are_not() -> None:
    table = read_csv("a,b\n1\n1,2,3\n1,2,,\n")
    assert table.rows == [(4, {"a": "1", "b": "2"})]
    assert [p.code for p in table.problems] == ["COLUMNS", "COLUMNS"]


def test_empty_file_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no header"):
        read_csv("\n# only a comment\n", file="e.csv")


# --------------------------------------------------------------------------- YAML


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        prev, cur = chr(96 + n), chr(97 + n)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_in_milliseconds_and_little_memory() -> None:
    # issue 19 case 2: this used 5.8 GB and never finished
    bomb = _alias_bomb()
    assert len(bomb) < 700
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(InputError, match=r"^services.yaml:2: YAML_ALIAS: "):
        load_yaml(bomb, file="services.yaml")
    assert time.monotonic() - start < 0.1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_recursive_alias_and_deep_nesting_are_limits_not_recursion_errors() -> None:
    # issue 19 case 17
    with pytest.raises(InputError, match="YAML_ALIAS"):
        load_yaml("a: &a [*a]\n")
    with pytest.raises(InputError, match=r"^d.yaml:1: YAML_LIMIT: nested more than 100"):
        load_yaml("[" * 5000 + "]" * 5000, file="d.yaml")
    assert load_yaml("[" * 50 + "]" * 50) is not None


def test_node_limit_and_size_limit() -> None:
    with pytest.raises(InputError, match="YAML_LIMIT: more than 1,000 values"):
        load_yaml("[" + ", ".join(["1"] * 2000) + "]", max_nodes=1000)
    with pytest.raises(InputError, match="the limit is 10"):
        load_yaml("a: 123456789012\n", max_bytes=10)


def test_duplicate_key_names_its_line() -> None:
    with pytest.raises(InputError, match=r"^r.yaml:4: DUPLICATE_KEY: key 'id' is already given"):
        load_yaml("services:\n  - id: a\n    name: A\n    id: b\n", file="r.yaml")


def test_latin1_yaml_names_file_and_line(tmp_path: Path) -> None:
    # issue 19 case 11
    path = tmp_path / "org.yaml"
    path.write_bytes(b"organisation:\n  name: Caf\xe9\n")
    with pytest.raises(InputError, match=r"org.yaml:2: ENCODING: byte 0xe9 at offset 25"):
        load_yaml(path)


def test_syntax_error_names_line() -> None:
    with pytest.raises(InputError, match=r"^s.yaml:2: YAML_SYNTAX: "):
        load_yaml("a: [1\nb: ]]\n", file="s.yaml")


# --------------------------------------------------------------------------- fuzz

_CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='\r\n"#,;\t'),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")


@st.composite
def _table(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 5))
    header = [f"col{i}" for i in range(width)]
    rows = draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=30))
    return header, rows


_MUTATIONS = ("quote", "bad_byte", "huge", "extra_columns", "short")


def _check_accounting(table: object) -> None:
    from sovmap.readers import CsvTable

    assert isinstance(table, CsvTable)
    assert table.read == table.accepted + table.rejected
    assert len(table.rows) == table.accepted
    lines = [n for n, _ in table.rows]
    assert lines == sorted(set(lines))
    assert all(isinstance(p, InputProblem) for p in table.problems)


@FUZZ
@given(
    _table(),
    st.sampled_from(",;\t"),
    st.booleans(),
    st.data(),
)
def test_fuzz_csv_mutated_rows_never_lose_an_undamaged_row(
    table: tuple[list[str], list[list[str]]], delim: str, multiline: bool, data: st.DataObject
) -> None:
    header, rows = table
    damaged: dict[int, str] = {}
    if rows:
        picks = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=len(rows), unique=True))
        for index in picks:
            damaged[index] = data.draw(st.sampled_from(_MUTATIONS))
    lines: list[bytes] = [delim.join(header).encode()]
    for index, row in enumerate(rows):
        line = delim.join(row).encode()
        kind = damaged.get(index)
        if kind == "quote":
            column = data.draw(st.integers(0, len(row) - 1))
            cells = list(row)
            cells[column] = '"' + cells[column]
            line = delim.join(cells).encode()
        elif kind == "bad_byte":
            line += b"\xff"
        elif kind == "huge":
            line += b"x" * 2000
        elif kind == "extra_columns":
            line += (delim + "extra").encode()
        elif kind == "short":
            if len(row) == 1:
                damaged.pop(index)  # one column cannot be shorter without being blank
            else:
                line = delim.join(row[:-1]).encode()
        lines.append(line)
    blob = b"\n".join(lines) + b"\n"
    result = read_csv(blob, file="fuzz.csv", max_field=1000, multiline=multiline, delimiters=delim)
    _check_accounting(result)
    expected = [
        (i + 2, dict(zip(header, row, strict=True)))
        for i, row in enumerate(rows)
        if i not in damaged
    ]
    assert result.rows == expected
    assert result.rejected == len(damaged)
    assert sorted({p.line for p in result.problems}) == sorted(i + 2 for i in damaged)


@FUZZ
@given(
    st.lists(
        st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"))),
        min_size=1,
        max_size=20,
    )
)
def test_fuzz_csv_written_by_the_csv_module_reads_back_exactly(rows: list[list[str]]) -> None:
    width = max(1, *(len(r) for r in rows))
    header = [f"h{i}" for i in range(width)]
    body = [r + ["x"] * (width - len(r)) for r in rows]
    body = [["k" + r[0], *r[1:]] for r in body]  # a non-blank first cell, never a comment
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    result = read_csv(out.getvalue(), delimiters=",", multiline=True)
    assert result.rows == [
        (n, dict(zip(header, r, strict=True)))
        for n, r in zip(_start_lines(body), body, strict=True)
    ]
    assert result.problems == []


def _start_lines(body: list[list[str]]) -> list[int]:
    line = 2
    starts = []
    for row in body:
        starts.append(line)
        line += sum(cell.count("\n") for cell in row) + 1
    return starts


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_csv_random_bytes_accept_or_reject(blob: bytes) -> None:
    try:
        result = read_csv(blob, file="fuzz.csv", max_field=100)
    except SovmapError:
        return
    _check_accounting(result)


@FUZZ
@given(st.text(alphabet='a,;\t"\n#\r \\x', max_size=300))
def test_fuzz_csv_structural_characters_accept_or_reject(text: str) -> None:
    try:
        result = read_csv(text, file="fuzz.csv", max_field=20)
    except SovmapError:
        return
    _check_accounting(result)


_YAML_SEED = _alias_bomb() + (
    "organisation:\n  id: org\n  name: 'Gemeente'\nservices:\n  - id: mail\n"
    "    depends_on: [{service: dns, kind: hosting}]\n    notes: |\n      two\n      lines\n"
)


@FUZZ
@given(st.text(alphabet="ab: -[]{},&*!|>'\"\n#?", max_size=300))
def test_fuzz_yaml_structural_text_accept_or_reject(text: str) -> None:
    try:
        load_yaml(text, file="fuzz.yaml", max_depth=20, max_nodes=500)
    except SovmapError:
        return


@FUZZ
@given(st.data())
def test_fuzz_yaml_mutated_register_accept_or_reject(data: st.DataObject) -> None:
    blob = bytearray(_YAML_SEED.encode())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        action = data.draw(st.sampled_from(("flip", "insert", "delete")))
        if action == "flip":
            blob[pos] = data.draw(st.integers(0, 255))
        elif action == "insert":
            pieces = [b"*a", b"&x ", b"[", b"{", b"\n- ", b"\xe9"]
            blob[pos:pos] = data.draw(st.sampled_from(pieces))
        else:
            del blob[pos]
    try:
        load_yaml(bytes(blob), file="fuzz.yaml")
    except SovmapError:
        return
