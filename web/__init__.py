"""The Flask app: an app factory, one blueprint per capability, nothing at import time.

Blueprints are named after the domain's capabilities: ``maps`` (the map
pages), ``access`` (log in and out, passwords), ``audit`` (the audit log),
``api`` (``/api/v1``, with ``api.layers`` and ``api.routing``), and
``assets`` (Leaflet, served by the app itself).

gunicorn runs it as ``web:create_app()``; tests call ``create_app({...})``.
``web`` only parses requests, calls the domain (:mod:`gridgis`) and serialises.

Behind a reverse proxy (docs/deployment.md): ``GRIDGIS_TRUSTED_PROXIES`` says
how many proxies' ``X-Forwarded-For``/``-Proto`` to believe (werkzeug's
``ProxyFix``), so rate limits and the audit log see the client's address;
``GRIDGIS_PUBLIC_URL`` is the address users reach the app at: every request is
taken as arriving there (its scheme and host, whatever Host header a client
sent), so links name it, and https there means Secure cookies and HSTS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gridgis.config import Settings, normalise_database_url
from gridgis.errors import GridgisError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _settings(config: dict[str, Any]) -> Settings:
    """Settings from the environment, overridden by upper-case keys of ``config``.

    ``{"DATABASE_URL": ...}`` sets ``database_url``, ``{"TILES": "xyz"}`` sets
    ``tiles``, and so on for every field of :class:`Settings`.
    """
    settings = Settings.from_env()
    overrides = {
        f.name: config[f.name.upper()]
        for f in dataclasses.fields(Settings)
        if f.name.upper() in config
    }
    if "database_url" in overrides:
        overrides["database_url"] = normalise_database_url(overrides["database_url"])
    return dataclasses.replace(settings, **overrides)


def public_address(settings: Settings) -> tuple[str, str] | None:
    """The scheme and host (with port) of GRIDGIS_PUBLIC_URL; None when it is unset.

    Raises:
        gridgis.errors.GridgisError: It is not an http(s) URL of a host alone, or
            GRIDGIS_TRUSTED_PROXIES is negative (the message names the variable).
    """
    if settings.trusted_proxies < 0:
        raise GridgisError(
            "GRIDGIS_TRUSTED_PROXIES must be the number of reverse proxies in front of "
            f"gridgis (0 when none); got {settings.trusted_proxies}."
        )
    if not settings.public_url:
        return None
    address = _scheme_and_host(settings.public_url.strip())
    if address is None:
        raise GridgisError(
            "GRIDGIS_PUBLIC_URL must be the address users reach gridgis at: a scheme and a "
            "host, such as https://grid.example.gov.cn or http://10.1.2.3:8080 (no path, "
            f"query or user name); got {settings.public_url!r}."
        )
    return address


def _scheme_and_host(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port == 0:  # .port raises on a port not a number
            return None
    except ValueError:
        return None
    if (
        parts.scheme.lower() not in ("http", "https")
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return None
    return parts.scheme.lower(), parts.netloc.lower()


class PublicAddress:
    """WSGI middleware: every request as arriving at the public URL's scheme and host.

    ``request.url``, ``request.is_secure`` and the links ``url_for`` builds then
    name the address users reach the app at, whatever ``Host`` a client (or a
    proxy passing the client's on) sent.
    """

    def __init__(self, app: WSGIApplication, scheme: str, host: str) -> None:
        self.app, self.scheme, self.host = app, scheme, host

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        return self.app(environ, start_response)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, database engine, languages, errors, security, blueprints.

    Every endpoint declares the permission it needs (:func:`web.security.requires`);
    one that declares none is refused.

    Args:
        test_config: Flask config to apply after the environment's settings;
            upper-case names of :class:`gridgis.config.Settings` fields
            (``DATABASE_URL``, ``TILES``...) override those settings.

    Raises:
        gridgis.errors.GridgisError: The tile settings are incomplete, or the
            public URL or trusted proxies are malformed (the message names the
            variable to set), so a bad deployment fails at start-up rather
            than on the first map.
    """
    # Imported here so that importing ``web`` stays free of side effects and cheap.
    from gridgis import clock, incidents, staff
    from gridgis.maps import offline
    from web import (
        access,
        api,
        assets,
        audit,
        city,
        compression,
        db,
        dispatch,
        errors,
        households,
        i18n,
        limits,
        maps,
        my,
        open311,
        plan_edits,
        plan_workspace,
        planning,
        reports,
        security,
    )
    from web import tiles as vector_tiles  # `tiles` below is the base map's

    config = dict(test_config or {})
    settings = _settings(config)
    clock.configure(settings.timezone)
    incidents.configure(settings)
    staff.configure(settings)
    tiles = offline.tile_specs(settings)
    public = public_address(settings)
    app = Flask(__name__)
    app.config.update(
        GRIDGIS_SETTINGS=settings,
        # Uploads (batch routing) beyond this get a 413 that says the limit.
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        **security.default_config(settings),
    )
    if public is not None:
        # Links built outside a request (and the test client) use the public URL too.
        app.config.update(PREFERRED_URL_SCHEME=public[0], SERVER_NAME=public[1])
        app.wsgi_app = PublicAddress(app.wsgi_app, *public)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Outermost: the client's address (and scheme) from the proxies' headers
        # first. Not X-Forwarded-Host: nginx passes a client's own on unless told
        # otherwise, and the public URL names the host.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.config.update(config)
    # Readable Chinese in JSON, and GeoJSON members in their usual order.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db.init_app(app, settings, tiles=tiles)
    i18n.init_app(app, settings.default_language)
    errors.init_app(app)
    # Rate limits first: a burst is refused before it costs a database query.
    limits.init_app(app, login=access.bp, api=(api.bp, open311.bp))
    security.init_app(app, settings, tiles)
    compression.init_app(app)
    for bp in (
        assets.bp,
        access.bp,
        maps.bp,
        dispatch.bp,
        audit.bp,
        api.bp,
        open311.bp,
        my.bp,
        reports.bp,
        households.bp,
        planning.bp,
        plan_workspace.bp,
        plan_edits.bp,
        vector_tiles.bp,
        city.bp,
    ):
        app.register_blueprint(bp)
    return app
