"""Rate limits (Flask-Limiter): logins per address, API requests per client.

The login limit covers every POST of the ``auth`` blueprint: logins, and also
password changes (they check a password too) and logouts.

API requests spend the budget of their client: a verified API key, a
logged-in account, else the address. An API key this process has not seen
verified spends its address's budget (:mod:`web.security.ratelimit`), so
made-up keys cannot each open a fresh budget, nor cost more database lookups
than the address's limit.

Counters live in memory, per process: with several gunicorn workers each
keeps its own, so a client may get a few times the limit through. That is
enough against a burst; the hard limit on password guessing is the account
lockout in the database (``gridgis.access.logins.MAX_FAILED_LOGINS``), which every
worker shares. The address is the client's own behind a reverse proxy only when
the proxy is trusted (``GRIDGIS_TRUSTED_PROXIES``: werkzeug's ``ProxyFix``,
installed by :func:`web.create_app`); otherwise it is the proxy's.
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter

from gridgis.errors import N_
from web.security import ratelimit
from web.security.principals import client_address

#: Defaults; tests and deployments change them with these config keys.
LOGIN_RATE = "10 per minute"
API_RATE = "600 per minute"

LOGIN_TOO_FAST = N_("Too many login attempts from your address: wait a minute and try again.")
API_TOO_FAST = N_(
    "Too many requests from this client: slow down, and retry after the number of "
    "seconds in the Retry-After header."
)


def _login_rate() -> str:
    return str(current_app.config.get("GRIDGIS_LOGIN_RATE", LOGIN_RATE))


def _api_rate() -> str:
    # Deployments with a busy hotline system raise it with GRIDGIS_API_RATE.
    default = os.environ.get("GRIDGIS_API_RATE") or API_RATE
    return str(current_app.config.get("GRIDGIS_API_RATE", default))


def init_app(app: Flask, *, login: Blueprint, api: Blueprint | tuple[Blueprint, ...]) -> Limiter:
    """Limit the writes of ``login`` (per address) and every request of ``api``.

    ``api`` may be several blueprints (``/api/v1`` and Open311: both take keys),
    each with its own budget. A blueprint's limit covers the blueprints
    registered under it (``api.layers``...).
    """
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    address = client_address
    limiter = Limiter(address, app=app, storage_uri="memory://", key_prefix="gridgis")
    limiter.limit(_login_rate, methods=["POST"], key_func=address, error_message=LOGIN_TOO_FAST)(
        login
    )
    # Requests with keys not yet verified also share one budget per address
    # across every endpoint: made-up keys spread over endpoints cost no more lookups.
    unverified = limiter.shared_limit(
        _api_rate,
        scope="unverified-keys",
        key_func=address,
        exempt_when=ratelimit.sends_no_unverified_key,
        error_message=API_TOO_FAST,
    )
    for bp in api if isinstance(api, tuple) else (api,):
        limiter.limit(_api_rate, key_func=ratelimit.client_identity, error_message=API_TOO_FAST)(bp)
        unverified(bp)
    ratelimit.init_app(app)
    return limiter
