"""Accounts of people who log in: passwords, lockout, roles, and who they are.

Passwords are stored only as scrypt hashes (memory-hard: 16 MiB per guess).
Repeated failed logins lock an account for a while (``MAX_FAILED_LOGINS``,
``LOCKOUT``). A password change, a disable or a role change moves
``sessions_valid_from`` forward, and the web layer refuses sessions issued
before it, so older sessions die everywhere at once.

Every write is audited (``gridgis.audit``) in the caller's transaction; the
password hash never goes into the audit log, nor any password into the
application log (usernames at most).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock

# Re-exported: callers hash and check passwords through this module.
from gridgis.access.passwords import (  # noqa: F401
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    _dummy_hash,
    hash_password,
    validate_password,
    verify_password,
)
from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.audit import Actor
from gridgis.errors import Conflict, GridgisError, InvalidInput, NotFound
from gridgis.models import USER_ROLES, Community, Staff, User

log = logging.getLogger(__name__)

#: Consecutive failed logins that lock an account ...
MAX_FAILED_LOGINS = 5
#: ... for this long.
LOCKOUT = dt.timedelta(minutes=15)
#: Letters, digits and . _ @ + - ; starting with a letter or digit (so a
#: username can never be read as a spreadsheet formula in an export).
_USERNAME = re.compile(r"^\w[\w.@+-]{0,63}$")


class AuthenticationFailed(GridgisError):
    """Wrong username or password, or a disabled account (the message never says which)."""

    http_status = 401

    def __init__(self, user_msg: str = "Wrong username or password.", **kwargs: Any) -> None:
        super().__init__(user_msg, **kwargs)


class AccountLocked(GridgisError):
    """Too many failed logins in a row: the account is locked until ``until``."""

    http_status = 429

    def __init__(self, until: dt.datetime, now: dt.datetime) -> None:
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(
            "Too many failed logins: this account is locked. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
        self.until = until
        self.retry_after = minutes * 60


# -- logging in --------------------------------------------------------------


def _aware(moment: dt.datetime) -> dt.datetime:
    """A naive time is taken as UTC (the database stores aware times)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def authenticate(
    session: Session, username: str, password: str, *, now: dt.datetime | None = None
) -> User:
    """Check a username and password; return the account.

    A failure increments the account's ``failed_logins``; the
    ``MAX_FAILED_LOGINS``-th in a row locks it until ``now + LOCKOUT``. A
    success resets the count and sets ``last_login_at``. The session is
    flushed, never committed: **the caller commits, on failure too** (the
    raised exception must not roll back the count, or lockout never happens).

    Args:
        session: The request's session.
        username: As typed.
        password: As typed.
        now: The current time (timezone-aware); for tests.

    Raises:
        AuthenticationFailed: Unknown username, wrong password or disabled
            account, all with the same message (and an unknown username costs
            the same scrypt time as a known one, so timing does not tell).
        AccountLocked: The account is locked, even if the password is right.
    """
    now = _aware(now) if now is not None else clock.now()
    user = session.scalar(sa.select(User).where(User.username == username).with_for_update())
    if user is None:
        verify_password(password, _dummy_hash())
        # No username in the log: people type their password into that field.
        log.info("failed login: unknown username")
        raise AuthenticationFailed()
    if user.disabled:
        verify_password(password, _dummy_hash())
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


# -- managing accounts -------------------------------------------------------


def get_user(session: Session, username: str) -> User:
    """The account named ``username``.

    Raises:
        NotFound: No such account.
    """
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No account named {username!r} (see `gridgis user list`).")
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(sa.select(User).order_by(User.username)))


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    staff_code: str | None = None,
    community_code: str | None = None,
    actor: Actor,
) -> User:
    """Create an account (audited; flushed, the caller commits).

    Args:
        session: The session.
        username: Letters, digits and ``. _ @ + -``, up to 64 characters.
        password: Checked by :func:`validate_password`.
        role: One of ``USER_ROLES``.
        staff_code: The staff record this person is (required for
            ``grid_staff``, whose scope it defines).
        community_code: The community of ``staff_code``, when the code is
            used in more than one.
        actor: Who does it, for the audit log (a principal).

    Raises:
        InvalidInput: Bad username, password or role; grid staff without a staff code;
            a staff code used in several communities with no community given.
        NotFound: No such staff member or community.
        Conflict: The username is taken, or the staff member already has an account.
    """
    _check_username(username)
    _check_role(role)
    validate_password(username, password)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken; choose another.")
    staff = _resolve_staff(session, role, staff_code, community_code, username=username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        staff_id=staff.id if staff else None,
        staff=staff,
        disabled=False,
        failed_logins=0,
        # The application's clock, like every later change of it (not the database's).
        sessions_valid_from=clock.now(),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "create", "user", username, after=_fields(user))
    log.info("account %s created (role %s)", username, role)
    return user


def disable_user(session: Session, username: str, *, actor: Actor) -> User:
    """Disable an account: it can no longer log in and its sessions end.

    Raises:
        NotFound: No such account.
        Conflict: It is the last enabled administrator.
    """
    user = get_user(session, username)
    if user.disabled:
        return user
    if user.role == "admin":
        _keep_an_admin(session, user, "disable")
    before = _fields(user)
    user.disabled = True
    user.sessions_valid_from = clock.now()
    session.flush()
    audit.record(session, actor, "disable", "user", username, before=before, after=_fields(user))
    log.info("account %s disabled", username)
    return user


