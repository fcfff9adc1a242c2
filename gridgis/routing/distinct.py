"""Answers a batch repeats: teams and department lists, made once per distinct case.

A city's batch routes thousands of points to the same grid team and the same
departments; :mod:`gridgis.routing.columns` asks here for the text of each
distinct team (grid, staffed building, staffed unit, volunteer team) and
department list (category, property company, covering jurisdictions), made by
the same functions as one result's (:func:`gridgis.staff.team.assemble_team`,
:func:`gridgis.routing.cache.departments`), and spreads it over the points
with one Arrow take. Teams are composed column-wise by
:mod:`gridgis.routing.crews` (the same lead and members), and assembled one
by one only for rosters of a shape it does not handle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from gridgis.routing import cache as routing_cache
from gridgis.routing.cache import Located, RoutingIndex
from gridgis.routing.crews import crew_columns, roster_rows
from gridgis.routing.points import rosters_for
from gridgis.staff.team import assemble_team


def take(values: pa.Array, positions: np.ndarray) -> pa.Array:
    """``values[positions]``, null where a position is -1."""
    return values.take(pa.array(positions, mask=positions < 0))


def distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``columns`` and each row's position among them, as ``np.unique``.

    What ``np.unique(np.column_stack(columns), axis=0, return_inverse=True)``
    gives: the same rows in the same (lexicographic) order, the same inverse;
    each column is numbered by its own sorted values and the row is one
    integer of those numbers, the first column the most significant (a
    sort of rows is ten times slower than of integers on a city's batch).
    """
    values, numbers = zip(*(np.unique(c, return_inverse=True) for c in columns), strict=True)
    sizes = [len(v) for v in values]
    if int(np.prod([float(s) for s in sizes])) >= 2**62:  # pragma: no cover - out of int64
        return np.unique(np.column_stack(columns), axis=0, return_inverse=True)  # type: ignore[no-any-return]
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for size, number in zip(sizes, numbers, strict=True):
        key = key * size + number.ravel()
    found, inverse = np.unique(key, return_inverse=True)
    rows = np.empty((len(found), len(columns)), dtype=np.int64)
    for i in range(len(columns) - 1, -1, -1):
        found, at = np.divmod(found, sizes[i])
        rows[:, i] = values[i][at]
    return rows, inverse.ravel()


def layer_columns(index: RoutingIndex) -> dict[str, pa.Array]:
    """The index's attributes as Arrow arrays, made once per index."""
    found = index.extras.get("arrow")
    if found is None:

        def text(values: list[Any]) -> pa.Array:
            return pa.array([None if v is None else str(v) for v in values], type=pa.string())

        found = {
            "community_id": pa.array(index.communities.ids, type=pa.int64()),
            "community_code": text(index.communities.attr_lists["code"]),
            "grid_id": pa.array(index.grids.ids, type=pa.int64()),
            "grid_code": text(index.grids.attr_lists["code"]),
            "grid_name": text(index.grids.attr_lists["name"]),
            "building_id": pa.array(index.buildings.ids, type=pa.int64()),
            "building_code": text(index.buildings.attr_lists["code"]),
            "unit_id": pa.array(index.units.ids, type=pa.int64()),
            "unit_number": text(index.units.attr_lists["number"]),
            "compound_id": pa.array(index.compounds.ids, type=pa.int64()),
            "company": np.array(
                [-1 if v is None else v for v in index.compounds.attr_lists["property_company_id"]],
                dtype=np.int64,
            ),
        }
        index.extras["arrow"] = found
    return found


