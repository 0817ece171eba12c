"""The message catalogue (Dutch and English) and Dutch number and date formats.

One home for every word a user reads: ``messages/<lang>.yaml`` maps stable codes to text with
``{placeholders}``; :func:`t` renders one. :func:`format_number`, :func:`format_date` and
:func:`format_percent` write numbers and dates the way each language does (Dutch:
``50.506.000``, ``15,7``, ``5 december 2026``). The CLI, the report, the brief and the web app
all render through here.
"""

from __future__ import annotations

import math
import os
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("en", "nl")

MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni",
        "juli", "augustus", "september", "oktober", "november", "december",
    ),
}  # fmt: skip

#: month abbreviations as each language writes them (Dutch: "mrt", not "maa")
MONTHS_SHORT = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
}

#: thousands separator and decimal mark per language
_MARKS = {"en": (",", "."), "nl": (".", ",")}


class MessageError(KeyError):
    """A code has no message in a language, or the language is unknown."""


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise MessageError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


@cache
def messages(lang: str) -> dict[str, str]:
    """The whole catalogue of one language: code -> text.

    The catalogue is ``messages/<lang>.yaml`` plus one file per part of the tool,
    ``messages/<part>.<lang>.yaml`` (the web pages, the input layer, ...), so each part keeps
    its own words; a code given by two files is an error, not a silent override."""
    _check(lang)
    folder = resources.files("sovmap.i18n") / "messages"
    names = sorted(
        e.name
        for e in folder.iterdir()
        if e.name == f"{lang}.yaml" or e.name.endswith(f".{lang}.yaml")
    )
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for name in names:
        data = yaml.safe_load((folder / name).read_text("utf-8"))
        if data is None:
            continue
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise MessageError(f"messages/{name}: expected a mapping of code to text")
        for k, v in data.items():
            code = str(k)
            if code in merged:
                raise MessageError(
                    f"messages/{name}: code {code!r} is already given by messages/{origin[code]}"
                )
            merged[code] = v
            origin[code] = name
    return merged


#: the environment variable that chooses the language of the command line's messages
LANG_VARIABLE = "SOVMAP_LANG"


def cli_language(chosen: str | None = None) -> str:
    """The language of the command line's messages: ``chosen`` (a command's ``--lang``) when
    given, else ``SOVMAP_LANG`` (``en`` or ``nl``), else English. An unknown value in the
    variable is a usage error (:class:`~sovmap.errors.SovmapError`), not a silent default."""
    if chosen:
        return _check(chosen)
    raw = os.environ.get(LANG_VARIABLE, "").strip().lower()
    if not raw:
        return "en"
    if raw not in LANGUAGES:
        from sovmap.errors import SovmapError

        raise SovmapError(
            t("en", "INPUT_BAD_LANGUAGE", variable=LANG_VARIABLE, value=raw[:20],
              choices=", ".join(LANGUAGES))
        )  # fmt: skip
    return raw


def t(lang: str, code: str, **params: Any) -> str:
    """The message ``code`` in ``lang`` with its placeholders filled."""
    try:
        template = messages(lang)[code]
    except KeyError:
        raise MessageError(f"no {lang} message for code {code!r}") from None
    return template.format(**params) if params else template


def has(lang: str, code: str) -> bool:
    return code in messages(lang)


def value(lang: str, kind: str, raw: object) -> str:
    """A catalogued value (a status, a classification, yes/no) in ``lang``: the message
    ``V_<KIND>_<RAW>`` (upper case, ``-`` as ``_``), else the raw value unchanged."""
    code = f"V_{kind}_{raw!s}".upper().replace("-", "_").replace(" ", "_")
    return t(lang, code) if has(lang, code) else str(raw)


def format_number(number: float | int | None, lang: str, decimals: int | None = None) -> str:
    """``number`` with the language's separators: en ``50,506,000`` / ``15.7``; nl
    ``50.506.000`` / ``15,7``. Integers get no decimals unless ``decimals`` is given; other
    floats one. None is the catalogue's word for unknown, infinity its word for permanent."""
    thousands, mark = _MARKS[_check(lang)]
    if number is None:
        return t(lang, "UNKNOWN")
    if isinstance(number, bool):
        return t(lang, "V_BOOL_YES" if number else "V_BOOL_NO")
    if isinstance(number, float) and math.isinf(number):
        return t(lang, "PERMANENT")
    if decimals is None:
        decimals = 0 if isinstance(number, int) or float(number).is_integer() else 1
    text = f"{number:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", mark).replace("\x00", thousands)


def format_percent(fraction: float | None, lang: str, decimals: int = 0) -> str:
    """A fraction 0..1 as a percentage: en ``8.6%``, nl ``8,6%``."""
    if fraction is None:
        return t(lang, "UNKNOWN")
    return f"{format_number(100 * fraction, lang, decimals)}%"


def format_date(d: date, lang: str) -> str:
    """en ``5 December 2026``; nl ``5 december 2026``."""
    return f"{d.day} {MONTHS[_check(lang)][d.month - 1]} {d.year}"


__all__ = [
    "LANGUAGES",
    "LANG_VARIABLE",
    "MONTHS",
    "MONTHS_SHORT",
    "MessageError",
    "cli_language",
    "format_date",
    "format_number",
    "format_percent",
    "has",
    "messages",
    "t",
    "value",
]
