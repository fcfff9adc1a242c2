"""Front-end libraries served by the app itself: no CDN, ever (DESIGN.md, Maps).

Leaflet comes from the xstatic-leaflet package (pip); Leaflet.VectorGrid, which
has no Python package, from npm: ``make assets`` installs web/vendor's lock
into web/vendor/node_modules (``npm ci``), and the app serves its ``dist``.
"""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet  # type: ignore[import-untyped]
from flask import Blueprint, Response, send_from_directory

from gridgis.access.permissions import PUBLIC
from gridgis.errors import GridgisError
from web.security import requires

#: leaflet.js, leaflet.css and images/ (layer-control and marker icons).
LEAFLET_DIR = xstatic.pkg.leaflet.BASE_DIR
#: Leaflet.VectorGrid's build, as npm installs it (web/vendor/package-lock.json).
VECTORGRID_DIR = Path(__file__).parent / "vendor/node_modules/leaflet.vectorgrid/dist"
#: The one file of it a page loads (VectorGrid with its decoders, pbf and vector-tile).
VECTORGRID_JS = "Leaflet.VectorGrid.bundled.min.js"
#: The files change only with the package; let browsers keep them a day.
MAX_AGE = 24 * 3600

bp = Blueprint("assets", __name__)


class AssetsMissing(GridgisError):
    """A front-end library was not installed on this server."""

    http_status = 500


@bp.get("/static/vendor/leaflet/<path:filename>")
@requires(PUBLIC)
def leaflet(filename: str) -> Response:
    """A file of the Leaflet distribution (send_from_directory refuses ``..``)."""
    return send_from_directory(LEAFLET_DIR, filename, max_age=MAX_AGE)


# Only map pages load it, so only people who may see maps need it.
@bp.get("/static/vendor/vectorgrid/<path:filename>")
@requires("map:view")
def vectorgrid(filename: str) -> Response:
    """A file of Leaflet.VectorGrid's ``dist`` (the city map and large communities)."""
    check_vectorgrid()
    return send_from_directory(VECTORGRID_DIR, filename, max_age=MAX_AGE)


def vectorgrid_installed() -> bool:
    return (VECTORGRID_DIR / VECTORGRID_JS).is_file()


def check_vectorgrid() -> None:
    """Raise AssetsMissing, saying how to install it, unless VectorGrid is in place."""
    if not vectorgrid_installed():
        raise AssetsMissing(
            f"Leaflet.VectorGrid is not installed ({VECTORGRID_DIR / VECTORGRID_JS} is "
            "missing): run `make assets` (npm ci in web/vendor) on this server."
        )
