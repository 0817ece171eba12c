"""import-scan: findings from a real store become inferred proposals; entered values win."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from regtools import EXAMPLE, write

from sovmap.cli import main
from sovmap.knowledge.catalogue import default_catalogue
from sovmap.model import Capability, DomainResult, Evidence, Finding
from sovmap.register.files import load_register
from sovmap.register.model import Origin
from sovmap.register.scanimport import SCAN_FILE, propose
from sovmap.store import Store


def _finding(domain: str, capability: Capability, service: str, value: str) -> Finding:
    ev = Evidence("mx", domain, "MX", value, "mail.protection.outlook.com", "https://x", 0.95)
    return Finding(
        domain=domain,
        capability=capability,
        provider="microsoft",
        provider_name="Microsoft",
        parent="Microsoft Corporation",
        jurisdiction="US",
        confidence=0.95,
        code="MAILBOX_US_JURISDICTION",
        evidence=(ev,),
        tags=("us-cloud-act",),
        service=service,
    )


def _store(path: Path, findings: list[Finding]) -> int:
    store = Store(path)
    try:
        sid = store.start_scan(input="t", input_digest="d")
        by_domain: dict[str, list[Finding]] = {}
        for f in findings:
            by_domain.setdefault(f.domain, []).append(f)
        batch = [(DomainResult(d, ()), fs) for d, fs in by_domain.items()]
        store.write_results(sid, batch, "kv")
        store.finish_scan(sid)
        return sid
    finally:
        store.close()


ORG = (
    "organisation:\n  id: org\n  name: Org\n  country: NL\n"
    "  domains: [org.example, other.example]\n"
)


def test_proposals_never_overwrite_entered_values(tmp_path: Path) -> None:
    reg_dir = tmp_path / "reg"
    write(reg_dir, "org.yaml", ORG)
    person = (
        "services:\n"
        "  - id: mail\n    name: Our mail\n    capability: mailbox\n    provider: microsoft\n"
        "    deployment: on-premises\n"
        "providers:\n  - id: microsoft\n    name: Microsoft (our name)\n    country: IE\n"
    )
    write(reg_dir, "mine.yaml", person)
    before = {p.name: p.read_bytes() for p in reg_dir.iterdir()}
    db = tmp_path / "s.db"
    sid = _store(
        db,
        [
            _finding("org.example", Capability.MAILBOX, "exchange-online", "org-example.mail"),
            _finding("org.example", Capability.IDENTITY, "entra-id", "x"),
            _finding("unrelated.example", Capability.OFFICE, "teams", "y"),
        ],
    )
    assert main(["register", "import-scan", str(reg_dir), "--db", str(db)]) == 0
    # the person's files are untouched; proposals live in their own file
    for name, data in before.items():
        assert (reg_dir / name).read_bytes() == data
    assert (reg_dir / SCAN_FILE).exists()
    reg = load_register(reg_dir)
    mail = reg.services["mail"]
    assert mail.name == "Our mail"
    assert (mail.deployment.value, mail.deployment.origin) == ("on-premises", Origin.ENTERED)
    assert mail.provider.origin is Origin.ENTERED
    ms = reg.providers["microsoft"]
    assert (ms.name, ms.country.value, ms.country.origin) == (
        "Microsoft (our name)",
        "IE",
        Origin.ENTERED,
    )
    # ... while what nobody entered is filled in, inferred, with its source
    assert ms.jurisdiction.value == "US" and ms.jurisdiction.origin is Origin.INFERRED
    assert ms.jurisdiction.source == "catalogue:microsoft"
    idp = reg.services["entra-id"]
    assert idp.origin is Origin.INFERRED and idp.provider.value == "microsoft"
    assert idp.provider.source == f"scan:{sid}"
    assert idp.provider.evidence == ("org.example: MX org.example -> x (MAILBOX_US_JURISDICTION)",)
    # findings for other organisations' domains are left out
    assert "teams" not in reg.services
    # running it again regenerates the same proposals
    first = (reg_dir / SCAN_FILE).read_text()
    assert main(["register", "import-scan", str(reg_dir), "--db", str(db), "--scan", str(sid)]) == 0
    assert (reg_dir / SCAN_FILE).read_text() == first


def test_propose_on_the_example_register_only_fills_gaps() -> None:
    reg = load_register(EXAMPLE)
    finding = _finding("ldh.example", Capability.MAILBOX, "exchange-online", "ldh-example.mail")
    props = propose(reg, [finding], default_catalogue(), 7)
    # the register's Exchange Online is run by microsoft-ireland, whose catalogue id is
    # microsoft: the proposal attaches to that service and provider instead of adding new ones
    assert [s.id for s in props.services] == ["exchange-online"]
    assert [p.id for p in props.providers] == ["microsoft-ireland"]
    # Microsoft Ireland is another legal entity of the group: no Microsoft Corporation
    # name or US country is proposed for it, only the group's jurisdiction and tags
    ie = props.providers[0]
    assert ie.legal_name.value is None and ie.country.value is None
    assert ie.jurisdiction.value == "US" and "us-cloud-act" in (ie.tags.value or ())
    svc = props.services[0]
    assert svc.provider.value == "microsoft-ireland" and svc.provider.origin is Origin.INFERRED


def test_import_scan_without_scans_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg_dir = tmp_path / "reg"
    shutil.copytree(EXAMPLE, reg_dir)
    db = tmp_path / "empty.db"
    Store(db).close()
    assert main(["register", "import-scan", str(reg_dir), "--db", str(db)]) == 2
    assert "holds no scan" in capsys.readouterr().err
    assert not (reg_dir / SCAN_FILE).exists()
