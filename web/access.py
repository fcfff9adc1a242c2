"""Logging in and out, and changing one's password: ``/login``, ``/logout``, ``/account/password``.

The views parse the form, call :mod:`gridgis.access.logins` and
:mod:`gridgis.access.accounts` (which audit every attempt, throttle failed
logins and keep the sessions on the server) and give this browser its
session's token; the request's unit of work commits (``web.db``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gridgis.access import accounts, logins
from gridgis.access.logins import AuthenticationFailed
from gridgis.access.permissions import PUBLIC
from gridgis.errors import N_, InvalidInput
from gridgis.models import User
from web import db
from web.i18n import gettext as _
from web.security import (
    client_address,
    current_principal,
    end_login,
    login_pepper,
    requires,
    safe_next,
    session_token,
    start_login,
)

bp = Blueprint("access", __name__)

#: Longest username accepted from the form (the domain allows 64).
MAX_USERNAME = 64
PASSWORDS_DIFFER = N_("The two new passwords are not the same.")


def _login_page(
    status: int, *, error: str | None = None, username: str = "", failed: bool = False
) -> tuple[str, int]:
    return (
        render_template(
            "login.html",
            error=error,
            failed=failed,
            username=username,
            next=safe_next(request.values.get("next")),
        ),
        status,
    )


@bp.route("/login", methods=["GET", "POST"])
@requires(PUBLIC)
def login() -> Response | tuple[str, int]:
    """The login form; a successful login goes on to ``next`` (a path on this site).

    Every failure (unknown name, wrong password, disabled account, an attempt
    that came too soon after failures) gets the same page with status 401.
    """
    target = safe_next(request.values.get("next"))
    if request.method != "POST":
        if current_principal().kind == "user":
            return redirect(target)
        return _login_page(200)
    username = request.form.get("username", "").strip()[: MAX_USERNAME + 1]
    password = request.form.get("password", "")
    if not username or not password:
        return _login_page(400, error=_("Enter your username and password."), username=username)
    session = db.get_session()
    try:
        principal = logins.log_in(
            session, username, password, source=client_address(), pepper=login_pepper()
        )
    except AuthenticationFailed as exc:
        # The view returns, so the unit of work commits the count and the audit entry.
        return _login_page(401, error=_(exc.user_msg), username=username, failed=True)
    user = session.get(User, principal.user_id)
    if user is None:  # log_in just found it: only a concurrent delete gets here
        raise AuthenticationFailed()
    start_login(user)
    if principal.role == "grid_staff" and target == "/":
        # Grid staff work from their own area, on a phone: /my, unless a page was asked for.
        target = url_for("my.page")
    return redirect(target)


@bp.post("/logout")
@requires("account:self")
def logout() -> Response:
    """End this browser's session on the server (a form with a CSRF token: no logout by a link)."""
    logins.log_out(db.get_session(), current_principal(), token=session_token())
    end_login()
    flash(_("You have logged out."))
    return redirect(url_for("access.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account:self")
def password() -> Response | tuple[str, int]:
    """Change one's own password; every session of the account ends, this browser gets a new one."""
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
            session,
            user,
            request.form.get("old_password", ""),
            new,
            actor=principal,
            source=client_address(),
        )
    except InvalidInput as exc:
        # A wrong current password is audited; returning commits the entry.
        return render_template("password.html", error=_(exc.user_msg)), 400
    start_login(user)  # this browser stays logged in, with a new session; the others are out
    flash(_("Your password has been changed. Other sessions of your account have ended."))
    return redirect(url_for("maps.overview"))
