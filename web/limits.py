"""Rate limits (Flask-Limiter): logins per address, API requests per client.

The login limit covers every POST of the ``auth`` blueprint: logins, and also
password changes (they check a password too) and logouts.

Counters live in memory, per process: with several gunicorn workers each
keeps its own, so a client may get a few times the limit through. That is
enough against a burst; the hard limit on password guessing is the account
lockout in the database (``gridgis.access.logins.MAX_FAILED_LOGINS``), which every
worker shares. Behind a reverse proxy, ``request.remote_addr`` is the proxy's
address unless the app is wrapped in werkzeug's ``ProxyFix``.
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from gridgis.errors import N_
from web.security import client_identity

#: Defaults; tests and deployments change them with these config keys.
LOGIN_RATE = "10 per minute"
API_RATE = "600 per minute"

LOGIN_TOO_FAST = N_("Too many login attempts from your address: wait a minute and try again.")
API_TOO_FAST = N_(
    "Too many requests from this client: slow down, and retry after the number of "
    "seconds in the Retry-After header."
)


def _address() -> str:
    return request.remote_addr or "unknown"


def _login_rate() -> str:
    return str(current_app.config.get("GRIDGIS_LOGIN_RATE", LOGIN_RATE))


def _api_rate() -> str:
    # Deployments with a busy hotline system raise it with GRIDGIS_API_RATE.
    default = os.environ.get("GRIDGIS_API_RATE") or API_RATE
    return str(current_app.config.get("GRIDGIS_API_RATE", default))


def init_app(app: Flask, *, login: Blueprint, api: Blueprint) -> Limiter:
    """Limit the writes of ``login`` (per address) and every request of ``api``.

    A blueprint's limit covers the blueprints registered under it (``api.layers``...).
    """
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(_address, app=app, storage_uri="memory://", key_prefix="gridgis")
    limiter.limit(_login_rate, methods=["POST"], key_func=_address, error_message=LOGIN_TOO_FAST)(
        login
    )
    limiter.limit(_api_rate, key_func=client_identity, error_message=API_TOO_FAST)(api)
    return limiter
