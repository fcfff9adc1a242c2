"""The Flask app: an app factory, one blueprint per capability, nothing at import time.

Blueprints are named after the domain's capabilities: ``maps`` (the map
pages), ``access`` (log in and out, passwords), ``audit`` (the audit log),
``api`` (``/api/v1``, with ``api.layers`` and ``api.routing``), and
``assets`` (Leaflet, served by the app itself).

gunicorn runs it as ``web:create_app()``; tests call ``create_app({...})``.
``web`` only parses requests, calls the domain (:mod:`gridgis`) and serialises.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask

from gridgis.config import Settings, normalise_database_url


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


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, database engine, languages, errors, security, blueprints.

    Every endpoint declares the permission it needs (:func:`web.security.requires`);
    one that declares none is refused.

    Args:
        test_config: Flask config to apply after the environment's settings;
            upper-case names of :class:`gridgis.config.Settings` fields
            (``DATABASE_URL``, ``TILES``...) override those settings.

    Raises:
        gridgis.errors.GridgisError: The tile settings are incomplete (the
            message names the variable to set), so a bad deployment fails at
            start-up rather than on the first map.
    """
    # Imported here so that importing ``web`` stays free of side effects and cheap.
    from gridgis import clock
    from gridgis.maps import offline
    from web import access, api, assets, audit, db, errors, i18n, limits, maps, security

    config = dict(test_config or {})
    settings = _settings(config)
    clock.configure(settings.timezone)
    tiles = offline.tile_specs(settings)
    app = Flask(__name__)
    app.config.update(
        GRIDGIS_SETTINGS=settings,
        # Uploads (batch routing) beyond this get a 413 that says the limit.
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        **security.default_config(settings),
    )
    app.config.update(config)
    # Readable Chinese in JSON, and GeoJSON members in their usual order.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db.init_app(app, settings, tiles=tiles)
    i18n.init_app(app, settings.default_language)
    errors.init_app(app)
    # Rate limits first: a burst is refused before it costs a database query.
    limits.init_app(app, login=access.bp, api=api.bp)
    security.init_app(app, settings, tiles)
    for bp in (assets.bp, access.bp, maps.bp, audit.bp, api.bp):
        app.register_blueprint(bp)
    return app
