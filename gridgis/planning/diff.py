"""Diff (方案对比): what a layout changes against another, building by building.

A building changes grid when the grid it belongs to in one layout has another
code than in the other, or when it is in a grid in one layout and in none in
the other. Grids are matched by code, since a draft keeps the codes of the
layout it copies (:mod:`~gridgis.planning.drafts`) and the staff follow them.
Which grid a building belongs to is :mod:`gridgis.geo.areas`'s rule, applied
to both layouts in the same statement; units and households move with their
building (DESIGN.md: a building is never split between grids).

Two statements whatever the community's size: the buildings that move, and
each grid's totals in both layouts. The figures are those of
:mod:`~gridgis.planning.tallies` (``building.households``, units counted), so
a diff's totals after are the tallies of the layout compared.

The diff renders itself as a JSON object, a CSV file (one row per building
moved) and a GeoJSON FeatureCollection of the buildings that move; the
command line prints the text.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis.errors import NotFound
from gridgis.geo.areas import building_in_grid
from gridgis.geo.layouts import choose_layout, layout_names
from gridgis.models import Building, Community, Grid, Layout, Unit
from gridgis.planning.drafts import find_layout
from gridgis.spreadsheets import safe_cell

#: Excel and WPS read a CSV as UTF-8 only when it starts with a byte-order mark.
BOM = "\ufeff"
CSV_COLUMNS = ("building", "units", "households", "from", "to")
#: What happens to a grid: in both layouts, only in the layout compared, only in the other.
KEPT, APPEARING, DISAPPEARING = "kept", "appearing", "disappearing"


@dataclass(frozen=True)
class Move:
    """A building that changes grid.

    Attributes:
        building: The building's code.
        name: Its name, if it has one.
        units: Its units, which move with it.
        households: Its households.
        before: The code of its grid in the layout compared against (None: in no grid).
        after: The code of its grid in the layout compared (None: in no grid).
        geometry: Its footprint as a GeoJSON geometry (EPSG:4326).
    """

    building: str
    name: str | None
    units: int
    households: int
    before: str | None
    after: str | None
    geometry: dict[str, Any]


@dataclass(frozen=True)
class Figures:
    """What a grid holds in one layout."""

    buildings: int
    units: int
    households: int


@dataclass(frozen=True)
class GridChange:
    """One grid code in either layout, with its totals before and after.

    Attributes:
        code: The grid's code.
        name: Its name (in the layout compared, else in the other).
        change: ``kept``, ``appearing`` (only in the layout compared) or
            ``disappearing`` (only in the one compared against).
        before: Its totals in the layout compared against (None: not there).
        after: Its totals in the layout compared (None: not there).
    """

    code: str
    name: str
    change: str
    before: Figures | None
    after: Figures | None


@dataclass(frozen=True)
class Diff:
    """What layout ``layout`` changes against layout ``against``.

    Attributes:
        community: The community's code.
        layout: The name of the layout compared (after).
        against: The name of the layout it is compared against (before).
        moves: The buildings that change grid, by building code.
        grids: Every grid code of either layout, by code.
    """

    community: str
    layout: str
    against: str
    moves: list[Move]
    grids: list[GridChange]

    @property
    def moved(self) -> Figures:
        """The buildings, units and households that change grid, in all."""
        return Figures(
            len(self.moves),
            sum(m.units for m in self.moves),
            sum(m.households for m in self.moves),
        )

    def as_dict(self) -> dict[str, Any]:
        """The diff as JSON-safe fields: ``moves`` and ``grids``, with what was compared."""
        return {
            "community": self.community,
            "layout": self.layout,
            "against": self.against,
            "moved": _figures(self.moved),
            "moves": [
                {
                    "building": m.building,
                    "name": m.name,
                    "units": m.units,
                    "households": m.households,
                    "from": m.before,
                    "to": m.after,
                }
                for m in self.moves
            ],
            "grids": [
                {
                    "code": g.code,
                    "name": g.name,
                    "change": g.change,
                    "before": _figures(g.before),
                    "after": _figures(g.after),
                }
                for g in self.grids
            ],
        }

    def as_json(self) -> str:
        """The diff as a JSON document (Chinese kept as text)."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n"

    def as_csv(self) -> bytes:
        """One row per building moved, UTF-8 with a BOM; an empty cell for "in no grid"."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for m in self.moves:
            # Codes come from files users import: no cell may run as a formula.
            writer.writerow(
                [safe_cell(v) for v in (m.building, m.units, m.households, m.before, m.after)]
            )
        return (BOM + out.getvalue()).encode("utf-8")

    def as_geojson(self) -> str:
        """The buildings that move as a GeoJSON FeatureCollection (EPSG:4326, RFC 7946)."""
        features = [
            {
                "type": "Feature",
                "geometry": m.geometry,
                "properties": {
                    "building": m.building,
                    "name": m.name,
                    "from": m.before,
                    "to": m.after,
                    "units": m.units,
                    "households": m.households,
                },
            }
            for m in self.moves
        ]
        collection = {"type": "FeatureCollection", "features": features}
        return json.dumps(collection, ensure_ascii=False) + "\n"


def _figures(figures: Figures | None) -> dict[str, int] | None:
    if figures is None:
        return None
    return {
        "buildings": figures.buildings,
        "units": figures.units,
        "households": figures.households,
    }


def diff_named(
    session: Session, community_code: str, name: str, *, against: str | None = None
) -> Diff:
    """What layout ``name`` changes against layout ``against`` (default: the one in force).

    Raises:
        NotFound: No such community or layout, or no layout in force to compare
            against; the message lists what there is.
    """
    layout = find_layout(session, community_code, name)
    if against is not None:
        other = find_layout(session, community_code, against)
    else:
        community = session.get_one(Community, layout.community_id)
        found = choose_layout(session, community, drafts=False)
        if found is None:
            raise NotFound(
                f"Community {community.code} has no layout in force to compare {name!r} with; "
                f"its layouts are: {layout_names(session, community)}. Name one with --against."
            )
        other = found
    return diff_layouts(session, layout, other)


def diff_layouts(session: Session, layout: Layout, against: Layout) -> Diff:
    """What ``layout`` changes against ``against`` (two layouts of one community).

    Raises:
        ValueError: The layouts belong to different communities (a caller's mistake:
            both are found by the community's code).
    """
    if layout.community_id != against.community_id:
        msg = f"layouts {layout.name!r} and {against.name!r} belong to different communities"
        raise ValueError(msg)
    community = session.get_one(Community, layout.community_id)
    placed = _placed(layout, against)
    moves = [
        Move(
            building=row.code,
            name=row.name,
            units=int(row.units),
            households=int(row.households),
            before=row.before,
            after=row.after,
            geometry=json.loads(row.geometry),
        )
        for row in session.execute(
            sa.select(
                placed.c.code,
                placed.c.name,
                placed.c.units,
                placed.c.households,
                placed.c.before,
                placed.c.after,
                sa.func.ST_AsGeoJSON(placed.c.geom).label("geometry"),
            )
            .where(placed.c.before.is_distinct_from(placed.c.after))
            .order_by(placed.c.code)
        )
    ]
    return Diff(
        community.code, layout.name, against.name, moves, _grids(session, placed, layout, against)
    )


def _placed(layout: Layout, against: Layout) -> sa.CTE:
    """Each building of the community with its grid code in both layouts, units, households."""
    before = aliased(Grid, name="before_grid")
    after = aliased(Grid, name="after_grid")
    units = (
        sa.select(sa.func.count())
        .where(Unit.building_id == Building.id)
        .correlate(Building)
        .scalar_subquery()
    )
    # Outer joins on the rule's join form: the GiST indexes find each building's
    # grid in both layouts in one pass, and a building in no grid keeps a NULL.
    return (
        sa.select(
            Building.code,
            Building.name,
            Building.geom,
            units.label("units"),
            sa.func.coalesce(Building.households, 0).label("households"),
            before.code.label("before"),
            after.code.label("after"),
        )
        .select_from(Building)
        .outerjoin(
            before, sa.and_(before.layout_id == against.id, building_in_grid(Building, before))
        )
        .outerjoin(after, sa.and_(after.layout_id == layout.id, building_in_grid(Building, after)))
        .where(Building.community_id == layout.community_id)
        .cte("placed")
    )


def _grids(session: Session, placed: sa.CTE, layout: Layout, against: Layout) -> list[GridChange]:
    """Every grid code of either layout with its totals in each."""

    def totals(side: str, of: Layout) -> sa.Subquery:
        code = placed.c[side]
        figures = (
            sa.select(
                code.label("code"),
                sa.func.count().label("buildings"),
                sa.func.sum(placed.c.units).label("units"),
                sa.func.sum(placed.c.households).label("households"),
            )
            .where(code.is_not(None))
            .group_by(code)
            .subquery(f"{side}_figures")
        )
        # Grids without a building are still grids of the layout: an outer join.
        return (
            sa.select(
                Grid.code,
                Grid.name,
                sa.func.coalesce(figures.c.buildings, 0).label("buildings"),
                sa.func.coalesce(figures.c.units, 0).label("units"),
                sa.func.coalesce(figures.c.households, 0).label("households"),
            )
            .outerjoin(figures, figures.c.code == Grid.code)
            .where(Grid.layout_id == of.id)
            .subquery(f"{side}_grids")
        )

    old, new = totals("before", against), totals("after", layout)
    rows = session.execute(
        sa.select(
            sa.func.coalesce(new.c.code, old.c.code).label("code"),
            sa.func.coalesce(new.c.name, old.c.name).label("name"),
            old.c.code.is_not(None).label("in_before"),
            old.c.buildings.label("old_buildings"),
            old.c.units.label("old_units"),
            old.c.households.label("old_households"),
            new.c.code.is_not(None).label("in_after"),
            new.c.buildings.label("new_buildings"),
            new.c.units.label("new_units"),
            new.c.households.label("new_households"),
        )
        .select_from(old.join(new, old.c.code == new.c.code, full=True))
        .order_by("code")
    )
    grids = []
    for row in rows:
        before = (
            Figures(int(row.old_buildings), int(row.old_units), int(row.old_households))
            if row.in_before
            else None
        )
        after = (
            Figures(int(row.new_buildings), int(row.new_units), int(row.new_households))
            if row.in_after
            else None
        )
        if before is not None and after is not None:
            change = KEPT
        else:
            change = APPEARING if after is not None else DISAPPEARING
        grids.append(GridChange(row.code, row.name, change, before, after))
    return grids
