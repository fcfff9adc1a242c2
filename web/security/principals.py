"""Who is asking: an API key's holder, a logged-in user, or anonymous.

A principal is, in this order: the holder of an API key sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the user of a live
session on the server (:mod:`gridgis.access.sessions`), whose token the
signed cookie carries; else anonymous. The cookie alone proves nothing: once
the session's row is gone (logout, timeout, password change, disable, role
change) the cookie is worth nothing, copied or not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, flash, g, request, session

from gridgis.access import apikeys, logins, sessions
from gridgis.access.permissions import ANONYMOUS, Principal
from gridgis.errors import N_
from gridgis.models import User
from web import db
from web.errors import wants_json
from web.i18n import gettext
from web.security.csrf import CSRF_FIELD

SESSION_ENDED = N_("Your session has ended; please log in again.")
#: How long a login lasts at most, and without any request.
SESSION_LIFETIME = sessions.SESSION_LIFETIME
IDLE_TIMEOUT = sessions.IDLE_TIMEOUT
#: Cookie keys of a login: the session's token, and the account (for rate-limit budgets).
# The name of the cookie's key, not a secret.
_TOKEN = "sid"  # nosec B105
_LOGIN_KEYS = (_TOKEN, "uid")


def principal_from_request() -> Principal:
    """The principal of this request: its API key's, else its session's, else anonymous."""
    key = presented_api_key()
    return _principal_from_key(key) if key is not None else _principal_from_session()


def current_principal() -> Principal:
    """Who is asking (anonymous until :func:`check_access` has found out)."""
    principal = g.get("principal")
    return principal if isinstance(principal, Principal) else ANONYMOUS


def presented_api_key() -> str | None:
    """The API key of the request, from ``Authorization: Bearer`` or ``X-API-Key``.

    Under ``/open311/`` also from the ``api_key`` form or query field: Open311
    clients send it there and set no headers. Nowhere else, so that a link
    cannot carry a key into the rest of the app (or its logs).
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    header = request.headers.get("X-API-Key", "").strip()
    if header or not request.path.startswith("/open311/"):
        return header or None
    return request.values.get("api_key", "").strip() or None


def _principal_from_key(key: str) -> Principal:
    session_ = db.get_session()
    # Raises AuthenticationFailed (401), audited and kept.
    row = apikeys.verify_key(session_, key, source=client_address())
    return apikeys.principal_for_key(row)


def _principal_from_session() -> Principal:
    token = session.get(_TOKEN)
    if token is None:
        if session.get("uid") is not None:  # a login cookie of the old kind: void
            _expired()
        return ANONYMOUS
    user = None
    if isinstance(token, str):
        user = sessions.resume_session(db.get_session(), token, idle=_idle_timeout())
    if user is None:
        _expired()
        return ANONYMOUS
    return logins.principal_for_user(db.get_session(), user)


def _expired() -> None:
    end_login()
    if not wants_json():  # the login page says why it is shown
        flash(gettext(SESSION_ENDED))


def _idle_timeout() -> timedelta:
    value = current_app.config.get("GRIDGIS_IDLE_TIMEOUT", IDLE_TIMEOUT)
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def _lifetime() -> timedelta:
    return current_app.permanent_session_lifetime


def client_address() -> str:
    """The client's address, as the audit log and the login throttle count it."""
    return request.remote_addr or "unknown"


def login_pepper() -> bytes:
    """The server's secret for :func:`gridgis.access.logins.name_key`, from the cookie key.

    Derived, not the cookie key itself, so the two uses never share a value.
    """
    key = current_app.secret_key
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key or b"")
    return hmac.new(raw, b"gridgis login name key", hashlib.sha256).digest()


def start_login(user: User) -> None:
    """Start a session of ``user`` on the server and give this browser its token.

    The browser's cookie is cleared first (no session fixation), and gets a
    fresh CSRF token.
    """
    session.clear()
    token = sessions.start_session(
        db.get_session(),
        user,
        source=client_address(),
        user_agent=request.user_agent.string,
        lifetime=_lifetime(),
    )
    session.permanent = True
    session.update({_TOKEN: token, "uid": user.id})
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def end_login() -> None:
    """Forget this browser's login (CSRF token renewed).

    Its session on the server has ended already: logged out
    (:func:`gridgis.access.logins.log_out`) or found dead and deleted
    (:func:`gridgis.access.sessions.resume_session`).
    """
    for key in _LOGIN_KEYS:
        session.pop(key, None)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def session_token() -> str | None:
    """The token of this browser's session, if it has one."""
    token = session.get(_TOKEN)
    return token if isinstance(token, str) else None
