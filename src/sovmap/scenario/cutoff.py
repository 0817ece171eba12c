"""The cut-off as one library call: a loaded register and settings in, a result out.

``sovmap cutoff``, the web's cut-off page and API and the report all call :func:`cut_off`
with values they have read (the register once per command or request); problems are raised
as :class:`~sovmap.scenario.model.ScenarioError` or
:class:`~sovmap.scenario.durations.DurationError`, both :class:`sovmap.errors.SovmapError`.
"""

from __future__ import annotations

from sovmap.register.model import Register
from sovmap.scenario.durations import parse_duration
from sovmap.scenario.from_register import ScenarioSettings, inventory_from_register
from sovmap.scenario.model import Cut, Scenario, ScenarioResult, Selector
from sovmap.scenario.simulate import simulate


def cut_off(
    register: Register,
    selector: Selector,
    *,
    at: str = "",
    duration: str = "permanent",
    settings: ScenarioSettings | None = None,
) -> ScenarioResult:
    """What stops, for how long and why, when ``selector`` is cut off from ``register``'s
    organisation for ``duration`` (assessed also ``at`` after the start, when given)."""
    scenario = Scenario(
        (Cut(selector),),
        ends_hours=parse_duration(duration),
        assess_hours=parse_duration(at) if at else None,
    )
    return simulate(inventory_from_register(register, settings), scenario)


__all__ = ["cut_off"]