def enable_user(session: Session, username: str, *, actor: Actor) -> User:
    """Enable a disabled account again (and lift any lockout).

    Raises:
        NotFound: No such account.
    """
    user = get_user(session, username)
    if not user.disabled and user.locked_until is None and not user.failed_logins:
        return user
    before = _fields(user)
    user.disabled = False
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(session, actor, "enable", "user", username, before=before, after=_fields(user))
    log.info("account %s enabled", username)
    return user


def set_role(
    session: Session,
    username: str,
    role: str,
    *,
    staff_code: str | None = None,
    community_code: str | None = None,
    actor: Actor,
) -> User:
    """Change an account's role (and staff link); its sessions end.

    A grid staff account needs a staff record: ``staff_code``, or the one the
    account is already linked to.

    Raises:
        InvalidInput, NotFound: As for :func:`create_user`.
        Conflict: The change would leave no enabled administrator.
    """
    _check_role(role)
    user = get_user(session, username)
    if user.role == "admin" and role != "admin" and not user.disabled:
        _keep_an_admin(session, user, "change the role of")
    before = _fields(user)
    if staff_code is not None:
        staff = _resolve_staff(session, role, staff_code, community_code, username=username)
        user.staff = staff
        user.staff_id = staff.id if staff else None
    elif role == "grid_staff" and user.staff_id is None:
        _resolve_staff(session, role, None, community_code, username=username)  # raises
    user.role = role
    user.sessions_valid_from = clock.now()
    session.flush()
    audit.record(session, actor, "set_role", "user", username, before=before, after=_fields(user))
    log.info("account %s now has role %s", username, role)
    return user


def change_password(
    session: Session,
    user: User,
    old_password: str | None,
    new_password: str,
    *,
    actor: Actor,
) -> None:
    """Set a new password; every session of the account issued before now ends.

    Args:
        session: The session.
        user: The account.
        old_password: The current password, checked; ``None`` for an
            administrator's reset, which also lifts a lockout.
        new_password: Checked by :func:`validate_password`.
        actor: Who does it, for the audit log.

    The caller re-issues the current session afterwards if the person who
    changed their own password should stay logged in.

    Raises:
        InvalidInput: The current password is wrong, or the new one is refused.
    """
    if old_password is not None and not verify_password(old_password, user.password_hash):
        raise InvalidInput("The current password is wrong; nothing was changed.")
    validate_password(user.username, new_password)
    user.password_hash = hash_password(new_password)
    user.sessions_valid_from = clock.now()
    if old_password is None:
        user.failed_logins = 0
        user.locked_until = None
    session.flush()
    action = "change_password" if old_password is not None else "reset_password"
    audit.record(
        session,
        actor,
        action,
        "user",
        user.username,
        after={"sessions_valid_from": user.sessions_valid_from},
        note="password changed; older sessions ended",
    )
    log.info("password of account %s changed", user.username)


def has_admin(session: Session) -> bool:
    """True when at least one enabled administrator account exists."""
    return (
        session.scalar(
            sa.select(User.id).where(User.role == "admin", User.disabled.is_(False)).limit(1)
        )
        is not None
    )


# -- helpers -----------------------------------------------------------------


def _fields(user: User) -> dict[str, Any]:
    """The audited fields of an account: never the password hash."""
    return {
        "username": user.username,
        "role": user.role,
        "staff_code": user.staff.code if user.staff is not None else None,
        "disabled": user.disabled,
    }


def _check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise InvalidInput(
            f"The username {username!r} is not allowed: use 1 to 64 letters, digits "
            "and . _ @ + -, starting with a letter or digit."
        )


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise InvalidInput(f"Unknown role {role!r}; the roles are {', '.join(USER_ROLES)}.")


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    others = session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role == "admin", User.disabled.is_(False), User.id != user.id)
    )
    if not others:
        raise Conflict(
            f"Cannot {what} {user.username!r}: it is the only enabled administrator. "
            "Create another administrator first."
        )


def _resolve_staff(
    session: Session,
    role: str,
    staff_code: str | None,
    community_code: str | None,
    *,
    username: str,
) -> Staff | None:
    if staff_code is None:
        if role == "grid_staff":
            raise InvalidInput(
                f"A grid_staff account needs the staff record of the person it belongs to: "
                f"give their staff code (`gridgis user add {username} --role grid_staff "
                "--staff CODE`)."
            )
        return None
    query = sa.select(Staff, Community.code).join(Community).where(Staff.code == staff_code)
    if community_code is not None:
        if session.scalar(sa.select(Community.id).where(Community.code == community_code)) is None:
            raise NotFound(f"No community with the code {community_code!r}.")
        query = query.where(Community.code == community_code)
    found = session.execute(query.order_by(Community.code)).all()
    if not found:
        where = f" in community {community_code}" if community_code else ""
        raise NotFound(
            f"No staff member with the code {staff_code!r}{where}; "
            "import the staff first (`gridgis import staff FILE --community CODE`)."
        )
    if len(found) > 1:
        raise InvalidInput(
            f"The staff code {staff_code!r} is used in several communities "
            f"({', '.join(code for _, code in found)}); say which one with --community."
        )
    staff: Staff = found[0][0]
    taken = session.scalar(
        sa.select(User.username).where(User.staff_id == staff.id, User.username != username)
    )
    if taken is not None:
        raise Conflict(
            f"The staff member {staff_code!r} already has the account {taken!r}; "
            "one person, one account."
        )
    return staff
