"""The control rule and the jurisdiction selector (control.py), on hand-built chains."""

from __future__ import annotations

import pytest

from sovmap.control import (
    Link,
    Reason,
    control_from_chain,
    controlled_from,
    parse_selector,
    select_jurisdiction,
    suggest,
)

MS_IE = control_from_chain(
    (Link("ms-ie", country="IE"), Link("ms", country="US", jurisdiction="US"))
)
SAP = control_from_chain((Link("sap", country="DE", jurisdiction="DE"),))
EC = control_from_chain((Link("ec", country="BE", jurisdiction="EU"),))
TAGGED = control_from_chain((Link("t", country="LU", jurisdiction="LU", tags=("us-cloud-act",)),))
UNKNOWN = control_from_chain((Link("x"),))
ALL = (MS_IE, SAP, EC, TAGGED, UNKNOWN)


def test_headquarters_fallback_says_so() -> None:
    sel = select_jurisdiction("ie", ALL)
    assert sel.by_headquarters and list(sel.matched) == ["ms-ie"]
    reason = sel.matched["ms-ie"]
    assert reason.text() == "headquartered in IE, controlled from US"
    assert reason.text("nl") == "hoofdkantoor in IE, zeggenschap vanuit US"
    assert reason.to_json()["code"] == "HEADQUARTERED_IN"


def test_controlling_jurisdiction_first() -> None:
    sel = select_jurisdiction("US", ALL)
    assert not sel.by_headquarters
    assert set(sel.matched) == {"ms-ie", "t"}  # the CLOUD Act tag reaches the LU subsidiary
    assert sel.matched["t"] == Reason("CONTROLLED_FROM", "US")


def test_eu_and_non_eu() -> None:
    assert set(select_jurisdiction("EU", ALL).matched) == {"sap", "ec"}  # EU institutions too
    non_eu = select_jurisdiction("non-EU", ALL)
    assert set(non_eu.matched) == {"ms-ie", "t", "x"}
    assert non_eu.matched["x"].code == "CONTROL_UNKNOWN"  # unknown is the worst case


def test_unmatched_suggests() -> None:
    sel = select_jurisdiction("CN", ALL)
    assert not sel.matched and not sel.by_headquarters
    assert set(sel.suggestions) == {"US", "DE", "EU", "non-EU"}
    assert suggest([]) == ()
    with pytest.raises(ValueError, match="not a jurisdiction"):
        parse_selector("Ireland")


def test_controlled_from_has_no_headquarters_fallback() -> None:
    assert controlled_from("IE", MS_IE) is None
    assert controlled_from("us", MS_IE) == Reason("CONTROLLED_FROM", "US")
    assert controlled_from("non-eu", UNKNOWN) == Reason("CONTROL_UNKNOWN")


def test_templates_ask_the_control_rule_not_a_string_compare() -> None:
    """Web and report templates mark US control with the control rule's Jinja test
    (``is us_controlled``), never by comparing a jurisdiction with 'US' themselves."""
    import re
    from pathlib import Path

    import sovmap

    root = Path(sovmap.__file__).parent
    compare = re.compile(r"""[=!]=\s*['"]US['"]|['"]US['"]\s*[=!]=""")
    templates = [*root.glob("web/templates/*.html"), *root.glob("report/templates/*.html")]
    assert templates
    offenders = [str(p.relative_to(root)) for p in templates if compare.search(p.read_text())]
    assert offenders == []
    from sovmap.control import us_controlled

    assert us_controlled(" us") and not us_controlled("IE") and not us_controlled(None)
