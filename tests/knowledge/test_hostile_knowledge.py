"""Hostile knowledge, policy and override files (issue 19 cases 2, 11, 17): refused fast with
the file and line, never a hang or a traceback."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from sovmap.knowledge.catalogue import KnowledgeError, load_catalogue
from sovmap.orgs.mapping import OverrideError, load_overrides
from sovmap.risk.policy import PolicyError, load_policy
from support.mutate import mutated

FUZZ = settings(
    max_examples=max(10, int(os.environ.get("SOVMAP_FUZZ_EXAMPLES", "150")) // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        prev, cur = chr(96 + n), chr(97 + n)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_in_a_user_knowledge_directory(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(_alias_bomb(), encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(KnowledgeError, match=r"bomb\.yaml:2: YAML_ALIAS: "):
        load_catalogue([tmp_path])
    assert time.monotonic() - start < 5


def test_latin1_and_deep_knowledge_files_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(b"id: p\nname: Caf\xe9\n")
    with pytest.raises(KnowledgeError, match=r"p\.yaml:2: ENCODING: byte 0xe9 at offset 15"):
        load_catalogue([tmp_path])
    (tmp_path / "p.yaml").write_text("id: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"p\.yaml:1: YAML_LIMIT: nested more than"):
        load_catalogue([tmp_path])


def test_policy_file_with_an_alias_bomb_or_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_alias_bomb(), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml:2: YAML_ALIAS: "):
        load_policy(path)
    path.write_text("weights: {}\nweights: {}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml:2: DUPLICATE_KEY: key 'weights'"):
        load_policy(path)


def test_override_file_with_a_recursive_alias(tmp_path: Path) -> None:
    path = tmp_path / "overrides.yaml"
    path.write_text("overrides: &o [*o]\n", encoding="utf-8")
    with pytest.raises(OverrideError, match=r"overrides\.yaml:1: YAML_ALIAS: "):
        load_overrides(path)


_PROVIDER = (
    Path(__file__).resolve().parents[2] / "src/sovmap/knowledge/data/providers/google.yaml"
).read_bytes()
_POLICY = (Path(__file__).resolve().parents[2] / "src/sovmap/risk/data/policy.yaml").read_bytes()


@FUZZ
@given(mutated(_PROVIDER))
def test_fuzz_user_provider_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "google.yaml").write_bytes(data)
        try:
            load_catalogue([Path(tmp)])
        except KnowledgeError as exc:
            assert str(exc)


@FUZZ
@given(mutated(_POLICY))
def test_fuzz_policy_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_bytes(data)
        try:
            load_policy(path)
        except PolicyError as exc:
            assert str(exc)
