"""The colours of jurisdiction classes: one palette for every chart and map of the app.

Control is grouped into four classes (the question *which* class is answered by
:mod:`sovmap.control`; this module only gives each class its colour and order):

- ``us``: US-controlled (controlled from the US or reachable by the CLOUD Act);
- ``eu``: controlled from an EU member state or by the Union;
- ``other``: control known, elsewhere;
- ``unknown``: control unknown (never counted as "not US").

A class always has the same colour, whatever a scan contains, so colours do not move between
scans or pages. The colours are from the Okabe-Ito set (distinguishable with the common
colour-vision deficiencies) and each has at least 3:1 contrast against white, the WCAG 2.1
minimum for graphical objects (1.4.11); a test holds them to that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sovmap.control import UNKNOWN, eu_controlled, jurisdiction_class, normalise_code, us_controlled

US = "us"
EU = "eu"
OTHER = "other"
UNKNOWN_CLASS = "unknown"

#: the classes in the order of legends and stacks (the one that matters most first)
CLASSES: tuple[str, ...] = (US, EU, OTHER, UNKNOWN_CLASS)

#: class -> fill colour
COLOURS: Mapping[str, str] = {
    US: "#D55E00",  # vermillion
    EU: "#0072B2",  # blue
    OTHER: "#009E73",  # bluish green
    UNKNOWN_CLASS: "#8A8A8A",  # grey
}

#: an area with no organisation to colour it (background, not information)
EMPTY = "#F4F4F4"
#: borders between areas and the outline of empty areas
BORDER = "#FFFFFF"
OUTLINE = "#767676"

#: catalogue code of each class's name (messages/map.<lang>.yaml)
LABEL_CODES: Mapping[str, str] = {
    US: "MAP_CLASS_US",
    EU: "MAP_CLASS_EU",
    OTHER: "MAP_CLASS_OTHER",
    UNKNOWN_CLASS: "MAP_CLASS_UNKNOWN",
}


def class_of(jurisdiction: str | None, tags: Iterable[str] = ()) -> str:
    """The palette class of a controlling jurisdiction (as :mod:`sovmap.control` decides)."""
    tags = tuple(tags)
    if not normalise_code(jurisdiction):
        return UNKNOWN_CLASS
    if us_controlled(jurisdiction, tags):
        return US
    return EU if eu_controlled(jurisdiction, tags) else OTHER


def class_of_key(key: str) -> str:
    """The class of a key as the scan summary and overview count by
    (:func:`sovmap.control.jurisdiction_class`: ``"US"``, ``"unknown"`` or a state's code)."""
    if key == UNKNOWN:
        return UNKNOWN_CLASS
    return class_of(jurisdiction_class(key))


def colour(cls: str) -> str:
    return COLOURS[cls]


def group(per_key: Mapping[str, float]) -> dict[str, float]:
    """Counts per jurisdiction key summed per class, in :data:`CLASSES` order; classes
    without a count left out."""
    out: dict[str, float] = {}
    for key, n in per_key.items():
        c = class_of_key(key)
        out[c] = out.get(c, 0) + n
    return {c: out[c] for c in CLASSES if c in out}


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    parts = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [p / 12.92 if p <= 0.03928 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """The WCAG 2.1 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def names(lang: str) -> dict[str, str]:
    """Class -> its name in ``lang`` (from the message catalogue)."""
    from sovmap import i18n

    return {c: i18n.t(lang, LABEL_CODES[c]) for c in CLASSES}


def stack(per_key: Mapping[str, float], lang: str) -> tuple[tuple[str, float], ...]:
    """A stacked bar's segments: counts per jurisdiction key summed per class, labelled with
    the class's name, in :data:`CLASSES` order (for :func:`sovmap.report.svg.stacked_bars`)."""
    label = names(lang)
    return tuple((label[c], float(n)) for c, n in group(per_key).items())


def legend(lang: str) -> dict[str, str]:
    """Class name -> colour, in :data:`CLASSES` order: the ``colours`` of a stacked bar chart."""
    label = names(lang)
    return {label[c]: COLOURS[c] for c in CLASSES}
