from __future__ import annotations

import json
from pathlib import Path

import pytest

from sovmap.knowledge import KnowledgeError, load_catalogue


def test_prefix_lists_in_a_user_directory_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "amazon.json").write_text(
        json.dumps(
            {
                "provider": "amazon",
                "capability": "web-hosting",
                "service": "aws",
                "source": "https://ip-ranges.amazonaws.com/ip-ranges.json",
                "fetched": "2026-11-23",
                "prefixes": ["192.0.2.0/24"],
            }
        )
    )
    assert not load_catalogue().match_ip("192.0.2.9")
    cat = load_catalogue([tmp_path])
    hits = cat.match_ip("192.0.2.9")
    assert [h.fingerprint.provider for h in hits] == ["amazon"]
    assert cat.version != load_catalogue().version


def test_a_broken_user_prefix_list_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"provider": "amazon"')
    with pytest.raises(KnowledgeError, match=r"bad\.json"):
        load_catalogue([tmp_path])
