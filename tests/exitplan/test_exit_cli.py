from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sovmap.cli import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "register"


def test_exit_plan_text_png_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png, page = tmp_path / "g.png", tmp_path / "g.html"
    args = ["exit", "plan", str(EXAMPLE), "--deadline", "9mo", "--runs", "2000", "--seed", "5"]
    args += ["--what-if", "prebuilt-fallback", "--gantt", str(png), "--html", str(page)]
    assert main(args) == 0
    out = capsys.readouterr().out
    m = re.search(r"probability of finishing in time (\d+\.\d)%", out)
    assert m is not None
    assert "prebuilt-fallback" in out and "Assumptions:" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text(encoding="utf-8")
    assert "Probability of finishing within 9.0 mo" in html and "<script" not in html


def test_exit_plan_json_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["exit", "plan", str(EXAMPLE), "--deadline", "2y", "--runs", "1000", "--seed", "3"]
    assert main([*args, "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert 0.0 <= first["baseline"]["forecast"]["p_deadline"] <= 1.0
    assert all(t["options"] or t["capability"] for t in first["targets"])


def test_exit_errors_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exit", "plan", str(EXAMPLE), "--deadline", "nine months"]) == 2
    assert "not a duration" in capsys.readouterr().err
    assert main(["exit", "plan", str(EXAMPLE), "--jurisdiction", "ZZ"]) == 2
    assert "nothing to leave" in capsys.readouterr().err
    assert main(["exit", "plan", str(EXAMPLE), "--what-if", "magic"]) == 2
    assert "unknown what-if" in capsys.readouterr().err
    assert main(["exit", "options", "identity"]) == 0
    assert "keycloak" in capsys.readouterr().out
