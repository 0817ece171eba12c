"""When a finding counts in a headline figure: the rule :mod:`sovmap.figures` counts by in
SQL, for code that holds findings in Python (history, trends of organisations).

Pure: no I/O, no store, so every room may use it.
"""

from __future__ import annotations

from sovmap.control import us_controlled
from sovmap.model import Finding

#: the confidence at or above which a finding counts in a headline figure
THRESHOLD = 0.5
#: the roles that do not count: alternatives the classifier weighed and rejected
UNCOUNTED_ROLES = ("candidate",)


def counts(f: Finding) -> bool:
    """The finding counts for its capability: a counted role and confidence >= THRESHOLD."""
    return f.role not in UNCOUNTED_ROLES and f.confidence >= THRESHOLD


def counts_as_us(f: Finding) -> bool:
    """The finding counts and its provider is US-controlled (``<capability>_us_domains``)."""
    return counts(f) and us_controlled(f.jurisdiction, f.tags)


__all__ = ["THRESHOLD", "UNCOUNTED_ROLES", "counts", "counts_as_us"]
