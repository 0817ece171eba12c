"""When a finding counts in a headline figure: the rule :mod:`sovmap.figures` counts by in
SQL, for code that holds findings in Python (history, trends of organisations).

Pure: no I/O, no store, so every room may use it.
"""

from __future__ import annotations

from sovmap.control import normalise_code, us_controlled
from sovmap.model import Finding

#: the confidence at or above which a finding counts in a headline figure
THRESHOLD = 0.5
#: the roles that do not count: alternatives the classifier weighed and rejected
UNCOUNTED_ROLES = ("candidate",)


def rank(jurisdiction: str, tags: tuple[str, ...] | list[str], confidence: float) -> int:
    """The class a counted finding gives its domain: 2 US-controlled, 1 known non-US, 0
    unknown (control unknown or confidence below THRESHOLD); the figures' SQL says the same."""
    if confidence < THRESHOLD:
        return 0
    if us_controlled(jurisdiction, tags):
        return 2
    return 1 if normalise_code(jurisdiction) else 0


def counts(f: Finding) -> bool:
    """The finding counts for its capability: a counted role and confidence >= THRESHOLD."""
    return f.role not in UNCOUNTED_ROLES and f.confidence >= THRESHOLD


def counts_as_us(f: Finding) -> bool:
    """The finding counts and its provider is US-controlled (``<capability>_us_domains``)."""
    return counts(f) and us_controlled(f.jurisdiction, f.tags)


__all__ = ["THRESHOLD", "UNCOUNTED_ROLES", "counts", "counts_as_us", "rank"]
