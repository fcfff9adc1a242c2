"""The folium map of a community: grids, compounds, buildings and units, with popups.

Drawn on an :class:`~gridgis.maps.offline.OfflineMap` (Leaflet served by the
app, no CDN). Nothing here needs jQuery: popups are bound from plain strings,
never through ``folium.Popup``.

A community map is small (DESIGN.md: its own buildings, inline GeoJSON, canvas
renderer), so the layers from :mod:`gridgis.maps.features` are embedded whole;
past :data:`gridgis.maps.vector.INLINE_LIMIT` features (a district drawn as one
community) its compounds, buildings and units come as vector tiles instead,
with popups of their public fields, and the grids stay inline.
Labels go through a ``gettext`` callable so the web layer can translate them;
this module stays free of Flask.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import folium
import sqlalchemy as sa
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.geo.layouts import choose_layout
from gridgis.maps import features, vector
from gridgis.maps.communities import community_summary, in_scope
from gridgis.maps.offline import AssetsUrl, OfflineMap, TileSpec
from gridgis.maps.popups import (
    BOUNDARY_STYLE,
    COMPOUND_STYLE,
    MAP_CSS,
    UNIT_STYLE,
    Palette,
    building_popup,
    compound_popup,
    grid_popup,
    legend_html,
    unit_popup,
)
from gridgis.models import Community, Compound
from gridgis.staff.roster import team_index

Gettext = Callable[[str], str]


def _identity(text: str) -> str:
    return text


class _MapHandle(MacroElement):
    """Publishes the map and its layer groups as ``window.gridgis`` for page scripts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            window.gridgis = {
                map: {{ this.map.get_name() }},
                layers: {
                {%- for key, group in this.groups.items() %}
                    {{ key|tojson }}: {{ group.get_name() }},
                {%- endfor %}
                },
            };
        {% endmacro %}
        """
    )

    def __init__(self, map_: folium.Map, groups: dict[str, folium.FeatureGroup]) -> None:
        super().__init__()
        self._name = "MapHandle"
        self.map = map_
        self.groups = groups


class _Legend(MacroElement):
    """A legend control with the map's own styles (no external CSS)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function () {
                var legend = L.control({position: "bottomleft"});
                legend.onAdd = function () {
                    var div = L.DomUtil.create("div", "gg-legend leaflet-control");
                    div.innerHTML = {{ this.html|tojson }};
                    L.DomEvent.disableClickPropagation(div);
                    L.DomEvent.disableScrollPropagation(div);
                    // On a phone the map matters more: start folded.
                    if (window.matchMedia("(max-width: 600px)").matches) {
                        div.querySelector("details").open = false;
                    }
                    return div;
                };
                legend.addTo({{ this._parent.get_name() }});
            })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, css: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html
        self.css = css


#: Popups are plain HTML strings in the data: no folium.Popup, hence no jQuery.
_BIND_POPUP = JsCode(
    "function (feature, layer) {"
    " layer.bindPopup(feature.properties.popup, {maxWidth: 280, className: 'gg-popup',"
    "  autoPanPaddingTopLeft: [48, 12], autoPanPaddingBottomRight: [12, 12]});"
    " if (feature.properties.label) {"
    "  layer.bindTooltip(feature.properties.label,"
    "   {permanent: true, direction: 'center', className: 'gg-label'});"
    " }"
    " }"
)


def _for_map(
    collection: dict[str, Any],
    popup: Callable[[dict[str, Any]], str],
    *,
    labelled: bool = False,
) -> dict[str, Any]:
    # The page needs only the shape, the popup and (grids) a label on the map;
    # the API properties stay out of the inline document to keep it small.
    def properties(f: dict[str, Any]) -> dict[str, str]:
        out = {"popup": popup(f)}
        if labelled:
            # Leaflet sets tooltip strings as HTML: escape like the popups.
            out["label"] = escape(f["properties"]["name"])
        return out

    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f["id"],
                "geometry": f["geometry"],
                "properties": properties(f),
            }
            for f in collection["features"]
        ],
    }


