"""An in-memory routing index for large batches, provably the database's answer.

``route_points`` sends points through one SQL statement per chunk; at city
scale the per-point index probes dominate. This module keeps the polygons
routing reads (communities, layouts, grids, compounds, buildings, units,
department jurisdictions) in shapely STRtrees and answers the points whose
answer cannot depend on how a point-in-polygon test treats an edge:

* A point closer than ``EDGE_MARGIN_DEG`` (about 1 mm) to any polygon edge of
  any layer goes to the database: exactly on an edge, ST_Covers and GEOS might
  round differently, so we do not decide those here.
* Ties between polygons that both cover a point are broken with the areas the
  database computed (``ST_Area``, loaded with the polygons), then the id: the
  same rule, on the same numbers, as the SQL.
* Points in no grid (gaps, needing spheroid distances) and points that might
  be within a community's tolerance of its boundary go to the database; a
  point farther (in degrees) than any tolerance could reach from every
  community is ``outside_coverage`` here, as it is there.

The index is keyed by the routing epoch (``models.RoutingEpoch``), which a
statement-level trigger sets from a sequence after every write to those
tables: a session that sees epoch E sees exactly the data the index of epoch
E was loaded from, so no stale answer can be served (:mod:`gridgis.routing.index`).
``tests/gridgis/routing/test_cache.py`` checks the cache against the SQL on
every point kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import shapely

from gridgis.geo.layouts import in_force
from gridgis.routing.index import RoutingIndex, current_epoch, forget_indexes, index_for

__all__ = ["RoutingIndex", "current_epoch", "forget_indexes", "index_for", "resolve"]

#: A point nearer than this (degrees; ~1.1 mm) to any edge is left to PostGIS.
EDGE_MARGIN_DEG = 1e-8


def _m_per_deg(lat: np.ndarray) -> np.ndarray:
    # The same lower bound of metres per degree as the SQL (gridgis.routing.sql).
    return np.maximum(np.minimum(110574.0, 111320.0 * np.cos(np.radians(lat))), 1.0) * 0.99


def resolve(
    index: RoutingIndex,
    lon: np.ndarray,
    lat: np.ndarray,
    at: list[dt.datetime],
    categories: list[str | None],
    community_code: str | None = None,
) -> list[dict[str, Any] | None]:
    """Rows shaped like the SQL's for the points decided here; None for the database."""
    n = len(lon)
    pts = shapely.points(lon, lat)
    undecided = np.zeros(n, dtype=bool)
    for layer in (
        index.communities,
        index.grids,
        index.buildings,
        index.units,
        index.compounds,
        index.jurisdictions,
    ):
        near, _ = layer.edges.query(pts, predicate="dwithin", distance=EDGE_MARGIN_DEG)
        undecided[near] = True

    comm_pairs = index.communities.tree.query(pts, predicate="intersects")
    keep = ~undecided[comm_pairs[0]]
    if community_code is not None:
        keep &= index.communities.attrs["code"][comm_pairs[1]] == community_code
    community = index.communities.best(comm_pairs, keep, n)

    # Not in any community: outside coverage if no community could be within
    # its tolerance even at the degree bound the SQL uses; else the database.
    outside = np.zeros(n, dtype=bool)
    loose = np.flatnonzero((community < 0) & ~undecided)
    if len(loose):
        reach = index.max_tolerance_m / _m_per_deg(lat[loose])
        near_comm = np.zeros(len(loose), dtype=bool)
        for radius in np.unique(np.round(reach, 9)):
            sel = np.flatnonzero(np.round(reach, 9) == radius)
            hit, _ = index.communities.tree.query(
                pts[loose[sel]], predicate="dwithin", distance=radius
            )
            near_comm[sel[hit]] = True
        outside[loose[~near_comm]] = True
        undecided[loose[near_comm]] = True

    comm_of_point = np.where(community >= 0, index.communities.ids[np.maximum(community, 0)], -1)
    layout_id = np.full(n, -1, dtype=np.int64)
    layout_name: list[str | None] = [None] * n
    for i in np.flatnonzero(community >= 0).tolist():
        for start, end, lid, name in index.layouts.get(int(comm_of_point[i]), ()):
            if in_force(start, end, at[i]):
                layout_id[i], layout_name[i] = lid, name
                break

    grid_pairs = index.grids.tree.query(pts, predicate="intersects")
    keep = (
        index.grids.attrs["layout_id"][grid_pairs[1]].astype(np.int64) == layout_id[grid_pairs[0]]
    )
    grid = index.grids.best(grid_pairs, keep & ~undecided[grid_pairs[0]], n)
    # In the community, a layout in force, but in no grid: a gap (spheroid
    # distances to the nearest grid): the database decides.
    undecided |= (community >= 0) & (layout_id >= 0) & (grid < 0)

    unit_pairs = index.units.tree.query(pts, predicate="intersects")
    keep = (
        index.units.attrs["community_id"][unit_pairs[1]].astype(np.int64)
        == comm_of_point[unit_pairs[0]]
    )
    unit = index.units.best(unit_pairs, keep, n)
    bld_pairs = index.buildings.tree.query(pts, predicate="intersects")
    keep = (
        index.buildings.attrs["community_id"][bld_pairs[1]].astype(np.int64)
        == comm_of_point[bld_pairs[0]]
    )
    building = index.buildings.best(bld_pairs, keep, n)
    cmp_pairs = index.compounds.tree.query(pts, predicate="intersects")
    keep = (
        index.compounds.attrs["community_id"][cmp_pairs[1]].astype(np.int64)
        == comm_of_point[cmp_pairs[0]]
    )
    compound = index.compounds.best(cmp_pairs, keep, n)
    juris_pairs = index.jurisdictions.tree.query(pts, predicate="intersects")
    jurisdiction_hits: dict[int, set[int]] = {}
    for p, j in zip(*juris_pairs, strict=True):
        jurisdiction_hits.setdefault(int(p), set()).add(int(index.jurisdictions.ids[j]))
    juris_ids = set(index.jurisdictions.ids.tolist())

    # Plain Python lists: indexing numpy object arrays one element at a time
    # costs more than the rest of this loop.
    comm_ids, comm_attrs = index.communities.id_list, index.communities.attr_lists
    grid_ids, grid_attrs = index.grids.id_list, index.grids.attr_lists
    bld_ids, bld_attrs = index.buildings.id_list, index.buildings.attr_lists
    unit_ids, unit_attrs = index.units.id_list, index.units.attr_lists
    cmp_ids, cmp_attrs = index.compounds.id_list, index.compounds.attr_lists
    building_pos, compound_pos = index.buildings.position, index.compounds.position
    community_l, building_l, unit_l = community.tolist(), building.tolist(), unit.tolist()
    grid_l, compound_l, layout_l = grid.tolist(), compound.tolist(), layout_id.tolist()
    undecided_l, outside_l = undecided.tolist(), outside.tolist()
    rows: list[dict[str, Any] | None] = [None] * n
    for i in range(n):
        if undecided_l[i]:
            continue
        code = categories[i]
        category = index.categories.get(code) if code else None
        row: dict[str, Any] = {
            "idx": i,
            "category_found": category is not None,
            "category_team": category[2] if category else None,
            "team": None,
        }
        c = community_l[i]
        if outside_l[i] or c < 0:
            row.update(dict.fromkeys(_ROW_KEYS))
            row["departments"] = _departments(
                index, category, None, jurisdiction_hits.get(i), juris_ids
            )
            rows[i] = row
            continue
        u = unit_l[i]
        b = building_pos[unit_attrs["building_id"][u]] if u >= 0 else building_l[i]
        compound_id = bld_attrs["compound_id"][b] if b >= 0 else None
        k = compound_pos[compound_id] if compound_id is not None else compound_l[i]
        g = grid_l[i]
        row["community_id"] = comm_ids[c]
        row["community_code"] = comm_attrs["code"][c]
        row["community_name"] = comm_attrs["name"][c]
        row["gap_tolerance_m"] = comm_attrs["tolerance"][c]
        row["community_dist"] = 0.0
        row["layout_id"] = layout_l[i] if layout_l[i] >= 0 else None
        row["layout_name"] = layout_name[i]
        if g >= 0:
            row["grid_id"], row["grid_code"] = grid_ids[g], grid_attrs["code"][g]
            row["grid_name"], row["grid_dist"] = grid_attrs["name"][g], 0.0
        else:
            row["grid_id"] = row["grid_code"] = row["grid_name"] = row["grid_dist"] = None
        if b >= 0:
            row["building_id"], row["building_code"] = bld_ids[b], bld_attrs["code"][b]
            row["building_name"], row["address"] = bld_attrs["name"][b], bld_attrs["address"][b]
        else:
            row["building_id"] = row["building_code"] = None
            row["building_name"] = row["address"] = None
        if u >= 0:
            row["unit_id"], row["unit_number"] = unit_ids[u], unit_attrs["number"][u]
        else:
            row["unit_id"] = row["unit_number"] = None
        if k >= 0:
            row["compound_id"], row["compound_name"] = cmp_ids[k], cmp_attrs["name"][k]
            company = cmp_attrs["property_company_id"][k]
        else:
            row["compound_id"] = row["compound_name"] = company = None
        row["departments"] = (
            _departments(index, category, company, jurisdiction_hits.get(i), juris_ids)
            if category
            else None
        )
        rows[i] = row
    return rows


_ROW_KEYS = (
    "community_id", "community_code", "community_name", "gap_tolerance_m", "community_dist",
    "layout_id", "layout_name", "grid_id", "grid_code", "grid_name", "grid_dist",
    "building_id", "building_code", "building_name", "address", "unit_id", "unit_number",
    "compound_id", "compound_name",
)  # fmt: skip


def _departments(
    index: RoutingIndex,
    category: tuple[int, bool, str | None] | None,
    company: Any,
    covering: set[int] | None,
    with_jurisdiction: set[int],
) -> list[dict[str, Any]] | None:
    """The SQL's department list: category departments whose jurisdiction covers, plus property."""
    if category is None:
        return None
    items = []
    for dep in index.category_departments.get(category[0], ()):
        if dep not in with_jurisdiction or (covering and dep in covering):
            items.append({**index.departments[dep], "reason": "category"})
    if category[1] and company is not None:
        items.append({**index.departments[int(company)], "reason": "property"})
    if not items:
        return None
    unique = {(d["id"], d["reason"]): d for d in items}
    return sorted(unique.values(), key=lambda d: (d["code"], d["reason"]))
