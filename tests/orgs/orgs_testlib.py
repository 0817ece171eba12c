"""Helpers shared by the organisation tests (imported by conftest and the tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass
class FixtureServer:
    base: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
