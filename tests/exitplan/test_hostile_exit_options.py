"""``sovmap exit plan`` options checked before work (issue 19 case 19): a negative seed, a
what-if of 99,999,999 extra people or 3,000,000 runs are refused at once with a message, not
a traceback or a multi-GiB allocation."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from sovmap.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "register"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--seed", "-1"], "--seed -1: give a whole number from 0 to 2^63-1"),
        (["--runs", "3000000"], "--runs 3,000,000: give 1 to 100,000"),
        (["--runs", "0"], "--runs 0: give 1 to 100,000"),
        (["--what-if", "capacity+99999999"], "a team capacity of at most 1,000 people"),
        (["--what-if", "capacity:ops=5000"], "a team capacity of at most 1,000 people"),
        (["--what-if", "prebuilt-fallback,capacity*1000"], "a factor above 0 and at most 100"),
        (["--what-if", "capacity*0"], "a factor above 0 and at most 100"),
        (["--html", "/nonexistent/dir/plan.html"], "--html /nonexistent/dir/plan.html: no dir"),
    ],
)
def test_exit_plan_options_are_refused_before_work(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    code = main(["exit", "plan", str(EXAMPLE), *option])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("sovmap: error: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert time.monotonic() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


def test_exit_plan_with_sound_options_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["exit", "plan", str(EXAMPLE), "--runs", "200", "--seed", "0"])
    assert code == 0 and capsys.readouterr().out
