"""The hot-path constructors (``slot_maker``) make the very objects the dataclasses make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields
from typing import Any

import pytest

from sovmap.classify.signals import Signal, _new_signal
from sovmap.model import (
    RR,
    Capability,
    Evidence,
    Finding,
    Observation,
    Status,
    new_evidence,
    new_finding,
    new_observation,
    slot_maker,
)

_EV = Evidence("mx", "a.example", "MX", "10 m.example", "mx:m.example", "https://s", 0.9, ("x",))
CASES: list[tuple[type, Callable[..., Any], tuple[Any, ...]]] = [
    (Signal, _new_signal, ("microsoft", Capability.MAILBOX, "exchange-online", "mx", _EV)),
    (
        Observation,
        new_observation,
        ("mx", "a.example", "MX", Status.NOERROR, (RR("a.example", "MX", 60, "10 m"),), "v"),
    ),
    (Evidence, new_evidence, tuple(getattr(_EV, f.name) for f in fields(Evidence))),
    (
        Finding,
        new_finding,
        (
            "a.example",
            Capability.MAILBOX,
            "microsoft",
            "Microsoft",
            "Microsoft Corporation",
            "US",
            0.99,
            "MAILBOX_US_JURISDICTION",
            (_EV,),
            ("us-cloud-act",),
            "exchange-online",
            "primary",
        ),
    ),
]


@pytest.mark.parametrize(("cls", "make", "values"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_maker_gives_the_dataclass_object(
    cls: type, make: Callable[..., Any], values: tuple[Any, ...]
) -> None:
    made, built = make(*values), cls(*values)
    assert type(made) is cls
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert tuple(getattr(made, f.name) for f in fields(cls)) == values
    with pytest.raises(FrozenInstanceError):
        made.__setattr__(fields(cls)[0].name, "changed")
    with pytest.raises(TypeError):
        make(*values[:-1])  # every field is required, defaults included


def test_maker_takes_the_fields_in_declared_order() -> None:
    make = slot_maker(RR)
    assert make("a.example", "A", 60, "192.0.2.1") == RR("a.example", "A", 60, "192.0.2.1")
