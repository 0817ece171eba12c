"""The language of a web page and the catalogue helpers every template uses.

A page is Dutch or English. The language is the one the reader chose with the switch in the
header (a cookie, as the users table has no language column), else the first of the
browser's ``Accept-Language`` that the catalogue has, else English. Templates get ``lang``
and the functions below through a Jinja context processor, so every word comes from
:mod:`sovmap.i18n` and numbers and dates are written the way the language writes them.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from sovmap import i18n

LANG_COOKIE = "sovmap_lang"
DEFAULT = "en"
#: the query parameters a pager link keeps (filters and sort of the paged tables; nothing
#: else of the query string is echoed into a link)
PAGED_FILTERS = frozenset({"scan", "prefix", "provider", "capability", "search", "type"})
PAGED_FILTERS |= {"kind", "sort", "dir"}


def _accepted(header: str) -> str | None:
    """The best supported language of an ``Accept-Language`` header, by its q-values."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in i18n.LANGUAGES:
            continue
        weight = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    weight = float(v)
                except ValueError:
                    weight = 0.0
        if weight <= 0:
            continue
        key = (-weight, i, code)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def lang_of(request: Request) -> str:
    """The language of the page answering ``request``: cookie, browser, English."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in i18n.LANGUAGES:
        return chosen
    return _accepted(request.headers.get("accept-language", "")[:512]) or DEFAULT


def lang_of_headers(cookie: str, accept_language: str) -> str:
    """:func:`lang_of` from the raw ``Cookie`` and ``Accept-Language`` headers, for answers
    sent before the app parsed the request (the size and character limits)."""
    for part in cookie[:4096].split(";"):
        name, _, value = part.strip().partition("=")
        if name == LANG_COOKIE and value.strip('"') in i18n.LANGUAGES:
            return value.strip('"')
    return _accepted(accept_language[:512]) or DEFAULT


class Words:
    """The catalogue in one language, as the templates call it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def t(self, code: str, **params: Any) -> str:
        return i18n.t(self.lang, code, **params)

    def has(self, code: str) -> bool:
        return i18n.has(self.lang, code)

    def num(self, n: float | int | None, decimals: int | None = None) -> str:
        return i18n.format_number(n, self.lang, decimals)

    def pct(self, fraction: float | None, decimals: int = 1) -> str:
        return i18n.format_percent(fraction, self.lang, decimals)

    def day(self, iso: str | None) -> str:
        """An ISO date or timestamp as the language writes the date (the time kept, UTC)."""
        if not iso:
            return i18n.t(self.lang, "UNKNOWN")
        try:
            d = date.fromisoformat(iso[:10])
        except ValueError:
            return iso
        rest = iso[11:16]
        return i18n.format_date(d, self.lang) + (f" {rest}" if rest else "")

    def value(self, kind: str, raw: object) -> str:
        if raw is None or raw == "":
            return i18n.t(self.lang, "UNKNOWN")
        return i18n.value(self.lang, kind, raw)

    def cap(self, raw: object) -> str:
        """A capability's name (``office_suite`` -> office and documents)."""
        return self.value("capability", raw)


def context(request: Request) -> dict[str, Any]:
    """The Jinja context processor: ``lang``, ``w`` (:class:`Words`) and ``t``."""
    lang = lang_of(request)
    w = Words(lang)

    def pager(page: int) -> str:
        """This page's address with another page number (filters and sort kept)."""
        params = [(k, v) for k, v in request.query_params.multi_items() if k in PAGED_FILTERS]
        params.append(("page", str(page)))
        return f"{request.url.path}?{urlencode(params)}"

    return {
        "lang": lang,
        "w": w,
        "t": w.t,
        "other_lang": "en" if lang == "nl" else "nl",
        "pager": pager,
    }
