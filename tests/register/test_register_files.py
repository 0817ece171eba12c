"""Reading register directories: the example, every validation rule with its message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from regtools import EXAMPLE, write

from sovmap.register.codec import build_schema
from sovmap.register.files import check_register, load_register, write_register
from sovmap.register.model import Classification, Criticality, Origin
from sovmap.register.problems import RegisterError

ORG = "organisation:\n  id: org\n  name: Org\n  country: NL\n"


def _problems(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        write(tmp_path, name, text)
    return [str(p) for p in check_register(tmp_path).errors]


def test_example_register_is_clean_and_complete() -> None:
    result = check_register(EXAMPLE)
    assert [str(p) for p in result.errors] == []
    warnings = {(p.code, p.field) for p in result.problems}
    # data-quality warnings: gaps left on purpose, as in real registers
    assert ("MISSING_VALUE", "providers[microsoft-ireland].lei|euid") in warnings
    assert ("MISSING_VALUE", "contracts[SPREEKBUIS-2024].exit_clause") in warnings
    assert ("UNCONFIRMED", "providers[mailshield].parent") in warnings
    assert ("UNCONFIRMED", "services[mail-gateway].provider") not in warnings  # confirmed
    assert result.ok
    reg = result.register
    assert reg is not None
    assert reg.organisation.country.value == "NL"
    assert len(reg.processes) >= 15
    assert reg.processes["toeslagen-betaling"].criticality.value is Criticality.CRITICAL
    assert reg.processes["toeslagen-betaling"].people_served.value == 4300000
    assert reg.data_assets["rulings-dossiers"].classification.value is (
        Classification.STATE_CONFIDENTIAL
    )
    # the CSV part: contracts.csv, with an open end date read as missing
    assert reg.contracts["MS-EA-2023"].notice_days.value == 90
    assert reg.contracts["BANK-2020"].end.origin is Origin.MISSING
    # provenance survives: the gateway was inferred by a scan and confirmed by a person
    gw = reg.services["mail-gateway"].provider
    assert (gw.value, gw.origin, gw.source) == ("mailshield", Origin.INFERRED, "scan:1")
    assert gw.confirmed
    assert gw.at is not None and gw.at.file == "services.yaml"
    # chain: SaaS on AWS -> AWS EMEA -> Amazon.com
    assert reg.chain("spreekbuis", "contact-centre") == ("spreekbuis", "aws-emea", "amazon-com")
    assert "entra-id" in reg.closure(["contact-centre"])


def test_published_schema_matches_the_model() -> None:
    path = Path(__file__).resolve().parents[2] / "src/sovmap/register/schema/register.schema.json"
    assert json.loads(path.read_text()) == build_schema()


def test_schema_error_names_file_line_and_field(tmp_path: Path) -> None:
    got = _problems(
        tmp_path,
        {
            "org.yaml": ORG,
            "p.yaml": "processes:\n  - id: p1\n    name: P\n    criticality: sometimes\n",
        },
    )
    assert got == [
        "p.yaml:4: processes[p1].criticality: 'sometimes' is not one of "
        "['critical', 'important', 'normal', None] [SCHEMA]"
    ]


def test_unknown_field_is_reported(tmp_path: Path) -> None:
    got = _problems(tmp_path, {"org.yaml": ORG + "  colour: blue\n"})
    assert got == ["org.yaml:5: organisation.colour: unknown field 'colour' [UNKNOWN_FIELD]"]


def test_wrong_type_in_provenance_mapping(tmp_path: Path) -> None:
    text = "services:\n  - id: s\n    name: S\n    users:\n      value: many\n"
    got = _problems(tmp_path, {"org.yaml": ORG, "s.yaml": text})
    assert got == [
        "s.yaml:5: services[s].users.value: 'many' is not of type 'integer', 'null' [SCHEMA]"
    ]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    got = _problems(tmp_path, {"org.yaml": ORG, "bad.yaml": "services:\n  - id: [\n"})
    assert len(got) == 1 and got[0].startswith("bad.yaml:3: (document): not valid YAML")
    assert got[0].endswith("[YAML_SYNTAX]")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    got = _problems(tmp_path, {"org.yaml": ORG + "  name: Again\n"})
    assert got == ["org.yaml:5: (document): key 'name' is already given on line 3 [DUPLICATE_KEY]"]


def test_unknown_reference_points_at_the_list_item(tmp_path: Path) -> None:
    text = "processes:\n  - id: p\n    name: P\n    services:\n      - a\n      - nope\n"
    got = _problems(
        tmp_path, {"org.yaml": ORG, "p.yaml": text + "services:\n  - {id: a, name: A}\n"}
    )
    assert got == ["p.yaml:6: processes[p].services: no service with id 'nope' [UNKNOWN_REF]"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "lei",
            "5493001KJTIIGC8Y1R17",
            "org.yaml:5: organisation.lei: '5493001KJTIIGC8Y1R17': check digits do not match "
            "(expected 12) [BAD_LEI]",
        ),
        (
            "lei",
            "5493001kjtiigc8y1r12",
            "org.yaml:5: organisation.lei: '5493001kjtiigc8y1r12' does not match "
            "'^[A-Z0-9]{18}[0-9]{2}$' [SCHEMA]",
        ),
        (
            "euid",
            "NL.123",
            "org.yaml:5: organisation.euid: 'NL.123': an EUID is <country><register>.<number>, "
            "e.g. NLNHR.12345678 [BAD_EUID]",
        ),
        (
            "currency",
            "EUX",
            "org.yaml:5: organisation.currency: 'EUX' is not an ISO 4217 code [BAD_CURRENCY]",
        ),
    ],
)
def test_identifier_rules(tmp_path: Path, field: str, value: str, expected: str) -> None:
    assert _problems(tmp_path, {"org.yaml": ORG + f"  {field}: {value}\n"}) == [expected]


def test_country_rule_and_norway_stays_a_string(tmp_path: Path) -> None:
    text = "providers:\n  - {id: a, name: A, country: 'NO'}\n  - {id: b, name: B, country: NO}\n"
    text += "  - {id: c, name: C, country: XX}\n"
    got = _problems(tmp_path, {"org.yaml": ORG, "p.yaml": text})
    assert got == ["p.yaml:4: providers[c].country: 'XX' is not an ISO 3166 code [BAD_COUNTRY]"]


def test_service_type_rule(tmp_path: Path) -> None:
    text = "services:\n  - id: s\n    name: S\n    dora_service_type: S20\n"
    got = _problems(tmp_path, {"org.yaml": ORG, "s.yaml": text})
    assert got == [
        "s.yaml:4: services[s].dora_service_type: 'S20' is not a DORA ICT service "
        "type (S01 ... S19) [BAD_SERVICE_TYPE]"
    ]


def test_dependency_cycle_and_self_dependency(tmp_path: Path) -> None:
    text = (
        "services:\n"
        "  - {id: a, name: A, depends_on: [{service: b, kind: hosted-on}]}\n"
        "  - {id: b, name: B, depends_on: [{service: a, kind: identity}]}\n"
        "  - {id: c, name: C, depends_on: [{service: c, kind: other}]}\n"
    )
    got = _problems(tmp_path, {"org.yaml": ORG, "s.yaml": text})
    assert "s.yaml:4: services[c].depends_on: depends on itself [SELF_DEPENDENCY]" in got
    assert (
        "s.yaml:3: services[b].depends_on: dependency cycle: a -> b -> a [DEPENDENCY_CYCLE]" in got
    )


def test_bad_date_and_contract_order(tmp_path: Path) -> None:
    text = "contracts:\n  - id: c1\n    start: 2024-02-30\n"
    got = _problems(tmp_path, {"org.yaml": ORG, "c.yaml": text})
    assert got == [
        "c.yaml:3: contracts[c1].start: '2024-02-30' is not a valid date (YYYY-MM-DD) [BAD_VALUE]"
    ]
    text = "contracts:\n  - id: c1\n    start: 2024-02-01\n    end: 2023-01-01\n"
    got = _problems(tmp_path / "x", {"org.yaml": ORG, "c.yaml": text})
    assert got == [
        "c.yaml:4: contracts[c1].end: the contract ends before it starts [END_BEFORE_START]"
    ]


def test_escalation_order(tmp_path: Path) -> None:
    text = (
        "processes:\n  - id: p\n    name: P\n    escalation:\n"
        "      - {after_hours: 48, impact: high}\n      - {after_hours: 4, impact: low}\n"
    )
    got = _problems(tmp_path, {"org.yaml": ORG, "p.yaml": text})
    assert got == [
        "p.yaml:4: processes[p].escalation: escalation steps must be in increasing "
        "order of after_hours [ESCALATION_ORDER]"
    ]


def test_csv_errors_name_row_line_and_column(tmp_path: Path) -> None:
    csv_text = "id,name,notice_days,currency\nc1,One,30,EUR\nc2,Two,soon,EUR\n"
    got = _problems(tmp_path, {"org.yaml": ORG, "contracts.csv": csv_text})
    assert got == [
        "contracts.csv:3: contracts[c2].notice_days: 'soon' is not of type "
        "'integer', 'null' [SCHEMA]"
    ]


def test_csv_must_be_named_after_a_section(tmp_path: Path) -> None:
    got = _problems(tmp_path, {"org.yaml": ORG, "stuff.csv": "id\nx\n"})
    assert got[0].startswith("stuff.csv:1: (file): a CSV file is named after its section")


def test_missing_organisation(tmp_path: Path) -> None:
    got = _problems(tmp_path, {"s.yaml": "services: []\n"})
    assert got == [".:1: organisation: no file has an `organisation` section [NO_ORGANISATION]"]


def test_entered_value_wins_over_inferred_in_another_file(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "a.yaml", "services:\n  - id: s\n    name: S\n    provider: p1\n")
    write(
        tmp_path,
        "z-scan.yaml",
        "services:\n  - id: s\n    name: S (scan)\n    provenance: inferred\n"
        "    provider: {value: p2, provenance: inferred, source: 'scan:1'}\n"
        "    deployment: {value: saas, provenance: inferred, source: 'scan:1'}\n"
        "providers:\n  - {id: p1, name: P1}\n  - {id: p2, name: P2}\n",
    )
    reg = load_register(tmp_path)
    s = reg.services["s"]
    assert s.provider.value == "p1" and s.provider.origin is Origin.ENTERED
    assert s.deployment.origin is Origin.INFERRED and s.name == "S"


def test_two_entered_values_conflict(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG)
    write(tmp_path, "a.yaml", "providers:\n  - {id: p, name: P, country: NL}\n")
    write(tmp_path, "b.yaml", "providers:\n  - {id: p, name: P, country: DE}\n")
    with pytest.raises(RegisterError) as info:
        load_register(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "b.yaml:2: providers[p].country: entered as 'NL' at a.yaml:2 and as 'DE' here [CONFLICT]"
    ]


def test_write_and_read_back_keeps_the_meaning(tmp_path: Path) -> None:
    reg = load_register(EXAMPLE)
    write_register(reg, tmp_path)
    again = load_register(tmp_path)
    assert again == reg


def test_quality_warnings(tmp_path: Path) -> None:
    write(tmp_path, "org.yaml", ORG + "  lei: INR2EJN1ERAN0W5ZP974\n")
    write(
        tmp_path,
        "s.yaml",
        "processes:\n  - {id: p, name: P, criticality: critical, rto_hours: 4}\n"
        "services:\n  - id: s\n    name: S\n    provider: {value: x, provenance: inferred, "
        "source: 'scan:3'}\n    capability: mailbox\n    deployment: saas\n"
        "providers:\n  - {id: x, name: X, country: US}\n",
    )
    result = check_register(tmp_path)
    assert result.ok
    assert [str(p) for p in result.problems] == [
        "s.yaml:2: processes[p].rpo_hours: expected value is missing [MISSING_VALUE]",
        "s.yaml:2: processes[p].discontinuing_impact: expected value is missing [MISSING_VALUE]",
        "s.yaml:6: services[s].provider: inferred from scan:3, not confirmed [UNCONFIRMED]",
    ]


def test_not_a_directory(tmp_path: Path) -> None:
    path = write(tmp_path, "file.yaml", ORG)
    assert [str(p) for p in check_register(path).problems] == [
        f"{path}:1: (path): a register is a directory of YAML/CSV files [NOT_A_DIRECTORY]"
    ]
