"""One settings value for a scan: given once, checked once, frozen; and the layers of the
scan side import only downwards (no package cycles)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from sovmap.collect.engine import EngineConfig
from sovmap.collect.pipeline import ScanSettings, parse_shard, run_scan
from sovmap.collect.probes import default_plan
from sovmap.devserver import DevServer
from sovmap.store import Store

SRC = Path(__file__).resolve().parents[2] / "src" / "sovmap"
CONFIG = EngineConfig([("127.0.0.1", 5300)])


def test_settings_are_checked_and_frozen() -> None:
    s = ScanSettings(CONFIG, workers=2, shard=(1, 3))
    assert s.resolvers == [("127.0.0.1", 5300)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.workers = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.timeout = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="workers"):
        ScanSettings(CONFIG, workers=0)
    with pytest.raises(ValueError, match="shard"):
        ScanSettings(CONFIG, shard=(4, 3))
    with pytest.raises(ValueError, match="no resolver"):
        ScanSettings(EngineConfig([]))
    with pytest.raises(ValueError, match="at least 1"):
        ScanSettings(CONFIG, max_active=0)
    assert parse_shard("2/3") == (2, 3)
    with pytest.raises(ValueError, match="shard"):
        parse_shard("0/3")


def test_run_scan_takes_the_settings_once() -> None:
    params = inspect.signature(run_scan).parameters
    assert list(params) == ["input_path", "store", "settings", "on_progress"]


def test_a_scan_runs_from_its_settings_alone(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "a.test.zone").write_text(
        "$ORIGIN a.test.\n$TTL 60\n@ SOA ns h 1 60 60 60 60\n@ NS ns\nns A 127.0.0.1\n"
    )
    (tmp_path / "in.txt").write_text("a.test\n")
    store = Store(tmp_path / "s.sqlite")
    with DevServer(zones) as srv:
        settings = ScanSettings(EngineConfig([(srv.host, srv.port)], timeout=0.3), label="x")
        out = run_scan(tmp_path / "in.txt", store, settings)
    assert (out.domains, out.engine_stats["timeouts"]) == (1, 0)
    assert out.queries == default_plan().base_queries
    # the resolvers are given once, in the engine's configuration
    assert "resolvers" not in {f.name for f in dataclasses.fields(ScanSettings)}


def _imports(path: Path) -> set[str]:
    """Top-level parts of sovmap a module imports (``sovmap.collect.x`` -> ``collect``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        out |= {n.split(".")[1] for n in names if n.startswith("sovmap.")}
    return out


def test_no_package_cycles_on_the_scan_side() -> None:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        part = path.relative_to(SRC).parts[0].removesuffix(".py")
        graph.setdefault(part, set()).update(_imports(path) - {part})

    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for part in ("collect", "classify", "scan", "records", "model"):
        assert part not in reaches(part), f"{part} imports itself through another package"
    assert "collect" not in reaches("classify")
