"""The ``my`` blueprint, shared by the modules of :mod:`web.my`, and response compression.

The phone page must open fast on a weak network: its first screen is Leaflet
(147 KB as served), the page and its data, over 300 KB as they are.
Compressed (``flask-compress``: zstd, brotli or gzip, as the browser accepts)
the same screen is a third of that. Compression is switched on for the whole
app when this blueprint is registered, for scripts, styles and JSON only:

- not HTML pages: they carry the session's CSRF token and reflect the query
  string (the language links), the pair a BREACH attack needs to read a secret
  from compressed sizes over HTTPS;
- not images: JPEG and PNG are compressed already.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask, request
from flask.blueprints import BlueprintSetupState
from flask_compress import Compress
from werkzeug.wrappers import Response

bp = Blueprint("my", __name__, url_prefix="/my")

#: What is worth compressing and holds no secret next to reflected input.
COMPRESSED_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/manifest+json",
    "image/svg+xml",
)


#: Endpoints of static files (ours and Leaflet's), read whole before compressing.
STATIC_ENDPOINTS = ("static", "assets.leaflet")


@bp.record_once
def compress_responses(state: BlueprintSetupState) -> None:
    """Compress the app's scripts, styles and JSON (a test config may set its own types)."""
    app = state.app
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    # flask-compress compresses a streamed answer chunk by chunk and never closes what
    # it streamed from (a static file stays open): no streaming; static files are
    # read whole first (below), which closes them with the response.
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(cast(Flask, app))  # a Flask app: state.app is typed as its sans-IO base
    # Registered after Compress, so it runs before it (Flask runs these in reverse).
    app.after_request(read_static_whole)


def read_static_whole(response: Response) -> Response:
    """A static script or style, read into memory so that it can be compressed (a few KB)."""
    if (
        request.endpoint in STATIC_ENDPOINTS
        and response.is_streamed
        and response.mimetype in COMPRESSED_TYPES
        and response.status_code == 200
    ):
        response.direct_passthrough = False
        response.make_sequence()  # the file is closed when the response is
    return response
