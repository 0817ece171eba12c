"""Cut-off scenarios: what stops when a provider, parent, jurisdiction or capability does."""

from sovmap.scenario.durations import DurationError, format_duration, parse_duration
from sovmap.scenario.model import (
    Backup,
    Cut,
    DataAsset,
    Dependency,
    Fallback,
    Inventory,
    ProcessNode,
    ProviderNode,
    Scenario,
    ScenarioError,
    ScenarioResult,
    Selector,
    ServiceNode,
    Status,
    Strength,
    Threshold,
)
from sovmap.scenario.simulate import compile_inventory, select, simulate

__all__ = [
    "Backup",
    "Cut",
    "DataAsset",
    "Dependency",
    "DurationError",
    "Fallback",
    "Inventory",
    "ProcessNode",
    "ProviderNode",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Selector",
    "ServiceNode",
    "Status",
    "Strength",
    "Threshold",
    "compile_inventory",
    "format_duration",
    "parse_duration",
    "select",
    "simulate",
]
