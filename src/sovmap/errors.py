"""The errors the library raises, under one base the command line and the web map.

A :class:`SovmapError` is a problem with what the user gave (a register, a settings file, a
selector): it is shown as one line without a traceback, and the command exits with
:attr:`SovmapError.exit_code` (2, unusable input, per the conventions). Each room raises its
own subclass (``ScenarioError``, ``PlanError``, ``RegisterError``, ...). Nothing here imports
another sovmap module, so every layer may use it.
"""

from __future__ import annotations


class SovmapError(Exception):
    """A user-facing error of the library: printed without a traceback."""

    exit_code: int = 2


class StoreError(SovmapError):
    """A store cannot be opened or migrated."""


__all__ = ["SovmapError", "StoreError"]
