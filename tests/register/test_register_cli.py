"""The `sovmap register` commands, run as a user runs them (the documented examples)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from regtools import EXAMPLE, write

from sovmap.cli import main
from sovmap.register.cyclonedx import validate_cyclonedx
from sovmap.register.files import load_register
from sovmap.register.roi import TEMPLATES, file_name


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 21 processes, 30 services, 20 providers")


def test_check_reports_errors_with_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "o.yaml", "organisation:\n  id: o\n  name: O\n  country: Netherlands\n")
    assert main(["register", "check", str(tmp_path), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False
    assert out["problems"][0]["file"] == "o.yaml"
    assert out["problems"][0]["line"] == 4
    assert out["problems"][0]["field"] == "organisation.country"


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "sovmap register file"


def test_export_dora_roi(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the agency register is not a financial entity's: the package is written, not fileable
    out = tmp_path / "roi"
    args = ["register", "export", str(EXAMPLE), "--format", "dora-roi", "--out", str(out)]
    assert main([*args, "--date", "2025-12-31"]) == 1
    (root,) = [p for p in out.iterdir() if p.is_dir()]
    assert root.name.startswith("724500LDHFICTION0068.IND_NL_DORA010100_DORA_2025-12-31_")
    for template in TEMPLATES:
        assert (root / "reports" / file_name(template)).exists()
    assert (root / "META-INF" / "reportPackage.json").exists()
    assert (out / f"{root.name}.NOT-FILEABLE.txt").exists()
    err = capsys.readouterr().err
    assert "providers.yaml:43: SOV_NO_CODE: B_05.01.c0020 [c0010=cisco]" in err
    assert "sovmap:internal" not in (root / "reports" / "b_05.01.csv").read_text()


def test_export_cyclonedx(tmp_path: Path) -> None:
    out = tmp_path / "cdx"
    args = ["register", "export", str(EXAMPLE), "--format", "cyclonedx", "--out", str(out)]
    assert main([*args, "--date", "2026-03-31"]) == 0
    bom = json.loads((out / "services.cdx.json").read_text())
    assert validate_cyclonedx(bom) == []
    assert bom["specVersion"] == "1.6" and len(bom["services"]) == 30
    contact = next(s for s in bom["services"] if s["bom-ref"] == "service:contact-centre")
    props = {p["name"]: p["value"] for p in contact["properties"]}
    assert props["sovmap:provider-chain"] == "spreekbuis > aws-emea > amazon-com"
    assert props["sovmap:chain-jurisdictions"] == "LU,NL,US"
    dep = next(d for d in bom["dependencies"] if d["ref"] == "service:contact-centre")
    assert dep["dependsOn"] == ["service:aws-frankfurt", "service:entra-id"]
    # validation is not a formality: a broken BOM is caught
    bom["services"][0]["data"] = [{"flow": "sideways", "classification": "x"}]
    bom["dependencies"].append({"ref": "service:nowhere"})
    errors = validate_cyclonedx(bom)
    assert any("sideways" in e for e in errors) and any("nowhere" in e for e in errors)


def test_import_roi_writes_a_valid_register(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    assert main(["register", "import-roi", str(EXAMPLE.parent / "roi"), "--out", str(out)]) == 0
    reg = load_register(out)
    assert len(reg.contracts) == 5 and len(reg.processes) == 3
    assert len(reg.entities) == 1 and len(reg.branches) == 1


def test_export_of_invalid_register_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "o.yaml", "organisation:\n  id: o\n  name: O\n  currency: EURO\n")
    args = ["register", "export", str(tmp_path), "--format", "yaml", "--out", str(tmp_path / "x")]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "o.yaml:4: organisation.currency" in captured.out
    assert "1 error(s) in the register" in captured.err
