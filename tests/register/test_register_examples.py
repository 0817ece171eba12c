"""Every example in the help of `sovmap register`, `sovmap risk` and `sovmap sector` runs."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
from pathlib import Path

import pytest

from sovmap.cli import build_parser, main
from sovmap.model import Capability, DomainResult, Evidence, Finding
from sovmap.store import Store

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("register", "risk", "sector")


def _examples() -> list[str]:
    parser = build_parser()
    out: list[str] = []

    def walk(p: argparse.ArgumentParser, top: bool) -> None:
        pattern = r"Example: (sovmap (?:register|risk|sector) .+?)$"
        out.extend(re.findall(pattern, p.description or ""))
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if top and name not in GROUPS:
                        continue
                    walk(sub, False)

    walk(parser, True)
    return out


def test_there_are_examples() -> None:
    assert len(_examples()) >= 8


def _demo_store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    try:
        sid = store.start_scan(input="examples", input_digest="x")
        ev = Evidence(
            "mx",
            "ldh.example",
            "MX",
            "ldh-example.mail.protection.outlook.com",
            "mail.protection.outlook.com",
            "https://example.invalid",
            0.95,
        )
        f = Finding(
            "ldh.example",
            Capability.MAILBOX,
            "microsoft",
            "Microsoft",
            "Microsoft Corporation",
            "US",
            0.95,
            "MAILBOX_US_JURISDICTION",
            (ev,),
            ("us-cloud-act",),
            "exchange-online",
        )
        store.write_results(sid, [(DomainResult("ldh.example", ()), [f])], "kv")
        store.finish_scan(sid)
    finally:
        store.close()


@pytest.mark.parametrize("example", _examples())
def test_documented_example_runs(
    example: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # work on a copy of the examples: import-scan writes into the register directory
    shutil.copytree(ROOT / "examples" / "register", tmp_path / "examples" / "register")
    shutil.copytree(ROOT / "examples" / "roi", tmp_path / "examples" / "roi")
    shutil.copytree(ROOT / "examples" / "bank-register", tmp_path / "examples" / "bank-register")
    _demo_store(tmp_path / "out" / "demo" / "demo.sqlite")
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(example)[1:]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out
