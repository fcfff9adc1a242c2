"""Who is asking, and may they: principals, declared permissions, CSRF, headers.

- :mod:`web.security.gate` — every endpoint declares its permission
  (:func:`requires`); anything undeclared is refused (default deny).
- :mod:`web.security.principals` — API keys, sessions on the server, logins.
- :mod:`web.security.csrf` — tokens for cookie-authenticated writes.
- :mod:`web.security.headers` — CSP with nonces and the other headers.
- :mod:`web.security.keys` — the cookie-signing key (refused if weak), secure cookies.

Views import what they need from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask

from gridgis.config import Settings
from gridgis.maps.offline import TileSpec
from web.security.csrf import CSRF_FAILED, CSRF_FIELD, CSRF_HEADER, CsrfFailed, csrf_token
from web.security.gate import (
    FORBIDDEN_PAGE,
    PERMISSION_ATTR,
    check_access,
    permission_of,
    requires,
    safe_next,
)
from web.security.headers import csp_nonce, set_security_headers, tile_sources
from web.security.keys import SECRET_KEY_FILE, check_secret_key, secret_key, secure_cookies
from web.security.principals import (
    IDLE_TIMEOUT,
    SESSION_ENDED,
    SESSION_LIFETIME,
    client_address,
    current_principal,
    end_login,
    login_pepper,
    session_token,
    start_login,
)

__all__ = [
    "CSRF_FAILED",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "FORBIDDEN_PAGE",
    "PERMISSION_ATTR",
    "SESSION_ENDED",
    "CsrfFailed",
    "check_access",
    "client_address",
    "csp_nonce",
    "csrf_token",
    "current_principal",
    "default_config",
    "end_login",
    "init_app",
    "login_pepper",
    "permission_of",
    "requires",
    "safe_next",
    "session_token",
    "start_login",
]


def default_config(settings: Settings) -> dict[str, Any]:
    """Session and rate-limit settings, before the caller's test config overrides them."""
    return {
        "SESSION_COOKIE_NAME": "gridgis_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies(settings),
        "PERMANENT_SESSION_LIFETIME": SESSION_LIFETIME,
        # The cookie is re-sent when it changes (login, logout), not on every
        # response: the idle clock is kept on the server.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "GRIDGIS_IDLE_TIMEOUT": IDLE_TIMEOUT,
    }


def init_app(app: Flask, settings: Settings, tiles: Sequence[TileSpec]) -> None:
    configured = app.config.get("SECRET_KEY")
    if configured:
        # Given in the config (tests), it is held to the rule for GRIDGIS_SECRET_KEY.
        check_secret_key(str(configured))
    else:
        path = Path(app.config.get("GRIDGIS_SECRET_KEY_FILE") or SECRET_KEY_FILE)
        app.config["SECRET_KEY"] = secret_key(settings, path)
    app.extensions["gridgis_img_src"] = tile_sources(tiles)
    app.before_request(check_access)
    app.after_request(set_security_headers)

    @app.context_processor
    def security_context() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "csp_nonce": csp_nonce,
            "principal": current_principal(),
        }
