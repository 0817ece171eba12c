"""EU Cloud Sovereignty Framework assessment, the sector view and the risk commands."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from risktools import build, process, provider, service

from sovmap.cli import main
from sovmap.register.files import load_register
from sovmap.risk.policy import default_policy
from sovmap.risk.sector import sector
from sovmap.risk.sovereignty import Facts, assess, register_facts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_weights_are_the_published_ones() -> None:
    objectives = default_policy().section("sovereignty")["objectives"]
    assert {k: o["weight"] for k, o in objectives.items()} == {
        "SOV-1": 0.15,
        "SOV-2": 0.10,
        "SOV-3": 0.10,
        "SOV-4": 0.15,
        "SOV-5": 0.20,
        "SOV-6": 0.15,
        "SOV-7": 0.10,
        "SOV-8": 0.05,
    }
    assert default_policy().section("sovereignty")["source"].startswith("https://")


def test_us_controlled_provider_with_eu_entity() -> None:
    facts = Facts("ms-ie", "IE", "US", ("us-cloud-act", "us-sanctions"))
    a = assess(default_policy(), facts, {"sov1-eu-governance": True})
    sov1, sov2 = a.objectives[0], a.objectives[1]
    # EU entity (auto) and EU governance (user) reach step 2; the US parent (auto) stops it
    assert sov1.level == 2
    assert [(s.answer, s.by) for s in sov1.steps[:3]] == [
        (True, "auto:legal-entity-in-eu"),
        (True, "user"),
        (False, "auto:parent-in-eu"),
    ]
    assert sov2.level == 0 and sov2.unanswered == ("sov2-eu-law",)
    # score: SOV-1 15% x 2/4 = 7.5; SEAL is the lowest objective level
    assert a.score == pytest.approx(7.5) and a.seal == 0 and a.provisional
    # answering sov2-eu-law yes still leaves SOV-2 at 1: the CLOUD Act tag decides step 2
    b = assess(default_policy(), facts, {"sov1-eu-governance": True, "sov2-eu-law": True})
    assert b.objectives[1].level == 1
    assert b.objectives[1].steps[1].by == "auto:no-extraterritorial-tags"
    assert b.score == pytest.approx(7.5 + 10 * 1 / 4)


def test_fully_answered_eu_provider_reaches_seal_4() -> None:
    policy = default_policy()
    questions = [
        step["id"]
        for o in policy.section("sovereignty")["objectives"].values()
        for step in o["ladder"]
    ]
    facts = Facts("eu", "DE", "DE", ())
    a = assess(policy, facts, dict.fromkeys(questions, True))
    assert (a.score, a.seal, a.provisional) == (pytest.approx(100.0), 4, False)
    # one no at SOV-5 step 2 caps supply chain at level 1: 100 - 20 x 3/4 = 85
    answers = dict.fromkeys(questions, True) | {"sov5-no-critical-non-eu": False}
    b = assess(policy, facts, answers)
    assert b.score == pytest.approx(85.0) and b.seal == 1 and not b.provisional


def test_register_facts_follow_the_chain() -> None:
    reg = load_register(EXAMPLES / "register")
    f = register_facts(reg, "spreekbuis")
    assert (f.legal_country, f.parent_country) == ("NL", "NL")
    assert "us-cloud-act" in f.chain_tags  # through its AWS subcontractor
    assert register_facts(reg, "microsoft-ireland").parent_country == "US"
    assert register_facts(reg, "mailshield").parent_country == "US"  # inferred parent


def test_sector_view_counts_entities_per_group() -> None:
    a = build(
        [provider("ms", "US"), provider("ms-ie", "IE", parent="ms"), provider("eu", "DE")],
        [service("mail", "ms-ie", capability="mailbox"), service("crm", "eu")],
        [],
        [process("p", ("mail",)), process("q", ("crm",))],
    )
    b = build(
        [provider("ms", "US")],
        [service("mail", "ms", capability="mailbox")],
        [],
        [process("p", ("mail",))],
    )
    b = dataclasses.replace(b, organisation=dataclasses.replace(b.organisation, id="org-b"))
    c = build(
        [provider("eu2", "FR")],
        [service("mail", "eu2", capability="mailbox")],
        [],
        [process("p", ("mail",))],
    )
    c = dataclasses.replace(c, organisation=dataclasses.replace(c.organisation, id="org-c"))
    report = sector([a, b, c], default_policy())
    groups = {g.key: g for g in report.groups}
    assert groups["name:ms"].critical_entities == ("org", "org-b")
    assert groups["name:ms"].name == "ms"
    assert groups["name:eu"].critical_entities == ("org",)
    assert report.entities == ("org", "org-b", "org-c")
    mailbox = next(x for x in report.capabilities if x.capability == "mailbox")
    # entities per group for mailboxes: ms 2 (a and b), eu2 1 -> shares 2/3, 1/3
    assert mailbox.hhi == pytest.approx((200 / 3) ** 2 + (100 / 3) ** 2)


def test_risk_command_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", str(EXAMPLES / "register"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    procs = {p["id"]: p for p in out["processes"]}
    rulings = procs["rulings"]["confidentiality"]
    assert rulings["value"] == 90.0 and rulings["because"] == "teams/rulings-dossiers"
    assert {f["code"] for f in rulings["factors"]} >= {"SENSITIVITY", "PARTY_REACH", "KEYS_IN_USE"}
    ms = next(d for d in out["critical_dependence"] if d["subject"] == "microsoft-corp")
    assert ms["share"] == pytest.approx(16 / 19, abs=1e-4)
    assert main(["risk", str(EXAMPLES / "register")]) == 0
    text = capsys.readouterr().out
    assert "microsoft-corp" in text and "SEAL-" in text
    assert main(["risk", str(EXAMPLES / "register"), "--questions"]) == 0
    text = capsys.readouterr().out
    assert "    sov2-eu-law: Is the contract governed by the law of an EU member state" in text


def test_risk_command_with_policy_and_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("providers:\n  kluis-cloud:\n    sov1-eu-governance: yes\n")
    args = ["risk", str(EXAMPLES / "register"), "--format", "json", "--answers", str(answers)]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    kluis = next(a for a in out["sovereignty"] if a["provider"] == "kluis-cloud")
    assert kluis["objectives"][0]["level"] == 3  # EU entity, EU governance, EU parent
    bad = tmp_path / "policy.yaml"
    bad.write_text("classification: {public: -1}\n")
    assert main(["risk", str(EXAMPLES / "register"), "--policy", str(bad)]) == 2
    assert "field classification/public" in capsys.readouterr().err


def test_sector_command_reads_registers_and_roi(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sector", str(EXAMPLES / "register"), str(EXAMPLES / "roi"), "--format", "json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["entities"]) == 2
    amazon = next(g for g in out["groups"] if g["key"] == "lei:ZXTILKJKG63JELOEG630")
    assert len(amazon["critical_entities"]) == 2  # via a SaaS subcontractor in both


def test_catalogue_facts_fill_what_the_register_leaves_open() -> None:
    from sovmap.knowledge.catalogue import default_catalogue
    from sovmap.register.model import Valued

    reg = build(
        [
            dataclasses.replace(
                provider("ms-ie", "IE"),
                jurisdiction=Valued(),
                catalogue_id=Valued.entered("microsoft"),
            )
        ],
        [service("mail", "ms-ie", capability="mailbox")],
        [],
        [process("p", ("mail",))],
    )
    bare = register_facts(reg, "ms-ie")
    assert (bare.parent_country, bare.chain_tags) == ("IE", ())
    full = register_facts(reg, "ms-ie", default_catalogue())
    assert full.parent_country == "US" and "us-cloud-act" in full.chain_tags
    a = assess(default_policy(), full, {"sov2-eu-law": True})
    assert a.objectives[1].level == 1  # the CLOUD Act tag from the catalogue stops step 2
