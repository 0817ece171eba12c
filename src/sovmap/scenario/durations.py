"""Durations as people write them (``4h``, ``1d``, ``2w``, ``9mo``, ``1.5y``), in hours.

A month is a twelfth of a Julian year (730.5 hours) and a year 365.25 days; these are
calendar durations, not working time.
"""

from __future__ import annotations

import math
import re

from sovmap.errors import SovmapError

HOURS_PER_UNIT: dict[str, float] = {
    "min": 1.0 / 60.0,
    "h": 1.0,
    "d": 24.0,
    "w": 7 * 24.0,
    "mo": 365.25 * 24.0 / 12.0,
    "y": 365.25 * 24.0,
}

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|mo|h|d|w|y)")


class DurationError(SovmapError, ValueError):
    """A duration string could not be read; the message quotes it."""


def parse_duration(text: str) -> float:
    """Hours in ``text``: one or more number+unit parts (``1w2d``), or ``inf``/``permanent``."""
    s = text.strip().lower()
    if s in ("inf", "permanent", "never"):
        return math.inf
    if not s:
        raise DurationError("empty duration")
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * HOURS_PER_UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise DurationError(
            f"not a duration: {text!r} (use a number and a unit: min, h, d, w, mo, y; e.g. 9mo)"
        )
    return total


def format_duration(hours: float) -> str:
    """A short human form: ``4h``, ``3d``, ``2.5w``, ``9.2mo``, ``permanent``."""
    if math.isinf(hours):
        return "permanent"
    if hours < 48:
        return f"{hours:g}h"
    days = hours / 24.0
    if days < 14:
        return f"{round(days, 1):g}d"
    if days < 90:
        return f"{round(days / 7.0, 1):g}w"
    return f"{round(hours / HOURS_PER_UNIT['mo'], 1):g}mo"
