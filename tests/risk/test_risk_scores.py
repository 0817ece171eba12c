"""Risk scores on small hand-computed registers: exact numbers, and the facts listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from risktools import asset, build, process, provider, service

from sovmap.register.model import (
    Classification,
    DataUse,
    DependencyKind,
    ExitPlan,
    KeyControl,
    Substitutability,
)
from sovmap.risk.concentration import capability_concentration, critical_dependence, hhi
from sovmap.risk.policy import PolicyError, default_policy, load_policy
from sovmap.risk.scores import (
    continuity,
    process_confidentiality,
    process_continuity,
    reach,
    service_confidentiality,
)


def _saas_on_us_hyperscaler():  # type: ignore[no-untyped-def]
    # an EU SaaS whose hosting subcontractor (EU entity) belongs to a US group
    return build(
        [
            provider("eu-saas", "NL", subs=("hyper-eu",)),
            provider("hyper-eu", "LU", parent="hyper-us"),
            provider("hyper-us", "US", tags=("us-cloud-act",)),
        ],
        [
            service(
                "crm",
                "eu-saas",
                key=KeyControl.CUSTOMER_MANAGED,
                subst=Substitutability.MEDIUM,
                exit_plan=ExitPlan.DOCUMENTED,
            )
        ],
        [
            asset(
                "clients",
                Classification.CONFIDENTIAL,
                (("crm", DataUse.STORES),),
                ("sales",),
                personal=True,
            )
        ],
        [process("sales", ("crm",))],
    )


def _onprem_behind_us_sso():  # type: ignore[no-untyped-def]
    return build(
        [provider("own", "NL"), provider("ms", "US", tags=("us-cloud-act", "us-sanctions"))],
        [
            service(
                "app",
                "own",
                key=KeyControl.CUSTOMER_EXTERNAL,
                deps=(("idp", DependencyKind.IDENTITY),),
                fallback="manual",
                subst=Substitutability.EASY,
                exit_plan=ExitPlan.TESTED,
            ),
            service("idp", "ms", capability="identity"),
            service("manual", "own"),
        ],
        [asset("files", Classification.INTERNAL, (("app", DataUse.STORES),), ("work",))],
        [process("work", ("app",))],
    )


def test_confidentiality_through_the_subcontractors_parent() -> None:
    reg = _saas_on_us_hyperscaler()
    s = service_confidentiality(reg, default_policy(), "crm")
    # 100 x sensitivity 0.6 (confidential; personal data 0.5 is lower)
    #     x reach 1.0 (hyper-us: class us 0.9, tag us-cloud-act 1.0) x keys 0.7 (BYOK)
    assert s.value == pytest.approx(42.0)
    codes = [(f.code, f.subject, f.value, f.weight) for f in s.factors]
    assert ("SENSITIVITY", "clients", 0.6, 1.0) in codes
    assert ("PARTY_REACH", "hyper-us", 1.0, 1.0) in codes
    assert ("KEY_CONTROL", "crm", 0.7, 1.0) in codes
    party = next(f for f in s.factors if f.subject == "hyper-us")
    assert party.detail == "tag=us-cloud-act;country=US;path=crm"
    assert party.source == "https://www.justice.gov/criminal/cloud-act-resources"
    p = process_confidentiality(reg, default_policy(), reg.processes["sales"])
    assert p.value == pytest.approx(42.0) and p.because == "crm/clients"


def test_continuity_weighted_mean() -> None:
    reg = _saas_on_us_hyperscaler()
    s = continuity(reg, default_policy(), "crm")
    # reach 0.6 (us class; no sanctions tag) x 0.4 + no fallback 1.0 x 0.2
    # + substitutability medium 0.33 x 0.2 + exit plan documented 0.5 x 0.2
    assert s.value == pytest.approx(100 * (0.24 + 0.2 + 0.066 + 0.1))
    assert [f.code for f in s.factors[:4]] == [
        "REACH",
        "SINGLE_PROVIDER",
        "SUBSTITUTABILITY",
        "EXIT_PLAN",
    ]


def test_identity_dependency_reaches_an_on_premises_application() -> None:
    reg = _onprem_behind_us_sso()
    policy = default_policy()
    conf = service_confidentiality(reg, policy, "app")
    # 100 x 0.2 (internal) x (0.8 identity x 1.0 ms) x 0.2 (keys held outside)
    assert conf.value == pytest.approx(3.2)
    ms = next(f for f in conf.factors if f.subject == "ms")
    assert (ms.value, ms.weight, ms.detail) == (
        1.0,
        0.8,
        "tag=us-cloud-act;country=US;path=app>identity>idp",
    )
    cont = continuity(reg, policy, "app")
    # reach: identity 1.0 x ms us-sanctions 1.0; fallback run by the same group 0.7;
    # easy to substitute 0; tested exit plan 0
    assert cont.value == pytest.approx(100 * (0.4 * 1.0 + 0.2 * 0.7))
    # the process needs app and, through it, idp: the worse of the two
    pc = process_continuity(reg, policy, reg.processes["work"])
    idp = continuity(reg, policy, "idp")
    assert pc.value == pytest.approx(max(cont.value, idp.value))


def test_missing_provider_is_the_worst_case() -> None:
    reg = build([], [service("x", None)], [], [process("p", ("x",))])
    s = continuity(reg, default_policy(), "x")
    assert s.value == 100.0 and s.factors[0].code == "MISSING_PROVIDER"


def test_policy_override_changes_scores_as_expected(tmp_path: Path) -> None:
    reg = _onprem_behind_us_sso()
    path = tmp_path / "policy.yaml"
    path.write_text("continuity:\n  weights: {reach: 0}\nkey_control: {customer-external: 0.5}\n")
    policy = load_policy(path)
    assert policy.source == str(path)
    # reach no longer counts: (0.2 x 0.7) / (0.2 + 0.2 + 0.2)
    assert continuity(reg, policy, "app").value == pytest.approx(100 * 0.14 / 0.6)
    # keys held outside now leave half the reach: 100 x 0.2 x 0.8 x 0.5
    assert service_confidentiality(reg, policy, "app").value == pytest.approx(8.0)
    # everything else is still the bundled policy
    assert policy.section("classification") == default_policy().section("classification")
    crm = _saas_on_us_hyperscaler()
    path.write_text("jurisdiction_classes:\n  us: {continuity: 0.1}\n")
    lowered = continuity(crm, load_policy(path), "crm").value
    assert lowered == pytest.approx(100 * (0.04 + 0.2 + 0.066 + 0.1))


def test_bad_policy_is_reported_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("key_control: {provider-managed: 2}\n")
    with pytest.raises(
        PolicyError,
        match=r"p.yaml: field key_control/provider-managed: 2 is "
        r"greater than the maximum of 1",
    ):
        load_policy(path)
    path.write_text("sovereignty:\n  objectives:\n    SOV-8: {weight: 0.5}\n")
    with pytest.raises(PolicyError, match=r"weights add up to 1\.45"):
        load_policy(path)


def test_hhi_exact() -> None:
    assert hhi([3, 1]) == pytest.approx(75**2 + 25**2)  # 6250
    assert hhi([1, 1, 1, 1]) == pytest.approx(2500)
    assert hhi([5]) == 10000
    assert hhi([]) == 0
    reg = build(
        [provider("ms", "US"), provider("ms-ie", "IE", parent="ms"), provider("eu", "DE")],
        [
            service("a", "ms", capability="mailbox"),
            service("b", "ms-ie", capability="mailbox"),
            service("c", "ms", capability="mailbox"),
            service("d", "eu", capability="mailbox"),
            service("e", "eu", capability="identity"),
        ],
        [],
        [process("p1", ("a",)), process("p2", ("d",)), process("p3", ("e",))],
    )
    conc = {c.capability: c for c in capability_concentration(reg, default_policy())}
    assert conc["mailbox"].hhi == pytest.approx(6250)
    assert conc["mailbox"].shares == (("ms", 3), ("eu", 1))
    assert conc["mailbox"].level == "high"
    assert conc["identity"].hhi == 10000
    deps = {(d.kind, d.subject): d for d in critical_dependence(reg, default_policy())}
    assert deps[("group", "ms")].share == pytest.approx(1 / 3)
    assert deps[("group", "eu")].processes == ("p2", "p3")


def test_unknown_control_is_the_worst_case() -> None:
    # a party whose country nobody entered reaches as far as the strongest class (us: 0.9
    # confidentiality, 0.6 continuity), not as a mere third country (0.7 / 0.5)
    reg = build(
        [provider("nowhere", ""), provider("eu", "NL")],
        [service("a", "nowhere"), service("b", "eu"), service("c", None)],
        [],
        [],
    )
    policy = default_policy()
    conf = reach(reg, policy, "a", "confidentiality")
    assert conf.value == 0.9 and conf.parties[0].detail.startswith("class=unknown;worst-case=us")
    assert reach(reg, policy, "a", "continuity").value == 0.6
    assert reach(reg, policy, "b", "confidentiality").value == 0.0
    none = reach(reg, policy, "c", "confidentiality")
    assert none.value == 0.9 and none.parties[0].code == "PARTY_UNKNOWN"
