from __future__ import annotations

import json
from pathlib import Path

import pytest

from sovmap.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "register"


def test_cutoff_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cutoff", str(EXAMPLE), "--capability", "identity", "--at", "3d"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Cut-off: capability=identity (permanent)")
    assert "werkplek" in out and "BECAUSE OF" in out and "AT 3d" in out


def test_cutoff_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "US", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["down"] == sum(p["status"] == "down" for p in data["processes"])
    assert all(p["path"][0] == p["id"] for p in data["processes"])


def test_cutoff_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["cutoff", str(EXAMPLE), "--provider", "nobody"]) == 2
    assert "matches nothing" in capsys.readouterr().err
    assert main(["cutoff", str(EXAMPLE)]) == 2
    assert "needs a provider" in capsys.readouterr().err
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "US", "--at", "soon"]) == 2
    assert "not a duration" in capsys.readouterr().err
    bad = tmp_path / "s.yaml"
    bad.write_text("fallback_ready_hours: -1\n", encoding="utf-8")
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "US", "--settings", str(bad)]) == 2
    assert "s.yaml:1: field fallback_ready_hours" in capsys.readouterr().err


def test_jurisdiction_by_headquarters_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    # nothing in the example is controlled from IE: Microsoft Ireland is matched by its seat
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "IE"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Cut-off: jurisdiction=IE (permanent); stops 1: microsoft-ireland\n")
    assert "microsoft-ireland  headquartered in IE, controlled from US" in out
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "ie", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stopped"] == ["microsoft-ireland"]
    assert data["matched"] == [
        {
            "provider": "microsoft-ireland",
            "code": "HEADQUARTERED_IN",
            "jurisdiction": "IE",
            "controlled": "US",
            "text": "headquartered in IE, controlled from US",
        }
    ]


def test_eu_and_non_eu_by_controlling_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "EU", "--format", "json"]) == 0
    eu = json.loads(capsys.readouterr().out)
    assert {"sap", "spreekbuis", "european-commission"} <= set(eu["stopped"])
    assert "microsoft-ireland" not in eu["stopped"]  # headquartered in the EU, not controlled
    assert {m["code"] for m in eu["matched"]} == {"CONTROLLED_FROM"}
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "non-EU", "--format", "json"]) == 0
    non_eu = json.loads(capsys.readouterr().out)
    assert "microsoft-ireland" in non_eu["stopped"] and "aws-emea" in non_eu["stopped"]
    assert not set(eu["stopped"]) & set(non_eu["stopped"])
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "US", "--format", "json"]) == 0
    us = json.loads(capsys.readouterr().out)
    assert set(us["stopped"]) == set(non_eu["stopped"])  # every non-EU party is US-controlled


def test_unmatched_jurisdiction_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "XX"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sovmap: error: the cut-off jurisdiction=XX matches nothing")
    assert "would match: EU, NL, US, non-EU, DE" in err
    assert main(["cutoff", str(EXAMPLE), "--jurisdiction", "Ireland"]) == 2
    assert "not a jurisdiction" in capsys.readouterr().err
    assert main(["cutoff", str(EXAMPLE / "nope"), "--jurisdiction", "US"]) == 2
    assert "not a register directory" in capsys.readouterr().err