def _add_layer(
    group: folium.FeatureGroup,
    collection: dict[str, Any],
    *,
    style: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    # An empty GeoJson would render a styler with no cases; the group stays,
    # so the layer control and window.gridgis look the same for every community.
    if not collection["features"]:
        return
    folium.GeoJson(
        collection, style_function=style, on_each_feature=_BIND_POPUP, control=False
    ).add_to(group)


def build_community_map(
    session: Session,
    community: Community,
    *,
    assets_url: AssetsUrl,
    gettext: Gettext = _identity,
    tiles: Sequence[TileSpec] = (),
    layout_name: str | None = None,
    viewer: Principal | None = None,
    lang: str = "en",
    tile_source: vector.TileSource | None = None,
) -> OfflineMap:
    """The overview map of one community: grids, compounds, buildings, units.

    Args:
        session: The database session.
        community: The community to draw.
        assets_url: Where the app serves the Leaflet files (see OfflineMap).
        gettext: Translates the English labels (layer names, popups, legend).
        tiles: Base layers from :func:`tile_specs` (none: a plain background).
        layout_name: The grid layout to draw (default: the one in force).
        viewer: Who looks: grid staff see only their own area's grids,
            buildings and units; every person's name and phone in the popups
            is shown in full or masked for them
            (:func:`gridgis.access.privacy.sees_staff_contact`). None: the
            whole community, everyone masked.
        lang: The language of names from the role vocabulary (``zh``, ``en``).
        tile_source: Where the page gets vector tiles; None: always inline.

    Returns:
        A map fitted to the community boundary, with one toggleable layer group
        per layer (units start hidden), popups and a legend. ``layer_data``
        holds what each layer draws inline (``tiled``: the layers drawn from
        tiles instead); in the page, ``window.gridgis`` holds the Leaflet map
        and layer groups.
    """
    _ = gettext
    m, boundary, (x0, y0, x1, y1) = community_frame(
        session, community, assets_url=assets_url, tiles=tiles
    )

    # Drafts are plans, for planners and administrators (and the domain's own callers).
    drafts = viewer is None or viewer.can("layout:draft")
    layout = choose_layout(session, community, layout_name, drafts=drafts)
    scope = viewer.scope if viewer is not None else None
    teams = team_index(session, community, layout, viewer=viewer)
    grids = (
        features.grid_collection(session, layout, scope=scope)
        if layout is not None
        else {"type": "FeatureCollection", "features": []}
    )
    empty: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    tiled = tile_source is not None and _too_many(session, community, viewer)
    if tiled:
        compounds = _compound_names(session, community, scope)
        buildings, units = empty, empty
    else:
        compounds = features.compound_collection(session, community, scope=scope)
        buildings = features.building_collection(session, community, scope=scope)
        units = features.unit_collection(session, community, scope=scope)
    palette = Palette.for_layers(grids, compounds)

    names = {
        "grids": _("Grids"),
        "compounds": _("Compounds"),
        "buildings": _("Buildings"),
        "units": _("Units"),
    }
    groups = {
        key: folium.FeatureGroup(name=names[key], show=(key != "units")) for key in features.LAYERS
    }
    for group in groups.values():
        m.add_child(group)
    compound_names = {f["id"]: f["properties"]["name"] for f in compounds["features"]}
    compound_of = {f["id"]: f["properties"]["compound"] for f in buildings["features"]}
    m.layer_data = {
        "grids": _for_map(
            grids, lambda f: grid_popup(f, teams.grids.get(f["id"], []), _, lang), labelled=True
        ),
        # Tiled: the compounds' names only (legend, building popups), no shapes.
        "compounds": _for_map(empty if tiled else compounds, lambda f: compound_popup(f, _)),
        "buildings": _for_map(
            buildings,
            lambda f: building_popup(f, compound_names, teams.buildings.get(f["id"], []), _, lang),
        ),
        "units": _for_map(units, lambda f: unit_popup(f, teams.units.get(f["id"], []), _, lang)),
    }
    styles: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "grids": lambda f: palette.grid_style(f["id"]),
        "compounds": lambda f: COMPOUND_STYLE,
        "buildings": lambda f: palette.building_style(compound_of[f["id"]]),
        "units": lambda f: UNIT_STYLE,
    }
    m.tiled = ()
    if tiled and tile_source is not None:
        m.tiled = ("compounds", "buildings", "units")
        m.add_child(
            vector.VectorSupport(
                tile_source.script_url,
                gettext=_,
                grid_colours=palette.grids,
                compound_colours=palette.compounds,
                compound_names=compound_names,
            )
        )
        for key in m.tiled:
            groups[key].add_child(
                vector.VectorLayer(key, tile_source.tile_url(key, community.code))
            )
    for key in features.LAYERS:
        _add_layer(groups[key], m.layer_data[key], style=styles[key])

    # Drawn after the layers so that the community's edge stays visible on top;
    # not interactive, so clicks reach the grid underneath.
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [boundary]},
        style_function=lambda f: BOUNDARY_STYLE,
        interactive=False,
        control=False,
    ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.add_child(_Legend(legend_html(grids, compounds, palette, _), MAP_CSS))
    m.fit_bounds([[y0, x0], [y1, x1]], padding=(16, 16))
    m.add_child(_MapHandle(m, groups))
    return m


