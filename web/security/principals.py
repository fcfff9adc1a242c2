"""Who is asking: an API key's holder, a logged-in user, or anonymous.

A principal is, in this order: the holder of an API key sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the user of a signed
session cookie (still within its lifetime and idle timeout, issued after the
account's ``sessions_valid_from``, account enabled); else anonymous.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, flash, g, request, session

from gridgis import clock
from gridgis.access import apikeys, logins
from gridgis.access.permissions import ANONYMOUS, Principal
from gridgis.errors import N_
from gridgis.models import User
from web import db
from web.errors import wants_json
from web.i18n import gettext
from web.security.csrf import CSRF_FIELD

SESSION_ENDED = N_("Your session has ended; please log in again.")
#: How long a login lasts at most, and without any request.
SESSION_LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(minutes=30)
#: The idle clock is refreshed at most this often (each refresh re-sends the cookie).
_SEEN_RESOLUTION = 60.0
#: Session keys of a login (the CSRF token and flashed messages are kept apart).
_LOGIN_KEYS = ("uid", "iat", "seen")


def principal_from_request() -> Principal:
    """The principal of this request: its API key's, else its session's, else anonymous."""
    key = presented_api_key()
    return _principal_from_key(key) if key is not None else _principal_from_session()


def current_principal() -> Principal:
    """Who is asking (anonymous until :func:`check_access` has found out)."""
    principal = g.get("principal")
    return principal if isinstance(principal, Principal) else ANONYMOUS


def presented_api_key() -> str | None:
    """The API key of the request, from ``Authorization: Bearer`` or ``X-API-Key``."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _principal_from_key(key: str) -> Principal:
    session_ = db.get_session()
    row = apikeys.verify_key(session_, key)  # raises AuthenticationFailed (401)
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
    return logins.principal_for_user(db.get_session(), user)


def _expired() -> None:
    end_login()
    if not wants_json():  # the login page says why it is shown
        flash(gettext(SESSION_ENDED))


def _idle_timeout() -> timedelta:
    value = current_app.config.get("GRIDGIS_IDLE_TIMEOUT", IDLE_TIMEOUT)
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


def start_login(user_id: int) -> None:
    """Make this browser's session a login of the account ``user_id`` (fresh: no fixation)."""
    session.clear()
    now = clock.timestamp()
    session.permanent = True
    session.update(uid=user_id, iat=now, seen=now)
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


def client_identity() -> str:
    """Whose API budget a request spends: its key, its login, else its address."""
    key = presented_api_key()
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    uid = session.get("uid")
    if isinstance(uid, int):
        return f"user:{uid}"
    return f"ip:{request.remote_addr}"
