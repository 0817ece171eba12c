"""The ``sovmap knowledge`` commands: every documented example runs."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from sovmap.cli import build_parser, main

FIXTURES = Path(__file__).parent / "data" / "prefix_fixtures"


def _knowledge_examples() -> dict[str, list[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    knowledge = sub.choices["knowledge"]
    ks = next(a for a in knowledge._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, p in ks.choices.items():
        assert p.description and "Example: sovmap knowledge" in p.description, name
        example = p.description.split("Example: ", 1)[1]
        out[name] = shlex.split(example)[1:]
    return out


def test_every_knowledge_command_documents_an_example() -> None:
    assert set(_knowledge_examples()) == {"check", "list", "refresh-prefixes", "gaps"}


@pytest.mark.parametrize("name", ["check", "list"])
def test_documented_examples_run(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_knowledge_examples()[name]) == 0
    out = capsys.readouterr().out
    assert ("ok: " in out) if name == "check" else ("microsoft" in out and "seppmail" in out)


def test_refresh_example_runs_against_saved_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _knowledge_examples()["refresh-prefixes"]
    # the documented example downloads; here the same command reads recorded copies
    argv = [a if a != "/tmp/prefixes" else str(tmp_path / "p") for a in argv]
    assert main([*argv, "--offline-fixture", str(FIXTURES)]) == 0
    assert (tmp_path / "p" / "cloudflare.json").is_file()


def test_check_reports_invalid_user_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("id: bad\nname: Bad\n")
    assert main(["knowledge", "check", "--dir", str(tmp_path)]) == 1
    assert "bad.yaml" in capsys.readouterr().out
