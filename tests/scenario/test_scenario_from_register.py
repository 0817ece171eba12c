from __future__ import annotations

import math
from pathlib import Path

import pytest

from sovmap.errors import SovmapError
from sovmap.register.files import load_register_dir
from sovmap.register.problems import RegisterError
from sovmap.scenario import Cut, Scenario, ScenarioError, Selector, Status, simulate
from sovmap.scenario.from_register import (
    ScenarioSettings,
    inventory_from_register,
    parse_scenario_settings,
)

REGISTER = {
    "organisation.yaml": "organisation: {id: org, name: Org}\n",
    "providers.yaml": """providers:
  - {id: ms-ie, name: Microsoft Ireland, country: IE, parent: ms-corp, catalogue_id: microsoft}
  - {id: ms-corp, name: Microsoft Corporation, country: US, jurisdiction: US}
  - {id: aws, name: AWS, country: US, jurisdiction: US}
  - id: saasco
    name: SaaS Co
    country: NL
    jurisdiction: NL
    subcontractors:
      - {provider: aws, services: [crm]}
  - {id: own, name: Own IT, country: NL, jurisdiction: NL}
""",
    "services.yaml": """services:
  - {id: entra, name: Entra ID, capability: identity, provider: ms-ie}
  - id: exo
    name: Exchange Online
    capability: mailbox
    provider: ms-ie
    backup: vault
    depends_on:
      - {service: entra, kind: identity}
      - {service: vault, kind: backup}
  - {id: vault, name: Backup vault, capability: backup, provider: own}
  - {id: crm, name: CRM, capability: saas, provider: saasco}
  - id: chat
    name: Chat
    capability: office-suite
    provider: ms-ie
    fallback: matrix
    depends_on: [{service: entra, kind: identity}]
  - {id: matrix, name: Matrix, capability: office-suite, provider: own}
  - id: core
    name: Core system
    capability: case-management
    provider: own
    depends_on: [{service: entra, kind: other}]
""",
    "processes.yaml": """processes:
  - id: mail
    name: Mail
    rto_hours: 8
    people_served: 100
    services: [exo]
    escalation:
      - {after_hours: 4, impact: low}
      - {after_hours: 48, impact: high}
    fallback: phone
    fallback_days: 2
  - {id: sales, name: Sales, rto_hours: 24, organisations_served: 7, services: [crm]}
  - {id: talk, name: Talk, services: [chat]}
  - {id: core, name: Core, services: [core]}
""",
    "data-assets.yaml": """data_assets:
  - {id: mailboxes, name: Mailboxes, processes: [mail], services: [exo, vault]}
""",
}


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    for name, text in REGISTER.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_register_mapping_hand_computed(register_dir: Path) -> None:
    reg = load_register_dir(register_dir)
    inv = inventory_from_register(reg, ScenarioSettings(fallback_ready_hours=6.0))
    prov = {p.id: p for p in inv.providers}
    assert prov["ms-ie"].jurisdiction == "US" and prov["ms-ie"].parent == "ms-corp"
    assert prov["ms-ie"].aliases == ("microsoft",)
    res = simulate(inv, Scenario((Cut(Selector(jurisdiction="us")),)))
    st = {p.id: p for p in res.processes}
    # a NL SaaS whose subcontract names it runs on AWS: down through the subcontractor
    assert st["sales"].status is Status.DOWN and st["sales"].path == ("sales", "crm", "aws")
    # a designated fallback service acts as a redundant alternative: degraded, not down
    assert st["talk"].status is Status.DEGRADED
    # a dependency of kind "other" is soft
    assert st["core"].status is Status.DEGRADED and st["core"].path == (
        "core",
        "core",
        "entra",
        "ms-ie",
    )
    mail = st["mail"]
    # documented fallback ready after 6 h (setting), carries 2 days, then down for good
    assert mail.fallback == "documented-fallback" and mail.fallback_from_hours == 6.0
    assert mail.fallback_until_hours == 54.0 and math.isinf(mail.outage_hours)
    assert mail.bearable_hours == 48.0  # first "high" escalation step
    assert mail.impacts == ("low", "high")
    box = next(d for d in res.data if d.id == "mailboxes")
    assert box.unreachable_hours == 0.0 and box.restorable_after_hours == 48.0  # the vault
    assert set(res.stopped) == {"ms-ie", "ms-corp", "aws"}


def test_provider_alias_and_parent(register_dir: Path) -> None:
    inv = inventory_from_register(load_register_dir(register_dir))
    by_alias = simulate(inv, Scenario((Cut(Selector(provider="microsoft")),)))
    assert by_alias.stopped == ("ms-ie",)
    by_parent = simulate(inv, Scenario((Cut(Selector(parent="ms-corp")),)))
    assert set(by_parent.stopped) == {"ms-ie", "ms-corp"}


def test_settings_file_and_errors(register_dir: Path, tmp_path: Path) -> None:
    text = "fallback_ready_hours: 2\ndependencies:\n  - {from: core, to: entra, strength: hard}\n"
    st = parse_scenario_settings(text, "scenario.yaml")
    inv = inventory_from_register(load_register_dir(register_dir), st)
    res = simulate(inv, Scenario((Cut(Selector(capability="identity")),)))
    assert res.process("core").status is Status.DOWN
    with pytest.raises(ScenarioError, match=r"scenario.yaml:2: field backups/x"):
        parse_scenario_settings("fallback_ready_hours: 1\nbackups: {x: {}}\n", "scenario.yaml")
    # loading moved to register/: its errors are RegisterErrors (a SovmapError, like
    # ScenarioError), with the same messages as before
    with pytest.raises(RegisterError, match="not a register directory"):
        load_register_dir(tmp_path / "nope")
    (register_dir / "services.yaml").write_text("services:\n  - {id: x}\n", encoding="utf-8")
    with pytest.raises(RegisterError, match="register has errors") as info:
        load_register_dir(register_dir)
    assert isinstance(info.value, SovmapError) and info.value.problems


def test_example_register_us_cutoff() -> None:
    root = Path(__file__).parents[2] / "examples" / "register"
    inv = inventory_from_register(load_register_dir(root))
    res = simulate(inv, Scenario((Cut(Selector(jurisdiction="US")),)))
    werkplek = res.process("werkplek")
    assert werkplek.status is Status.DOWN and werkplek.path[-1].startswith("microsoft")
    assert res.summary["down"] >= 1 and res.summary["people_down"] > 0
