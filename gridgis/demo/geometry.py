"""Geometry and file helpers for the demo community generator (:mod:`gridgis.demo.generate`).

The demo is drawn in a local metric frame: x east, y north, metres, origin at
the south-west corner of the community. It becomes WGS-84 lon/lat only when it
is written, and every vertex goes through the one function :func:`to_lonlat`.
A vertex shared by two polygons (a cut between two units, an edge between two
grids) is therefore the same pair of rounded numbers in both, which is what
keeps the tilings exact after rounding to 7 decimals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

Point = tuple[float, float]
Ring = list[Point]  # open ring: the first vertex is not repeated at the end

#: Where the centre of the local frame (the middle of the community) sits.
CENTRE_LOCAL: Point = (410.0, 340.0)
CENTRE_LON = 114.345
CENTRE_LAT = 30.505
#: The street grid near 南湖 does not run north-south; turn the frame a little.
ROTATION_DEG = 14.0
DECIMALS = 7

_WGS84_A = 6378137.0
_WGS84_E2 = 0.0066943799901413165
_PHI0 = math.radians(CENTRE_LAT)
_W = 1.0 - _WGS84_E2 * math.sin(_PHI0) ** 2
_M_PER_DEG_LAT = math.radians(_WGS84_A * (1.0 - _WGS84_E2) / _W**1.5)
_M_PER_DEG_LON = math.radians(_WGS84_A / math.sqrt(_W) * math.cos(_PHI0))
_COS = math.cos(math.radians(ROTATION_DEG))
_SIN = math.sin(math.radians(ROTATION_DEG))


def to_lonlat(p: Point) -> list[float]:
    """Local metres to rounded [lon, lat].

    A local tangent plane is good to well under a centimetre across one
    community and, unlike a PROJ pipeline, gives the same digits everywhere.
    """
    dx, dy = p[0] - CENTRE_LOCAL[0], p[1] - CENTRE_LOCAL[1]
    east = dx * _COS - dy * _SIN
    north = dx * _SIN + dy * _COS
    return [
        round(CENTRE_LON + east / _M_PER_DEG_LON, DECIMALS),
        round(CENTRE_LAT + north / _M_PER_DEG_LAT, DECIMALS),
    ]


def signed_area(ring: Sequence[Sequence[float]]) -> float:
    """Shoelace area of an open or closed ring; positive when counter-clockwise."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + [ring[0]]):
        total += x0 * y1 - x1 * y0
    return total / 2.0


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    """Whether p lies strictly inside segment ab (exact for integer coordinates)."""
    if p in (a, b):
        return False
    if (b[0] - a[0]) * (p[1] - a[1]) != (b[1] - a[1]) * (p[0] - a[0]):
        return False
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def node_rings(rings: Sequence[Ring]) -> list[Ring]:
    """Insert into every ring each vertex of the other rings that lies on its edges.

    Two grids that meet a third at a T-junction then share that vertex with it,
    so their edges coincide exactly and the partition has neither slivers nor
    overlaps. Meant for integer coordinates, where the test is exact.
    """
    vertices = sorted({p for ring in rings for p in ring})
    noded = []
    for ring in rings:
        out: Ring = []
        for a, b in zip(ring, ring[1:] + ring[:1]):
            out.append(a)
            inner = [p for p in vertices if _on_segment(a, b, p)]
            inner.sort(key=lambda p: (p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2)
            out.extend(inner)
        noded.append(out)
    return noded


@dataclass(frozen=True)
class Footprint:
    """A building outline and its units (单元), all open rings in local metres.

    The outline carries every unit cut as a vertex, so the units tile it exactly.
    """

    outline: Ring
    units: list[Ring]

    @property
    def polygon(self) -> Polygon:
        return Polygon(self.outline)


def footprint(
    centre: Point, length: float, depth: float, n_units: int, *, angle_deg: float = 0.0
) -> Footprint:
    """A rectangular footprint cut into ``n_units`` equal slices along its long axis.

    Args:
        centre: centre of the rectangle, local metres.
        length: side along the long axis (the one the units are strung along).
        depth: the other side.
        n_units: number of units (单元).
        angle_deg: turn of the long axis from local east, counter-clockwise.
    """
    ca, sa = (
        (1.0, 0.0)
        if angle_deg == 0
        else (
            math.cos(math.radians(angle_deg)),
            math.sin(math.radians(angle_deg)),
        )
    )

    def at(u: float, v: float) -> Point:
        # mm precision keeps the digits independent of the platform's libm
        return (round(centre[0] + u * ca - v * sa, 3), round(centre[1] + u * sa + v * ca, 3))

    cuts = [-length / 2 + length * k / n_units for k in range(n_units)] + [length / 2]
    low = [at(u, -depth / 2) for u in cuts]
    high = [at(u, depth / 2) for u in cuts]
    units = [[low[k], low[k + 1], high[k + 1], high[k]] for k in range(n_units)]
    return Footprint(outline=low + high[::-1], units=units)


def rectangle(x0: float, y0: float, x1: float, y1: float) -> Ring:
    """Counter-clockwise open ring of an axis-aligned rectangle."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _lonlat_ring(ring: Iterable[Point], *, ccw: bool) -> list[list[float]]:
    coords = [to_lonlat(p) for p in ring]
    if coords[0] == coords[-1]:
        coords.pop()
    if (signed_area(coords) > 0) != ccw:
        coords.reverse()
    return coords + [coords[0]]


def polygon_geometry(exterior: Ring, holes: Sequence[Ring] = ()) -> dict[str, Any]:
    """RFC 7946 Polygon: exterior counter-clockwise, holes clockwise."""
    rings = [_lonlat_ring(exterior, ccw=True)]
    rings += [_lonlat_ring(hole, ccw=False) for hole in holes]
    return {"type": "Polygon", "coordinates": rings}


def line_geometry(points: Sequence[Point]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [to_lonlat(p) for p in points]}


def shapely_geometry(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON for a shapely (Multi)Polygon computed in local metres.

    Normalised and snapped to millimetres first, so that GEOS versions which
    start rings at different vertices still write the same file.
    """
    geom = geom.normalize()
    parts = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]

    def snap(coords: Iterable[Sequence[float]]) -> Ring:
        return [(round(x, 3), round(y, 3)) for x, y in list(coords)[:-1]]

    polys = [
        polygon_geometry(snap(p.exterior.coords), [snap(h.coords) for h in p.interiors])
        for p in parts
    ]
    if len(polys) == 1:
        return polys[0]
    return {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in polys]}


def feature(properties: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def write_feature_collection(path: Path, features: Sequence[dict[str, Any]]) -> int:
    """Write a FeatureCollection with one feature per line (small, diffable files)."""
    body = ",\n".join(dumps(f) for f in features)
    text = '{"type": "FeatureCollection", "features": [\n' + body + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="\n")
    return len(features)
