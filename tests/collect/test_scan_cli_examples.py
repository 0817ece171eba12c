"""Every scan command documents a runnable example; run each one (docs tested like code)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from sovmap.cli import main
from sovmap.collect import commands
from sovmap.devserver import DevServer

DEMO = Path(str(resources.files("sovmap") / "data" / "demo"))
ORDER = ["scan", "reclassify", "explain", "scans", "posture", "export", "demo"]


def _examples() -> dict[str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    commands.register(sub)
    out = {}
    for name, p in sub.choices.items():
        m = re.search(r"Example: (sovmap .+)$", p.description or "", re.S)
        assert m, f"'{name}' documents no example"
        assert p.format_help().strip(), name
        out[name] = " ".join(m.group(1).split())
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with DevServer(DEMO / "zones") as srv:
        yield srv


def test_every_command_has_an_example() -> None:
    assert sorted(_examples()) == sorted(ORDER)


def test_documented_examples_run(
    tmp_path: Path, server: DevServer, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = _examples()
    repo = Path(__file__).resolve().parents[2]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    (tmp_path / "src").symlink_to(repo / "src")
    try:
        for name in ORDER:
            argv = shlex.split(examples[name])[1:]
            argv = [server.address if a == "127.0.0.1:5300" else a for a in argv]
            if name == "scan":
                argv += ["--quiet", "--timeout", "0.3"]
            assert main(argv) == 0, examples[name]
            capsys.readouterr()
    finally:
        os.chdir(cwd)
    assert (tmp_path / "out.csv").stat().st_size > 0
    assert (tmp_path / "out.parquet").stat().st_size > 0
    assert (tmp_path / "out" / "demo" / "demo.csv").stat().st_size > 0
