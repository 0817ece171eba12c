"""``sovmap register check`` in Dutch and English: the summary lines and the register's own
problems (references, identifiers, expected values) from the message catalogue (``REGCHECK_``
codes); codes in brackets and exit codes the same in both languages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.register.files import check_register

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "register"


def _broken(tmp_path: Path) -> Path:
    """The example register with a service pointing at a provider nobody defined."""
    root = tmp_path / "reg"
    shutil.copytree(EXAMPLE, root)
    services = root / "services.yaml"
    text = services.read_text("utf-8")
    first = re.search(r"provider: (\S+)", text)
    assert first is not None
    services.write_text(text.replace(first.group(0), "provider: nobody-knows", 1), "utf-8")
    return root


@pytest.mark.parametrize(
    ("lang", "summary", "values", "warnings"),
    [
        (
            "en",
            r"^ok: \d+ processes, \d+ services, \d+ providers, \d+ data assets, \d+ contracts$",
            r"^values: \d+ entered, \d+ inferred \(\d+ unconfirmed\), \d+ not filled in",
            r"^\d+ warning\(s\): expected values missing or not confirmed$",
        ),
        (
            "nl",
            r"^in orde: \d+ processen, \d+ diensten, \d+ aanbieders, \d+ gegevensverzamelingen, "
            r"\d+ contracten$",
            r"^waarden: \d+ ingevoerd, \d+ afgeleid \(\d+ onbevestigd\), \d+ niet ingevuld",
            r"^\d+ waarschuwing\(en\): verwachte waarden ontbreken of zijn niet bevestigd$",
        ),
    ],
)
def test_the_summary_in_each_language(
    lang: str,
    summary: str,
    values: str,
    warnings: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOVMAP_LANG", lang)
    assert main(["register", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    for pattern in (summary, values, warnings):
        assert re.search(pattern, out, re.M), (pattern, out)
    assert main(["register", "check", str(EXAMPLE), "--lang", lang]) == 0  # the same by option
    assert capsys.readouterr().out == out


def test_the_problems_in_dutch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _broken(tmp_path)
    assert main(["register", "check", str(root), "--lang", "nl"]) == 1
    nl = capsys.readouterr().out
    assert re.search(
        r"^error: services\.yaml:\d+: .*: geen aanbieder met id 'nobody-knows' \[UNKNOWN_REF\]$",
        nl,
        re.M,
    )
    assert re.search(r"^ongeldig: \d+ processen", nl, re.M)
    assert "verwachte waarde ontbreekt [MISSING_VALUE]" in nl
    assert "expected value is missing" not in nl and "no provider with id" not in nl
    assert main(["register", "check", str(root), "--lang", "en"]) == 1
    en = capsys.readouterr().out
    assert "no provider with id 'nobody-knows' [UNKNOWN_REF]" in en
    assert re.search(r"^invalid: \d+ processes", en, re.M)
    # the library keeps the English message; the language is chosen where it is printed
    problem = next(p for p in check_register(root).errors if p.code == "UNKNOWN_REF")
    assert problem.message == "no provider with id 'nobody-knows'"
    assert problem.render("nl").endswith("geen aanbieder met id 'nobody-knows' [UNKNOWN_REF]")


def test_file_level_problems_in_dutch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_dir = tmp_path / "register.txt"
    not_a_dir.write_text("x\n")
    assert main(["register", "check", str(not_a_dir), "--lang", "nl"]) == 1
    out = capsys.readouterr().out
    assert "een register is een map met YAML-/CSV-bestanden [NOT_A_DIRECTORY]" in out
    assert out.rstrip().endswith("ongeldig: het register kon niet worden gelezen")
    root = tmp_path / "dup"
    shutil.copytree(EXAMPLE, root)
    (root / "more.yaml").write_text("providers:\n  - {id: p1, name: P}\n  - {id: p1, name: Q}\n")
    assert main(["register", "check", str(root), "--lang", "nl"]) == 1
    out = capsys.readouterr().out
    assert "id 'p1' is al gebruikt op regel 2 van dit bestand [DUPLICATE_ID]" in out
