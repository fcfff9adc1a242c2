"""Response compression for the whole app: scripts, styles and JSON only.

The phone page (:mod:`web.my`) must open fast on a weak network: its first
screen is Leaflet (147 KB as served), the page and its data, over 300 KB as
they are. Compressed (``flask-compress``: zstd, brotli or gzip, as the browser
accepts) the same screen is a third of that. Compressed are scripts, styles
and JSON only:

- not HTML pages: they carry the session's CSRF token and reflect the query
  string (the language links), the pair a BREACH attack needs to read a secret
  from compressed sizes over HTTPS;
- not images: JPEG and PNG are compressed already.
"""

from __future__ import annotations

from flask import Flask, request
from flask_compress import Compress
from werkzeug.wrappers import Response

#: What is worth compressing and holds no secret next to reflected input.
COMPRESSED_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/manifest+json",
    "image/svg+xml",
    # Vector tiles: codes, names and shapes (no personal data), a third of their size gzipped.
    "application/vnd.mapbox-vector-tile",
)


#: Endpoints of static files (ours and Leaflet's), read whole before compressing.
STATIC_ENDPOINTS = ("static", "assets.leaflet")


def init_app(app: Flask) -> None:
    """Compress the app's scripts, styles and JSON (a test config may set its own types)."""
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    # flask-compress compresses a streamed answer chunk by chunk and never closes what
    # it streamed from (a static file stays open): no streaming; static files are
    # read whole first (below), which closes them with the response.
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)
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
