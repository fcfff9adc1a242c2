"""Leaflet, served from the xstatic-leaflet package: no CDN, ever (DESIGN.md, Maps)."""

from __future__ import annotations

import xstatic.pkg.leaflet  # type: ignore[import-untyped]
from flask import Blueprint, Response, send_from_directory

from gridgis.access.permissions import PUBLIC
from web.security import requires

#: leaflet.js, leaflet.css and images/ (layer-control and marker icons).
LEAFLET_DIR = xstatic.pkg.leaflet.BASE_DIR
#: The files change only with the package; let browsers keep them a day.
MAX_AGE = 24 * 3600

bp = Blueprint("assets", __name__)


@bp.get("/static/vendor/leaflet/<path:filename>")
@requires(PUBLIC)
def leaflet(filename: str) -> Response:
    """A file of the Leaflet distribution (send_from_directory refuses ``..``)."""
    return send_from_directory(LEAFLET_DIR, filename, max_age=MAX_AGE)
