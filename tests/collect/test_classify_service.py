"""The service named on a finding is the most frequent among its signals; a tie goes to the
signal seen first, so the stored result never depends on Python's string hashing (it once
took ``max`` over a set: two runs of one scan could name different services)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sovmap.classify.findings import _Builder, default_rules
from sovmap.classify.signals import Signal
from sovmap.knowledge import default_catalogue
from sovmap.model import Capability, Evidence

_SNIPPET = """
from sovmap.classify.findings import _Builder, default_rules
from sovmap.classify.signals import Signal
from sovmap.knowledge import default_catalogue
from sovmap.model import Capability, Evidence
cat = default_catalogue()
ev = lambda v: Evidence("txt", "a.example", "TXT", v, "spf:" + v, "", 0.5)
sig = [Signal("mailchimp", Capability.OUTBOUND, s, "txt", ev(s)) for s in SERVICES]
b = _Builder("a.example", cat, default_rules(), {})
print(b.provider_finding(Capability.OUTBOUND, cat.provider("mailchimp"), sig).service)
"""


def _signal(service: str) -> Signal:
    ev = Evidence("txt", "a.example", "TXT", f"include:{service}", f"spf:{service}", "", 0.5)
    return Signal("mailchimp", Capability.OUTBOUND, service, "txt", ev)


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        (["mandrill", "mailchimp"], "mandrill"),
        (["mailchimp", "mandrill"], "mailchimp"),
        (["mailchimp", "mandrill", "mandrill"], "mandrill"),
        (["", "mandrill"], "mandrill"),
        ([""], ""),
    ],
)
def test_service_is_the_most_frequent_and_a_tie_goes_to_the_first(
    services: list[str], expected: str
) -> None:
    cat = default_catalogue()
    b = _Builder("a.example", cat, default_rules(), {})
    f = b.provider_finding(
        Capability.OUTBOUND, cat.provider("mailchimp"), [_signal(s) for s in services]
    )
    assert f.service == expected


def test_service_does_not_depend_on_the_hash_seed() -> None:
    code = _SNIPPET.replace("SERVICES", repr(["mailchimp", "mandrill", "mandrillapp", "x"]))
    seen = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        seen.add(out.stdout.strip())
    assert seen == {"mailchimp"}
