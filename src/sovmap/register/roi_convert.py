"""Register <-> DORA register of information rows (see :mod:`sovmap.register.dora.export`
and :mod:`sovmap.register.dora.importer`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sovmap.register.dora.export import provider_code, register_to_tables
from sovmap.register.dora.importer import tables_to_register
from sovmap.register.model import Register
from sovmap.register.roi import RoI

__all__ = ["provider_code", "register_to_roi", "roi_to_register"]


def register_to_roi(
    register: Register, reporting_date: date, rates: Mapping[str, float] | None = None
) -> RoI:
    """The 15 templates of ``register`` (sovmap's own findings: ``register_to_tables``)."""
    return register_to_tables(register, reporting_date, rates).tables


def roi_to_register(roi: RoI) -> Register:
    return tables_to_register(roi)
