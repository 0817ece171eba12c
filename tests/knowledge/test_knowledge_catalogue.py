from __future__ import annotations

from pathlib import Path

import pytest

from sovmap.knowledge import KnowledgeError, default_catalogue, load_catalogue
from sovmap.model import Capability


def test_bundled_catalogue_validates() -> None:
    cat = load_catalogue()
    assert "microsoft" in cat.providers
    assert all(fp.source.startswith("http") for fp in cat.fingerprints)


def test_every_provider_fact_has_a_source() -> None:
    cat = default_catalogue()
    for p in cat.providers.values():
        assert p.parent_name and p.jurisdiction and p.legal_name, p.id


def test_suffix_match_and_probe_restriction() -> None:
    cat = default_catalogue()
    hits = cat.match_name("mx", "example-nl.mail.protection.outlook.com.")
    assert [h.fingerprint.provider for h in hits] == ["microsoft"]
    assert cat.match_name("mx", "mail.protection.outlook.com.evil.example") == []
    assert cat.match_name("cname", "autodiscover.outlook.com", probe="autodiscover")
    assert not cat.match_name("cname", "autodiscover.outlook.com", probe="www")


def test_user_directory_overrides_by_id(tmp_path: Path) -> None:
    (tmp_path / "ms.yaml").write_text(
        """
id: microsoft
name: Microsoft (local)
legal: {name: Microsoft Corporation, country: US, source: https://example.org/a}
parent: {name: Microsoft Corporation, country: US, source: https://example.org/a}
jurisdiction: {country: US, tags: [us-cloud-act], source: https://example.org/b}
capabilities: [mailbox]
fingerprints:
  - {kind: mx, pattern: example-mx.test, capability: mailbox, source: https://example.org/c}
"""
    )
    cat = load_catalogue([tmp_path])
    assert cat.providers["microsoft"].name == "Microsoft (local)"
    assert cat.match_name("mx", "a.example-mx.test")[0].fingerprint.capability is Capability.MAILBOX


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("id: x\nname: X\n", "(document)"),
        (
            "id: x\nname: X\nlegal: {name: X, country: us, source: https://e.org}\n"
            "parent: {name: X, country: US, source: https://e.org}\n"
            "jurisdiction: {country: US, tags: [], source: https://e.org}\n"
            "capabilities: [mailbox]\nfingerprints: []\n",
            "legal/country",
        ),
        (
            "id: x\nname: X\nlegal: {name: X, country: US, source: https://e.org}\n"
            "parent: {name: X, country: US, source: https://e.org}\n"
            "jurisdiction: {country: US, tags: [], source: https://e.org}\n"
            "capabilities: [mailbox]\nfingerprints:\n"
            "  - {kind: mx, pattern: a.b, capability: cdn, source: https://e.org}\n",
            "fingerprints/0/capability",
        ),
        ("id: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_files_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(KnowledgeError) as err:
        load_catalogue([tmp_path])
    assert "bad.yaml" in str(err.value)
    assert field in str(err.value)
