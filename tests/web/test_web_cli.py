"""The CLI of the web room: documented examples, users, tokens, and clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sovmap.cli import build_parser, main


def _sub(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize(
    "path",
    [
        ("serve",),
        ("report",),
        ("users",),
        ("users", "add"),
        ("users", "passwd"),
        ("users", "token"),
        ("users", "disable"),
        ("users", "enable"),
        ("users", "delete"),
        ("users", "role"),
        ("users", "list"),
        ("db",),
        ("db", "upgrade"),
        ("db", "current"),
    ],
)
def test_every_command_documents_an_example(path: tuple[str, ...]) -> None:
    p = _sub(build_parser(), *path)
    assert p.description and "Example: sovmap " + path[0] in p.description


def test_users_and_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "u.db")
    monkeypatch.setenv("SOVMAP_PASSWORD", "a long password")
    assert main(["users", "add", "alice", "--role", "admin", "--db", db]) == 0
    assert main(["users", "token", "alice", "--name", "ci", "--db", db]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("svm_")
    assert main(["users", "add", "alice", "--db", db]) == 2
    assert "exists already" in capsys.readouterr().err
    monkeypatch.setenv("SOVMAP_PASSWORD", "short")
    assert main(["users", "add", "bob", "--db", db]) == 2
    assert "too short" in capsys.readouterr().err
    assert main(["users", "token", "nobody", "--db", db]) == 2
    assert main(["db", "current", "--db", db]) == 0


def test_serve_refuses_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    assert main(["serve", "--db", db, "--register", str(tmp_path / "none")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--exit-settings", str(tmp_path / "x.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
