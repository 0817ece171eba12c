"""Each family of the encoded EBA rules, with a passing case (the bank's package as exported)
and a failing one (one value changed)."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path

import pytest
from regtools import EXAMPLE

from sovmap.register.dora import package as pkg
from sovmap.register.dora.export import register_to_tables
from sovmap.register.dora.rules import rule_set, validate_tables
from sovmap.register.files import load_register

BANK = EXAMPLE.parent / "bank-register"
DAY = date(2025, 12, 31)


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict[str, str]]]:
    out = register_to_tables(load_register(BANK), DAY)
    assert out.findings == []
    for rows in out.tables.values():
        for i, row in enumerate(rows):
            row["_line"] = str(i + 2)
    return out.tables


def test_every_rule_names_its_source_and_the_rule_set_version() -> None:
    data = rule_set()
    assert "DORA010100" in data["version"]
    ids = [r["id"] for r in data["rules"]]
    assert len(ids) == len(set(ids))
    for r in data["rules"]:
        assert r["source"] in data["sources"], r["id"]
    assert len(data["templates"]) == 15


def test_the_bank_package_passes(tables: dict[str, list[dict[str, str]]]) -> None:
    assert validate_tables(tables) == []


# (template, row, column, new value, the rule that must fire)
CASES = [
    ("B_02.01", 0, "c0020", "eba_CO:x7", "503"),  # closed list
    ("B_05.01", 0, "c0020", "sovmap:internal", "503"),  # not an EBA type of code
    ("B_02.02", 0, "c0130", "eba_GA:XX", "503"),
    ("B_02.02", 0, "c0070", "01-04-2022", "330"),  # date form
    ("B_02.02", 0, "c0100", "90.5", "331"),  # whole number
    ("B_02.01", 0, "c0050", "2.400.000,00", "305"),  # amount
    ("B_03.01", 0, "c0030", "false", "333"),  # link
    ("B_02.02", 0, "c0150", "", "805"),  # key column empty: placeholder needed
    ("B_04.01", 0, "c0040", "", "805"),
    ("B_03.02", 0, "c0020", "724500NOSUCHPROVID00", "807"),  # reference
    ("B_05.01", 0, "c0110", "549300NOSUCHPARENT00", "807"),
    ("B_02.02", 0, "c0050", "F-NOPE", "807"),
    ("B_02.02", 0, "c0030", "LURCSL.B186284", "807"),  # a provider that did not sign it
    ("B_01.02", 0, "c0080", "", "e23676_e"),  # mandatory column
    ("B_06.01", 0, "c0020", "", "e23682_e"),
    ("B_07.01", 0, "c0070", "", "e23681_e"),
    ("B_05.01", 0, "c0050", "", "v8851_m"),  # row completeness
    ("B_02.01", 0, "c0040", "", "v8867_m"),
    ("B_02.01", 0, "c0020", "eba_CO:x3", "v8805_m"),  # subsequent needs its overarching
    ("B_07.01", 0, "c0060", "", "v8825_m"),  # hard to substitute needs a reason
    ("B_05.01", 0, "c0020", "eba_qCO:qx2004", "v8817_m"),  # legal person: LEI or EUID
    ("B_02.02", 0, "c0080", "2020-01-01", "v8816_m"),  # ends before it starts
    ("B_01.02", 0, "c0110", "-5", "v22913_s"),
    ("B_01.02", 0, "c0060", "NOT-AN-LEI", "v8826_m"),
    ("B_01.02", 0, "c0110", "", "v8804_m"),  # a credit institution reports total assets
    ("B_01.01", 0, "c0010", "724500POLDERBANKNL54", "SOV_LEI"),  # check digits
    ("B_05.01", 0, "c0010", "USDE.2024123", "SOV_EUID"),  # no EU/EEA business register
]


@pytest.mark.parametrize(("template", "index", "column", "value", "rule"), CASES)
def test_a_changed_value_breaks_its_rule(
    tables: dict[str, list[dict[str, str]]],
    template: str,
    index: int,
    column: str,
    value: str,
    rule: str,
) -> None:
    changed = copy.deepcopy(tables)
    changed[template][index][column] = value
    found = validate_tables(changed)
    assert rule in {f.rule for f in found}, [f.render() for f in found]
    hits = [f for f in found if f.rule == rule and f.template == template]
    assert hits and hits[0].line == index + 2


def test_duplicate_key_rule_806(tables: dict[str, list[dict[str, str]]]) -> None:
    changed = copy.deepcopy(tables)
    changed["B_02.01"].append({**changed["B_02.01"][0], "_line": "99"})
    (dup,) = [f for f in validate_tables(changed) if f.rule == "806"]
    assert dup.line == 99 and dup.key == "c0010=KS-2022-01"
    assert "line 2" in dup.message


# --------------------------------------------------------------------------- package rules


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sovmap.cli import main

    out = tmp_path_factory.mktemp("bank")
    args = ["register", "export", str(BANK), "--format", "dora-roi", "--out", str(out)]
    assert main([*args, "--date", DAY.isoformat(), "--zip"]) == 0
    return out


def _root(out: Path) -> Path:
    (root,) = [p for p in out.iterdir() if p.is_dir()]
    return root


def _findings(path: Path) -> set[str]:
    return {f.rule for f in pkg.package_findings(pkg.read_package(path), date(2026, 4, 1))}


def test_the_bank_package_passes_the_package_rules(package_dir: Path) -> None:
    root = _root(package_dir)
    assert _findings(root) == set()
    assert _findings(package_dir / f"{root.name}.zip") == set()


def _edit(package_dir: Path, tmp_path: Path, rel: str, old: str, new: str) -> Path:
    copy_root = tmp_path / _root(package_dir).name
    shutil.copytree(_root(package_dir), copy_root)
    path = copy_root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return copy_root


@pytest.mark.parametrize(
    ("rel", "old", "new", "rule"),
    [
        ("reports/FilingIndicators.csv", "B_99.01,true\n", "", "705"),  # every template
        ("reports/FilingIndicators.csv", "B_99.01,true", "B_99.01,false", "808"),
        ("reports/FilingIndicators.csv", "B_99.01,true", "B_99.01,true\nB_99.01,true", "703"),
        ("reports/FilingIndicators.csv", "B_99.01,true", "B_99.01,maybe", "704"),
        ("reports/FilingIndicators.csv", "templateID,reported", "template,reported", "702"),
        ("reports/parameters.csv", "name,value", "key,value", "723"),
        ("reports/parameters.csv", ".CON\n", ".GRP\n", "514"),
        ("reports/parameters.csv", "refPeriod,2025-12-31", "refPeriod,2027-12-31", "111"),
        ("reports/report.json", "dora/4.0/mod/dora.json", "dora/3.3/mod/dora.json", "505"),
    ],
)
def test_a_changed_package_breaks_its_rule(
    package_dir: Path, tmp_path: Path, rel: str, old: str, new: str, rule: str
) -> None:
    assert rule in _findings(_edit(package_dir, tmp_path, rel, old, new))


def test_name_and_entity_rules(package_dir: Path, tmp_path: Path) -> None:
    root = _root(package_dir)
    # a zip whose name and root folder differ from the convention
    bad = tmp_path / "register.zip"
    shutil.copy(package_dir / f"{root.name}.zip", bad)
    assert {"103", "105"} <= _findings(bad)
    # entityID and refPeriod must match the package name
    edited = _edit(package_dir, tmp_path, "reports/parameters.csv", ".CON\n", ".IND\n")
    assert "714" in _findings(edited)
    (tmp_path / "x").mkdir()
    edited2 = _edit(
        package_dir, tmp_path / "x", "reports/parameters.csv", "2025-12-31", "2025-06-30"
    )
    assert "320" in _findings(edited2)
    # no stray file, all metadata present
    (edited2 / "reports" / "notes.txt").write_text("x")
    (edited2 / "reports" / "parameters.csv").unlink()
    assert {"720", "701"} <= _findings(edited2)


def test_header_rules(package_dir: Path, tmp_path: Path) -> None:
    edited = _edit(package_dir, tmp_path, "reports/b_02.01.csv", "c0040,c0050", "c0040,c0045")
    rules = {f.rule for f in pkg.read_package(edited).findings}
    assert rules == {"801", "809"}


def test_lei_check_digits_01_and_99_are_never_valid() -> None:
    from sovmap.register.identifiers import lei_check_digits, lei_problem

    # prefixes whose true check digits are 98 and 02: 01 and 99 pass MOD 97 but are not issued
    prefixes = (f"724500TEST{i:08d}" for i in range(10_000))
    high = next(p for p in prefixes if lei_check_digits(p) == "98")
    low = next(
        p for p in (f"724500TEST{i:08d}" for i in range(10_000)) if lei_check_digits(p) == "02"
    )
    assert lei_problem(high + "98") == "" and lei_problem(low + "02") == ""
    assert lei_problem(high + "01") != "" and lei_problem(low + "99") != ""
