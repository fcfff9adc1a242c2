"""The JSON API, ``/api/v1``: one blueprint per capability, under one parent.

- ``GET /api/v1`` (public, here): what the API offers, the permission each
  endpoint needs, and how to authenticate.
- :mod:`web.api.layers`: communities and their layers as GeoJSON.
- :mod:`web.api.routing`: routing a point, an address or a file of incidents.
- :mod:`web.api.incidents`: incidents taken in, listed, read, moved and noted.
- :mod:`web.api.photos`: photos of incidents.
- :mod:`web.api.rates`: the three rates.

Errors are JSON (``web.errors``); every endpoint declares its permission.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from gridgis.access.permissions import PERMISSIONS, PUBLIC
from web.api import incidents, layers, photos, rates, routing
from web.security import CSRF_HEADER, permission_of, requires

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)


@bp.get("")
@requires(PUBLIC)
def discovery() -> Response:
    """What the API offers, what each endpoint needs, and how to authenticate."""
    endpoints = []
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX):
            continue
        permission = permission_of(current_app, rule.endpoint) or "(none: refused)"
        endpoints.append(
            {
                "path": rule.rule,
                "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}),
                "permission": permission,
                "allows": PERMISSIONS.get(permission, ""),
                "summary": _summary(rule.endpoint),
            }
        )
    return jsonify(
        {
            "name": "gridgis API",
            "version": "v1",
            "authentication": {
                "api_key": "Send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                "session": (
                    "Or log in at /login; a logged-in browser sends "
                    f"'{CSRF_HEADER}' with every POST."
                ),
            },
            "endpoints": endpoints,
        }
    )


def _summary(endpoint: str) -> str:
    doc = (current_app.view_functions[endpoint].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


bp.register_blueprint(layers.bp)
bp.register_blueprint(routing.bp)
bp.register_blueprint(incidents.bp)
bp.register_blueprint(photos.bp)
bp.register_blueprint(rates.bp)
