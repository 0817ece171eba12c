"""Optional parts of the web app, shown only when the library behind them is installed
and configured (a register directory for the cut-off scenario, exit plan and register)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True, slots=True)
class Features:
    register_dir: Path | None = None
    cutoff: bool = False
    exitplan: bool = False
    register: bool = False

    def routers(self) -> list[APIRouter]:
        out: list[APIRouter] = []
        return out


def detect_features(register_dir: Path | None = None) -> Features:
    """Which optional pages to offer, given an optional register directory."""
    return Features(register_dir=register_dir)
