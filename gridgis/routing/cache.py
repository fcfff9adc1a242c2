"""An in-memory routing index for large batches, provably the database's answer.

``route_points`` sends points through one SQL statement per chunk; at city
scale the per-point index probes dominate. This module keeps the polygons
routing reads (communities, layouts, grids, compounds, buildings, units,
department jurisdictions) in shapely STRtrees and answers the points whose
answer cannot depend on how a point-in-polygon test treats an edge:

* A point closer than ``EDGE_MARGIN_DEG`` (about 1 mm) to a polygon edge that
  could change its answer (any community's or jurisdiction's, a grid's of the
  layout in force, a building's, unit's or compound's of its community) goes to
  the database: exactly on an edge, ST_Covers and GEOS might round
  differently, so we do not decide those here (:mod:`gridgis.routing.edges`).
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridgis.geo.layouts import in_force
from gridgis.routing.edges import EDGE_MARGIN_DEG, near_and_covering
from gridgis.routing.index import Layer, RoutingIndex, current_epoch, forget_indexes, index_for

__all__ = [
    "Located",
    "RoutingIndex",
    "current_epoch",
    "departments",
    "forget_indexes",
    "index_for",
    "locate",
    "resolve",
]


def m_per_deg(lat: np.ndarray) -> np.ndarray:
    # The same lower bound of metres per degree as the SQL (gridgis.routing.sql).
    return np.maximum(np.minimum(110574.0, 111320.0 * np.cos(np.radians(lat))), 1.0) * 0.99


@dataclass
class Located:
    """Where the index puts each point: positions in its layers (-1: none).

    ``undecided`` points are the database's to answer; for the others every
    field is the database's answer. ``building`` is the unit's own building
    where a unit matched, and ``compound`` the building's compound where it
    has one (the SQL's rules, applied here).
    """

    undecided: np.ndarray
    outside: np.ndarray
    community: np.ndarray
    layout_id: np.ndarray
    grid: np.ndarray
    building: np.ndarray
    unit: np.ndarray
    compound: np.ndarray
    #: Points in their community, with a layout in force, in no grid and
    #: nowhere near an edge: the nearest grid decides (undecided here, for
    #: :mod:`gridgis.routing.gaps` or the database).
    gap: np.ndarray
    #: (point, jurisdiction position) pairs: the jurisdictions covering each point.
    jurisdiction_pairs: np.ndarray


def locate(
    index: RoutingIndex,
    lon: np.ndarray,
    lat: np.ndarray,
    at: Sequence[dt.datetime] | dt.datetime,
    community_code: str | None = None,
) -> Located:
    """Vectorised: the owners the database would find, for every point it can prove."""
    n = len(lon)
    pts = shapely.points(lon, lat)
    undecided = np.zeros(n, dtype=bool)
    boxes = shapely.box(
        lon - 2 * EDGE_MARGIN_DEG,
        lat - 2 * EDGE_MARGIN_DEG,
        lon + 2 * EDGE_MARGIN_DEG,
        lat + 2 * EDGE_MARGIN_DEG,
    )
    # Edges first of the communities: the other layers' edges matter only
    # within the point's community (its layout for grids), found below.
    near, comm_pairs = near_and_covering(index.communities, pts, boxes, lon, lat)
    undecided[near] = True
    keep = ~undecided[comm_pairs[0]]
    if community_code is not None:
        keep &= index.communities.attrs["code"][comm_pairs[1]] == community_code
    community = index.communities.best(comm_pairs, keep, n)

    # Not in any community: outside coverage if no community could be within
    # its tolerance even at the degree bound the SQL uses; else the database.
    outside = np.zeros(n, dtype=bool)
    loose = np.flatnonzero((community < 0) & ~undecided)
    if len(loose):
        # One radius, the widest any of these points needs: a point it wrongly
        # calls near only goes to the database (one query, not one per latitude).
        radius = float(np.max(index.max_tolerance_m / m_per_deg(lat[loose]))) * (1 + 1e-9)
        near_comm = np.zeros(len(loose), dtype=bool)
        hit, _ = index.communities.tree.query(pts[loose], predicate="dwithin", distance=radius)
        near_comm[hit] = True
        outside[loose[~near_comm]] = True
        undecided[loose[near_comm]] = True

    comm_of_point = np.where(community >= 0, index.communities.ids[np.maximum(community, 0)], -1)
    layout_id = _layouts_in_force(index, community, at)

    # The statement reads grids of the layout in force only, and buildings,
    # units and compounds of the point's community only: edges of others
    # cannot change its answer. Jurisdictions count for every point.
    covering: list[np.ndarray] = []
    for layer, keys in (
        (index.grids, (index.grids.layout_ids, layout_id)),
        (index.buildings, (index.buildings.community_ids, comm_of_point)),
        (index.units, (index.units.community_ids, comm_of_point)),
        (index.compounds, (index.compounds.community_ids, comm_of_point)),
        (index.jurisdictions, None),
    ):
        near, pairs = near_and_covering(layer, pts, boxes, lon, lat, keys)
        undecided[near] = True
        covering.append(pairs)
    grid_pairs, building_pairs, unit_pairs, compound_pairs, jurisdiction_pairs = covering

    grid = index.grids.best(grid_pairs, ~undecided[grid_pairs[0]], n)
    # In the community, a layout in force, but in no grid: a gap (spheroid
    # distances to the nearest grid): the database decides.
    gap = (community >= 0) & (layout_id >= 0) & (grid < 0) & ~undecided
    undecided |= gap

    def best(layer: Layer, pairs: np.ndarray) -> np.ndarray:
        return layer.best(pairs, np.ones(pairs.shape[1], dtype=bool), n)

    unit = best(index.units, unit_pairs)
    building = np.where(
        unit >= 0, _lookup(index.unit_building, unit), best(index.buildings, building_pairs)
    )
    own = _lookup(index.building_compound, building)
    compound = np.where(own >= 0, own, best(index.compounds, compound_pairs))
    return Located(
        undecided=undecided,
        outside=outside,
        community=community,
        layout_id=layout_id,
        grid=grid,
        building=building,
        unit=unit,
        compound=compound,
        gap=gap,
        jurisdiction_pairs=jurisdiction_pairs,
    )


def _lookup(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]``, -1 where a position is -1 (``values`` may be empty)."""
    out = np.full(len(positions), -1, dtype=np.int64)
    has = positions >= 0
    out[has] = values[positions[has]]
    return out


def _layouts_in_force(
    index: RoutingIndex, community: np.ndarray, at: Sequence[dt.datetime] | dt.datetime
) -> np.ndarray:
    """The id of the layout in force per point (-1: none), one lookup per distinct time."""
    n = len(community)
    layout_id = np.full(n, -1, dtype=np.int64)
    if isinstance(at, dt.datetime):
        groups = {at: np.arange(n)}
    else:
        by_time: dict[dt.datetime, list[int]] = {}
        for i, t in enumerate(at):
            by_time.setdefault(t, []).append(i)
        groups = {t: np.asarray(ix, dtype=np.int64) for t, ix in by_time.items()}
    comm_ids = index.communities.id_list
    for when, members in groups.items():
        per_community = np.full(len(comm_ids) + 1, -1, dtype=np.int64)  # last: no community
        for c, cid in enumerate(comm_ids):
            for start, end, lid, _ in index.layouts.get(cid, ()):
                if in_force(start, end, when):
                    per_community[c] = lid
                    break
        layout_id[members] = per_community[community[members]]
    return layout_id


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
    loc = locate(index, lon, lat, at, community_code)
    jurisdiction_hits: dict[int, set[int]] = {}
    for p, j in zip(*loc.jurisdiction_pairs, strict=True):
        jurisdiction_hits.setdefault(int(p), set()).add(int(index.jurisdictions.ids[j]))
    juris_ids = set(index.jurisdictions.ids.tolist())

    # Plain Python lists: indexing numpy object arrays one element at a time
    # costs more than the rest of this loop.
    comm_ids, comm_attrs = index.communities.id_list, index.communities.attr_lists
    grid_ids, grid_attrs = index.grids.id_list, index.grids.attr_lists
    bld_ids, bld_attrs = index.buildings.id_list, index.buildings.attr_lists
    unit_ids, unit_attrs = index.units.id_list, index.units.attr_lists
    cmp_ids, cmp_attrs = index.compounds.id_list, index.compounds.attr_lists
    layout_names = index.layout_names
    community_l, building_l, unit_l = (
        loc.community.tolist(),
        loc.building.tolist(),
        loc.unit.tolist(),
    )
    grid_l, compound_l, layout_l = loc.grid.tolist(), loc.compound.tolist(), loc.layout_id.tolist()
    undecided_l, outside_l = loc.undecided.tolist(), loc.outside.tolist()
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
            row["departments"] = departments(
                index, category, None, jurisdiction_hits.get(i), juris_ids
            )
            rows[i] = row
            continue
        u, b, k, g = unit_l[i], building_l[i], compound_l[i], grid_l[i]
        row["community_id"] = comm_ids[c]
        row["community_code"] = comm_attrs["code"][c]
        row["community_name"] = comm_attrs["name"][c]
        row["gap_tolerance_m"] = comm_attrs["tolerance"][c]
        row["community_dist"] = 0.0
        row["layout_id"] = layout_l[i] if layout_l[i] >= 0 else None
        row["layout_name"] = layout_names.get(layout_l[i])
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
            departments(index, category, company, jurisdiction_hits.get(i), juris_ids)
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


def departments(
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
