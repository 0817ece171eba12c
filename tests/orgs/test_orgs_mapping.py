"""Overrides (each with a reason), shared domains and duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovmap.orgs import mapping as m
from sovmap.orgs.mapping import OverrideError, load_overrides, map_organisations
from sovmap.orgs.model import Derivation, Organisation

ORGS = [
    Organisation("a", "Gemeente A", "municipality", websites=("https://www.a.nl",)),
    Organisation("b", "Gemeente B", "municipality", emails=("info@ssc.nl",)),
    Organisation("c", "Gemeente C", "municipality", emails=("info@ssc.nl", "x@c.nl")),
    Organisation("d", "Gemeente A", "municipality", websites=("https://a-gemeente.nl",)),
]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "overrides.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_overrides_add_and_remove_with_reasons(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """overrides:
  - org: a
    add:
      - domain: MAIL.A-Post.NL
        reason: mail domain confirmed by the municipality
  - org: c
    remove:
      - domain: ssc.nl
        reason: the service centre's domain, not C's own mail
  - org: zz
    add:
      - domain: zz.nl
        reason: typo test
""",
    )
    ov = load_overrides(path)
    mapping = map_organisations(ORGS, ov)
    assert mapping.domains_of("a") == ("a.nl", "mail.a-post.nl")  # normalised, kept as given
    added = next(d for d in mapping.domains if d.domain == "mail.a-post.nl")
    assert (added.how, added.reason) == (
        Derivation.OVERRIDE,
        "mail domain confirmed by the municipality",
    )
    assert mapping.domains_of("c") == ("c.nl",)
    codes = {(u.org_id, u.code) for u in mapping.unmapped}
    assert ("c", m.REMOVED_BY_OVERRIDE) in codes
    assert ("zz", m.OVERRIDE_UNKNOWN_ORG) in codes
    assert m.shared_domains(mapping) == {}  # ssc.nl now only serves b


def test_shared_domains_and_duplicates() -> None:
    mapping = map_organisations(ORGS)
    assert m.shared_domains(mapping) == {"ssc.nl": ("b", "c")}
    assert m.duplicate_organisations(ORGS) == [("a", "d")]
    dup_ids = [*ORGS, Organisation("a", "Other", "zbo", domains=("x.nl",))]
    assert ("a", "a") in m.duplicate_organisations(dup_ids)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "overrides:\n  - org: a\n    add:\n      - domain: a.nl\n",
            r"overrides\.yaml:4: field 'reason' is missing",
        ),
        (
            "overrides:\n  - org: a\n    add:\n      - domain: gv.at\n        reason: x\n",
            r":4: field 'domain': a public suffix",
        ),
        ("overrides:\n  - add: []\n", r":2: field 'org' is missing"),
        ("overrides:\n  - org: a\n", r":2: override for 'a' has no add or remove"),
        (
            "overrides:\n  - org: a\n    add:\n      - domain: a.nl\n        reason: ''\n",
            r":5: field 'reason' must be a non-empty text",
        ),
        ("overrides:\n  - org: a\n    ad: []\n", r":2: unknown field\(s\) \['ad'\]"),
        ("overrides: {a: 1}\n", r":1: field 'overrides' must be a list"),
        ("overrides:\n  - org: [a\n", "not valid YAML"),
    ],
)
def test_override_errors_name_file_line_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        load_overrides(_write(tmp_path, text))