def teams(
    session: Session,
    index: RoutingIndex,
    g: np.ndarray,
    b: np.ndarray,
    u: np.ndarray,
    cat: np.ndarray,
    volunteer_teams: list[str | None],
) -> tuple[pa.Array, pa.Array]:
    """The lead's code and the team (``role:code;...``) per point, assembled once per team."""
    n = len(g)
    has = np.flatnonzero(g >= 0)
    if not len(has):
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    grid_ids = index.grids.ids[g[has]]
    bld_ids = np.where(b[has] >= 0, index.buildings.ids[np.maximum(b[has], 0)], -1)
    unit_ids = np.where(u[has] >= 0, index.units.ids[np.maximum(u[has], 0)], -1)
    vteam = np.array([-1 if t is None else i for i, t in enumerate(volunteer_teams)] or [-1])
    tkey = vteam[cat[has]] if len(volunteer_teams) else np.full(len(has), -1)
    composed = crew_columns(
        roster_rows(session, grid_ids, bld_ids, unit_ids),
        grid_ids,
        bld_ids,
        unit_ids,
        tkey,
        volunteer_teams,
    )
    positions = np.full(n, -1, dtype=np.int64)
    positions[has] = np.arange(len(has))
    if composed is not None:
        return take(composed[0], positions), take(composed[1], positions)
    # Rosters of an unexpected shape: one assemble_team per distinct team.
    rosters = rosters_for(
        session,
        np.unique(grid_ids).tolist(),
        np.unique(bld_ids[bld_ids >= 0]).tolist(),
        np.unique(unit_ids[unit_ids >= 0]).tolist(),
    )
    staffed = {kind: [i for k, i in rosters if k == kind] for kind in ("building", "unit")}
    # A building or unit without staff of its own does not make its team different.
    bkey = np.where(np.isin(bld_ids, staffed["building"]), bld_ids, -1)
    ukey = np.where(np.isin(unit_ids, staffed["unit"]), unit_ids, -1)
    keys, first, inverse = np.unique(
        np.column_stack([grid_ids, bkey, ukey, tkey]),
        axis=0,
        return_index=True,
        return_inverse=True,
    )
    leads: list[str | None] = []
    teams: list[str | None] = []
    for key, at in zip(keys.tolist(), first.tolist(), strict=True):
        grid_id, building_id, unit_id = grid_ids[at], bld_ids[at], unit_ids[at]
        roster = [
            m
            for place in (("grid", grid_id), ("building", building_id), ("unit", unit_id))
            for m in rosters.get((place[0], int(place[1])), [])
        ]
        lead, members, _ = assemble_team(
            roster,
            volunteer_teams[key[3]] if key[3] >= 0 else None,
            grid_id=int(grid_id),
            building_id=None if building_id < 0 else int(building_id),
            unit_id=None if unit_id < 0 else int(unit_id),
        )
        leads.append(lead.staff_code if lead else None)
        teams.append(";".join(f"{m.role}:{m.staff_code}" for m in members) or None)
    positions[has] = inverse.ravel()
    return (
        take(pa.array(leads, type=pa.string()), positions),
        take(pa.array(teams, type=pa.string()), positions),
    )


def department_lists(
    index: RoutingIndex,
    loc: Located,
    placed: np.ndarray,
    k: np.ndarray,
    cat: np.ndarray,
    infos: list[tuple[int, bool, str | None] | None],
) -> pa.Array:
    """The departments' codes (``a;b``) per point, listed once per distinct case."""
    n = len(cat)
    known = np.array([info is not None for info in infos], dtype=bool)
    wanted = placed & known[cat]
    if not wanted.any():
        return pa.nulls(n, pa.string())
    is_property = np.array([bool(info and info[1]) for info in infos], dtype=bool)
    company = np.where(
        is_property[cat] & (k >= 0), layer_columns(index)["company"][np.maximum(k, 0)], -1
    )
    juris_key, by_number = jurisdiction_sets(index, loc.jurisdiction_pairs, n)
    sel = np.flatnonzero(wanted)
    keys, inverse = distinct_rows(cat[sel], company[sel], juris_key[sel])
    with_jurisdiction = set(index.jurisdictions.id_list)
    texts: list[str | None] = []
    for category, company_id, number in keys.tolist():
        found = routing_cache.departments(
            index,
            infos[category],
            company_id if company_id >= 0 else None,
            by_number[number],
            with_jurisdiction,
        )
        texts.append(";".join(dict.fromkeys(d["code"] for d in found or ())) or None)
    positions = np.full(n, -1, dtype=np.int64)
    positions[sel] = inverse.ravel()
    return take(pa.array(texts, type=pa.string()), positions)


def jurisdiction_sets(
    index: RoutingIndex, pairs: np.ndarray, n: int
) -> tuple[np.ndarray, dict[int, set[int]]]:
    """Per point a number for the set of jurisdictions covering it, and each number's set of ids."""
    points, juris = pairs
    ids = index.jurisdictions.id_list
    if len(ids) <= 62:
        # Few jurisdictions (a city has a handful): the set as the bits of one integer.
        bits = np.zeros(n, dtype=np.int64)
        np.bitwise_or.at(bits, points, np.left_shift(np.int64(1), juris.astype(np.int64)))
        return bits, {
            int(key): {ids[j] for j in range(len(ids)) if int(key) >> j & 1}
            for key in np.unique(bits).tolist()
        }
    covering: dict[int, list[int]] = {}
    for p, j in zip(points.tolist(), juris.tolist(), strict=True):
        covering.setdefault(p, []).append(ids[j])
    sets: dict[tuple[int, ...], int] = {(): 0}
    numbers = np.zeros(n, dtype=np.int64)
    for p, found in covering.items():
        numbers[p] = sets.setdefault(tuple(sorted(found)), len(sets))
    return numbers, {number: set(found) for found, number in sets.items()}
