"""Errors that say a catalogue message: English in ``str()`` (logs, tests, library callers),
any language through :meth:`SaidError.localised`, which the command line calls with the
user's language (``SOVMAP_LANG``, ``--lang``; see :func:`sovmap.cli.main`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sovmap.errors import SovmapError
from sovmap.i18n import t

E = TypeVar("E", bound="SaidError")


def saying(code: str, where: object = "", /, **params: Any) -> Callable[[str], str]:
    """The catalogue message ``code`` with ``params`` after ``where``, as a function of the
    language. ``where`` and any parameter may be functions of the language too (a count in
    its number format, a list of reader problems in its words)."""

    def said(lang: str) -> str:
        values = {k: v(lang) if callable(v) else v for k, v in params.items()}
        text = t(lang, code, **values)
        place = where(lang) if callable(where) else where
        return f"{place}: {text}" if place else text

    return said


def localised(text: object, lang: str) -> str:
    """``text`` in ``lang`` where it can say itself so (a :class:`SaidText`, a
    :class:`SaidError`, an input-layer error), else as ``str()`` gives it."""
    say = getattr(text, "localised", None)
    return str(say(lang)) if callable(say) else str(text)


class SaidText(str):
    """A note that says a catalogue message: the English text as a ``str`` (so lists of notes
    stay lists of strings), :meth:`localised` in any language."""

    _said: Callable[[str], str]

    def __new__(cls, said: Callable[[str], str]) -> SaidText:
        self = super().__new__(cls, said("en"))
        self._said = said
        return self

    @classmethod
    def of(cls, code: str, where: object = "", /, **params: Any) -> SaidText:
        return cls(saying(code, where, **params))

    def localised(self, lang: str) -> str:
        return self._said(lang)

    def __reduce__(self) -> tuple[Any, ...]:  # across processes as its English text
        return (str, (str(self),))


class SaidError(SovmapError):
    """A user-facing error whose words come from the message catalogue.

    ``SaidError(text)`` is a message as it is (e.g. a third party's own words); :meth:`of`
    says the catalogue message ``code`` after the place it is about (a file, a line)."""

    def __init__(self, text: str, said: Callable[[str], str] | None = None) -> None:
        super().__init__(text)
        self._said = said

    @classmethod
    def of(cls: type[E], code: str, where: object = "", /, **params: Any) -> E:
        """The message ``code`` with ``params`` after ``where`` (see :func:`saying`)."""
        said = saying(code, where, **params)
        return cls(said("en"), said)

    @classmethod
    def wrap(cls: type[E], exc: Exception) -> E:
        """Another error (an input-layer :class:`sovmap.readers.InputError`) as this kind,
        still said in the language it can be said in."""
        localised = getattr(exc, "localised", None)
        return cls(str(exc), localised if callable(localised) else None)

    def localised(self, lang: str) -> str:
        return str(self._said(lang)) if self._said is not None else str(self)

    def __reduce__(self) -> tuple[Any, ...]:  # whole across processes, as its English text
        return (type(self), (str(self),))


__all__ = ["SaidError", "SaidText", "localised", "saying"]
