from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from sovmap.scenario import (
    Cut,
    Fallback,
    Inventory,
    ProcessNode,
    Scenario,
    ScenarioError,
    Selector,
    Status,
    select,
    simulate,
)
from sovmap.scenario.model import Dependency


def _run(inv: Inventory, **kw: object) -> Scenario:
    return Scenario((Cut(Selector(**kw)),))  # type: ignore[arg-type]


def test_us_jurisdiction_cut_hand_computed(inventory: Inventory) -> None:
    res = simulate(inventory, _run(inventory, jurisdiction="us"))
    assert set(res.stopped) == {"microsoft", "github", "aws", "cloudflare"}
    st = {p.id: p.status for p in res.processes}
    assert st == {
        "mail": Status.DOWN,
        "assessment": Status.DEGRADED,  # soft dependency on mail
        "hr": Status.DOWN,  # HR SaaS runs on AWS (subcontractor of hrco)
        "publish": Status.DEGRADED,  # one of two CDNs left
        "archive": Status.UNAFFECTED,
    }
    # hr-saas is down through both hrco/aws and entra at the same depth; ties go to the
    # dependency listed last in the inventory (services after providers)
    assert res.process("hr").path == ("hr", "hr-saas", "entra", "microsoft")
    assert res.process("assessment").path == ("assessment", "exo", "microsoft")
    assert res.process("publish").path == ("publish", "portal", "cdn-a", "cloudflare")
    mail = res.process("mail")
    # the first fallback needs Entra ID, which is down too; the second is ready after 96 h
    assert mail.fallback == "ovh-webmail"
    assert mail.outage_hours == 96.0
    assert mail.rto_breached is True and mail.bearable_exceeded is True
    assert mail.impacts == ("minor", "serious") and mail.impact == "serious"
    assert mail.unreachable_data == ("mail-archive",)
    assert "FALLBACK_USED" in mail.codes and "RTO_BREACHED" in mail.codes
    hr = res.process("hr")
    assert math.isinf(hr.outage_hours) and hr.rto_breached and "NO_FALLBACK" in hr.codes
    # bare counts without audience groups: the overlap is unknown, so the union is a range
    # (the largest group .. the sum) and no single number is claimed
    assert res.summary["people_down"] is None
    assert res.summary["people_down_range"] == {"low": 500, "high": 540}
    assert res.summary["people_degraded_range"] == {"low": 20000, "high": 21000}
    assert res.summary["organisations_down"] == 1  # only mail serves organisations
    assert res.summary["organisations_degraded_range"] == {"low": 5, "high": 7}
    assert res.summary["rto_breached"] == 2
    archive = next(d for d in res.data if d.id == "mail-archive")
    assert archive.unreachable_hours == 0.0 and archive.restorable_after_hours == 48.0
    assert archive.path == ("mail-archive", "exo", "microsoft")
    rulings = next(d for d in res.data if d.id == "rulings")
    assert rulings.unreachable_hours is None


def test_capability_cut_takes_down_everything_signing_in_through_it(inventory: Inventory) -> None:
    res = simulate(inventory, _run(inventory, capability="identity"))
    assert res.stopped == ("entra",)
    assert res.process("mail").path == ("mail", "exo", "entra")
    assert res.process("hr").path == ("hr", "hr-saas", "entra")
    assert res.process("publish").status is Status.UNAFFECTED
    assert set(res.services_down) == {"entra", "exo", "hr-saas"}


def test_parent_selects_subsidiaries_and_capability_narrows(inventory: Inventory) -> None:
    assert set(select(inventory, Selector(parent="microsoft"))) == {
        "provider:microsoft",
        "provider:github",
    }
    assert select(inventory, Selector(jurisdiction="US", capability="saas")) == ("service:repo",)
    with pytest.raises(ScenarioError, match="matches nothing"):
        select(inventory, Selector(provider="nobody"))
    with pytest.raises(ScenarioError, match="needs a provider"):
        select(inventory, Selector())


