"""Vector-tile layers on a folium map (Leaflet.VectorGrid), for areas too big to inline.

A community map inlines its layers as GeoJSON (DESIGN.md: a grid map stays
small); past :data:`INLINE_LIMIT` features, and always on the city map, the
layers come as vector tiles from ``/tiles`` (:mod:`gridgis.maps.tiles`) so the
page holds only what is on screen. Leaflet.VectorGrid (installed by npm,
served by the app like Leaflet) draws them on canvas, with the community map's
colours and popups of the tiles' public fields (no staff, no residents).

VectorGrid 1.3.0 predates Leaflet 1.8 and calls ``L.DomEvent.fakeStop``, which
Leaflet 1.9 no longer has; and its canvas tiles, when interactive, take every
click over them, so a layer underneath (the inline grids, a lower tile layer)
would never get one. So the tiles are drawn non-interactive and one click
listener, ahead of Leaflet's, looks for a feature under the point in each tile
layer, top first (:data:`_SUPPORT_JS`): a building's popup wins over its
grid's, as with inline layers; a click beside every tile feature goes on to
Leaflet (an inline grid's popup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from branca.element import MacroElement
from folium.template import Template

from gridgis.errors import N_
from gridgis.maps.popups import (
    BOUNDARY_STYLE,
    BUILDING_FILL_OPACITY,
    COMPOUND_COLOURS,
    COMPOUND_STYLE,
    GRID_COLOURS,
    GRID_FILL_OPACITY,
    LOOSE_BUILDING_COLOUR,
    UNIT_STYLE,
)
from gridgis.maps.tiles import MIN_ZOOM

__all__ = [
    "INLINE_LIMIT",
    "NATIVE_ZOOM",
    "TileSource",
    "VectorLayer",
    "VectorSupport",
    "labels",
]

Gettext = Callable[[str], str]


@dataclass(frozen=True)
class TileSource:
    """Where a page gets VectorGrid and the tiles (the web layer's URLs).

    Attributes:
        script_url: Leaflet.VectorGrid's script.
        tile_url: ``(layer, community code or None)`` to the layer's tile URL
            template with ``{z}``, ``{x}``, ``{y}``; None: every community's.
        community_url: A community page's URL with ``CODE`` for its code.
    """

    script_url: str
    tile_url: Callable[[str, str | None], str]
    community_url: str | None = None


#: Above this many features (grids, compounds, buildings, units of the area) a
#: community map takes its compounds, buildings and units as vector tiles. Each
#: inline feature costs about 0.5 kB of page and one canvas path redrawn on
#: every pan frame: at 3,000 the page is ~1.5 MB and a pan on a mid-range
#: phone drops below 30 frames a second, while a normal community (a few
#: hundred buildings with their units) stays well under it and keeps its
#: staff popups.
INLINE_LIMIT = 3000

#: Tiles are asked down to this zoom and scaled beyond it. A canvas tile
#: scaled 4× (z16 tiles at z18) blurs footprints visibly; at z18 a tile is
#: ~150 m with a few dozen buildings, and deeper ones would only cost requests.
NATIVE_ZOOM = 18


def labels(_: Gettext) -> dict[str, str]:
    """The popups' words, translated (English message ids, as the inline popups')."""
    words = (
        N_("Community"),
        N_("Grid"),
        N_("Compound"),
        N_("Building"),
        N_("Unit {number}"),
        N_("Code"),
        N_("Layout"),
        N_("Households"),
        N_("Buildings"),
        N_("Units"),
        N_("Property company"),
        N_("Owners' committee"),
        N_("Yes"),
        N_("No"),
        N_("Address"),
        N_("Floors"),
        N_("Not in a compound"),
        N_("Open the community map"),
    )
    return {w: _(w) for w in words}


def _styles() -> dict[str, Any]:
    # The inline layers' styles (gridgis.maps.popups), as VectorGrid wants them.
    return {
        # The city's overview: a solid line (the community map's dashes turn to
        # noise at a thousand small boundaries) and a faint fill to click in.
        "communities": {
            "color": BOUNDARY_STYLE["color"],
            "weight": 1.5,
            "fill": True,
            "fillColor": "#888888",
            "fillOpacity": 0.06,
        },
        "grids": {"weight": 2, "fill": True, "fillOpacity": GRID_FILL_OPACITY},
        "compounds": COMPOUND_STYLE,
        "buildings": {
            "color": "#333333",
            "weight": 1,
            "fill": True,
            "fillOpacity": BUILDING_FILL_OPACITY,
        },
        "units": {**UNIT_STYLE, "fill": True},
    }


class VectorSupport(MacroElement):
    """Loads Leaflet.VectorGrid and defines ``window.ggVector`` (once per map).

    Args:
        script_url: Where the app serves ``Leaflet.VectorGrid.bundled.min.js``.
        gettext: Translates the popups' words.
        grid_colours: A colour per grid code (the legend's); others by a hash of the code.
        compound_colours: A colour per compound code, for its buildings.
        compound_names: Compound names by code, for building popups.
        community_url: A community page's URL with ``CODE`` for the code (the
            city map's popups link there); None: no link.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <script src="{{ this.script_url }}"></script>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            window.ggVector = ({{ this.js }})({{ this._parent.get_name() }},
                {{ this.config|tojson }});
            // After the rest of the map's script: its groups exist (some are drawn
            // before this element) and its view is fitted, so no tile is asked
            // at the zoom the map starts from and leaves at once.
            setTimeout(function () {
                (window.ggVectorPending || []).forEach(function (p) {
                    window.ggVector.add(p[0], p[1]);
                });
                window.ggVectorPending = [];
                window.ggVector.ready = true;
            }, 0);
        {% endmacro %}
        """
    )

    def __init__(
        self,
        script_url: str,
        *,
        gettext: Gettext,
        grid_colours: Mapping[str, str] | None = None,
        compound_colours: Mapping[str, str] | None = None,
        compound_names: Mapping[str, str] | None = None,
        community_url: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "VectorSupport"
        self.script_url = script_url
        self.js = _SUPPORT_JS
        self.config = {
            "labels": labels(gettext),
            "styles": _styles(),
            "palette": {
                "grid": list(GRID_COLOURS),
                "compound": list(COMPOUND_COLOURS),
                "loose": LOOSE_BUILDING_COLOUR,
            },
            "grids": dict(grid_colours or {}),
            "compounds": dict(compound_colours or {}),
            "compoundNames": dict(compound_names or {}),
            "communityUrl": community_url,
        }


class VectorLayer(MacroElement):
    """One tile layer (``grids``, ``buildings``...) added to its parent layer group.

    Args:
        layer: A layer of :data:`gridgis.maps.tiles.LAYERS`.
        url: Its tiles' URL template, with ``{z}``, ``{x}`` and ``{y}``.
        min_zoom: No tiles asked below this zoom (default: the layer's
            :data:`~gridgis.maps.tiles.MIN_ZOOM`, below which tiles are empty).
        max_zoom: None asked above this (the city map hides communities once grids show).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            // Queued: added once the map's script has run (see VectorSupport).
            (window.ggVectorPending = window.ggVectorPending || []).push(
                [{{ this._parent.get_name() }}, {{ this.options|tojson }}]);
        {% endmacro %}
        """
    )

    def __init__(
        self, layer: str, url: str, *, min_zoom: int | None = None, max_zoom: int | None = None
    ) -> None:
        super().__init__()
        self._name = "VectorLayer"
        self.options = {
            "layer": layer,
            "url": url,
            "minZoom": MIN_ZOOM[layer] if min_zoom is None else max(min_zoom, MIN_ZOOM[layer]),
            "maxZoom": max_zoom,
            "maxNativeZoom": NATIVE_ZOOM,
        }


#: ``ggVector``: style functions, popups built from the tiles' properties
#: (escaped here), and the click hit-test over the tile layers (see the
#: module's docstring).
_SUPPORT_JS = """
function (map, cfg) {
  "use strict";
  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) { e._stopped = true; };
  }
  var T = cfg.labels, layers = [], seq = 0;
  var esc = function (v) {
    return String(v === null || v === undefined ? "\\u2014" : v).replace(/[&<>"']/g,
      function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  };
  // FNV-1a: neighbouring codes (G001002, G001003) get unrelated colours; a
  // sum-and-multiply hash painted the city's grids in diagonal stripes.
  var hash = function (s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h = Math.imul(h ^ s.charCodeAt(i), 16777619); }
    return h >>> 0;
  };
  var pick = function (known, list, code) {
    return known[code] || list[hash(String(code)) % list.length];
  };
  var style = function (layer) {
    var base = cfg.styles[layer];
    if (layer === "grids") {
      return function (p) {
        var c = pick(cfg.grids, cfg.palette.grid, p.code);
        return L.extend({}, base, {color: c, fillColor: c});
      };
    }
    if (layer === "buildings") {
      return function (p) {
        var c = p.compound ? pick(cfg.compounds, cfg.palette.compound, p.compound)
                           : cfg.palette.loose;
        return L.extend({}, base, {fillColor: c});
      };
    }
    return function () { return base; };
  };
  var table = function (title, rows, extra) {
    var cells = rows.filter(function (r) { return r[1] !== undefined; }).map(function (r) {
      return "<tr><th>" + esc(T[r[0]]) + "</th><td>" + esc(r[1]) + "</td></tr>";
    }).join("");
    return "<h3>" + esc(title) + "</h3><table>" + cells + "</table>" + (extra || "");
  };
  var popups = {
    communities: function (p) {
      var link = cfg.communityUrl ? "<p><a href=\\"" +
        esc(cfg.communityUrl.replace("CODE", encodeURIComponent(p.code))) + "\\">" +
        esc(T["Open the community map"]) + "</a></p>" : "";
      return table(T.Community + ": " + p.name, [["Code", p.code]], link);
    },
    grids: function (p) {
      return table(T.Grid + ": " + p.name, [["Code", p.code], ["Layout", p.layout],
        ["Households", p.households], ["Buildings", p.buildings]]);
    },
    compounds: function (p) {
      return table(T.Compound + ": " + p.name, [["Code", p.code],
        ["Property company", p.property_company],
        ["Owners' committee", p.has_owners_committee ? T.Yes : T.No]]);
    },
    buildings: function (p) {
      var compound = p.compound ? (cfg.compoundNames[p.compound] || p.compound)
                                : T["Not in a compound"];
      return table(T.Building + ": " + (p.name || p.code), [["Code", p.code],
        ["Address", p.address], ["Compound", compound], ["Floors", p.floors],
        ["Households", p.households], ["Units", p.units]]);
    },
    units: function (p) {
      return table(T["Unit {number}"].replace("{number}", p.number),
        [["Building", p.building], ["Households", p.households]]);
    }
  };
  // The feature of one tile layer under a point, or null; the tile drawn at
  // the layer's own zoom (scaled past maxNativeZoom).
  var hit = function (grid, latlng) {
    if (!grid._map || grid._tileZoom === undefined) { return null; }
    var z = grid._tileZoom, size = grid.getTileSize();
    var pixel = map.project(latlng, z), coords = pixel.unscaleBy(size).floor();
    coords.z = z;
    var tile = grid._vectorTiles && grid._vectorTiles[grid._tileCoordsToKey(coords)];
    if (!tile || !tile._map) { return null; }
    // In the tile's own pixels at its zoom (the paths' space), also when the
    // map is zoomed past maxNativeZoom and the tile is scaled.
    var point = pixel.subtract(coords.scaleBy(size));
    var found = null, outline = grid.ggLayer === "compounds";
    for (var id in tile._layers) {
      var f = tile._layers[id];
      // Bounds are made only for interactive layers: made here, once, instead.
      if (!f._pxBounds && f.makeInteractive) { f.makeInteractive(); }
      // Outlines without fill answer on their line only, as inline ones do.
      var inside = outline ? L.Polyline.prototype._containsPoint.call(f, point, true)
                           : f._containsPoint(point);
      if (inside) { found = f; }
    }
    return found;
  };
  // Before Leaflet sees the click (capture phase): an inline layer's popup
  // stops the click, so a map "click" listener never heard clicks on a grid.
  map.getContainer().addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest(".leaflet-control, .leaflet-popup")) { return; }
    if (map._draggableMoved(map)) { return; }  // the end of a drag, not a click
    var latlng = map.mouseEventToLatLng(e);
    for (var i = layers.length - 1; i >= 0; i--) {
      var grid = layers[i];
      if (!map.hasLayer(grid)) { continue; }
      var f = hit(grid, latlng);
      if (f && f.properties) {
        e.stopPropagation();
        L.popup({maxWidth: 280, className: "gg-popup"}).setLatLng(latlng)
          .setContent(popups[grid.ggLayer](f.properties)).openOn(map);
        return;
      }
    }
  }, true);
  return {
    layers: layers,
    add: function (group, o) {
      var styles = {};
      styles[o.layer] = style(o.layer);
      var grid = L.vectorGrid.protobuf(o.url, {
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: styles,
        interactive: false,
        // Only with an id does VectorGrid keep each tile's renderer (_vectorTiles),
        // which the click hit-test reads; any unique number will do.
        getFeatureId: function () { seq += 1; return seq; },
        maxNativeZoom: o.maxNativeZoom,
        // Keep the tiles of the zoom left until the new ones are in: no blank flash.
        updateWhenZooming: false,
        keepBuffer: 2
      });
      grid.ggLayer = o.layer;
      grid.on("tileerror", function () { window.ggVector.errors++; });
      layers.push(grid);
      // In the group only at the zooms it has tiles for, judged as the tiles' own
      // zoom (rounded): GridLayer's minZoom/maxZoom compare the fractional map
      // zoom when pruning and the rounded one when loading, and at z11.25 left
      // a layer with maxZoom 11 empty.
      var wanted = function (zoom) {
        var z = Math.round(zoom);
        return z >= o.minZoom && (o.maxZoom === null || z <= o.maxZoom);
      };
      var sync = function () {
        var want = wanted(map.getZoom());
        if (want && !group.hasLayer(grid)) { group.addLayer(grid); }
        if (!want && group.hasLayer(grid)) { group.removeLayer(grid); }
      };
      // Out as an animation starts towards a zoom it has no tiles for (else it
      // loads that zoom's tiles on the way); in once the map is at its zoom.
      map.on("zoomanim", function (e) {
        if (!wanted(e.zoom) && group.hasLayer(grid)) { group.removeLayer(grid); }
      });
      map.on("zoom zoomend", sync);
      sync();
      return grid;
    },
    errors: 0,
    ready: false
  };
}
"""
