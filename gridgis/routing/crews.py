"""Teams of a batch, composed column-wise from the rosters' on-duty staff.

:func:`gridgis.staff.team.assemble_team` makes one team from one roster; a
city's batch meets tens of thousands of distinct (grid, building, unit,
volunteer team) places, and calling it once per place was most of the column
path's time. The routed columns need only the lead's code and the team as
``role:code;...``, and the roster's shape is fixed by the ``assignment``
table's constraints: per grid at most one grid worker and one part-time
worker and any number of volunteers, per building one head, per unit one
head. So the team text is, in ``ROLE_ORDER``, the on-duty grid worker, the
part-time worker, the building head, the unit head (each skipped when the
same person is already on the team, as ``assemble_team`` skips them) and the
grid's on-duty volunteers of the category's team, in the roster's order; the
lead is the first grid worker, else part-time worker, else volunteer on it.
Off-duty staff only change ``assemble_team``'s notes and ``covers_for``,
which these columns do not carry.

:func:`crew_columns` applies that rule with numpy and Arrow, per point. When
the rosters break the shape (two grid workers of one grid, a role at the
wrong kind of place), it returns None and the caller assembles team by team.
``tests/gridgis/routing/test_crews.py`` compares it with ``assemble_team`` on
random rosters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.staff.team import ROLE_ORDER

#: One roster row: role, grid id, building id, unit id, staff id, code,
#: volunteer team, on duty (ids None where the role names another kind of place).
RosterRow = tuple[str, Any, Any, Any, int, str, Any, Any]
#: The rosters as :func:`gridgis.routing.points.rosters_for` reads them (the same
#: rows, in its order: role, then code), without the names and phones the
#: columns do not carry; as one row of arrays per role (a city's batch reads
#: tens of thousands of rows, which cost more as result rows than as arrays).
_ROSTER_ROWS = sa.text(
    """
    SELECT a.role,
           array_agg(a.grid_id ORDER BY s.code, a.id),
           array_agg(a.building_id ORDER BY s.code, a.id),
           array_agg(a.unit_id ORDER BY s.code, a.id),
           array_agg(a.staff_id ORDER BY s.code, a.id),
           array_agg(s.code ORDER BY s.code, a.id),
           array_agg(a.volunteer_team ORDER BY s.code, a.id),
           array_agg(a.on_duty ORDER BY s.code, a.id)
    FROM assignment a JOIN staff s ON s.id = a.staff_id
    WHERE a.grid_id = ANY(CAST(:grids AS int[]))
       OR a.building_id = ANY(CAST(:buildings AS int[]))
       OR a.unit_id = ANY(CAST(:units AS int[]))
    GROUP BY a.role
    ORDER BY a.role
    """
)
_PLACE_OF_ROLE = {
    "grid_worker": 1,
    "part_time_worker": 1,
    "volunteer": 1,
    "building_head": 2,
    "unit_head": 3,
}


def crew_columns(
    rows: Sequence[RosterRow],
    grid_ids: np.ndarray,
    building_ids: np.ndarray,
    unit_ids: np.ndarray,
    team_of_point: np.ndarray,
    volunteer_teams: Sequence[str | None],
) -> tuple[pa.Array, pa.Array] | None:
    """The lead's code and the team text per point, as ``assemble_team`` would give them.

    Args:
        rows: The rosters of the points' places, in the roster statement's order.
        grid_ids, building_ids, unit_ids: Per point the place's database ids (-1: none).
        team_of_point: Per point a position in ``volunteer_teams`` (-1: no team asked).
        volunteer_teams: The volunteer teams the points' categories ask for.

    Returns None when the rosters do not have the shape the rule relies on.
    """
    if ROLE_ORDER != ("grid_worker", "part_time_worker", "building_head", "unit_head", "volunteer"):
        return None  # pragma: no cover - the rule below is written for this order
    roles, grid_col, building_col, unit_col, staff_col, codes, team_col, duty_col = (
        list(column) for column in (zip(*rows, strict=True) if rows else [()] * 8)
    )

    def ids(column: list[Any]) -> np.ndarray:
        return np.array([-1 if v is None else v for v in column], dtype=np.int64)

    role = np.array(roles, dtype=object)
    places = (
        np.stack([ids(grid_col), ids(building_col), ids(unit_col)])
        if rows
        else np.empty((3, 0), dtype=np.int64)
    )
    on_duty = np.array([bool(v) for v in duty_col], dtype=bool)
    staff = np.array(staff_col, dtype=np.int64)
    held: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    known = 0
    for name in ROLE_ORDER:
        mine = np.flatnonzero(role == name)
        known += len(mine)
        if not len(mine):
            continue
        where = _PLACE_OF_ROLE[name] - 1
        # Each role names exactly its kind of place (the table's check).
        if (places[where, mine] < 0).any() or ((places[:, mine] >= 0).sum(axis=0) != 1).any():
            return None
        if name == "volunteer":
            continue
        mine = mine[on_duty[mine]]
        at = places[where, mine]
        if len(np.unique(at)) != len(at):
            return None  # two holders of a role the constraints allow once
        order = np.argsort(at)
        held[name] = (at[order], staff[mine[order]], mine[order])
    if known != len(rows):
        return None  # a role not in ROLE_ORDER
    volunteers: dict[int, list[tuple[int, str | None]]] = {}
    for i in np.flatnonzero((role == "volunteer") & on_duty).tolist():
        volunteers.setdefault(grid_col[i], []).append((i, team_col[i]))
    n = len(grid_ids)

    def holder(name: str, place_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per point the on-duty holder's staff id and code position (-1: none)."""
        sid, code = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        if not len(held.get(name, ((),))[0]):
            return sid, code
        at_place, staff_of, row_of = held[name]
        at = np.minimum(np.searchsorted(at_place, place_ids), len(at_place) - 1)
        hit = (at_place[at] == place_ids) & (place_ids >= 0)
        sid[hit], code[hit] = staff_of[at[hit]], row_of[at[hit]]
        return sid, code

    gw, gw_code = holder("grid_worker", grid_ids)
    ptw, ptw_code = holder("part_time_worker", grid_ids)
    ptw = np.where(ptw == gw, -1, ptw)  # one person in both grid roles: once, as grid worker
    bh, bh_code = holder("building_head", building_ids)
    bh = np.where((bh == gw) | (bh == ptw), -1, bh)
    uh, uh_code = holder("unit_head", unit_ids)
    uh = np.where((uh == gw) | (uh == ptw) | (uh == bh), -1, uh)

    # The volunteers' text and first code per (grid, team asked), made once each.
    vol_texts: list[str] = []
    vol_first: list[int] = []
    width = len(volunteer_teams) + 1
    pairs, inverse = np.unique(grid_ids * width + team_of_point + 1, return_inverse=True)
    pair_pos = np.full(len(pairs), -1, dtype=np.int64)
    for i, pair in enumerate(pairs.tolist()):
        grid_id, t = divmod(pair, width)
        t -= 1
        wanted = volunteer_teams[t] if t >= 0 else None
        chosen = [c for c, team in volunteers.get(grid_id, ()) if not wanted or team == wanted]
        if chosen:
            pair_pos[i] = len(vol_texts)
            vol_texts.append(";".join(f"volunteer:{codes[c]}" for c in chosen))
            vol_first.append(chosen[0])
    vol_of_point = pair_pos[inverse.ravel()]

    code_text = pa.array(codes, type=pa.string())

    def part(role: str, sid: np.ndarray, code: np.ndarray) -> pa.Array:
        # Each part ends with the separator ("" where none), the last one cut below.
        labelled = pc.binary_join_element_wise(f"{role}:", code_text, ";", "")
        return labelled.take(pa.array(code, mask=sid < 0)).fill_null("")

    volunteer_text = (
        pa.array([t + ";" for t in vol_texts], type=pa.string())
        .take(pa.array(vol_of_point, mask=vol_of_point < 0))
        .fill_null("")
    )
    joined = pc.binary_join_element_wise(
        part("grid_worker", gw, gw_code),
        part("part_time_worker", ptw, ptw_code),
        part("building_head", bh, bh_code),
        part("unit_head", uh, uh_code),
        volunteer_text,
        "",
    )
    team = pc.if_else(
        pc.equal(joined, ""),
        pa.scalar(None, pa.string()),
        pc.utf8_slice_codeunits(joined, 0, -1),
    )
    first_volunteer = np.array(vol_first + [-1], dtype=np.int64)[vol_of_point]
    lead_code = np.where(gw >= 0, gw_code, np.where(ptw >= 0, ptw_code, first_volunteer))
    lead = code_text.take(pa.array(lead_code, mask=lead_code < 0))
    return lead, team


def roster_rows(
    session: Session, grids: np.ndarray, buildings: np.ndarray, units: np.ndarray
) -> list[RosterRow]:
    """The roster rows of these grids, buildings and units (database ids), in one statement."""

    def array(ids: np.ndarray) -> str:
        # An array literal: psycopg's list dumper is slower than the statement at city scale.
        return "{" + ",".join(map(str, np.unique(ids[ids >= 0]).tolist())) + "}"

    found = session.execute(
        _ROSTER_ROWS,
        {"grids": array(grids), "buildings": array(buildings), "units": array(units)},
    ).all()
    return [
        (role, *row)  # type: ignore[misc]
        for role, *columns in found
        for row in zip(*columns, strict=True)
    ]
