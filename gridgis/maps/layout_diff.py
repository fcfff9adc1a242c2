"""The map of a diff (方案对比): a layout's grids outlined, its buildings coloured by change.

Drawn from a :class:`~gridgis.planning.diff.Diff` on an
:class:`~gridgis.maps.offline.OfflineMap` (Leaflet served by the app, no CDN):
the community boundary, the grids of the layout compared as outlines in the
community map's palette, and every building of the community, grey when it
keeps its grid, filled with the colour of the grid it joins when it moves
(dark red when it joins no grid). The legend says so in the caller's language
(``gettext``); this module stays free of Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import folium
from sqlalchemy.orm import Session

from gridgis.maps import features
from gridgis.maps.community import _BIND_POPUP, _Legend, community_frame
from gridgis.maps.offline import AssetsUrl, OfflineMap, TileSpec
from gridgis.maps.popups import BOUNDARY_STYLE, GRID_COLOURS, LOOSE_BUILDING_COLOUR, MAP_CSS
from gridgis.models import Community, Layout
from gridgis.planning.diff import Diff, Move

Gettext = Callable[[str], str]

#: A building that leaves every grid: no grid colour to show, so a warning red.
NO_GRID_COLOUR = "#7f0000"
#: Solid swatches for moved buildings (the community map's grid classes are pale fills).
_CSS = (
    "".join(f".gg-moved-{i} {{ background: {c}; }}\n" for i, c in enumerate(GRID_COLOURS))
    + f".gg-moved-none {{ background: {NO_GRID_COLOUR}; }}\n"
)


def _identity(text: str) -> str:
    return text


def build_layout_diff_map(
    session: Session,
    diff: Diff,
    layout: Layout,
    *,
    assets_url: AssetsUrl,
    gettext: Gettext = _identity,
    tiles: Sequence[TileSpec] = (),
) -> OfflineMap:
    """The community with ``layout``'s grids outlined and its buildings coloured by ``diff``.

    Args:
        session: The database session.
        diff: What ``layout`` changes (:func:`gridgis.planning.diff.diff_named`).
        layout: The layout compared (the diff's ``layout``): its grids are drawn.
        assets_url: Where the app serves the Leaflet files (see OfflineMap).
        gettext: Translates the English labels (legend, popups).
        tiles: Base layers from :func:`~gridgis.maps.offline.tile_specs`.

    Returns:
        A map fitted to the community; ``layer_data`` holds the grids and the
        buildings drawn, each building with its ``change`` (``moved`` or
        ``unchanged``) and, when moved, the grid codes ``from`` and ``to``.
    """
    _ = gettext
    community = session.get_one(Community, layout.community_id)
    m, boundary, (x0, y0, x1, y1) = community_frame(
        session, community, assets_url=assets_url, tiles=tiles
    )

    grids = features.grid_collection(session, layout)
    colours = {
        f["id"]: GRID_COLOURS[i % len(GRID_COLOURS)] for i, f in enumerate(grids["features"])
    }
    moves = {move.building: move for move in diff.moves}
    buildings = features.building_collection(session, community)
    m.layer_data = {
        "grids": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": f["id"],
                    "geometry": f["geometry"],
                    "properties": {
                        "popup": f"<h3>{escape(f['properties']['name'])}</h3>"
                        f"<p>{escape(str(f['id']))}</p>",
                        "colour": colours[f["id"]],
                    },
                }
                for f in grids["features"]
            ],
        },
        "buildings": {
            "type": "FeatureCollection",
            "features": [
                _building(f, moves.get(f["id"]), colours, _) for f in buildings["features"]
            ],
        },
    }
    if m.layer_data["grids"]["features"]:
        folium.GeoJson(
            m.layer_data["grids"],
            name=_("Grids"),
            style_function=lambda f: {
                "color": f["properties"]["colour"],
                "weight": 3,
                "fill": False,
            },
            on_each_feature=_BIND_POPUP,
        ).add_to(m)
    if m.layer_data["buildings"]["features"]:
        folium.GeoJson(
            m.layer_data["buildings"],
            name=_("Buildings"),
            style_function=lambda f: {
                "color": "#333333",
                "weight": 1,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": 0.85,
            },
            on_each_feature=_BIND_POPUP,
        ).add_to(m)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [boundary]},
        style_function=lambda f: BOUNDARY_STYLE,
        interactive=False,
        control=False,
    ).add_to(m)
    m.add_child(_Legend(_legend(grids, colours, _), MAP_CSS + _CSS))
    m.fit_bounds([[y0, x0], [y1, x1]], padding=(16, 16))
    return m


def _building(
    feature: dict[str, Any], move: Move | None, colours: dict[str, str], _: Gettext
) -> dict[str, Any]:
    code = str(feature["id"])
    name = feature["properties"].get("name") or code
    properties: dict[str, str | None]
    if move is None:
        properties = {
            "change": "unchanged",
            "colour": LOOSE_BUILDING_COLOUR,
            "popup": f"<h3>{escape(name)}</h3><p>{escape(_('Keeps its grid'))}</p>",
        }
    else:
        no_grid = _("(no grid)")
        properties = {
            "change": "moved",
            "from": move.before,
            "to": move.after,
            "colour": colours.get(move.after, NO_GRID_COLOUR) if move.after else NO_GRID_COLOUR,
            "popup": f"<h3>{escape(name)}</h3><p>{escape(move.before or no_grid)}"
            f" → {escape(move.after or no_grid)}</p>",
        }
    return {
        "type": "Feature",
        "id": code,
        "geometry": feature["geometry"],
        "properties": properties,
    }


def _legend(grids: dict[str, Any], colours: dict[str, str], _: Gettext) -> str:
    def item(swatch: str, label: str) -> str:
        return f"<li><span class='gg-sw {swatch}'></span>{escape(label)}</li>"

    def heading(label: str) -> str:
        return f"<li class='gg-legend-h'>{escape(label)}</li>"

    lines = [item("gg-sw-line gg-sw-boundary", _("Community boundary"))]
    lines.append(heading(_("Buildings that move, by the grid they join")))
    for f in grids["features"]:
        index = GRID_COLOURS.index(colours[f["id"]])
        lines.append(item(f"gg-sw-building gg-moved-{index}", f["properties"]["name"]))
    lines.append(item("gg-sw-building gg-moved-none", _("(no grid)")))
    lines.append(heading(_("Other buildings")))
    lines.append(item("gg-sw-building gg-loose", _("Keeps its grid")))
    return (
        "<details open><summary>"
        + escape(_("Legend"))
        + f"</summary><ul>{''.join(lines)}</ul></details>"
    )
