"""Security headers on every response, with a nonce-based Content-Security-Policy.

Scripts and styles are allowed only from our origin or with the request's
nonce; images also from the configured tile servers.

HSTS (``Strict-Transport-Security``) goes on every answer to a request that
came over HTTPS: always when the public URL (``GRIDGIS_PUBLIC_URL``) is
https, since every request is taken as arriving there; behind a trusted proxy
that says ``X-Forwarded-Proto: https``; or when TLS ends in the app's own
server. Browsers ignore it over plain HTTP, so it is not sent there.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from flask import current_app, g, request
from werkzeug.wrappers import Response

from gridgis.maps.offline import TileSpec
from web.security.gate import is_static

#: A year; not includeSubDomains, since other hosts of a government domain may
#: still serve plain HTTP.
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """This response's nonce for inline ``<script>`` and ``<style>`` elements."""
    nonce = g.get("csp_nonce")
    if not nonce:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return str(nonce)


def tile_sources(tiles: Sequence[TileSpec]) -> list[str]:
    """The origins the configured tile layers load images from, for ``img-src``."""
    origins: list[str] = []
    for spec in tiles:
        parts = urlsplit(spec.url)
        hosts = [parts.netloc]
        if "{s}" in parts.netloc:
            hosts = [parts.netloc.replace("{s}", s) for s in spec.subdomains]
        for host in hosts:
            origin = f"{parts.scheme}://{host}"
            if origin not in origins:
                origins.append(origin)
    return origins


def content_security_policy(nonce: str, img_sources: Sequence[str] = ()) -> str:
    img = " ".join(["'self'", "data:", *img_sources])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            f"img-src {img}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    csp = content_security_policy(csp_nonce(), current_app.extensions["gridgis_img_src"])
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), payment=(), usb=(), geolocation=(self)"
    )
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if not is_static(request.endpoint) and "Cache-Control" not in headers:
        # Pages and API answers may hold what only this user may see.
        headers["Cache-Control"] = "no-store"
    return response
