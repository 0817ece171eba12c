"""The choropleth map: organisations joined to bundled boundaries, each area coloured by the
jurisdiction class of its organisations' mailbox providers, rendered as standalone SVG.

Pure apart from :func:`load_layer` (package data) and :func:`org_places` (store reads).
Boundaries live in ``static/geo/<layer>.json`` (built by ``scripts/build_geo.py``; sources and
licences in ``static/geo/SOURCES.md``). An organisation is joined to an area of a layer by,
in this order: its CBS municipality code (``GM0363``, from the almanac or Wikidata P382) on the
municipality layer, or its country (ISO 3166 alpha-2) on the Europe layer; its name, where it
carries one of the layer's name prefixes (``Gemeente Utrecht`` -> ``Utrecht``); its
coordinates, inside the area's polygon. The organisations no rule places are listed, with the
reason, under the map.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import orjson
from markupsafe import Markup, escape
from sqlalchemy import Connection, select

from sovmap import figures
from sovmap.model import Capability
from sovmap.orgs.model import Location
from sovmap.report import palette
from sovmap.store.org_tables import organisations
from sovmap.store.queries import current_sets, org_domain_pairs

#: the layers in menu order; a layer whose file is not bundled is left out
LAYERS: tuple[str, ...] = ("nl-municipalities", "nl-provinces", "europe")


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    rings: tuple[tuple[float, ...], ...]  # each ring lon, lat, lon, lat, ...
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Layer:
    id: str
    year: str
    source: str
    licence: str
    attribution: str
    join: str  # "municipality_code" | "country" | ""
    name_prefixes: tuple[str, ...]
    areas: tuple[Area, ...]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        boxes = [a.bbox for a in self.areas if a.code] or [a.bbox for a in self.areas]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )


def _bbox(rings: Iterable[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [x for r in rings for x in r[0::2]]
    ys = [y for r in rings for y in r[1::2]]
    return (min(xs), min(ys), max(xs), max(ys))


def available_layers() -> tuple[str, ...]:
    folder = resources.files("sovmap.web") / "static" / "geo"
    return tuple(n for n in LAYERS if (folder / f"{n}.json").is_file())


@cache
def load_layer(name: str) -> Layer:
    """A bundled layer; KeyError for a name that is not bundled."""
    if name not in available_layers():
        raise KeyError(name)
    path = resources.files("sovmap.web") / "static" / "geo" / f"{name}.json"
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    areas = tuple(
        Area(
            str(a["code"]),
            str(a["name"]),
            tuple(tuple(float(v) for v in r) for r in a["rings"]),
            _bbox(a["rings"]),
        )
        for a in raw["areas"]
    )
    return Layer(
        id=name,
        year=str(raw.get("year", "")),
        source=str(raw.get("source", "")),
        licence=str(raw.get("licence", "")),
        attribution=str(raw.get("attribution", "")),
        join=str(raw.get("join", "")),
        name_prefixes=tuple(str(p) for p in raw.get("name_prefixes", ())),
        areas=areas,
    )


# -- organisations and their class --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """An organisation (or, without organisations, a scanned domain) to place on the map."""

    id: str
    name: str
    href: str
    cls: str  # a palette class
    country: str = ""
    municipality_code: str = ""
    lat: float | None = None
    lon: float | None = None


def mailbox_classes(figs: figures.Figures) -> dict[str, str]:
    """Domain -> palette class of its mailbox provider, from the rows of the headline figures
    (``mailbox_us_domains`` and its non-US and unknown siblings): the same deciding finding
    the figures count, non-US split into EU and other by :mod:`sovmap.control`."""
    cap = figures.slug(Capability.MAILBOX)
    out: dict[str, str] = {}
    for suffix in ("us", "non_us", "unknown"):
        for row in figs[f"{cap}_{suffix}_domains"].rows:
            domain, jur = str(row[0]), str(row[5] or "")
            if suffix == "us":
                out[domain] = palette.US
            elif suffix == "unknown":
                out[domain] = palette.UNKNOWN_CLASS
            else:
                out[domain] = palette.class_of(jur)
    return out


def _worst(classes: Iterable[str]) -> str:
    """An organisation's class from its domains': US if any is, then other, then EU."""
    have = set(classes)
    for c in (palette.US, palette.OTHER, palette.EU):
        if c in have:
            return c
    return palette.UNKNOWN_CLASS


def org_places(conn: Connection, classes: Mapping[str, str]) -> list[Place]:
    """The organisations of the newest import of each source, each with the class of its
    worst mailbox finding (``classes``: :func:`mailbox_classes`)."""
    sets = current_sets(conn)
    if not sets:
        return []
    doms: dict[str, list[str]] = {}
    for oid, dom in org_domain_pairs(conn, sets):
        doms.setdefault(oid, []).append(dom)
    o = organisations.c
    rows = conn.execute(
        select(o.org_id, o.name, o.country, o.lat, o.lon, o.data)
        .where(o.set_id.in_(sets))
        .order_by(o.org_id, o.set_id.desc())
    )
    out: list[Place] = []
    seen: set[str] = set()
    for oid, name, country, lat, lon, data in rows:
        if oid in seen:
            continue
        seen.add(oid)
        # the municipality code is kept only in the organisation's JSON (Location)
        code = ""
        if "municipality_code" in data:
            code = Location.from_json(orjson.loads(data).get("location") or {}).municipality_code
        out.append(
            Place(
                id=oid,
                name=name,
                href=f"/orgs/{oid}",
                cls=_worst(classes.get(d, palette.UNKNOWN_CLASS) for d in doms.get(oid, ())),
                country=(country or "").strip().upper(),
                municipality_code=code,
                lat=None if lat is None else float(lat),
                lon=None if lon is None else float(lon),
            )
        )
    return out


# -- joining -------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").split())


def municipality_code(text: str) -> str:
    """``GM0363``, ``gm363`` or ``0363`` -> ``GM0363``; ``""`` for anything else."""
    t = text.strip().upper()
    if t.startswith("GM"):
        t = t[2:]
    return f"GM{int(t):04d}" if t.isdigit() and len(t) <= 4 else ""


@dataclass(slots=True)
class Joined:
    """Where each place landed on one layer, and why not for the rest."""

    layer: Layer
    by_area: dict[str, list[tuple[Place, str]]] = field(
        default_factory=dict
    )  # code -> (place, how)
    unjoined: list[tuple[Place, str]] = field(default_factory=list)  # (place, reason code)


def locate(areas: Sequence[Area], lon: Sequence[float], lat: Sequence[float]) -> list[int]:
    """For each point, the index in ``areas`` of the first area containing it (-1: none):
    even-odd ray casting, vectorised over points and edges (numpy), each area only against
    the points inside its box, in chunks that bound memory."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    found = np.full(x.size, -1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx, a in enumerate(areas):
            x0, y0, x1, y1 = a.bbox
            sel = np.nonzero((found < 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))[0]
            if not sel.size:
                continue
            edges = []
            for r in a.rings:
                ring = np.asarray(r, dtype=float)
                xs, ys = ring[0::2][:, None], ring[1::2][:, None]
                edges.append((xs, ys, np.roll(xs, 1, axis=0), np.roll(ys, 1, axis=0)))
            for start in range(0, sel.size, 4096):
                part = sel[start : start + 4096]
                px, py = x[part][None, :], y[part][None, :]
                inside = np.zeros(part.size, dtype=bool)
                for xs, ys, xj, yj in edges:
                    crosses = ((ys > py) != (yj > py)) & (
                        px < (xj - xs) * (py - ys) / (yj - ys) + xs
                    )
                    inside ^= (crosses.sum(axis=0) % 2) == 1
                found[part[inside]] = idx
    return [int(v) for v in found]


