"""Property-based tests of the risk scores on random small registers."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from risktools import asset, build, process, provider, service

from sovmap.register.model import (
    Classification,
    DataUse,
    Dependency,
    DependencyKind,
    ExitPlan,
    KeyControl,
    Register,
    Substitutability,
    Valued,
)
from sovmap.risk.policy import default_policy
from sovmap.risk.scores import process_confidentiality, process_continuity

POLICY = default_policy()
COUNTRIES = ["NL", "DE", "US", "CN", "CH", "IE"]
TAGS = ["us-cloud-act", "us-sanctions", "us-export-control", "cn-nis-law"]
US_TAGS = ("us-cloud-act", "us-fisa-702", "us-sanctions", "us-export-control")


@st.composite
def registers(draw: st.DrawFn) -> Register:
    n_prov = draw(st.integers(1, 4))
    provs = []
    for i in range(n_prov):
        parent = f"p{draw(st.integers(0, i - 1))}" if i and draw(st.booleans()) else ""
        provs.append(
            provider(
                f"p{i}",
                draw(st.sampled_from(COUNTRIES)),
                tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True))),
                parent=parent,
            )
        )
    n_svc = draw(st.integers(1, 5))
    svcs = []
    for i in range(n_svc):
        deps = (
            tuple(
                (f"s{j}", draw(st.sampled_from(list(DependencyKind))))
                for j in draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True))
            )
            if i
            else ()
        )
        svcs.append(
            service(
                f"s{i}",
                draw(st.sampled_from([f"p{k}" for k in range(n_prov)] + [None])),
                key=draw(st.sampled_from([*KeyControl, None])),
                deps=deps,
                subst=draw(st.sampled_from([*Substitutability, None])),
                exit_plan=draw(st.sampled_from([*ExitPlan, None])),
                fallback=draw(st.sampled_from(["", *[f"s{k}" for k in range(n_svc)]])),
            )
        )
    procs = [
        process(
            f"r{i}",
            tuple(
                draw(
                    st.lists(
                        st.sampled_from([s.id for s in svcs]), min_size=1, max_size=3, unique=True
                    )
                )
            ),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    assets = [
        asset(
            f"d{i}",
            draw(st.sampled_from(list(Classification))),
            tuple(
                (sid, draw(st.sampled_from(list(DataUse))))
                for sid in draw(
                    st.lists(
                        st.sampled_from([s.id for s in svcs]), min_size=1, max_size=2, unique=True
                    )
                )
            ),
            tuple(
                draw(
                    st.lists(
                        st.sampled_from([p.id for p in procs]), min_size=1, max_size=2, unique=True
                    )
                )
            ),
            personal=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    return build(provs, svcs, assets, procs)


def _scores(reg: Register) -> dict[str, tuple[float, float]]:
    return {
        p.id: (
            process_confidentiality(reg, POLICY, p).value,
            process_continuity(reg, POLICY, p).value,
        )
        for p in reg.processes.values()
    }


def _with_us_dependency(reg: Register, target: str, kind: DependencyKind) -> Register:
    us = provider("us-x", "US", tags=US_TAGS)
    new = service("us-svc", "us-x")
    svc = reg.services[target]
    changed = dataclasses.replace(svc, depends_on=(*svc.depends_on, Dependency("us-svc", kind)))
    return dataclasses.replace(
        reg,
        providers={**reg.providers, "us-x": us},
        services={**reg.services, target: changed, "us-svc": new},
    )


@settings(max_examples=150, deadline=None)
@given(registers(), st.data())
def test_adding_a_us_dependency_never_lowers_exposure(reg: Register, data: st.DataObject) -> None:
    before = _scores(reg)
    target = data.draw(st.sampled_from(list(reg.services)))
    kind = data.draw(st.sampled_from(list(DependencyKind)))
    after = _scores(_with_us_dependency(reg, target, kind))
    for pid, (conf, cont) in before.items():
        assert after[pid][0] >= conf - 1e-9, (pid, "confidentiality")
        assert after[pid][1] >= cont - 1e-9, (pid, "continuity")


@settings(max_examples=150, deadline=None)
@given(registers(), st.data())
def test_removing_the_only_provider_never_lowers_continuity(
    reg: Register, data: st.DataObject
) -> None:
    # the capability of one service has exactly one provider: remove it (the provider is
    # gone, or cut off): no process continuity may go down
    target = data.draw(st.sampled_from(list(reg.services)))
    before = _scores(reg)
    svc = reg.services[target]
    removed = dataclasses.replace(svc, provider=Valued())
    after = _scores(dataclasses.replace(reg, services={**reg.services, target: removed}))
    for pid, (_, cont) in before.items():
        assert after[pid][1] >= cont - 1e-9
    # and a process that needs that service is now at the maximum
    for p in reg.processes.values():
        if target in reg.closure(p.services):
            assert after[p.id][1] == 100.0