def test_staggered_cuts_redundancy_and_assessment_time(inventory: Inventory) -> None:
    sc = Scenario(
        (Cut(Selector(provider="cloudflare"), 0.0), Cut(Selector(provider="ovh"), 10.0)),
        assess_hours=5.0,
    )
    pub = simulate(inventory, sc).process("publish")
    # degraded from 0 (one CDN), down from 10 (both), path through the last CDN to go
    assert pub.status is Status.DOWN and pub.since_hours == 10.0
    assert pub.path == ("publish", "portal", "cdn-b", "ovh")
    assert pub.status_at is Status.DEGRADED
    later = simulate(inventory, Scenario(sc.cuts, assess_hours=20.0)).process("publish")
    assert later.status_at is Status.DOWN


def test_cut_that_ends_limits_the_outage(inventory: Inventory) -> None:
    sc = Scenario((Cut(Selector(provider="microsoft")),), ends_hours=50.0, assess_hours=60.0)
    mail = simulate(inventory, sc).process("mail")
    assert mail.outage_hours == 50.0
    assert mail.rto_breached is True and mail.bearable_exceeded is False
    assert mail.status_at is Status.UNAFFECTED
    sc2 = Scenario((Cut(Selector(provider="microsoft")),), assess_hours=100.0)
    assert simulate(inventory, sc2).process("mail").status_at is Status.DEGRADED  # on fallback


def test_fallback_that_runs_out(inventory: Inventory) -> None:
    mail = inventory.processes[0]
    short = replace(mail, fallbacks=(Fallback("ovh-webmail", 96.0, ("ovh-mail",), 100.0),))
    inv = replace(inventory, processes=(short,))
    sc = Scenario((Cut(Selector(provider="microsoft")),), ends_hours=300.0, assess_hours=150.0)
    got = simulate(inv, sc).process("mail")
    # down 0-96, on the fallback 96-196, down again 196-300: 96 + 104 hours
    assert got.outage_hours == 200.0 and got.status_at is Status.DEGRADED
    assert "FALLBACK_EXHAUSTED" in got.codes
    assert simulate(inv, replace(sc, assess_hours=250.0)).process("mail").status_at is Status.DOWN
    assert math.isinf(simulate(inv, replace(sc, ends_hours=math.inf)).process("mail").outage_hours)


def test_fallback_that_is_ready_in_time_keeps_rto(inventory: Inventory) -> None:
    # only aws stops: entra is up, so the first fallback (2 h) works for nothing here, but
    # the HR process has no fallback and is down for good
    res = simulate(inventory, _run(inventory, provider="aws"))
    assert res.process("mail").status is Status.UNAFFECTED
    assert res.process("hr").path == ("hr", "hr-saas", "hrco", "aws")
    inv = Inventory(
        providers=inventory.providers,
        services=inventory.services,
        data=inventory.data,
        processes=(
            ProcessNode(
                "mail",
                depends_on=(Dependency.on("exo"),),
                rto_hours=4.0,
                fallbacks=inventory.processes[0].fallbacks,
            ),
        ),
    )
    mail = simulate(inv, _run(inv, capability="mailbox", provider="microsoft")).process("mail")
    assert mail.fallback == "teams-chat" and mail.outage_hours == 2.0
    assert mail.rto_breached is False and mail.codes == ("PROCESS_DOWN", "FALLBACK_USED")


def test_inventory_errors_name_element_and_field(inventory: Inventory) -> None:
    bad = Inventory(
        providers=inventory.providers,
        processes=(ProcessNode("p", depends_on=(Dependency.on("ghost"),)),),
    )
    with pytest.raises(ScenarioError, match=r"process 'p': field depends_on: unknown .*'ghost'"):
        simulate(bad, _run(bad, provider="aws"))
    dup = Inventory(providers=inventory.providers[:1] * 2)
    with pytest.raises(ScenarioError, match="used twice"):
        dup.validate()


def test_json_is_serialisable(inventory: Inventory) -> None:
    out = json.dumps(simulate(inventory, _run(inventory, jurisdiction="US")).to_json())
    assert '"outage_hours": "inf"' in out
