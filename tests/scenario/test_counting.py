"""People and organisations affected, each counted once (sovmap.scenario.counting)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sovmap.register.files import load_register_dir
from sovmap.scenario.counting import Audience, AudienceGroup, Population
from sovmap.scenario.cutoff import cut_off
from sovmap.scenario.model import Selector

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "register"

POP = Population(
    {
        "residents": AudienceGroup("residents", people=1000, disjoint_from=("firms",)),
        "filers": AudienceGroup("filers", people=600, within="residents"),
        "benefits": AudienceGroup("benefits", people=300, within="residents"),
        "staff": AudienceGroup("staff", people=10, within="residents"),
        "firms": AudienceGroup("firms", people=0, organisations=50),
        "partners": AudienceGroup("partners", people=0, organisations=4),
        "unsized": AudienceGroup("unsized"),
    },
    people=1000,
)


def test_nested_groups_count_once() -> None:
    s = POP.served(
        [Audience(("filers",)), Audience(("residents",)), Audience(("staff",))], "people"
    )
    assert (s.low, s.high, s.value) == (1000, 1000, 1000)


def test_siblings_without_declared_overlap_are_a_range() -> None:
    s = POP.served([Audience(("filers",)), Audience(("benefits",))], "people")
    assert (s.low, s.high, s.value) == (600, 900, None)


def test_disjoint_groups_add_up_and_ancestors_pass_disjointness_on() -> None:
    s = POP.served([Audience(("firms",)), Audience(("partners",))], "organisations")
    assert s.value is None  # firms and partners not declared disjoint
    s2 = POP.served([Audience(("filers", "firms"))], "people")
    assert s2.value == 600  # firms serve no people
    assert POP._disjoint("filers", "firms")  # through residents


def test_unknown_is_never_zero() -> None:
    s = POP.served([Audience(("filers",)), Audience()], "people")
    assert (s.low, s.high, s.value) == (600, 1000, None)  # at most everyone
    s = Population({}).served([Audience()], "people")
    assert s.high is None and s.value is None
    s = POP.served([Audience(("unsized",))], "people")
    assert s.value is None and s.high == 1000


def test_validation_names_unknown_groups() -> None:
    problems = POP.validate({"p": Audience(("nope",))})
    assert problems == ["process 'p': field audience: unknown audience 'nope'"]


sizes = st.integers(min_value=0, max_value=10**6)


@settings(max_examples=200, deadline=None)
@given(
    groups=st.lists(st.tuples(sizes, st.booleans()), min_size=1, max_size=6),
    chosen=st.lists(st.lists(st.integers(0, 5), max_size=3), max_size=6),
    bare=st.lists(sizes, max_size=3),
    cap=st.one_of(st.none(), sizes),
)
def test_property_never_above_population_and_within_bounds(
    groups: list[tuple[int, bool]], chosen: list[list[int]], bare: list[int], cap: int | None
) -> None:
    gs = {
        f"g{i}": AudienceGroup(f"g{i}", people=n, within="g0" if nested and i else "")
        for i, (n, nested) in enumerate(groups)
    }
    pop = Population(gs, people=cap)
    auds = [Audience(tuple(f"g{i}" for i in c if i < len(groups))) for c in chosen]
    auds += [Audience(people=b) for b in bare]
    s = pop.served(auds, "people")
    assert s.high is None or s.low <= s.high
    if cap is not None:
        assert s.high is not None and s.high <= cap
    known = [a for a in auds if a.known]
    if len(known) == len(auds) and s.high is not None:
        # never more than the naive sum over processes (the old, double-counting figure)
        naive = sum(
            (sum(gs[g].people or 0 for g in a.groups) if a.groups else (a.people or 0))
            for a in auds
        )
        assert s.high <= naive


def test_example_register_never_above_the_declared_population() -> None:
    reg = load_register_dir(EXAMPLE)
    res = cut_off(reg, Selector(jurisdiction="US"))
    population = reg.organisation.population.value
    assert population == 18_120_000
    assert res.summary["people_down"] == population  # the contact centre serves everyone
    assert res.to_json()["people_affected"] == population
    out = subprocess.run(
        [sys.executable, "-m", "sovmap", "cutoff", str(EXAMPLE), "--jurisdiction", "US",
         "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["people_affected"] == population
    assert all(p["people"] is None or p["people"] <= population for p in data["processes"])
    text = subprocess.run(
        [sys.executable, "-m", "sovmap", "cutoff", str(EXAMPLE), "--jurisdiction", "US"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "(each counted once): 18,120,000 people" in text
    assert "fallbacks that run out first: 5" in text
