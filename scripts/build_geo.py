#!/usr/bin/env python3
"""Build the map's bundled boundaries (src/sovmap/web/static/geo/*.json) from TopoJSON.

Offline and deterministic: it reads TopoJSON files you downloaded yourself and writes a small
JSON per layer that the web app's choropleth reads (``sovmap.web.choropleth``):

    {"layer": ..., "year": ..., "source": ..., "licence": ..., "attribution": ...,
     "areas": [{"code": "PV26", "name": "Utrecht", "rings": [[lon, lat, lon, lat, ...], ...]}]}

Arcs are simplified once (Douglas-Peucker) before the rings are assembled, so neighbours
keep sharing their border; coordinates are rounded to ``--digits`` decimals.

    python scripts/build_geo.py nl provincie_2025.topojson --layer nl-provinces --year 2025 \
        --name-prefix Provincie
    python scripts/build_geo.py nl gemeente_2025.topojson --layer nl-municipalities --year 2025 \
        --join municipality_code --name-prefix Gemeente
    python scripts/build_geo.py europe countries-50m.json --layer europe --join country \
        --year "Natural Earth 4.1.0 (world-atlas 2.0.2)" --tolerance 0.03 --digits 2

Sources: CBS/PDOK "Gebiedsindelingen" as published (already generalised) by cartomap/nl,
and Natural Earth 1:50m countries as packaged by the npm package ``world-atlas``; see
src/sovmap/web/static/geo/SOURCES.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sovmap" / "web" / "static" / "geo"
ISO = Path(__file__).resolve().parent / "geo" / "iso3166.csv"

Point = tuple[float, float]

#: the frame of the Europe layer (lon min, lat min, lon max, lat max); rings are clipped to it
EUROPE = (-25.0, 34.0, 45.0, 71.5)

SOURCES = {
    "nl": {
        "source": "CBS/PDOK Gebiedsindelingen (generalised), via https://github.com/cartomap/nl",
        "licence": "CC BY 4.0 (CBS, Kadaster/PDOK)",
        "attribution": "Grenzen: CBS, Kadaster/PDOK (CC BY 4.0)",
    },
    "europe": {
        "source": "Natural Earth 1:50m admin 0 countries, via the npm package world-atlas 2.0.2",
        "licence": "Public domain (Natural Earth); packaging ISC (world-atlas)",
        "attribution": "Made with Natural Earth",
    },
}


def decode_arcs(topo: dict[str, Any]) -> list[list[Point]]:
    """TopoJSON arcs as absolute lon/lat points (quantised and delta-encoded when the
    topology has a transform)."""
    tr = topo.get("transform")
    out: list[list[Point]] = []
    for arc in topo["arcs"]:
        if tr:
            (sx, sy), (tx, ty) = tr["scale"], tr["translate"]
            x = y = 0
            pts = []
            for dx, dy in arc:
                x += dx
                y += dy
                pts.append((x * sx + tx, y * sy + ty))
        else:
            pts = [(float(p[0]), float(p[1])) for p in arc]
        out.append(pts)
    return out


def _perp(p: Point, a: Point, b: Point) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def simplify(pts: list[Point], tol: float) -> list[Point]:
    """Douglas-Peucker, iterative; the end points are always kept."""
    if len(pts) < 3 or tol <= 0:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        best, at = 0.0, -1
        for k in range(i + 1, j):
            d = _perp(pts[k], pts[i], pts[j])
            if d > best:
                best, at = d, k
        if at >= 0 and best > tol:
            keep[at] = True
            stack += [(i, at), (at, j)]
    return [p for p, k in zip(pts, keep, strict=True) if k]


def ring(arcs: list[list[Point]], refs: list[int]) -> list[Point]:
    pts: list[Point] = []
    for r in refs:
        a = arcs[r] if r >= 0 else arcs[~r][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def clip(pts: list[Point], box: tuple[float, float, float, float]) -> list[Point]:
    """Sutherland-Hodgman clipping of a ring to an axis-aligned box."""
    x0, y0, x1, y1 = box
    edges = (
        (lambda p: p[0] >= x0, lambda a, b: _cut_x(a, b, x0)),
        (lambda p: p[0] <= x1, lambda a, b: _cut_x(a, b, x1)),
        (lambda p: p[1] >= y0, lambda a, b: _cut_y(a, b, y0)),
        (lambda p: p[1] <= y1, lambda a, b: _cut_y(a, b, y1)),
    )
    out = pts
    for inside, cut in edges:
        src, out = out, []
        if not src:
            break
        prev = src[-1]
        for cur in src:
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
            prev = cur
    return out


def _cut_x(a: Point, b: Point, x: float) -> Point:
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _cut_y(a: Point, b: Point, y: float) -> Point:
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)


def _area(pts: list[Point]) -> float:
    pairs = zip(pts, pts[1:] + pts[:1], strict=True)
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs)) / 2


def iso_codes() -> tuple[dict[str, str], dict[str, str]]:
    by_num: dict[str, str] = {}
    by_name: dict[str, str] = {}
    with ISO.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["numeric"]:
                by_num[row["numeric"]] = row["alpha2"]
            if row["name"]:
                by_name[row["name"]] = row["alpha2"]
    return by_num, by_name


def build(
    kind: str,
    path: Path,
    layer: str,
    year: str,
    tol: float,
    digits: int,
    join: str = "",
    prefixes: tuple[str, ...] = (),
) -> dict[str, Any]:
    topo = json.loads(path.read_text(encoding="utf-8"))
    arcs = [simplify(a, tol) for a in decode_arcs(topo)]
    objects = topo["objects"]
    obj = objects.get("countries") or next(iter(objects.values()))
    by_num, by_name = iso_codes()
    areas = []
    for g in obj["geometries"]:
        if g.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        props = g.get("properties") or {}
        if kind == "nl":
            code, name = str(props["statcode"]), str(props["statnaam"])
        else:
            name = str(props.get("name", ""))
            code = by_num.get(str(g.get("id") or ""), "") or by_name.get(name, "")
        rings = []
        for poly in polys:
            for refs in poly:
                pts = ring(arcs, refs)
                if kind == "europe":
                    pts = clip(pts, EUROPE)
                    if len(pts) < 3 or _area(pts) < tol * tol * 4:
                        continue
                flat: list[float] = []
                last = None
                for x, y in pts:
                    q = (round(x, digits), round(y, digits))
                    if q != last:
                        flat += q
                        last = q
                if len(flat) >= 6:
                    rings.append(flat)
        if rings:
            areas.append({"code": code, "name": name, "rings": rings})
    areas.sort(key=lambda a: (a["code"] == "", a["code"], a["name"]))
    meta = SOURCES[kind]
    return {
        "layer": layer,
        "year": year,
        **meta,
        "join": join,
        "name_prefixes": list(prefixes),
        "areas": areas,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=sorted(SOURCES))
    ap.add_argument("topojson", type=Path)
    ap.add_argument("--layer", required=True)
    ap.add_argument("--year", default="")
    ap.add_argument("--tolerance", type=float, default=0.0, help="degrees (0: keep every point)")
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--join", default="", choices=("", "municipality_code", "country"))
    ap.add_argument("--name-prefix", action="append", default=[], help="e.g. Gemeente")
    a = ap.parse_args()
    data = build(
        a.kind, a.topojson, a.layer, a.year, a.tolerance, a.digits, a.join, tuple(a.name_prefix)
    )
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"{a.layer}.json"
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out.relative_to(ROOT)}: {len(data['areas'])} areas, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
