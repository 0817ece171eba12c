"""Values of a report: figures with the rows and query behind them, sections, tables.

Nothing here is prose: labels are message codes, rendered per language at the edge
(:mod:`sovmap.report.i18n`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Rows:
    """The rows behind a figure, written to ``data/<name>.csv`` next to the report."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    query: str  # the SQL or library call that produced them

    @property
    def path(self) -> str:
        return f"data/{self.name}.csv"


@dataclass(frozen=True, slots=True)
class Figure:
    """One number of the brief: ``code`` names its label; ``rows`` the data behind it."""

    code: str
    value: float | int | str | None  # None: unknown, shown as unknown
    rows: str  # Rows.name
    params: dict[str, Any] = field(default_factory=dict)
    figure: str = ""  # the headline figure id (sovmap.figures) this number is, if any


@dataclass(frozen=True, slots=True)
class Note:
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Section:
    """One question of the parliamentary brief (``Q1`` … ``Q6``)."""

    code: str
    figures: tuple[Figure, ...] = ()
    notes: tuple[Note, ...] = ()
    tables: tuple[str, ...] = ()  # Rows names shown in full under the section


@dataclass(frozen=True, slots=True)
class Brief:
    organisation: str
    generated_at: str
    sections: tuple[Section, ...]
    rows: dict[str, Rows]
    sources: tuple[str, ...]  # what the brief was computed from (store URL, register path)
