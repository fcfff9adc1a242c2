"""Checks (校验): what is wrong with a layout, before it is published.

Each problem says what and where: the grid and building codes involved, an
area in square metres where there is one, and a point and a bounding box to
zoom to. Errors are what would make routing or the tallies wrong: land of
the community in no grid (a gap) or in two (an overlap), a building in no
grid or cut by a grid edge (it counts in one grid but stands in two), a grid
in several parts, codes that collide or name another community's grid.
Warnings are worth a planner's look but break nothing: a grid outside the
household band, a grid reaching beyond the community's boundary, a code not
following the 15-digit pattern (DESIGN.md allows free-text codes).

A few statements for the whole layout, in PostGIS: the gaps and what lies
outside the boundary (one union), the overlapping pairs (a self-join on the
GiST index, ``ST_Relate`` before any intersection is built), every building
placed once (the rule of :mod:`gridgis.geo.areas`, :func:`placing.place_all`)
for the grids' households and the buildings in no grid or cut, and the
grids' parts and areas, measured as :mod:`gridgis.planning.tallies` does.

Pieces smaller than ``SLIVER_M2`` are ignored: ST_Union and ST_Difference of
polygons that share edges leave slivers of a few square millimetres that no
planner drew.

Exact duplicate codes cannot be stored (grid codes are unique per layout), so
the duplicate check compares codes as people read them: Unicode-normalised
(full-width digits are digits), trimmed and case-folded. Such codes are an
error: a staff file or a hotline export naming one would match either grid.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import Session

from gridgis.geo.layouts import choose_layout
from gridgis.models import Community, Grid, Layout
from gridgis.planning.placing import place_all, placed_details, robustly
from gridgis.planning.tallies import Tallies, band_of, deviation

#: Pieces smaller than this (m²) are numerical noise, not a planner's gap or overlap.
SLIVER_M2 = 1.0
#: district(6) + street(3) + community(3) + sequence(3) (DESIGN.md).
CODE_PATTERN = re.compile(r"[0-9]{15}")
ERROR, WARNING = "error", "warning"

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Problem:
    """One problem of a layout.

    Attributes:
        severity: ``error`` (blocks publishing) or ``warning``.
        kind: ``gap``, ``overlap``, ``outside_boundary``, ``building_in_no_grid``,
            ``building_cut``, ``grid_in_parts``, ``outside_band``,
            ``duplicate_code``, ``code_pattern``.
        message: One sentence a planner can act on.
        grids: Codes of the grids involved.
        buildings: Codes of the buildings involved.
        area_m2: The area concerned, when there is one.
        point: (lon, lat) to zoom to: a point inside the problem.
        bbox: (min lon, min lat, max lon, max lat) of the problem.
    """

    severity: str
    kind: str
    message: str
    grids: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()
    area_m2: float | None = None
    point: tuple[float, float] | None = None
    bbox: BBox | None = None


@dataclass
class Report:
    """The problems of a layout, errors first, and its buildings in no grid and their
    households (``unplaced``: what :class:`gridgis.planning.tallies.Tallies` counts,
    to give ``tally_grids`` after an edit, since the check places every building)."""

    community: str
    layout: str
    problems: list[Problem] = field(default_factory=list)
    unplaced: tuple[int, int] = (0, 0)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]


def check_layout(session: Session, layout: Layout, *, tallies: Tallies | None = None) -> Report:
    """Every problem of ``layout``, errors first (``tallies``: reuse figures already made).

    No tally is made (incidents, staff, compounds are no check's business).
    A statement GEOS 3.11's relate cannot answer for valid polygons (a
    TopologyException, "side location conflict", where a shared edge was
    drawn twice a hair apart) is asked again with OverlayNG only: robust.
    """
    community = session.get_one(Community, layout.community_id)
    placed = robustly(session, lambda robust: place_all(session, layout, robust=robust))
    shapes = _grid_shapes(session, layout)
    band = tallies.band if tallies else band_of(community)[0]
    held = {c: placed.households.get(s.id, 0) for c, s in shapes.items()}
    held = {g.code: g.households for g in tallies.grids} if tallies else held
    problems = [
        *_tiling(session, layout),
        *robustly(session, lambda robust: _overlaps(session, layout, robust)),
        *robustly(session, lambda r: _buildings(session, layout, placed.to_look_at, r)),
        *_shapes(shapes, held, band),
        *_codes(session, community, layout, list(shapes)),
    ]
    problems.sort(key=lambda p: (p.severity != ERROR, p.kind, p.grids, p.buildings))
    return Report(community.code, layout.name, problems, placed.unplaced)


# Both end with the point and box to zoom to: x, y, min x, min y, max x, max y.
# A piece's grids are those within 1e-7° (about a centimetre) of it: the
# grids it touches, allowing for float noise along shared edges.
_TILING = """
WITH grids AS (SELECT id, code, geom FROM grid WHERE layout_id = :layout),
covered AS (SELECT ST_Union(geom) AS geom FROM grids),
pieces AS (
    SELECT 'gap' AS kind,
           (ST_Dump(ST_Difference(c.boundary,
                COALESCE(v.geom, ST_SetSRID('POLYGON EMPTY'::geometry, 4326))))).geom AS g
    FROM community c, covered v WHERE c.id = :community
    UNION ALL
    SELECT 'outside_boundary', (ST_Dump(ST_Difference(v.geom, c.boundary))).geom
    FROM community c, covered v WHERE c.id = :community AND v.geom IS NOT NULL
),
measured AS (
    SELECT kind, g, ST_Area(g::geography) AS area, ST_PointOnSurface(g) AS p
    FROM pieces WHERE ST_Dimension(g) = 2
)
SELECT m.kind, m.area,
       ST_X(p), ST_Y(p), ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g),
       ARRAY(SELECT gr.code FROM grids gr
             WHERE ST_DWithin(gr.geom, m.g, 1e-7) ORDER BY gr.code) AS near
