"""Edges and covering polygons in numpy: GEOS's answers for every point not near an edge."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.affinity

from gridgis.routing.edges import EDGE_MARGIN_DEG, near_and_covering
from gridgis.routing.index import Layer


def polygons(rng: np.random.Generator) -> list[shapely.Geometry]:
    """Valid polygons of a few vertices: boxes, rotated ones, holes, multipolygons."""
    out: list[shapely.Geometry] = []
    for _ in range(60):
        x, y = rng.uniform(114.0, 114.01, 2)
        w, h = rng.uniform(1e-4, 2e-3, 2)
        shape = shapely.box(x, y, x + w, y + h)
        kind = rng.integers(4)
        if kind == 1:
            hole = shapely.box(x + w / 4, y + h / 4, x + w / 2, y + h / 2)
            shape = shapely.difference(shape, hole)
        elif kind == 2:
            shape = shapely.affinity.rotate(shape, float(rng.uniform(0, 90)))
        elif kind == 3:
            far = shapely.box(x + 2 * w, y, x + 3 * w, y + h)
            shape = shapely.union(shape, far)
        assert shape.is_valid
        out.append(shape)
    # Two sharing an edge and a vertex exactly.
    out += [
        shapely.box(114.02, 114.02, 114.021, 114.021),
        shapely.box(114.021, 114.02, 114.022, 114.021),
    ]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_near_and_covering_agree_with_geos(seed: int) -> None:
    rng = np.random.default_rng(seed)
    geoms = np.array(polygons(rng), dtype=object)
    layer = Layer(
        ids=np.arange(1, len(geoms) + 1),
        area=shapely.area(geoms),
        geoms=geoms,
        attrs={},
    )
    # Random points, and every vertex and edge midpoint (exactly on an edge).
    edges = layer.segments[0]
    middles = (edges[:, :2] + edges[:, 2:]) / 2
    # Exactly on an edge, and just inside the margin beside one.
    m = EDGE_MARGIN_DEG
    on_edges = np.vstack([edges[:, :2], middles, middles + [0.9 * m, 0], middles - [0, 0.9 * m]])
    lon = np.concatenate([rng.uniform(113.999, 114.025, 4000), on_edges[:, 0]])
    lat = np.concatenate([rng.uniform(113.999, 114.025, 4000), on_edges[:, 1]])
    pts = shapely.points(lon, lat)
    boxes = shapely.box(lon - 2 * m, lat - 2 * m, lon + 2 * m, lat + 2 * m)
    near, pairs = near_and_covering(layer, pts, boxes, lon, lat)
    geos_near, _ = layer.edges.query(pts, predicate="dwithin", distance=m)
    assert set(geos_near.tolist()) <= set(near.tolist())
    assert set(range(len(lon) - len(on_edges), len(lon) - len(middles))) <= set(near.tolist())
    geos_pairs = layer.tree.query(pts, predicate="intersects")
    far = np.ones(len(lon), dtype=bool)
    far[near] = False

    def as_set(p: np.ndarray) -> set[tuple[int, int]]:
        keep = far[p[0]]
        return set(zip(p[0][keep].tolist(), p[1][keep].tolist(), strict=True))

    assert as_set(pairs) == as_set(geos_pairs)
    assert len(as_set(geos_pairs)) > 200  # the points are inside polygons often enough


def test_keys_keep_only_the_points_own_polygons() -> None:
    geoms = np.array([shapely.box(0, 0, 1, 1), shapely.box(0.5, 0, 1.5, 1)], dtype=object)
    layer = Layer(ids=np.array([1, 2]), area=shapely.area(geoms), geoms=geoms, attrs={})
    lon, lat = np.array([0.75, 1.0]), np.array([0.5, 0.5])
    pts = shapely.points(lon, lat)
    m = EDGE_MARGIN_DEG
    boxes = shapely.box(lon - 2 * m, lat - 2 * m, lon + 2 * m, lat + 2 * m)
    # The second point is on polygon 1's edge: near only where polygon 1 counts.
    keys = (np.array([10, 20]), np.array([20, 20]))
    near, pairs = near_and_covering(layer, pts, boxes, lon, lat, keys)
    assert near.tolist() == [] and pairs.tolist() == [[0, 1], [1, 1]]
    near, pairs = near_and_covering(layer, pts, boxes, lon, lat)
    assert near.tolist() == [1] and sorted(pairs[0].tolist()) == [0, 0, 1]
