"""control_of: a register's ownership chain into the one control rule."""

from __future__ import annotations

from pathlib import Path

from sovmap.register.files import load_register_dir
from sovmap.register.model import Organisation, Provider, Register, Valued
from sovmap.register.ownership import control_of

EXAMPLE = Path(__file__).parents[2] / "examples" / "register"


def _p(pid: str, **values: object) -> Provider:
    return Provider(id=pid, name=pid.title(), **{k: Valued.entered(v) for k, v in values.items()})


def _reg(*providers: Provider) -> Register:
    return Register(Organisation("org", "Org"), providers={p.id: p for p in providers})


def test_parent_ids_lead_to_the_ultimate_parent() -> None:
    reg = _reg(
        _p("ms-ie", country="IE", parent="ms-emea"),
        _p("ms-emea", country="NL", parent="ms-corp"),
        _p("ms-corp", country="US", jurisdiction="US", tags=("us-cloud-act",)),
    )
    c = control_of(reg, "ms-ie")
    assert [link.id for link in c.chain] == ["ms-ie", "ms-emea", "ms-corp"]
    assert (c.controlling, c.headquarters, c.group) == ("US", "IE", "ms-corp")
    assert c.us_controlled and not c.eu_controlled and c.tags == ("us-cloud-act",)
    # the top of a chain is its own group; a parent's control does not depend on a child
    assert control_of(reg, "ms-corp").group == "ms-corp"
    assert control_of(reg, "ms-emea").controlling == "US"


def test_a_parent_known_by_name_or_country_only() -> None:
    reg = _reg(
        _p("shield", country="NL", parent_name="ShieldCo Inc.", parent_country="US"),
        _p("byname", country="DE", jurisdiction="DE", parent_name="Holding AG"),
        _p("bycountry", country="FR", parent_country="CN"),
        _p("gone", country="BE", parent="not-entered", parent_country="US"),
    )
    shield = control_of(reg, "shield")
    assert shield.group == "name:ShieldCo Inc." and shield.controlling == "US"
    assert shield.ultimate_parent.name == "ShieldCo Inc."
    # a named parent of unknown country: the first stated jurisdiction from the top down
    assert control_of(reg, "byname").controlling == "DE"
    # known by country only: no group of its own, controlled from that country
    bycountry = control_of(reg, "bycountry")
    assert bycountry.group == "bycountry" and bycountry.controlling == "CN"
    # a parent id without an entry keeps its id and what the child says of it
    gone = control_of(reg, "gone")
    assert gone.group == "not-entered" and gone.controlling == "US"


def test_cycles_stop_and_unknown_stays_unknown() -> None:
    reg = _reg(
        _p("a", country="NL", parent="b"),
        _p("b", parent="c"),
        _p("c", parent="a"),
        _p("self", parent="self"),
        _p("nothing"),
    )
    cyc = control_of(reg, "a")
    assert [link.id for link in cyc.chain] == ["a", "b", "c"]
    assert cyc.controlling == "" and not cyc.known  # nobody in the loop states a country
    assert [link.id for link in control_of(reg, "self").chain] == ["self"]
    for pid in ("nothing", "not-in-the-register"):
        c = control_of(reg, pid)
        assert not c.known and not c.us_controlled and c.jurisdiction_class == "unknown"


def test_example_register() -> None:
    reg = load_register_dir(EXAMPLE)
    ms = control_of(reg, "microsoft-ireland")
    assert (ms.headquarters, ms.controlling, ms.group) == ("IE", "US", "microsoft-corp")
    assert control_of(reg, "mailshield").effective == "US"  # inferred parent shieldco
    assert control_of(reg, "splunk").group == "cisco"
    ec = control_of(reg, "european-commission")
    assert ec.controlling == "EU" and ec.eu_controlled