FROM measured m WHERE m.area >= :sliver ORDER BY m.kind, m.area DESC
"""

_OVERLAPS = """
SELECT a.code, b.code, ST_Area(i.g::geography) AS area,
       ST_X(p), ST_Y(p), ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)
FROM grid a
JOIN grid b ON b.layout_id = a.layout_id AND a.id < b.id AND a.geom && b.geom
CROSS JOIN LATERAL (
    SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS g) i
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(i.g) AS p) pt
WHERE a.layout_id = :layout AND {relate} ST_Area(i.g::geography) >= :sliver
ORDER BY a.code, b.code
"""


def _tiling(session: Session, layout: Layout) -> list[Problem]:
    found = []
    rows = session.execute(
        sa.text(_TILING),
        {"layout": layout.id, "community": layout.community_id, "sliver": SLIVER_M2},
    )
    for kind, area, x, y, x0, y0, x1, y1, near in rows:
        grids = tuple(near)
        beside = f" beside grid(s) {', '.join(grids)}" if grids else ""
        if kind == "gap":
            message = f"{area:,.1f} m² of the community lie in no grid{beside}"
        else:
            message = f"{area:,.1f} m² of grid(s) {', '.join(grids)} lie outside the community"
        found.append(
            Problem(
                ERROR if kind == "gap" else WARNING,
                kind,
                message,
                grids=grids,
                area_m2=float(area),
                point=(float(x), float(y)),
                bbox=(float(x0), float(y0), float(x1), float(y1)),
            )
        )
    return found


def _overlaps(session: Session, layout: Layout, robust: bool) -> list[Problem]:
    # ST_Relate first: it spares the intersection of grids that only touch,
    # but it is GEOS's relate; robust, every intersection is built (OverlayNG).
    relate = "" if robust else "ST_Relate(a.geom, b.geom, '2********') AND"
    statement = sa.text(_OVERLAPS.format(relate=relate))  # nosec B608: a constant
    rows = session.execute(statement, {"layout": layout.id, "sliver": SLIVER_M2})
    return [
        Problem(
            ERROR,
            "overlap",
            f"grids {a} and {b} overlap on {area:,.1f} m²",
            grids=(a, b),
            area_m2=float(area),
            point=(float(x), float(y)),
            bbox=(float(x0), float(y0), float(x1), float(y1)),
        )
        for a, b, area, x, y, x0, y0, x1, y1 in rows
    ]


def _buildings(
    session: Session, layout: Layout, placed: dict[int, int | None], robust: bool
) -> list[Problem]:
    """Buildings in no grid, and buildings their grid does not cover whole (``placed``)."""
    rows = placed_details(session, layout, placed, robust=robust)
    found = []
    for code, grid, area, others, x, y, x0, y0, x1, y1 in rows:
        others = tuple(sorted(others or ()))
        point, bbox = (float(x), float(y)), (float(x0), float(y0), float(x1), float(y1))
        if grid is None:
            partly = f" (part of it lies in grid(s) {', '.join(others)})" if others else ""
            found.append(
                Problem(
                    ERROR,
                    "building_in_no_grid",
                    f"building {code} is in no grid{partly}",
                    grids=others,
                    buildings=(code,),
                    area_m2=float(area),
                    point=point,
                    bbox=bbox,
                )
            )
        elif area >= SLIVER_M2:
            elsewhere = f", in grid(s) {', '.join(others)}" if others else ", in no grid"
            found.append(
                Problem(
                    ERROR,
                    "building_cut",
                    f"building {code} belongs to grid {grid} but {area:,.1f} m² of it lie "
                    f"outside that grid{elsewhere}",
                    grids=(grid, *others),
                    buildings=(code,),
                    area_m2=float(area),
                    point=point,
                    bbox=bbox,
                )
            )
    return found


class _Shape(NamedTuple):
    id: int
    parts: int
    area_m2: float
    bbox: BBox


def _grid_shapes(session: Session, layout: Layout) -> dict[str, _Shape]:
    """Code -> id, parts, area and box of every grid of ``layout``, by code."""
    # Parts and area as tallies.py measures them (its GridTally.parts, area_m2).
    rows = session.execute(
        sa.select(
            Grid.code,
            Grid.id,
            sa.func.ST_NumGeometries(sa.func.ST_Multi(Grid.geom)),
            sa.func.ST_Area(sa.cast(Grid.geom, Geography)),
            sa.func.ST_XMin(Grid.geom),
            sa.func.ST_YMin(Grid.geom),
            sa.func.ST_XMax(Grid.geom),
            sa.func.ST_YMax(Grid.geom),
        )
        .where(Grid.layout_id == layout.id)
        .order_by(Grid.code)
    )
    return {
        code: _Shape(id_, int(parts), float(area), (float(x0), float(y0), float(x1), float(y1)))
        for code, id_, parts, area, x0, y0, x1, y1 in rows
    }


def _shapes(
    shapes: dict[str, _Shape], households: dict[str, int], band: tuple[int, int]
) -> list[Problem]:
    """Grids in several parts (errors) and outside the band (warnings)."""
    low, high = band
    found = []
    for code, shape in shapes.items():
        if shape.parts > 1:
            found.append(
                Problem(
                    ERROR,
                    "grid_in_parts",
                    f"grid {code} is in {shape.parts} separate parts",
                    grids=(code,),
                    area_m2=shape.area_m2,
                    bbox=shape.bbox,
                )
            )
        held = households.get(code, 0)
        off = deviation(held, band)
        if off:
            side = "below" if off < 0 else "above"
            found.append(
                Problem(
                    WARNING,
                    "outside_band",
                    f"grid {code} has {held} households, {abs(off)} {side} the band {low}-{high}",
                    grids=(code,),
                    bbox=shape.bbox,
                )
            )
    return found


def normalised_code(code: str) -> str:
    """A code as people read it: NFKC (full-width digits are digits), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", code).strip().casefold()


