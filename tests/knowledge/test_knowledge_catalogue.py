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
    assert cat.match_name("mx", "mail.protection.outlook.com.evil.example") == ()
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


def _reference_matches(cat, kind: str, name: str, probe: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every fingerprint of ``kind`` tried one by one, as the data files define it."""
    import re

    norm = name.strip().rstrip(".").lower()
    out = set()
    for fp in cat.fingerprints:
        if fp.kind != kind or not fp.applies_to(probe):
            continue
        pat = fp.pattern.strip().rstrip(".").lower()
        if fp.match == "regex":
            hit = re.search(fp.pattern, norm, re.I) is not None
        elif fp.match == "exact":
            hit = norm == pat
        else:
            hit = norm == pat or norm.endswith("." + pat)
        if hit:
            out.add((fp.provider, fp.pattern))
    return out


def test_indexed_matching_agrees_with_trying_every_fingerprint() -> None:
    """The suffix index, the joined regex pre-filter and the memo change nothing: for every
    name a fingerprint is about (and variants of it) the matches equal a plain loop."""
    cat = default_catalogue()
    names: set[str] = set()
    for fp in cat.fingerprints:
        if fp.kind in ("asn", "ip"):
            continue
        base = fp.pattern.strip("^$").replace("\\.", ".").replace(".*", "x").replace("\\", "")
        names |= {base, f"host1.{base}", base.upper() + ".", f"x{base}", f"{base}.example"}
    assert len(names) > 300
    for probe in ("", "mx", "web", "mx-host", "txt", "dkim"):
        for kind in ("mx", "spf", "dkim", "dmarc", "cname", "srv", "ns"):
            for name in sorted(names):
                for _ in range(2):  # the second answer comes from the memo
                    got = {
                        (m.fingerprint.provider, m.fingerprint.pattern)
                        for m in cat.match_name(kind, name, probe)
                    }
                    assert got == _reference_matches(cat, kind, name, probe), (kind, name, probe)


def test_regex_prefilter_refuses_what_it_cannot_join() -> None:
    from sovmap.knowledge.catalogue import _alternation

    assert _alternation([r"a(b)\1", "x"]) is None  # a back-reference would be renumbered
    assert _alternation(["(?i)a", "b"]) is None  # a global flag must come first
    rx = _alternation(["^mx[0-9]+\\.", "gateway$"])
    assert rx is not None and rx.search("MX12.example") and rx.search("a.gateway")
    assert not rx.search("amx1.example")
