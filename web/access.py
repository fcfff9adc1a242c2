"""Logging in and out, and changing one's password: ``/login``, ``/logout``, ``/account/password``.

The views parse the form, call :mod:`gridgis.access.logins` and
:mod:`gridgis.access.accounts` (which audit every attempt) and keep this
browser's signed session; the request's unit of work commits (``web.db``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gridgis.access import accounts, logins
from gridgis.access.logins import AccountLocked, AuthenticationFailed
from gridgis.access.permissions import PUBLIC
from gridgis.errors import N_, InvalidInput
from gridgis.models import User
from web import db
from web.i18n import gettext as _
from web.security import (
    current_principal,
    end_login,
    renew_login,
    requires,
    safe_next,
    start_login,
)

bp = Blueprint("access", __name__)

#: Longest username accepted from the form (the domain allows 64).
MAX_USERNAME = 64
PASSWORDS_DIFFER = N_("The two new passwords are not the same.")
#: Shown for AccountLocked, with the minutes to wait.
ACCOUNT_LOCKED = N_(
    "Too many failed logins: this account is locked. "
    "Try again in {minutes} min, or ask an administrator to unlock it."
)


def _login_page(status: int, *, error: str | None = None, username: str = "") -> tuple[str, int]:
    return (
        render_template(
            "login.html",
            error=error,
            username=username,
            next=safe_next(request.values.get("next")),
        ),
        status,
    )


@bp.route("/login", methods=["GET", "POST"])
@requires(PUBLIC)
def login() -> Response | tuple[str, int]:
    """The login form; a successful login goes on to ``next`` (a path on this site)."""
    target = safe_next(request.values.get("next"))
    if request.method != "POST":
        if current_principal().kind == "user":
            return redirect(target)
        return _login_page(200)
    username = request.form.get("username", "").strip()[: MAX_USERNAME + 1]
    password = request.form.get("password", "")
    if not username or not password:
        return _login_page(400, error=_("Enter your username and password."), username=username)
    try:
        principal = logins.log_in(
            db.get_session(), username, password, source=request.remote_addr or "unknown"
        )
    except AccountLocked as exc:
        minutes = max(1, exc.retry_after // 60)
        page, status = _login_page(429, error=_(ACCOUNT_LOCKED).format(minutes=minutes))
        response = Response(page, status, mimetype="text/html")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationFailed as exc:
        return _login_page(401, error=_(exc.user_msg), username=username)
    assert principal.user_id is not None
    start_login(principal.user_id)
    return redirect(target)


@bp.post("/logout")
@requires("account:self")
def logout() -> Response:
    """End this browser's login (a form with a CSRF token: no logout by a link elsewhere)."""
    logins.log_out(db.get_session(), current_principal())
    end_login()
    flash(_("You have logged out."))
    return redirect(url_for("access.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account:self")
def password() -> Response | tuple[str, int]:
    """Change one's own password; every other session of the account ends."""
    if request.method != "POST":
        return render_template("password.html", error=None), 200
    principal = current_principal()
    session = db.get_session()
    user = session.get(User, principal.user_id)
    if user is None:  # an API key or a deleted account: nothing to change
        raise InvalidInput("Only a person who logged in has a password to change.")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template("password.html", error=_(PASSWORDS_DIFFER)), 400
    try:
        accounts.change_password(
            session, user, request.form.get("old_password", ""), new, actor=principal
        )
    except InvalidInput as exc:
        return render_template("password.html", error=_(exc.user_msg)), 400
    renew_login()  # this browser stays logged in; the others are logged out
    flash(_("Your password has been changed. Other sessions of your account have ended."))
    return redirect(url_for("maps.overview"))
