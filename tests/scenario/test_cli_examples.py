"""Every example in the help of `sovmap cutoff` and `sovmap exit` runs."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from sovmap.cli import build_parser, main

ROOT = Path(__file__).parents[2]


def _examples() -> list[str]:
    parser = build_parser()
    out: list[str] = []

    def walk(p: argparse.ArgumentParser) -> None:
        out.extend(re.findall(r"Example: (sovmap (?:cutoff|exit) .+?)$", p.description or ""))
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if p is parser and name not in ("cutoff", "exit"):
                        continue
                    walk(sub)

    walk(parser)
    return out


def test_there_are_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize("example", _examples())
def test_documented_example_runs(
    example: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [str(ROOT / a) if a.startswith("examples/") else a for a in shlex.split(example)[1:]]
    if args[:2] == ["exit", "plan"]:
        args += ["--runs", "500", "--seed", "1"]
    monkeypatch.chdir(tmp_path)
    assert main(args) == 0, capsys.readouterr().err
    assert capsys.readouterr().out
