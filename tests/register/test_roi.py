"""DORA register of information: the package as filed, the EBA rules, money and parents, and
an import that keeps everything or says what it lost."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from regtools import EXAMPLE

from sovmap.cli import main
from sovmap.register.dora import package as pkg
from sovmap.register.dora.cli import default_reference_date
from sovmap.register.dora.export import register_to_tables
from sovmap.register.dora.rules import rule_set, validate_tables
from sovmap.register.files import load_register
from sovmap.register.ownership import control_of
from sovmap.register.roi import read_roi
from sovmap.register.roi_convert import roi_to_register

ROI_EXAMPLE = EXAMPLE.parent / "roi"
BANK = EXAMPLE.parent / "bank-register"
INCOMPLETE = Path(__file__).parent / "data" / "incomplete-register"
DAY = date(2025, 12, 31)


def _export(path: Path, out: Path, *extra: str) -> int:
    args = ["register", "export", str(path), "--format", "dora-roi", "--out", str(out)]
    return main([*args, "--date", DAY.isoformat(), *extra])


def _root(out: Path) -> Path:
    (root,) = [p for p in out.iterdir() if p.is_dir()]
    return root


def _csv(root: Path, template: str) -> str:
    return (root / "reports" / pkg.file_name(template)).read_text(encoding="utf-8")


def _rows(root: Path, template: str) -> dict[str, dict[str, str]]:
    return {r["c0010"]: r for r in csv.DictReader(io.StringIO(_csv(root, template)))}


# --------------------------------------------------------------------------- examples


def test_bank_register_package_passes_every_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(BANK, tmp_path, "--zip") == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "ok: no blocking finding" in captured.out
    root = _root(tmp_path)
    # <LEI>.<CON|IND>_<CC>_DORA010100_DORA_<refdate>_<timestamp>, CON: the bank has a subsidiary
    m = pkg.NAME.match(root.name)
    assert m is not None and m["scope"] == "CON" and m["cc"] == "NL" and m["date"] == "2025-12-31"
    zip_path = tmp_path / f"{root.name}.zip"
    with zipfile.ZipFile(zip_path) as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {root.name}
    for source in (root, zip_path):
        back = pkg.read_package(source)
        assert pkg.package_findings(back, date.today()) == []
        assert validate_tables(back.tables) == []
        assert back.present == set(rule_set()["templates"])
    params = (root / "reports" / "parameters.csv").read_text()
    assert "entityID,rs:724500POLDERBANKNL53.CON" in params
    # the AWS contract is billed in dollars and stays in dollars, in B_02.01 and B_05.01
    assert "AWS-2024-07,eba_CO:x1,,eba_CU:USD,85000" in _csv(root, "B_02.01")
    assert "eba_GA:LU,eba_CU:USD,85000,ZXTILKJKG63JELOEG630" in _csv(root, "B_05.01")


def test_individual_scope_on_request(tmp_path: Path) -> None:
    assert _export(BANK, tmp_path, "--consolidation", "IND") == 0
    root = _root(tmp_path)
    assert ".IND_NL_" in root.name
    assert "rs:724500POLDERBANKNL53.IND" in (root / "reports" / "parameters.csv").read_text()


def test_incomplete_register_names_each_blocking_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _export(INCOMPLETE, tmp_path) == 1
    err = capsys.readouterr().err
    # a parent known only by its name
    assert "SOV_PARENT: B_05.01.c0110 [c0010=IECRO.668409]" in err
    assert "Alphabet Inc." in err
    # a natural person without an identification code
    assert "SOV_NO_CODE: B_05.01.c0020 [c0010=consultant]" in err
    assert "e23674_e: B_05.01.c0020 [c0010=consultant|c0020=]" in err
    # a branch without its country
    assert "reports/b_01.03.csv:2: e23675_e: B_01.03.c0040 [c0010=DV-DE-01" in err
    # an intra-group arrangement that supports no function
    assert "805: B_02.02.c0050 [c0010=IG-2025" in err
    # EUR and GBP for one provider, no rates: each currency named
    assert "contracts in several currencies (EUR 120000, GBP 20000)" in err
    root = _root(tmp_path)
    assert (tmp_path / f"{root.name}.NOT-FILEABLE.txt").exists()
    b0501 = _csv(root, "B_05.01")
    assert "eba_CU:USD,85000" in b0501 and "AWS-2025,eba_CO:x1,,eba_CU:USD,85000" in _csv(
        root, "B_02.01"
    )
    # no provider is its own ultimate parent unless it has none
    providers = _rows(root, "B_05.01")
    assert providers["IECRO.668409"]["c0110"] == ""
    assert providers["ZXTILKJKG63JELOEG630"]["c0110"] == "ZXTILKJKG63JELOEG630"
    assert providers["LURCSL.B186284"]["c0110"] == "ZXTILKJKG63JELOEG630"
    assert providers["724500DIJKITSERVIC35"]["c0110"] == "724500DIJKVERZEKER95"


def test_findings_in_dutch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _export(INCOMPLETE, tmp_path, "--lang", "nl") == 1
    err = capsys.readouterr().err
    assert "e23675_e: B_01.03.c0040 [c0010=DV-DE-01|c0020=724500DIJKVERZEKER95]: verplichte " in err
    assert "de uiteindelijke moeder (Alphabet Inc. / US) is alleen bij naam of land bekend" in err
    assert "niet indienbaar: 14 blokkerende bevinding(en)" in err
    assert "mandatory" not in err


def test_rates_file_converts_a_providers_currencies(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("currency;rate\nGBP;1,15\n", encoding="utf-8-sig")  # Excel: BOM, semicolons
    assert _export(INCOMPLETE, tmp_path / "out", "--rates", str(rates)) == 1
    b0501 = _csv(_root(tmp_path / "out"), "B_05.01")
    assert "eba_CU:EUR,143000" in b0501  # 120000 EUR + 20000 GBP x 1.15
    rates.write_text("currency,rate\nGBX,abc\n")
    assert _export(INCOMPLETE, tmp_path / "out2", "--rates", str(rates)) == 2


def test_reference_date_defaults_to_end_of_previous_year_and_refuses_the_future(
    tmp_path: Path,
) -> None:
    assert default_reference_date(date(2026, 4, 30)) == date(2025, 12, 31)
    future = (datetime.now(UTC).date().replace(year=datetime.now(UTC).year + 1)).isoformat()
    args = ["register", "export", str(BANK), "--format", "dora-roi", "--out", str(tmp_path)]
    assert main([*args, "--date", future]) == 2
    assert main(args) == 0
    assert f"_DORA_{default_reference_date(datetime.now(UTC).date())}_" in _root(tmp_path).name


def test_ended_contract_without_reason_is_flagged(tmp_path: Path) -> None:
    reg = load_register(BANK)
    out = register_to_tables(reg, date(2026, 12, 31))  # MS-EA-2023 ended 2026-06-30
    flagged = [f for f in out.findings if f.rule == "SOV_ENDED"]
    assert [f.key for f in flagged] == ["c0010=MS-EA-2023"] and not flagged[0].blocking
    assert [f for f in register_to_tables(reg, DAY).findings] == []


def test_register_check_validates_group_entities(tmp_path: Path) -> None:
    shutil.copytree(BANK, tmp_path / "bank")
    org = tmp_path / "bank" / "organisation.yaml"
    org.write_text(
        org.read_text().replace("lei: 724500POLDERHYPOTH11", "lei: 724500POLDERHYPOTH12")
    )
    from sovmap.register.files import check_register

    errors = [p for p in check_register(tmp_path / "bank").errors if p.code == "BAD_LEI"]
    assert [p.field for p in errors] == ["entities[polder-hypotheken].lei"]


def test_parents_come_from_the_control_rule() -> None:
    reg = load_register(INCOMPLETE)
    assert control_of(reg, "aws-emea").ultimate_parent.id == "amazon-com"
    tables = register_to_tables(reg, DAY).tables
    rows = {r["c0010"]: r for r in tables["B_05.01"]}
    assert rows["LURCSL.B186284"]["c0110"] == "ZXTILKJKG63JELOEG630"
    # a parent known by LEI, name and country gets its own row (rule 807)
    assert rows["724500DIJKVERZEKER95"]["c0050"] == "Dijk Verzekeringen N.V. (fictional)"


# --------------------------------------------------------------------------- import


def test_example_package_imports_and_exports_identical_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_dir = tmp_path / "reg"
    assert main(["register", "import-roi", str(ROI_EXAMPLE), "--out", str(reg_dir)]) == 0
    assert "57 rows read, 57 kept, 0 not representable" in capsys.readouterr().out
    assert _export(reg_dir, tmp_path / "out") == 0
    original, again = _root(ROI_EXAMPLE), _root(tmp_path / "out")
    files = sorted(p.relative_to(original) for p in original.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (original / rel).read_bytes(), rel


def test_import_keeps_groups_identifiers_and_placeholders() -> None:
    roi, problems = read_roi(ROI_EXAMPLE)
    assert problems == []
    reg = roi_to_register(roi)
    assert reg.entities["724500PFVITSERVICE58"].hierarchy.value == "subsidiary"
    assert reg.branches["PFV-LU-01"].country.value == "LU"
    assert reg.contracts["PF-2021-004"].used_by == ("724500PFVELDHOVEN021", "PFV-LU-01")
    assert reg.contracts["PF-IG-2025"].provided_by == ("724500PFVITSERVICE58",)
    assert reg.contracts["PF-IG-2025"].linked == ("PF-2023-001",)
    person = reg.providers["NL001234567B01"]
    assert (person.other_id.value, person.other_id_type.value) == ("NL001234567B01", "vat")
    assert (person.extra_id.value, person.extra_id_type.value) == ("12345678", "crn")
    assert person.person_type.value == "individual"
    sap = reg.services["PF-2019-002:S13"]  # no data stored: eba_GA:qx2007, not a country
    assert sap.stores_data.value is False and sap.data_location.value is None
    assert len(reg.organisation.dora_definitions.value or ()) == 19
    # US control survives the import
    assert control_of(reg, "IECRO.256796").controlling == "US"
    assert control_of(reg, "IECRO.256796").ultimate_parent.id == "INR2EJN1ERAN0W5ZP974"
    assert control_of(reg, "IECRO.256796").ultimate_parent.country == "US"


def _copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "pkg"
    shutil.copytree(_root(ROI_EXAMPLE), target)
    return target


def test_import_reads_a_zip_and_excel_csv(tmp_path: Path) -> None:
    src = _copy_example(tmp_path)
    b0201 = src / "reports" / "b_02.01.csv"
    text = b0201.read_text()
    b0201.write_bytes(b"\xef\xbb\xbf" + text.replace(",", ";").encode())  # BOM + semicolons
    zip_path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in src.rglob("*"):
            if p.is_file():
                zf.write(p, f"pkg/{p.relative_to(src)}")
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(zip_path), "--out", str(out)]) == 0
    assert load_register(out).contracts["PF-2021-004"].annual_cost.value == 1850000


def test_not_applicable_literal_is_a_placeholder(tmp_path: Path) -> None:
    src = _copy_example(tmp_path)
    b0201 = src / "reports" / "b_02.01.csv"
    b0201.write_text(
        b0201.read_text().replace(
            "PF-2023-001,eba_CO:x1,,", "PF-2023-001,eba_CO:x1,Not applicable,"
        )
    )
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(src), "--out", str(out)]) == 0
    assert load_register(out).contracts["PF-2023-001"].overarching.value is None


def test_not_applicable_literal_in_a_country_column(tmp_path: Path) -> None:
    src = _copy_example(tmp_path)
    b0202 = src / "reports" / "b_02.02.csv"
    text = b0202.read_text()
    assert "eba_GA:qx2007,eba_GA:qx2007" in text
    b0202.write_text(text.replace("eba_GA:qx2007,eba_GA:qx2007", "Not applicable,NOT APPLICABLE"))
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(src), "--out", str(out)]) == 0
    assert load_register(out).services["PF-2019-002:S13"].data_location.value is None


def test_duplicate_key_is_an_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _copy_example(tmp_path)
    b0201 = src / "reports" / "b_02.01.csv"
    b0201.write_text(b0201.read_text() + "PF-2023-001,eba_CO:x1,,eba_CU:USD,999\n")
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(src), "--out", str(out)]) == 1
    assert "806: B_02.01.c0010 [c0010=PF-2023-001]: the same key is on line 2" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_rows_the_register_cannot_hold_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _copy_example(tmp_path)
    b0202 = src / "reports" / "b_02.02.csv"
    lines = b0202.read_text().splitlines()
    second = lines[1].replace("eba_GA:NL,eba_GA:IE,eba_ZZ", "eba_GA:BE,eba_GA:IE,eba_ZZ")
    b0202.write_text("\n".join([*lines, second]) + "\n")  # a second storage country
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"reports/b_02.02.csv:{len(lines) + 1}: LOSS: B_02.02.c0150" in err
    assert main(["register", "import-roi", str(src), "--out", str(out), "--allow-loss"]) == 0


def test_an_roi_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("no")
    assert main(["register", "import-roi", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert (
        main(["register", "import-roi", str(tmp_path / "x.txt"), "--out", str(tmp_path / "r")]) == 2
    )
