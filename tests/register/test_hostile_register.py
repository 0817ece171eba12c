"""Hostile and broken register files (issue 19): every problem named by file and line, nothing
lost silently, no file that hangs the loader."""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import pytest
from regtools import EXAMPLE, write

from sovmap.cli import main
from sovmap.register.files import check_register

ORG = "organisation:\n  id: org\n  name: Org\n  country: NL\n"
SERVICE = "  - id: {id}\n    name: {name}\n    capability: mailbox\n"


def _errors(root: Path) -> list[tuple[str, int, str]]:
    return [(p.file, p.line, p.code) for p in check_register(root).errors]


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        prev, cur = chr(96 + n), chr(97 + n)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_case1_unterminated_quote_in_a_csv_loses_no_later_row(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(
        tmp_path,
        "contracts.csv",
        'id,name,notice_days\nc1,One,30\nc2,"Two,30\nc3,Three,60\nc4,Four,90\n',
    )
    result = check_register(tmp_path)
    assert [(p.file, p.line, p.code) for p in result.errors] == [
        ("contracts.csv", 3, "UNTERMINATED_QUOTE")
    ]
    assert not result.ok  # never "ok" while a row is missing
    assert result.register is not None
    assert sorted(result.register.contracts) == ["c1", "c3", "c4"]


def test_case2_a_700_byte_alias_bomb_is_refused_in_milliseconds(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "bomb.yaml", _alias_bomb())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    errors = _errors(tmp_path)
    assert time.monotonic() - start < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert errors == [("bomb.yaml", 2, "YAML_ALIAS")]


def test_case2_register_check_command_on_an_alias_bomb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "reg")
    write(tmp_path / "reg", "bomb.yaml", _alias_bomb())
    code = main(["register", "check", str(tmp_path / "reg")])
    out = capsys.readouterr()
    assert code != 0
    assert "bomb.yaml:2" in out.out + out.err and "YAML_ALIAS" in out.out + out.err
    assert "Traceback" not in out.err


def test_case11_latin1_file_names_file_line_and_byte(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    (tmp_path / "services.yaml").write_bytes(
        b"services:\n" + SERVICE.format(id="s1", name="Caf\xe9").encode("latin-1")
    )
    (problem,) = check_register(tmp_path).errors
    assert (problem.file, problem.line, problem.code) == ("services.yaml", 3, "ENCODING")
    assert "byte 0xe9 at offset" in problem.message


def test_case11_latin1_csv_row_is_rejected_and_others_kept(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    (tmp_path / "contracts.csv").write_bytes(b"id,name\nc1,Caf\xe9\nc2,Two\n")
    result = check_register(tmp_path)
    assert [(p.line, p.code) for p in result.errors] == [(2, "ENCODING")]
    assert result.register is not None and list(result.register.contracts) == ["c2"]


def test_case11_utf16_with_bom_is_read(tmp_path: Path) -> None:
    (tmp_path / "org.yaml").write_bytes(ORG.encode("utf-16"))
    assert check_register(tmp_path).ok


def test_case16_duplicate_id_in_one_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(
        tmp_path,
        "services.yaml",
        "services:\n" + SERVICE.format(id="s1", name="One") + SERVICE.format(id="s1", name="Two"),
    )
    (problem,) = check_register(tmp_path).errors
    assert (problem.file, problem.line, problem.code) == ("services.yaml", 5, "DUPLICATE_ID")
    assert "already used on line 2" in problem.message


def test_case16_plain_fields_given_differently_in_two_files_conflict(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "a.yaml", "services:\n" + SERVICE.format(id="s1", name="Mail"))
    write(tmp_path, "b.yaml", "services:\n" + SERVICE.format(id="s1", name="Post"))
    (problem,) = check_register(tmp_path).errors
    assert (problem.file, problem.code) == ("b.yaml", "CONFLICT")
    assert problem.field == "services[s1].name"
    assert "'Mail'" in problem.message and "'Post'" in problem.message


def test_case17_deep_nesting_and_recursive_alias_are_limits(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "deep.yaml", "services: " + "[" * 5000 + "]" * 5000 + "\n")
    write(tmp_path, "loop.yaml", "services: &s [*s]\n")
    assert sorted(_errors(tmp_path)) == [
        ("deep.yaml", 1, "YAML_LIMIT"),
        ("loop.yaml", 1, "YAML_ALIAS"),
    ]


def test_a_huge_register_file_is_refused_before_reading(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    with (tmp_path / "big.yaml").open("wb") as fh:
        fh.truncate(10 * 1024**3)
    start = time.monotonic()
    (problem,) = check_register(tmp_path).errors
    assert time.monotonic() - start < 1
    assert (problem.file, problem.code) == ("big.yaml", "TOO_LARGE")
    assert "10,737,418,240 bytes" in problem.message


def test_case17_a_chain_of_1200_services_is_checked_and_used_without_recursion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 1200
    items = []
    for i in range(n):
        item = SERVICE.format(id=f"s{i}", name=f"S{i}") + "    provider: p\n"
        if i + 1 < n:
            item += f"    depends_on: [{{service: s{i + 1}, kind: hosted-on}}]\n"
        items.append(item)
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "providers.yaml", "providers:\n  - id: p\n    name: P\n    country: US\n")
    write(tmp_path, "services.yaml", "services:\n" + "".join(items))
    result = check_register(tmp_path)
    assert result.ok and result.register is not None
    assert len(result.register.closure(["s0"])) == n
    for argv in (["risk", str(tmp_path)], ["cutoff", str(tmp_path), "--jurisdiction", "US"]):
        assert main(argv) == 0
        assert "Traceback" not in capsys.readouterr().err


def test_case17_a_long_dependency_cycle_is_named(tmp_path: Path) -> None:
    n = 1500
    items = [
        SERVICE.format(id=f"s{i}", name=f"S{i}")
        + f"    depends_on: [{{service: s{(i + 1) % n}, kind: hosted-on}}]\n"
        for i in range(n)
    ]
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "services.yaml", "services:\n" + "".join(items))
    (problem,) = check_register(tmp_path).errors
    assert problem.code == "DEPENDENCY_CYCLE"
    assert problem.message.startswith("dependency cycle: s0 -> s1 -> s2")
    assert problem.message.endswith("s1499 -> s0")


def test_register_check_prints_the_accounting_of_a_csv_with_errors_in_the_middle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(
        tmp_path,
        "contracts.csv",
        'id,name,notice_days\nc1,One,30\nc2,"Two,30\nc3,Three,60,extra\nc4,Four,90\n',
    )
    assert main(["register", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "contracts.csv: rows read: 4 = accepted 2 + rejected 2" in out.splitlines()
    assert "contracts.csv:3: (row): a quote opened on this line is not closed" in out
    assert "contracts.csv:4: (row): 4 fields where the header has 3" in out
