"""Which points are near a layer's edges, and which polygons cover the others.

:func:`gridgis.routing.cache.locate` leaves to the database every point
closer than ``EDGE_MARGIN_DEG`` (about 1 mm) to an edge that could change
its answer: there ST_Covers and GEOS might round differently. For every other
point, whether a polygon covers it cannot depend on rounding, so the
covering pairs found here are the database's.

For polygons of a few vertices (grids, buildings, units) both answers come
from one pass in numpy over the candidates' edges (the polygons whose box
meets a small box around the point): the distance to each edge, and the
crossings of a ray from the point (even-odd: the database keeps every
polygon valid, ``ST_IsValid`` checks, so holes and the parts of a
multipolygon never overlap). It is only ever wrong on the safe side: the
margin used is 1.5 times ``EDGE_MARGIN_DEG``, far beyond any rounding in a
few operations on coordinates, so a point GEOS would call near is near here
too, and a point farther than that from every edge is inside by the ray's
count exactly when it is inside. Polygons of many vertices (community
boundaries) go through GEOS (``dwithin`` on the edges' tree, ``intersects``
on the polygons').
"""

from __future__ import annotations

import numpy as np

from gridgis.routing.index import Layer

#: A point nearer than this (degrees; ~1.1 mm) to any edge is left to PostGIS.
EDGE_MARGIN_DEG = 1e-8


def near_and_covering(
    layer: Layer,
    pts: np.ndarray,
    boxes: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    keys: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The points near an edge of ``layer``, and (point, polygon) pairs that cover.

    ``keys`` (per polygon, per point): only polygons whose key is the point's
    count (the statement reads no others). Pairs of points near an edge may
    be wrong; those points are the database's.
    """
    if len(layer.segments[0]) > 16 * len(layer.ids):
        near, edge = layer.edges.query(pts, predicate="dwithin", distance=EDGE_MARGIN_DEG)
        pairs = layer.tree.query(pts, predicate="intersects")
        if keys is not None:
            near = near[keys[0][edge] == keys[1][near]]
            pairs = pairs[:, keys[0][pairs[1]] == keys[1][pairs[0]]]
        return near, pairs
    points, polygons = layer.tree.query(boxes)
    if keys is not None:
        same = keys[0][polygons] == keys[1][points]
        points, polygons = points[same], polygons[same]
    edges, first, end = layer.segments
    counts = end[polygons] - first[polygons]
    total = int(counts.sum())
    if total == 0:
        return points[:0], np.vstack([points[:0], polygons[:0]])
    pair = np.repeat(np.arange(len(points)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    seg = edges[np.repeat(first[polygons], counts) + offsets]
    x1, y1, x2, y2 = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    owner = points[pair]
    px, py = lon[owner], lat[owner]
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(length2 > 0, ((px - x1) * dx + (py - y1) * dy) / length2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        ex, ey = x1 + t * dx - px, y1 + t * dy - py
        near = ex * ex + ey * ey <= (1.5 * EDGE_MARGIN_DEG) ** 2
        # The ray to +x crosses the edges with one end above the point and
        # one not (half-open, so a vertex on the ray counts once).
        spans = (y1 > py) != (y2 > py)
        cross = spans & (px < x1 + (py - y1) * dx / np.where(spans, dy, 1.0))
    crossings = np.bincount(pair[cross], minlength=len(points))
    inside = crossings % 2 == 1
    return np.unique(owner[near]), np.vstack([points[inside], polygons[inside]])
