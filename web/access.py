"""Logging in and out, and changing one's password: ``/login``, ``/logout``, ``/account/password``.

Every attempt is audited: a login with the account's name, a failed one with
the username tried (never the password) and the address it came from. A
failed attempt is committed even though it fails, so the account's failure
count sticks and the lockout (``gridgis.access.accounts``) can happen.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gridgis import audit
from gridgis.access import accounts
from gridgis.access.accounts import AccountLocked, AuthenticationFailed
from gridgis.access.permissions import PUBLIC
from gridgis.errors import InvalidInput
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

bp = Blueprint("auth", __name__)

#: Longest username accepted from the form (the domain allows 64).
MAX_USERNAME = 64
PASSWORDS_DIFFER = "The two new passwords are not the same."
#: Shown for AccountLocked, with the minutes to wait.
ACCOUNT_LOCKED = (
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
    session = db.get_session()
    try:
        user = accounts.authenticate(session, username, password)
    except (AuthenticationFailed, AccountLocked) as exc:
        audit.record(
            session,
            current_principal().actor,
            "login_failed",
            "user",
            username,
            note=f"{type(exc).__name__} from {request.remote_addr}",
        )
        # Committed although the login failed: the failure count must stick.
        session.commit()
        if isinstance(exc, AccountLocked):
            minutes = max(1, exc.retry_after // 60)
            error = _(ACCOUNT_LOCKED).format(minutes=minutes)
            page, status = _login_page(429, error=error, username=username)
            response = Response(page, status, mimetype="text/html")
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return _login_page(401, error=_(exc.user_msg), username=username)
    principal = accounts.principal_for_user(session, user)
    audit.record(
        session, principal.actor, "login", "user", user.username, note=f"from {request.remote_addr}"
    )
    session.commit()
    start_login(user)
    return redirect(target)


@bp.post("/logout")
@requires("account:self")
def logout() -> Response:
    """End this browser's login (a form with a CSRF token: no logout by a link elsewhere)."""
    principal = current_principal()
    session = db.get_session()
    audit.record(session, principal.actor, "logout", "user", principal.name)
    session.commit()
    end_login()
    flash(_("You have logged out."))
    return redirect(url_for("auth.login"))


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
            session, user, request.form.get("old_password", ""), new, actor=principal.actor
        )
    except InvalidInput as exc:
        session.rollback()
        return render_template("password.html", error=_(exc.user_msg)), 400
    session.commit()
    renew_login()  # this browser stays logged in; the others are logged out
    flash(_("Your password has been changed. Other sessions of your account have ended."))
    return redirect(url_for("pages.overview"))
