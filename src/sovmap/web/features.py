"""Optional parts of the web app, shown only when the library behind them is installed and
configured: the cut-off scenario runner and the exit plan need a register directory."""

from __future__ import annotations

import importlib
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
    scenario_settings: Path | None = None
    exit_settings: Path | None = None
    cutoff: bool = False
    exitplan: bool = False
    register: bool = False

    def routers(self) -> list[APIRouter]:
        out: list[APIRouter] = []
        if self.register_dir is None:
            return out
        if self.cutoff or self.exitplan:
            pages = importlib.import_module("sovmap.web.scenario_pages")
            out.append(
                pages.make_router(self.register_dir, self.scenario_settings, self.exit_settings)
            )
        if self.register:
            reg = importlib.import_module("sovmap.web.register_pages")
            out.append(reg.make_router(self.register_dir))
        return out


def detect_features(
    register_dir: Path | None = None,
    *,
    scenario_settings: Path | None = None,
    exit_settings: Path | None = None,
) -> Features:
    """Which optional pages to offer, given an optional register directory."""
    have = register_dir is not None
    return Features(
        register_dir=register_dir,
        scenario_settings=scenario_settings,
        exit_settings=exit_settings,
        cutoff=have and _has("sovmap.scenario.commands"),
        exitplan=have and _has("sovmap.exitplan.commands"),
        register=have and _has("sovmap.register.files"),
    )