def _too_many(session: Session, community: Community, viewer: Principal | None) -> bool:
    """Whether the area's features are past what a page should inline."""
    scope = viewer.scope if viewer is not None else None
    counts = community_summary(session, community.code, scope=scope)["counts"]
    return sum(counts.values()) > vector.INLINE_LIMIT


def _compound_names(session: Session, community: Community, scope: Any) -> dict[str, Any]:
    """The compounds' codes and names alone (the legend's, and building popups')."""
    rows = session.execute(
        sa.select(Compound.code, Compound.name)
        .where(
            Compound.community_id == community.id,
            sa.true() if scope is None else in_scope("compounds", scope),
        )
        .order_by(Compound.code, Compound.id)
    )
    return {
        "type": "FeatureCollection",
        "features": [{"id": c, "properties": {"name": n}} for c, n in rows],
    }


def community_frame(
    session: Session,
    community: Community,
    *,
    assets_url: AssetsUrl,
    tiles: Sequence[TileSpec] = (),
) -> tuple[OfflineMap, dict[str, Any], tuple[float, float, float, float]]:
    """An empty map of ``community`` with the base layers; its boundary and lon/lat extent.

    The frame every community-wide map starts from (the overview, a layout's
    diff, the planning workspace).
    """
    boundary, (x0, y0, x1, y1) = _boundary(session, community)
    m = map_frame(assets_url, tiles, location=((y0 + y1) / 2, (x0 + x1) / 2), zoom_start=16)
    return m, boundary, (x0, y0, x1, y1)


def map_frame(
    assets_url: AssetsUrl,
    tiles: Sequence[TileSpec],
    *,
    location: tuple[float, float],
    zoom_start: int,
) -> OfflineMap:
    """An empty offline map with the base layers: every map of an area starts from it
    (a community's, and the city's)."""
    m = OfflineMap(
        assets_url=assets_url,
        location=list(location),
        zoom_start=zoom_start,
        prefer_canvas=True,
        control_scale=True,
        position="absolute",
    )
    # Quarter zoom steps let fitBounds fill a phone screen with the community
    # instead of stopping at the next whole zoom level.
    m.options.update(max_zoom=20, min_zoom=3, zoom_snap=0.25)
    for spec in tiles:
        spec.layer().add_to(m)
    return m


def _boundary(
    session: Session, community: Community
) -> tuple[dict[str, Any], tuple[float, float, float, float]]:
    """The community boundary as a GeoJSON Feature, and its lon/lat extent."""
    geom = Community.boundary
    row = session.execute(
        sa.select(
            sa.func.ST_AsGeoJSON(geom, features.COORDINATE_DIGITS, 0),
            sa.func.ST_XMin(geom),
            sa.func.ST_YMin(geom),
            sa.func.ST_XMax(geom),
            sa.func.ST_YMax(geom),
        ).where(Community.id == community.id)
    ).one()
    feature = {
        "type": "Feature",
        "id": community.code,
        "geometry": json.loads(row[0]),
        "properties": {},
    }
    return feature, (row[1], row[2], row[3], row[4])