def uses_pattern(codes: list[str]) -> bool:
    """Whether codes follow the 15-digit pattern: at least half of them do."""
    return bool(codes) and 2 * sum(bool(CODE_PATTERN.fullmatch(c)) for c in codes) >= len(codes)


def _codes(
    session: Session, community: Community, layout: Layout, codes: list[str]
) -> list[Problem]:
    found = []
    same: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        same[normalised_code(code)].append(code)
    for group in same.values():
        if len(group) > 1:
            shown = ", ".join(repr(c) for c in sorted(group))
            found.append(
                Problem(
                    ERROR,
                    "duplicate_code",
                    f"grid codes {shown} are the same code as people read it",
                    grids=tuple(sorted(group)),
                )
            )
    # The community's habit is read from the layout in force (else this one):
    # a draft does not get to set it by renaming every grid.
    in_force = choose_layout(session, community, drafts=False)
    usual = codes
    if in_force is not None and in_force.id != layout.id:
        usual = list(session.scalars(sa.select(Grid.code).where(Grid.layout_id == in_force.id)))
    if not uses_pattern(usual):
        return found
    # 15 digits = the community's 12-digit code + a sequence, when its code has that form.
    prefix = community.code if re.fullmatch(r"[0-9]{12}", community.code) else None
    for code in codes:
        if not CODE_PATTERN.fullmatch(code):
            found.append(
                Problem(
                    WARNING,
                    "code_pattern",
                    f"grid code {code!r} does not follow the 15-digit pattern the community's "
                    "grids use (district 6 + street 3 + community 3 + sequence 3)",
                    grids=(code,),
                )
            )
        elif prefix is not None and not code.startswith(prefix):
            found.append(
                Problem(
                    ERROR,
                    "code_pattern",
                    f"grid code {code} starts with {code[:12]}, not with the code of "
                    f"community {prefix}: it names another community's grid",
                    grids=(code,),
                )
            )
    return found
