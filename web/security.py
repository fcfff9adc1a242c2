"""Who is asking, and may they: principals, declared permissions, CSRF, headers.

Every endpoint declares the one permission it needs with :func:`requires`;
:func:`check_access` (a ``before_request`` hook) refuses any endpoint that
declares none (default deny) and any principal without the permission.
``tests/web/test_permissions.py`` walks the URL map to keep it so.

A principal is, in this order: the holder of an API key sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the user of a signed
session cookie (still within its lifetime and idle timeout, issued after the
account's ``sessions_valid_from``, account enabled); else anonymous.

Cookie-authenticated writes carry a CSRF token bound to the session (the
``csrf_token`` form field or the ``X-CSRF-Token`` header); API-key requests
need none (a browser never sends a key on its own).

Every response gets the security headers, with a Content-Security-Policy that
allows scripts and styles only from our origin or with the request's nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from gridgis import clock
from gridgis.access import accounts, apikeys
from gridgis.access.permissions import ANONYMOUS, PERMISSIONS, PUBLIC, Forbidden, Principal
from gridgis.access.scope import Scope
from gridgis.config import PROJECT_ROOT, Settings
from gridgis.errors import GridgisError
from gridgis.maps.community import TileSpec
from gridgis.models import User
from web import db
from web.errors import wants_json
from web.i18n import gettext

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

#: The attribute :func:`requires` sets on a view function.
PERMISSION_ATTR = "gridgis_permission"
#: Endpoints that are not our view functions (Flask's own static files).
PUBLIC_ENDPOINTS = frozenset({"static"})
#: Endpoints that answer without touching the session or the database.
_STATIC_PREFIXES = ("static", "assets.")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FAILED = (
    "This form has expired or did not come from this site (CSRF check failed). "
    "Reload the page and try again."
)
FORBIDDEN_PAGE = "Your account does not allow this page. Ask an administrator if you need it."
SESSION_ENDED = "Your session has ended; please log in again."

#: How long a login lasts at most, and without any request.
SESSION_LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(minutes=30)
#: The idle clock is refreshed at most this often (each refresh re-sends the cookie).
_SEEN_RESOLUTION = 60.0
#: Session keys of a login (the CSRF token and flashed messages are kept apart).
_LOGIN_KEYS = ("uid", "iat", "seen")

#: Where the generated secret key is kept when GRIDGIS_SECRET_KEY is unset.
SECRET_KEY_FILE = PROJECT_ROOT / "var" / "secret_key"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class CsrfFailed(Forbidden):
    """A cookie-authenticated write without the session's CSRF token."""


# --- declaring permissions ----------------------------------------------------


def requires(permission: str) -> Callable[[View], View]:
    """Declare the permission a view needs (``PUBLIC`` for anyone).

    The decorator only records it; :func:`check_access` enforces it before
    the view runs, so a view without the decorator is refused, not open.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}; see gridgis.access.permissions.")

    def mark(view: View) -> View:
        setattr(view, PERMISSION_ATTR, permission)
        return view

    return mark


def permission_of(app: Flask, endpoint: str) -> str | None:
    """The permission ``endpoint`` declared, or None when it declared none."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, PERMISSION_ATTR, None)


def _is_static(endpoint: str | None) -> bool:
    return endpoint is not None and endpoint.startswith(_STATIC_PREFIXES)


# --- principals -----------------------------------------------------------------


def current_principal() -> Principal:
    """Who is asking (anonymous until :func:`check_access` has found out)."""
    principal = g.get("principal")
    return principal if isinstance(principal, Principal) else ANONYMOUS


def personal_access(principal: Principal) -> bool | Scope:
    """How much personal data ``principal`` sees in full.

    True: all of it (administrators). A :class:`Scope`: only what concerns
    the grid staff member's own area. False: none (masked).
    """
    if not principal.can("personal:read"):
        return False
    return principal.scope if principal.scope is not None else True


