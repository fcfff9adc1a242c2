"""The city view: communities grouped by district, with their grids' figures, and the city map.

Communities carry the national 12-digit code, district (6) + street (3) +
community (3), e.g. 420111003012: district 420111, street 420111003. The city
page lists the communities under a code prefix (a district, a street, or
none: the whole city), a page at a time, with the figures of each computed in
SQL set-wise for that page only (one grouped statement per layer, each
answered by the owner's index), so a city of thousands of communities costs
the same per page as a town of ten. Codes off the national pattern (imports,
the benchmark's ``BENCH-C0001``) group by what comes before their first ``-``.

Grid staff see the communities their area lies in and the figures of their
area only (:func:`gridgis.maps.communities.in_scope`), as their maps and
layers show them; open incidents are counted only for those who may read
incidents, by the incident rule (:func:`gridgis.incidents.views.visible_to`).

The map is every community's boundary, grids, compounds, buildings and units
as vector tiles (:mod:`gridgis.maps.vector`), fitted to the communities listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import sqlalchemy as sa
from branca.element import MacroElement
from folium.template import Template
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput
from gridgis.geo.layouts import in_force_clause
from gridgis.incidents.views import visible_to
from gridgis.maps import vector
from gridgis.maps.communities import communities_of, in_scope
from gridgis.maps.community import _MapHandle, map_frame
from gridgis.maps.offline import AssetsUrl, OfflineMap, TileSpec
from gridgis.maps.popups import MAP_CSS
from gridgis.maps.vector import TileSource
from gridgis.models import OPEN_STATUSES, Building, Community, Grid, Incident, Layout, Unit

__all__ = ["PER_PAGE", "CityPage", "CommunityFigures", "build_city_map", "city_page", "district_of"]

Gettext = Callable[[str], str]

#: Communities per page: a screenful of rows, and a page's figures in well under a second.
PER_PAGE = 50
#: Below this zoom the city map shows community boundaries; grids from here on
#: (a z12 tile is ~9 km: a district's few hundred grids with their tallies).
GRIDS_FROM = 12
#: Buildings on the city map from here (units a zoom later): see build_city_map.
BUILDINGS_FROM = 14


def district_of(code: Any) -> ColumnElement[str]:
    """The district a community code belongs to: its first 6 digits, else its text before ``-``."""
    return sa.case(
        (code.regexp_match("^[0-9]{12}$"), sa.func.left(code, 6)),
        else_=sa.func.split_part(code, "-", 1),
    )


@dataclass(frozen=True)
class CommunityFigures:
    """One row of the city table (figures of the viewer's area for grid staff)."""

    code: str
    name: str
    layout: str | None
    grids: int
    buildings: int
    units: int
    households: int
    open_incidents: int | None  # None: the viewer may not read incidents


@dataclass(frozen=True)
class CityPage:
    """A page of the city table.

    Attributes:
        prefix: The code prefix listed ('' for the whole city).
        districts: Every district the viewer may see, with its number of communities.
        rows: This page's communities, by code.
        total: Communities under the prefix.
        page: This page (from 1); ``pages`` of them.
        bbox: The extent of the communities under the prefix (lon/lat), or None.
    """

    prefix: str
    districts: list[tuple[str, int]]
    rows: list[CommunityFigures]
    total: int
    page: int
    pages: int
    bbox: tuple[float, float, float, float] | None


def _visible(viewer: Principal) -> ColumnElement[bool]:
    scope = viewer.scope
    return sa.true() if scope is None else Community.id.in_(communities_of(scope))


def city_page(session: Session, viewer: Principal, *, prefix: str = "", page: int = 1) -> CityPage:
    """The communities under ``prefix`` that ``viewer`` may see, page ``page``, with figures.

    Raises:
        InvalidInput: The prefix is not a code's beginning (letters, digits, ``-``,
            ``_``), or the page is not a positive number.
    """
    if len(prefix) > 64 or not all(c.isalnum() or c in "-_" for c in prefix):
        raise InvalidInput(
            f"district= is the beginning of community codes (e.g. 420111 for a district, "
            f"420111003 for a street); got {prefix!r}."
        )
    if page < 1:
        raise InvalidInput(f"page= counts from 1; got {page}.")
    visible = _visible(viewer)
    district = district_of(Community.code)
    districts = [
        (d, n)
        for d, n in session.execute(
            sa.select(district, sa.func.count())
            .where(visible)
            .group_by(district)
            .order_by(district)
        )
    ]
    listed = sa.and_(visible, Community.code.startswith(prefix, autoescape=True))
    total, x0, y0, x1, y1 = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.min(sa.func.ST_XMin(Community.boundary)),
            sa.func.min(sa.func.ST_YMin(Community.boundary)),
            sa.func.max(sa.func.ST_XMax(Community.boundary)),
            sa.func.max(sa.func.ST_YMax(Community.boundary)),
        ).where(listed)
    ).one()
    pages = max(1, -(-total // PER_PAGE))
    rows = _figures(session, viewer, listed, page) if page <= pages else []
    bbox = None if total == 0 else (x0, y0, x1, y1)
    return CityPage(prefix, districts, rows, total, min(page, pages), pages, bbox)


def _figures(
    session: Session, viewer: Principal, listed: ColumnElement[bool], page: int
) -> list[CommunityFigures]:
    """The page's communities with their figures: one grouped statement per layer."""
    scope = viewer.scope
    chosen = (
        sa.select(Community.id, Community.code, Community.name)
        .where(listed)
        .order_by(Community.code)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
        .cte("chosen")
    )
    ids = sa.select(chosen.c.id)

    def scoped(layer: str) -> ColumnElement[bool]:
        return sa.true() if scope is None else in_scope(layer, scope)

    now = clock.now()
    in_force = (
        sa.select(
            Layout.community_id.label("cid"),
            sa.func.min(Layout.name).label("layout"),
            sa.func.count(Grid.id).filter(scoped("grids")).label("grids"),
        )
        .outerjoin(Grid, Grid.layout_id == Layout.id)
        .where(Layout.community_id.in_(ids), in_force_clause(now))
        .group_by(Layout.community_id)
        .subquery("in_force")
    )
    buildings = (
        sa.select(
            Building.community_id.label("cid"),
            sa.func.count().label("n"),
            sa.func.coalesce(sa.func.sum(Building.households), 0).label("households"),
        )
        .where(Building.community_id.in_(ids), scoped("buildings"))
        .group_by(Building.community_id)
        .subquery("buildings")
    )
    units = (
        sa.select(Building.community_id.label("cid"), sa.func.count().label("n"))
        .select_from(Unit)
        .join(Building, Building.id == Unit.building_id)
        .where(Building.community_id.in_(ids), scoped("units"))
        .group_by(Building.community_id)
        .subquery("units")
    )
    reads = viewer.can("incidents:read")
    incidents = (
        sa.select(Incident.community_id.label("cid"), sa.func.count().label("n"))
        .where(
            Incident.community_id.in_(ids),
            Incident.status.in_(OPEN_STATUSES),
            visible_to(viewer) if reads else sa.false(),
        )
        .group_by(Incident.community_id)
        .subquery("incidents")
    )
    zero = sa.literal(0)
    stmt = (
        sa.select(
            chosen.c.code,
            chosen.c.name,
            in_force.c.layout,
            sa.func.coalesce(in_force.c.grids, zero),
            sa.func.coalesce(buildings.c.n, zero),
            sa.func.coalesce(units.c.n, zero),
            sa.func.coalesce(buildings.c.households, zero),
            sa.func.coalesce(incidents.c.n, zero),
        )
        .outerjoin(in_force, in_force.c.cid == chosen.c.id)
        .outerjoin(buildings, buildings.c.cid == chosen.c.id)
        .outerjoin(units, units.c.cid == chosen.c.id)
        .outerjoin(incidents, incidents.c.cid == chosen.c.id)
        .order_by(chosen.c.code)
    )
    return [
        CommunityFigures(code, name, layout, g, b, u, h, n if reads else None)
        for code, name, layout, g, b, u, h, n in session.execute(stmt)
    ]


def build_city_map(
    bbox: tuple[float, float, float, float] | None,
    *,
    assets_url: AssetsUrl,
    tile_source: TileSource,
    gettext: Gettext,
    tiles: Sequence[TileSpec] = (),
    community: str | None = None,
) -> OfflineMap:
    """The map of every community by vector tiles, fitted to ``bbox``.

    Args:
        bbox: What to show first (lon/lat); None: the whole world, zoomed out.
        assets_url: Where the app serves the Leaflet files.
        tile_source: Where the page gets VectorGrid, the tiles and community pages.
        gettext: Translates layer names and popups.
        tiles: Base layers (none: a plain background).
        community: Only this community's tiles (default: every community's).

    Returns:
        A map with one toggleable group per layer (communities below
        :data:`GRIDS_FROM`, then grids; compounds, buildings and units from
        their tiles' zooms; units start hidden); ``window.gridgis`` in the page.
    """
    _ = gettext
    m = map_frame(
        assets_url,
        tiles,
        location=(30.5, 114.3)
        if bbox is None
        else ((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2),
        zoom_start=4 if bbox is None else 12,
    )
    m.add_child(_Css(MAP_CSS))
    m.add_child(
        vector.VectorSupport(
            tile_source.script_url, gettext=_, community_url=tile_source.community_url
        )
    )
    names = {
        "communities": _("Communities"),
        "grids": _("Grids"),
        "compounds": _("Compounds"),
        "buildings": _("Buildings"),
        "units": _("Units"),
    }
    zooms: dict[str, tuple[int | None, int | None]] = {
        "communities": (None, GRIDS_FROM - 1),
        "grids": (GRIDS_FROM, None),
        "compounds": (GRIDS_FROM + 1, None),
        # A zoom past the tiles' own: on the synthetic 1M city a z13 tile held
        # ~7,000 buildings (130 kB) and decoding one stalled a frame for 0.3-0.8 s.
        "buildings": (BUILDINGS_FROM, None),
        "units": (BUILDINGS_FROM + 1, None),
    }
    groups = {}
    for key, name in names.items():
        group = folium.FeatureGroup(name=name, show=(key != "units"))
        low, high = zooms.get(key, (None, None))
        group.add_child(
            vector.VectorLayer(
                key, tile_source.tile_url(key, community), min_zoom=low, max_zoom=high
            )
        )
        m.add_child(group)
        groups[key] = group
    m.tiled = tuple(names)
    folium.LayerControl(collapsed=True).add_to(m)
    if bbox is not None:
        m.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], padding=(16, 16))
    m.add_child(_MapHandle(m, groups))
    return m


class _Css(MacroElement):
    """The map's own styles (popups), inline like the community map's legend CSS."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        """
    )

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "Css"
        self.css = css