def join(layer: Layer, places: Sequence[Place]) -> Joined:
    coded = {a.code: a for a in layer.areas if a.code}
    by_name = {_fold(a.name): a for a in coded.values()}
    out = Joined(layer)
    placed: list[tuple[Place, Area | None, str]] = []
    for p in places:
        area, how = None, ""
        if layer.join == "municipality_code" and p.municipality_code:
            area, how = coded.get(municipality_code(p.municipality_code)), "code"
        elif layer.join == "country" and p.country:
            area, how = coded.get(p.country), "country"
        if area is None:
            folded = _fold(p.name)
            for prefix in layer.name_prefixes:
                if folded.startswith(_fold(prefix) + " "):
                    area, how = by_name.get(folded[len(_fold(prefix)) + 1 :]), "name"
                    break
        placed.append((p, area, how))
    # the rest by their coordinates, all at once
    todo = [i for i, (p, a, _) in enumerate(placed) if a is None and p.lat is not None]
    areas = list(coded.values())
    hits = locate(
        areas, [placed[i][0].lon or 0.0 for i in todo], [placed[i][0].lat or 0.0 for i in todo]
    )
    for i, hit in zip(todo, hits, strict=True):
        if hit >= 0:
            placed[i] = (placed[i][0], areas[hit], "location")
    for p, area, how in placed:
        if area is None:
            reason = "MAP_UNJOINED_OUTSIDE" if p.lat is not None else "MAP_UNJOINED_NO_PLACE"
            out.unjoined.append((p, reason))
        else:
            out.by_area.setdefault(area.code, []).append((p, how))
    return out


