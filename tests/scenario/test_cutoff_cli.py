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