def presented_api_key() -> str | None:
    """The API key of the request, from ``Authorization: Bearer`` or ``X-API-Key``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _principal_from_key(key: str) -> Principal:
    session_ = db.get_session()
    row = apikeys.verify_key(session_, key)  # raises AuthenticationFailed (401)
    session_.commit()  # last_used_at (written at most once a minute)
    return apikeys.principal_for_key(row)


def _principal_from_session() -> Principal:
    uid, issued, seen = (session.get(k) for k in _LOGIN_KEYS)
    if uid is None:
        return ANONYMOUS
    now = clock.timestamp()
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    idle = _idle_timeout().total_seconds()
    if (
        not isinstance(uid, int)
        or not isinstance(issued, int | float)
        or not isinstance(seen, int | float)
        or now - issued > lifetime
        or now - seen > idle
    ):
        _expired()
        return ANONYMOUS
    user = db.get_session().get(User, uid)
    if user is None or user.disabled or issued < user.sessions_valid_from.timestamp():
        # A password change, a role change or a disable ended this session.
        _expired()
        return ANONYMOUS
    if now - seen > _SEEN_RESOLUTION:
        session["seen"] = now
    return accounts.principal_for_user(db.get_session(), user)


def _expired() -> None:
    end_login()
    if not wants_json():  # the login page says why it is shown
        flash(gettext(SESSION_ENDED))


def _idle_timeout() -> timedelta:
    value = current_app.config.get("GRIDGIS_IDLE_TIMEOUT", IDLE_TIMEOUT)
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def start_login(user: User) -> None:
    """Make this browser's session a login of ``user`` (a fresh session: no fixation)."""
    session.clear()
    now = clock.timestamp()
    session.permanent = True
    session.update(uid=user.id, iat=now, seen=now)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def end_login() -> None:
    """Forget the login of this browser's session (the CSRF token is renewed too)."""
    for key in _LOGIN_KEYS:
        session.pop(key, None)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def renew_login() -> None:
    """Re-issue the current login (after a password change ended older sessions)."""
    now = clock.timestamp()
    session.update(iat=now, seen=now)


# --- CSRF -----------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for forms and page scripts."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Refuse a write that does not carry the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = request.form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not sent
        or not hmac.compare_digest(expected.encode(), sent.encode())
    ):
        raise CsrfFailed(CSRF_FAILED)


# --- the gate -------------------------------------------------------------------


def check_access() -> Response | None:
    """Find the principal, then refuse what it may not do (default deny)."""
    endpoint = request.endpoint
    if request.routing_exception is not None or endpoint is None:
        return None  # 404 and 405 answer as they are
    if _is_static(endpoint) and permission_of(current_app, endpoint) == PUBLIC:
        return None  # no session, no database for static files
    key = presented_api_key()
    principal = _principal_from_key(key) if key is not None else _principal_from_session()
    g.principal = principal

    permission = permission_of(current_app, endpoint)
    if permission is None:
        logger.error("endpoint %s declares no permission: refused (default deny)", endpoint)
        raise Forbidden("This address is not open to anyone (it declares no permission).")
    if not principal.can(permission):
        if principal.kind == "anonymous" and not wants_json():
            return redirect(url_for("auth.login", next=_here()))
        if principal.kind != "anonymous" and not wants_json():
            raise Forbidden(FORBIDDEN_PAGE, details=[f"{permission}: {PERMISSIONS[permission]}"])
        principal.require(permission)  # raises Unauthenticated (401) or Forbidden (403)
    if request.method not in SAFE_METHODS and principal.kind != "apikey":
        check_csrf()
    return None


def _here() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


# --- response headers ---------------------------------------------------------


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
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not _is_static(request.endpoint) and "Cache-Control" not in headers:
        # Pages and API answers may hold what only this user may see.
        headers["Cache-Control"] = "no-store"
    return response


# --- settings -------------------------------------------------------------------


def secret_key(settings: Settings, path: Path = SECRET_KEY_FILE) -> str:
    """GRIDGIS_SECRET_KEY, else a key generated once and kept in ``path`` (mode 600).

    Kept, not generated per start, so that restarts (and every gunicorn
    worker) accept the same session cookies.
    """
    if settings.secret_key and settings.secret_key != Settings().secret_key:
        return settings.secret_key
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)  # another worker was first
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    logger.info("generated a secret key in %s", path)
    return key


def _read_key(path: Path) -> str:
    for _ in range(50):
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        time.sleep(0.01)  # being written by another worker right now
    raise GridgisError(f"{path} is empty: delete it, or set GRIDGIS_SECRET_KEY.")


def secure_cookies(settings: Settings) -> bool:
    """Cookies only over HTTPS, unless GRIDGIS_SECURE_COOKIES=0 or we serve on localhost.

    ``make run`` serves http://127.0.0.1, where secure cookies would never come back.
    """
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return settings.host not in _LOCAL_HOSTS


def client_identity() -> str:
    """Whose API budget a request spends: its key, its login, else its address."""
    key = presented_api_key()
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    uid = session.get("uid")
    if isinstance(uid, int):
        return f"user:{uid}"
    return f"ip:{request.remote_addr}"


# --- wiring ---------------------------------------------------------------------


def default_config(settings: Settings) -> dict[str, Any]:
    """Session and rate-limit settings, before the caller's test config overrides them."""
    return {
        "SESSION_COOKIE_NAME": "gridgis_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies(settings),
        "PERMANENT_SESSION_LIFETIME": SESSION_LIFETIME,
        # The cookie is re-sent when the session changes (login, the idle
        # clock once a minute), not on every response.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "GRIDGIS_IDLE_TIMEOUT": IDLE_TIMEOUT,
    }


def init_app(app: Flask, settings: Settings, tiles: Sequence[TileSpec]) -> None:
    if not app.config.get("SECRET_KEY"):
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