def area_class(members: Sequence[tuple[Place, str]]) -> str:
    """The class most of an area's organisations have; a tie goes to the class listed first
    in :data:`palette.CLASSES` (US first)."""
    counts = Counter(p.cls for p, _ in members)
    return max(palette.CLASSES, key=lambda c: (counts[c], -palette.CLASSES.index(c)))


# -- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Words:
    """The sentences the SVG carries, already in the reader's language."""

    title: str
    legend_title: str
    class_names: dict[str, str]
    no_orgs: str
    area_title: Callable[[Area, Sequence[tuple[Place, str]]], str]


Projection = Callable[[float, float], tuple[float, float]]


def _project(layer: Layer, width: float) -> tuple[Projection, float]:
    x0, y0, x1, y1 = layer.bbox
    k = math.cos(math.radians((y0 + y1) / 2))
    scale = width / ((x1 - x0) * k)
    height = (y1 - y0) * scale

    def proj(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - x0) * k * scale, (y1 - lat) * scale)

    return proj, height


def _path(area: Area, proj: Projection) -> str:
    parts = []
    for r in area.rings:
        pts = [proj(r[i], r[i + 1]) for i in range(0, len(r), 2)]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    return "".join(parts)


def render_svg(
    joined: Joined, words: Words, *, width: int = 720, standalone: bool = False
) -> Markup:
    """The map as one SVG: areas with a ``<title>`` and a link to their organisation (or to
    the list of an area's organisations under the map), a legend and the attribution."""
    layer = joined.layer
    proj, h = _project(layer, width)
    legend_h = 22 * (len(palette.CLASSES) + 1) + 8
    total_h = h + legend_h + 36
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    parts = [
        f'<svg{ns} viewBox="0 0 {width} {total_h:.0f}" width="{width}" height="{total_h:.0f}" '
        f'role="group" aria-label="{escape(words.title)}" class="choropleth" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{escape(words.title)}</title>",
        f'<rect width="{width}" height="{total_h:.0f}" fill="#ffffff"/>',
        '<g stroke-linejoin="round" fill-rule="evenodd" transform="translate(0,4)">',
    ]
    for area in layer.areas:
        members = joined.by_area.get(area.code, []) if area.code else []
        d = _path(area, proj)
        if not members:
            tip = f"{area.name}: {words.no_orgs}" if area.code else area.name
            parts.append(
                f'<path d="{d}" fill="{palette.EMPTY}" stroke="{palette.OUTLINE}" '
                f'stroke-width="0.5" data-area="{escape(area.code)}">'
                f"<title>{escape(tip)}</title></path>"
            )
            continue
        cls = area_class(members)
        tip = words.area_title(area, members)
        href = members[0][0].href if len(members) == 1 else f"#area-{area.code}"
        parts.append(
            f'<a href="{escape(href)}" aria-label="{escape(tip)}">'
            f'<path d="{d}" fill="{palette.colour(cls)}" stroke="{palette.BORDER}" '
            f'stroke-width="0.6" data-area="{escape(area.code)}" data-class="{cls}">'
            f"<title>{escape(tip)}</title></path></a>"
        )
    parts.append("</g>")
    y = h + 24
    parts.append(f'<text x="8" y="{y:.0f}" font-weight="bold">{escape(words.legend_title)}</text>')
    swatches = [(palette.colour(c), words.class_names[c], c) for c in palette.CLASSES]
    swatches.append((palette.EMPTY, words.no_orgs, "empty"))
    for i, (fill, label, key) in enumerate(swatches):
        yy = y + 10 + 22 * i
        parts.append(
            f'<g class="legend-item" data-class="{key}"><rect x="8" y="{yy:.0f}" width="16" '
            f'height="16" fill="{fill}" stroke="{palette.OUTLINE}" stroke-width="0.5"/>'
            f'<text x="30" y="{yy + 12:.0f}">{escape(label)}</text></g>'
        )
    credit = f"{layer.attribution} · {layer.year}".strip(" ·")
    parts.append(
        f'<text x="{width - 8}" y="{total_h - 8:.0f}" text-anchor="end" font-size="10" '
        f'fill="#444444">{escape(credit)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
