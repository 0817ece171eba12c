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


class NetworkError(SovmapError):
    """The network failed the work: no resolver answers (exit 3, per the conventions).

    ``code`` and ``params`` name the catalogue message, so a subclass that knows the catalogue
    (e.g. :class:`sovmap.collect.engine.ResolversDead`) can say it in the user's language; the
    text given is its English form."""

    exit_code = 3

    def __init__(self, text: str, code: str = "", params: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.params = dict(params or {})

    def __reduce__(self) -> tuple[type[NetworkError], tuple[str, str, dict[str, str]]]:
        return (type(self), (str(self), self.code, self.params))  # whole across processes


__all__ = ["NetworkError", "SovmapError", "StoreError"]
