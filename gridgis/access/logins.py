"""Logging in and out: passwords checked, failures counted, every attempt audited.

Repeated failed logins lock an account for a while (``MAX_FAILED_LOGINS``,
``LOCKOUT``). Every attempt, good or bad, and every logout is audited here,
in the caller's unit of work: a failed attempt is committed although it
fails (its errors say ``keeps_writes``), so the count sticks. No password is
ever logged or audited, and an unknown username is not logged (people type
their password into that field).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access.passwords import dummy_hash, verify_password
from gridgis.access.permissions import ANONYMOUS, ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.errors import N_, GridgisError
from gridgis.models import User

log = logging.getLogger(__name__)

#: Consecutive failed logins that lock an account ...
MAX_FAILED_LOGINS = 5
#: ... for this long.
LOCKOUT = dt.timedelta(minutes=15)


class AuthenticationFailed(GridgisError):
    """Wrong username or password, or a disabled account (the message never says which)."""

    http_status = 401
    #: The failure count (and its audit entry) must be committed all the same.
    keeps_writes = True

    def __init__(self, user_msg: str = N_("Wrong username or password."), **kwargs: Any) -> None:
        super().__init__(user_msg, **kwargs)


class AccountLocked(GridgisError):
    """Too many failed logins in a row: the account is locked until ``until``."""

    http_status = 429
    keeps_writes = True

    def __init__(self, until: dt.datetime, now: dt.datetime) -> None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(
            "Too many failed logins: this account is locked. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
        self.until = until
        self.retry_after = minutes * 60


# -- logging in --------------------------------------------------------------


def authenticate(session: Session, username: str, password: str) -> User:
    """Check a username and password; return the account.

    A failure increments the account's ``failed_logins``; the
    ``MAX_FAILED_LOGINS``-th in a row locks it until ``now + LOCKOUT``. A
    success resets the count and sets ``last_login_at``. The session is
    flushed, never committed; the failures say ``keeps_writes``, so the
    caller's unit of work commits the count even as it reports the failure
    (or lockout would never happen).

    Args:
        session: The request's session.
        username: As typed.
        password: As typed.

    Raises:
        AuthenticationFailed: Unknown username, wrong password or disabled
            account, all with the same message (and an unknown username costs
            the same scrypt time as a known one, so timing does not tell).
        AccountLocked: The account is locked, even if the password is right.
    """
    now = clock.now()
    user = session.scalar(sa.select(User).where(User.username == username).with_for_update())
    if user is None:
        verify_password(password, dummy_hash())
        # No username in the log: people type their password into that field.
        log.info("failed login: unknown username")
        raise AuthenticationFailed()
    if user.disabled:
        verify_password(password, dummy_hash())
        log.info("failed login: account %s is disabled", user.username)
        raise AuthenticationFailed()
    if user.locked_until is not None:
        if user.locked_until > now:
            log.info("refused login: account %s is locked", user.username)
            raise AccountLocked(user.locked_until, now)
        # The lock has run out: a fresh set of attempts.
        user.locked_until = None
        user.failed_logins = 0
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            audit.record(
                session,
                Principal(kind="user", name=user.username),
                "lock",
                "user",
                user.username,
                after={"failed_logins": user.failed_logins, "locked_until": user.locked_until},
                note=f"locked after {user.failed_logins} failed logins in a row",
            )
            log.warning(
                "account %s locked after %d failed logins", user.username, user.failed_logins
            )
        else:
            log.info("failed login: wrong password for %s", user.username)
        session.flush()
        raise AuthenticationFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user


def principal_for_user(session: Session, user: User) -> Principal:
    """Who ``user`` is for permission checks: role permissions, and grid staff's scope."""
    scope = None
    if user.role == "grid_staff" and user.staff_id is not None:
        scope = scope_for_staff(session, user.staff_id)
    return Principal(
        kind="user",
        name=user.username,
        role=user.role,
        permissions=ROLE_PERMISSIONS.get(user.role, frozenset()),
        user_id=user.id,
        staff_id=user.staff_id,
        scope=scope,
    )


def log_in(session: Session, username: str, password: str, *, source: str) -> Principal:
    """Check a login and audit it; return who logged in.

    Args:
        session: The request's unit of work.
        username: As typed.
        password: As typed.
        source: Where the attempt came from (the client's address), for the log.

    Raises:
        AuthenticationFailed, AccountLocked: As :func:`authenticate`; the
            attempt is audited as ``login_failed`` first.
    """
    try:
        user = authenticate(session, username, password)
    except (AuthenticationFailed, AccountLocked) as exc:
        audit.record(
            session,
            ANONYMOUS,
            "login_failed",
            "user",
            username,
            note=f"{type(exc).__name__} from {source}",
        )
        raise
    principal = principal_for_user(session, user)
    audit.record(session, principal, "login", "user", user.username, note=f"from {source}")
    return principal


def log_out(session: Session, principal: Principal) -> None:
    """Audit the end of ``principal``'s login (the web layer forgets the session)."""
    audit.record(session, principal, "logout", "user", principal.name)
