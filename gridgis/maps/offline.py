"""Maps that load nothing from the internet: Leaflet from the app, tiles as configured.

Government intranets have no internet (DESIGN.md, Maps), so a map page must
not reference a CDN: :class:`OfflineMap` replaces folium's default scripts and
styles (Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers, all from
CDNs) by Leaflet alone, at URLs the caller chooses. The base layer is none,
one XYZ layer, or Tianditu's two (:func:`tile_specs`), and a rendered map is
split into parts for a page of our own (:func:`render_parts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import folium
from branca.element import Figure

from gridgis.config import TILE_MODES, Settings
from gridgis.errors import GridgisError

#: Maps a file name of the Leaflet distribution (``leaflet.js``) to its URL.
AssetsUrl = Callable[[str], str]

TIANDITU_SUBDOMAINS = "01234567"
#: Tianditu WMTS in Web Mercator (``_w``); ``{layer}`` is ``vec`` (roads and
#: areas) or ``cva`` (Chinese annotation), ``{key}`` the subscriber's key.
TIANDITU_URL = (
    "http://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_ATTRIBUTION = "天地图 Tianditu"


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose page loads Leaflet from ``assets_url`` and nothing else.

    Args:
        assets_url: Turns ``leaflet.js`` / ``leaflet.css`` into the URL the app
            serves them at (Leaflet's CSS finds its ``images/`` beside itself).
        **kwargs: As for ``folium.Map``; ``tiles`` defaults to None (no base layer).
    """

    def __init__(self, *, assets_url: AssetsUrl, **kwargs: Any) -> None:
        kwargs.setdefault("tiles", None)
        super().__init__(**kwargs)
        # Instance attributes, not an edit of the class lists: folium's
        # add_js_link mutates those lists in place, for every map in the process.
        self.default_js = [("leaflet", assets_url("leaflet.js"))]
        self.default_css = [("leaflet_css", assets_url("leaflet.css"))]
        #: The GeoJSON drawn per layer (``grids``...), as embedded in the page.
        self.layer_data: dict[str, dict[str, Any]] = {}
        #: The layers drawn from vector tiles rather than inline (gridgis.maps.vector).
        self.tiled: tuple[str, ...] = ()


@dataclass(frozen=True)
class TileSpec:
    """One base-map tile layer, as configured (no network involved)."""

    url: str
    attribution: str
    name: str
    subdomains: str = "abc"
    overlay: bool = False

    def layer(self) -> folium.TileLayer:
        return folium.TileLayer(
            tiles=self.url,
            attr=self.attribution,
            name=self.name,
            subdomains=self.subdomains,
            overlay=self.overlay,
            # The annotation layer belongs with its base layer: no switch of its own.
            control=not self.overlay,
            max_zoom=20,
            max_native_zoom=18,
        )


def tile_specs(settings: Settings) -> list[TileSpec]:
    """The tile layers ``settings`` ask for: none, one XYZ layer, or Tianditu's two.

    Raises:
        GridgisError: The mode is unknown or lacks its URL or key; the message
            names the environment variable to set.
    """
    if settings.tiles == "none":
        return []
    if settings.tiles == "xyz":
        url = settings.tile_url
        if not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise GridgisError(
                "GRIDGIS_TILES=xyz needs GRIDGIS_TILE_URL with {z}, {x} and {y} "
                f"(e.g. http://tiles.intranet/{{z}}/{{x}}/{{y}}.png); got {url!r}."
            )
        attribution = settings.tile_attribution or urlsplit(url).hostname or url
        return [TileSpec(url=url, attribution=attribution, name="base")]
    if settings.tiles == "tianditu":
        key = settings.tianditu_key
        if not key:
            raise GridgisError(
                "GRIDGIS_TILES=tianditu needs a Tianditu key in GRIDGIS_TIANDITU_KEY "
                "(apply at console.tianditu.gov.cn)."
            )
        return [
            TileSpec(
                url=TIANDITU_URL.replace("{layer}", layer).replace("{key}", key),
                attribution=TIANDITU_ATTRIBUTION,
                name=f"tianditu-{layer}",
                subdomains=TIANDITU_SUBDOMAINS,
                overlay=(layer == "cva"),
            )
            for layer in ("vec", "cva")
        ]
    raise GridgisError(
        f"GRIDGIS_TILES must be one of {', '.join(TILE_MODES)}; got {settings.tiles!r}."
    )


@dataclass(frozen=True)
class MapParts:
    """A rendered map in three pieces, for embedding in a page template.

    ``header`` goes in ``<head>`` (Leaflet links, styles), ``html`` where the
    map should appear, ``script`` in a ``<script>`` element after it.
    """

    header: str
    html: str
    script: str


def render_parts(m: folium.Map) -> MapParts:
    """Render ``m`` and split the result for a page of our own (folium's Flask recipe)."""
    root = m.get_root()
    if not isinstance(root, Figure):  # folium.Map always lives in a Figure
        raise TypeError("the map is not in a folium Figure")
    root.render()
    return MapParts(
        header=root.header.render(),
        html=root.html.render(),
        script=root.script.render(),
    )
