"""DORA register of information: round trip, identifiers and cross-template checks."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from regtools import EXAMPLE, write

from sovmap.register.files import load_register, write_register
from sovmap.register.identifiers import lei_check_digits, lei_problem
from sovmap.register.model import Criticality, Origin
from sovmap.register.roi import check_roi, read_roi, write_roi
from sovmap.register.roi_convert import register_to_roi, roi_to_register

ROI_EXAMPLE = EXAMPLE.parent / "roi"
DAY = date(2026, 3, 31)


def _export(register, out: Path) -> Path:  # type: ignore[no-untyped-def]
    roi = register_to_roi(register, DAY)
    write_roi(roi, out, register.organisation.lei.value or "", DAY, "EUR")
    return out


def test_example_roi_is_clean() -> None:
    roi, problems = read_roi(ROI_EXAMPLE)
    assert problems == []
    assert check_roi(roi) == []


def test_round_trip_import_export_import_keeps_the_register(tmp_path: Path) -> None:
    roi, _ = read_roi(ROI_EXAMPLE)
    first = roi_to_register(roi)
    _export(first, tmp_path / "out")
    again, problems = read_roi(tmp_path / "out")
    assert problems == []
    second = roi_to_register(again)
    assert second == first
    # the files themselves are reproduced, too
    for name in sorted(p.name for p in (ROI_EXAMPLE / "reports").glob("b_*.csv")):
        assert (tmp_path / "out/reports" / name).read_text() == (
            ROI_EXAMPLE / "reports" / name
        ).read_text(), name


def test_imported_meaning(tmp_path: Path) -> None:
    reg = roi_to_register(read_roi(ROI_EXAMPLE)[0])
    admin = reg.services["PF-2021-004:S19"]
    assert admin.provider.value == "724500ADMINPLATFRM78"
    assert admin.data_location.value == "DE" and admin.stores_data.value is True
    # the SaaS is hosted on AWS (rank 2 in B_05.02) and AWS EMEA belongs to Amazon.com
    assert reg.chain("724500ADMINPLATFRM78", admin.id) == (
        "724500ADMINPLATFRM78",
        "LURCSL.B186284",
        "ZXTILKJKG63JELOEG630",
    )
    assert reg.processes["F1"].criticality.value is Criticality.CRITICAL
    assert reg.processes["F1"].rto_hours.value == 24
    assert reg.processes["F3"].services == ("PF-2021-004:S19", "PF-2019-002:S13")
    assert reg.contracts["PF-2021-004"].end.origin is Origin.MISSING  # 9999-12-31 = open
    # and it survives being written as a register directory
    write_register(reg, tmp_path / "reg")
    assert load_register(tmp_path / "reg") == reg


def test_register_export_and_back_keeps_what_the_roi_can_hold(tmp_path: Path) -> None:
    reg = load_register(EXAMPLE)
    roi = register_to_roi(reg, DAY)
    back = roi_to_register(roi)
    # every contract and process survives with its key facts
    assert set(back.contracts) == set(reg.contracts)
    for cid, c in reg.contracts.items():
        b = back.contracts[cid]
        assert (b.end.value, b.notice_days.value, b.annual_cost.value) == (
            c.end.value,
            c.notice_days.value,
            c.annual_cost.value,
        )
    assert set(back.processes) == set(reg.processes)
    assert back.processes["toeslagen-betaling"].rto_hours.value == 8
    # services are collapsed to (contract, service type), as the RoI knows them
    assert "MS-EA-2023:S19" in back.services
    # a register -> RoI -> register -> RoI is stable
    assert register_to_roi(back, DAY) == roi


def test_example_register_export_reports_missing_provider_codes() -> None:
    roi = register_to_roi(load_register(EXAMPLE), DAY)
    codes = sorted({(p.code, p.message.split("'")[1]) for p in check_roi(roi)})
    assert codes == [
        ("ROI_NO_PROVIDER_CODE", "aws-emea"),
        ("ROI_NO_PROVIDER_CODE", "cisco"),
        ("ROI_NO_PROVIDER_CODE", "cloudera"),
        ("ROI_NO_PROVIDER_CODE", "microsoft-ireland"),
        ("ROI_NO_PROVIDER_CODE", "splunk"),
    ]


def test_lei_check_digits() -> None:
    # real LEIs (GLEIF): Microsoft Corporation, SAP SE, Amazon.com, Inc.
    for lei in ("INR2EJN1ERAN0W5ZP974", "529900D6BF99LW9R2E68", "ZXTILKJKG63JELOEG630"):
        assert lei_problem(lei) == ""
        assert lei_check_digits(lei[:18]) == lei[18:]
    assert lei_problem("INR2EJN1ERAN0W5ZP975") == "check digits do not match (expected 74)"
    assert lei_problem("INR2EJN1ERAN0W5ZP9") != ""
    # ISO 7064 MOD 97-10 catches every single-digit substitution and adjacent transposition
    lei = "529900D6BF99LW9R2E68"
    for i, old in enumerate(lei):
        if old.isdigit():
            for ch in "0123456789".replace(old, ""):
                assert lei_problem(lei[:i] + ch + lei[i + 1 :]) != ""
    for i in range(len(lei) - 1):
        if lei[i].isdigit() and lei[i + 1].isdigit() and lei[i] != lei[i + 1]:
            swapped = lei[:i] + lei[i + 1] + lei[i] + lei[i + 2 :]
            assert lei_problem(swapped) != "", swapped
    with pytest.raises(ValueError):
        lei_check_digits("short")


def _broken_copy(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    root = tmp_path / "roi"
    shutil.copytree(ROI_EXAMPLE, root)
    for name, (old, new) in edits.items():
        path = root / "reports" / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    return root


def test_cross_template_key_failures_are_reported(tmp_path: Path) -> None:
    root = _broken_copy(
        tmp_path,
        {
            # a service row for a contract that B_02.01 does not know, and a function
            # that B_06.01 does not define
            "b_02.02.csv": ("PF-2019-002,", "PF-2019-009,"),
            "b_06.01.csv": ("F1,", "F9,"),
            # an ultimate parent without a B_05.01 row of its own
            "b_05.01.csv": ("ZXTILKJKG63JELOEG630,eba_qCO:qx2000\n", "INR2EJN1ERAN0W5ZP974,x\n"),
        },
    )
    roi, _ = read_roi(root)
    got = [str(p) for p in check_roi(roi)]
    assert (
        "reports/b_02.02.csv:5: B_02.02.c0010: 'PF-2019-009': no such contractual arrangement "
        "in B_02.01 [ROI_UNKNOWN_KEY]" in got
    )
    assert (
        "reports/b_02.02.csv:3: B_02.02.c0050: 'F1': no such function in B_06.01 "
        "[ROI_UNKNOWN_KEY]" in got
    )
    assert (
        "reports/b_05.01.csv:5: B_05.01.c0120: 'x' is not a type of code [ROI_BAD_CODE_TYPE]" in got
    )


def test_format_rules(tmp_path: Path) -> None:
    root = _broken_copy(
        tmp_path,
        {
            "b_07.01.csv": ("2025-11-15", "15/11/2025"),
            "b_02.02.csv": ("eba_TA:S13", "eba_TA:S20"),
            "b_01.01.csv": ("eba_GA:NL", "eba_GA:XX"),
            "b_02.01.csv": ("eba_CU:EUR", "eba_CU:EUX"),
            "b_03.02.csv": ("529900D6BF99LW9R2E68", "529900D6BF99LW9R2E69"),
        },
    )
    roi, _ = read_roi(root)
    got = {(p.file, p.line, p.field, p.code) for p in check_roi(roi)}
    assert ("reports/b_07.01.csv", 2, "B_07.01.c0070", "ROI_BAD_DATE") in got
    assert ("reports/b_02.02.csv", 5, "B_02.02.c0060", "ROI_BAD_SERVICE_TYPE") in got
    assert ("reports/b_01.01.csv", 2, "B_01.01.c0030", "ROI_BAD_COUNTRY") in got
    assert ("reports/b_02.01.csv", 2, "B_02.01.c0040", "ROI_BAD_CURRENCY") in got
    assert ("reports/b_03.02.csv", 4, "B_03.02.c0020", "ROI_BAD_LEI") in got
    # the changed LEI no longer matches a provider either
    assert ("reports/b_03.02.csv", 4, "B_03.02.c0020", "ROI_UNKNOWN_KEY") in got


def test_duplicate_rows_and_missing_overarching(tmp_path: Path) -> None:
    root = _broken_copy(
        tmp_path,
        {
            "b_03.02.csv": (
                "PF-2019-002,529900D6BF99LW9R2E68,eba_qCO:qx2000\n",
                "PF-2019-002,529900D6BF99LW9R2E68,eba_qCO:qx2000\n"
                "PF-2019-002,529900D6BF99LW9R2E68,eba_qCO:qx2000\n",
            ),
            "b_02.01.csv": ("PF-2019-002,eba_CO:x1", "PF-2019-002,eba_CO:x3"),
        },
    )
    got = {(p.line, p.field, p.code) for p in check_roi(read_roi(root)[0])}
    assert (5, "B_03.02.c0010", "ROI_DUPLICATE") in got
    assert (4, "B_02.01.c0030", "ROI_NO_OVERARCHING") in got


def test_header_and_missing_files_are_reported(tmp_path: Path) -> None:
    root = _broken_copy(tmp_path, {"b_04.01.csv": ("c0040", "c0041")})
    (root / "reports" / "b_06.01.csv").unlink()
    _, problems = read_roi(root)
    assert [str(p) for p in problems] == [
        "reports/b_04.01.csv:1: (header): columns differ from B_04.01: unknown ['c0041'], "
        "missing ['c0040'] [ROI_HEADER]",
        "reports/b_06.01.csv:1: (file): no file for B_06.01 [ROI_MISSING_TEMPLATE]",
    ]


def test_supply_chain_ranks_survive_the_round_trip(tmp_path: Path) -> None:
    write(
        tmp_path,
        "r.yaml",
        "organisation: {id: o, name: O, country: NL, lei: INR2EJN1ERAN0W5ZP974}\n"
        "processes:\n  - {id: F1, name: F, criticality: critical, services: [s]}\n"
        "services:\n  - {id: s, name: S, provider: a, contract: C1, dora_service_type: S19}\n"
        "providers:\n"
        "  - {id: a, name: A, subcontractors: [{provider: b, services: [s]}]}\n"
        "  - {id: b, name: B, subcontractors: [{provider: c}]}\n"
        "  - {id: c, name: C}\n"
        "contracts:\n  - {id: C1, provider: a, kind: standalone}\n",
    )
    roi = register_to_roi(load_register(tmp_path), DAY)
    chain = [(r["c0030"], r["c0050"], r["c0060"]) for r in roi["B_05.02"]]
    assert chain == [("a", "1", "a"), ("b", "2", "a"), ("c", "3", "b")]
    back = roi_to_register(roi)
    assert back.chain("a", "C1:S19") == ("a", "b", "c")
    assert register_to_roi(back, DAY)["B_05.02"] == roi["B_05.02"]


ADM = "724500ADMINPLATFRM78"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "b_05.01.csv",
            "SAP SE,SAP SE,eba_CT:x212",
            ",SAP SE,eba_CT:x212",
            "reports/b_05.01.csv:7: B_05.01.c0050: mandatory value is empty [ROI_MANDATORY]",
        ),
        (
            "b_01.02.csv",
            "eba_GA:NL",
            "NL",
            "reports/b_01.02.csv:2: B_01.02.c0030: 'NL' is not eba_GA:<ISO 3166 code> "
            "[ROI_BAD_COUNTRY]",
        ),
        (
            "b_05.01.csv",
            "eba_CU:EUR",
            "EUR",
            "reports/b_05.01.csv:2: B_05.01.c0090: 'EUR' is not eba_CU:<ISO 4217 code> "
            "[ROI_BAD_CURRENCY]",
        ),
        (
            "b_06.01.csv",
            "2026-02-01",
            "2026-02-30",
            "reports/b_06.01.csv:2: B_06.01.c0070: '2026-02-30' is not a date (YYYY-MM-DD) "
            "[ROI_BAD_DATE]",
        ),
        (
            "b_07.01.csv",
            "eba_TA:S13",
            "S13",
            "reports/b_07.01.csv:4: B_07.01.c0040: 'S13' is not a type of ICT services "
            "(eba_TA:S01..S19) [ROI_BAD_SERVICE_TYPE]",
        ),
        (
            "b_01.01.csv",
            "724500PFVELDHOVEN021",
            "724500PFVELDHOVEN022",
            "reports/b_01.01.csv:2: B_01.01.c0010: '724500PFVELDHOVEN022': check digits do not "
            "match (expected 21) [ROI_BAD_LEI]",
        ),
        (
            "b_06.01.csv",
            "F3,",
            "F1,",
            "reports/b_06.01.csv:4: B_06.01.c0010: row key F1 appears more than once "
            "[ROI_DUPLICATE]",
        ),
        (
            "b_02.02.csv",
            "2021-07-01,9999-12-31",
            "2021-07-01,2020-12-31",
            "reports/b_02.02.csv:3: B_02.02.c0080: the arrangement ends before it starts "
            "[ROI_END_BEFORE_START]",
        ),
        (
            "b_07.01.csv",
            "eba_ZZ:x960,eba_ZZ:x964",
            "eba_ZZ:x959,",
            "reports/b_07.01.csv:3: B_07.01.c0060: a reason is required when the provider is "
            "hard or not substitutable [ROI_NO_SUBSTITUTABILITY_REASON]",
        ),
        (
            "b_02.01.csv",
            "PF-2019-002,eba_CO:x1,,eba_CU:EUR,260000\n",
            "PF-2019-002,eba_CO:x1,,eba_CU:EUR,260000\nPF-2020-009,eba_CO:x1,,eba_CU:EUR,1\n",
            "warning: reports/b_02.01.csv:5: B_02.01.c0010: no B_02.02 row uses this contractual "
            "arrangement [ROI_CONTRACT_UNUSED]",
        ),
        (
            "b_02.02.csv",
            "eba_ZZ:x793,eba_ZZ:x797",
            "eba_BT:x28,eba_ZZ:x797",
            "reports/b_02.02.csv:3: B_02.02.c0170: 'eba_BT:x28' is not in the code list "
            "sensitivity [ROI_BAD_CODE]",
        ),
        (
            "b_06.01.csv",
            ",24,4,",
            ",-24,4,",
            "reports/b_06.01.csv:2: B_06.01.c0080: '-24' is not a number >= 0 [ROI_BAD_NUMBER]",
        ),
        (
            "b_02.02.csv",
            ",365,365,",
            ",365,1 year,",
            "reports/b_02.02.csv:3: B_02.02.c0110: '1 year' is not a whole number >= 0 "
            "[ROI_BAD_NUMBER]",
        ),
        (
            "b_05.01.csv",
            f"{ADM},eba_qCO:qx2000,,",
            f"{ADM},eba_qCO:qx2009,,",
            "reports/b_05.01.csv:4: B_05.01.c0020: 'eba_qCO:qx2009' is not a type of code "
            "[ROI_BAD_CODE_TYPE]",
        ),
    ],
)
def test_each_roi_rule_and_its_message(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    root = _broken_copy(tmp_path, {name: (old, new)})
    got = [
        ("warning: " if p.severity.value == "warning" else "") + str(p)
        for p in check_roi(read_roi(root)[0])
    ]
    assert expected in got, got
