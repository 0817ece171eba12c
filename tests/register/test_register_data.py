"""The register's knowledge lives in data files: each loads, says where it comes from, and
is consistent with the model."""

from __future__ import annotations

from sovmap.register.codec import ENTITY_KINDS, field_specs
from sovmap.register.dora.rules import rule_set
from sovmap.register.identifiers import countries, currencies, ict_service_types
from sovmap.register.model import Organisation
from sovmap.register.quality import expectations
from sovmap.register.roi import TEMPLATES, codes


def test_iso_lists() -> None:
    assert {"NL", "NO", "US", "EU"} <= countries() and len(countries()) == 250
    assert {"EUR", "USD", "NOK"} <= currencies()
    assert all(isinstance(c, str) and len(c) == 2 for c in countries())


def test_ict_service_types_are_s01_to_s19() -> None:
    assert list(ict_service_types()) == [f"S{i:02d}" for i in range(1, 20)]


def test_dora_codes_cover_every_template_and_list() -> None:
    data = codes()
    assert data["source"].startswith("https://eur-lex.europa.eu/")
    assert tuple(data["templates"]) == TEMPLATES
    for template, columns in data["templates"].items():
        # the EBA rules' column codes (B_03.03's link is c0031 in the DORA 4.0 taxonomy)
        assert list(columns) == list(rule_set()["templates"][template]["columns"]), template
    assert len(data["templates"]["B_05.01"]) == 12 and len(data["templates"]["B_02.02"]) == 18
    for name, members in data["lists"].items():
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in members.items()), name


def test_quality_expectations_name_real_fields() -> None:
    classes = {"organisation": Organisation, **ENTITY_KINDS}
    for section, rules in expectations().items():
        known = {s.name for s in field_specs(classes[section])}
        for rule in rules:
            for name in rule.get("any_of") or [rule["field"]]:
                assert name in known, (section, name)
