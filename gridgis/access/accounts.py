"""Managing the accounts of people who log in: create, disable, roles, passwords.

Passwords are stored only as argon2id hashes (:mod:`gridgis.access.passwords`).
A password change, a disable or a role change ends every session of the
account on the server (:mod:`gridgis.access.sessions`), so the person is
logged out everywhere at once. Logging in and out is
:mod:`gridgis.access.logins`.

Every write is audited (``gridgis.audit``) in the caller's transaction; the
password hash never goes into the audit log, nor any password into the
application log (usernames at most).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.access.logins import clear_failures
from gridgis.access.passwords import hash_password, validate_password, verify_password
from gridgis.access.sessions import end_sessions
from gridgis.audit import Actor
from gridgis.errors import N_, Conflict, InvalidInput, NotFound
from gridgis.models import USER_ROLES, Community, Staff, User

log = logging.getLogger(__name__)

#: Letters, digits and . _ @ + - ; starting with a letter or digit (so a
#: username can never be read as a spreadsheet formula in an export).
_USERNAME = re.compile(r"^\w[\w.@+-]{0,63}$")

WRONG_PASSWORD = N_("The current password is wrong; nothing was changed.")


class WrongPassword(InvalidInput):
    """The current password given to change it is wrong."""

    #: Its audit entry must be committed although the change fails: repeated
    #: wrong guesses through a hijacked session must show in the audit log.
    keeps_writes = True


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
    ended = end_sessions(session, user)
    session.flush()
    audit.record(
        session,
        actor,
        "disable",
        "user",
        username,
        before=before,
        after={**_fields(user), "sessions_ended": ended},
    )
    log.info("account %s disabled", username)
    return user


def enable_user(session: Session, username: str, *, actor: Actor) -> User:
    """Enable a disabled account again, and forget its failed logins (no more waits).

    Raises:
        NotFound: No such account.
    """
    user = get_user(session, username)
    forgotten = clear_failures(session, user)
    if not user.disabled and not forgotten:
        return user
    before = _fields(user)
    user.disabled = False
    session.flush()
    audit.record(
        session,
        actor,
        "enable",
        "user",
        username,
        before=before,
        after={**_fields(user), "failed_logins_forgotten": forgotten},
    )
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
    ended = end_sessions(session, user)
    session.flush()
    audit.record(
        session,
        actor,
        "set_role",
        "user",
        username,
        before=before,
        after={**_fields(user), "sessions_ended": ended},
    )
    log.info("account %s now has role %s", username, role)
    return user


def change_password(
    session: Session,
    user: User,
    old_password: str | None,
    new_password: str,
    *,
    actor: Actor,
    source: str | None = None,
) -> None:
    """Set a new password; every session of the account ends.

    Args:
        session: The session.
        user: The account.
        old_password: The current password, checked; ``None`` for an
            administrator's reset, which also forgets failed logins.
        new_password: Checked by :func:`validate_password`.
        actor: Who does it, for the audit log.
        source: Where the request came from (the client's address), for the audit log.

    The caller starts a new session afterwards if the person who changed
    their own password should stay logged in.

    Raises:
        WrongPassword: The current password is wrong (audited; the entry is kept).
        InvalidInput: The new password is refused.
    """
    where = f", from {source}" if source else ""
    if old_password is not None and not verify_password(old_password, user.password_hash):
        audit.record(
            session,
            actor,
            "change_password_failed",
            "user",
            user.username,
            note=f"the current password given was wrong{where}",
        )
        log.info("password change of account %s refused: wrong current password", user.username)
        raise WrongPassword(WRONG_PASSWORD)
    validate_password(user.username, new_password)
    user.password_hash = hash_password(new_password)
    ended = end_sessions(session, user)
    if old_password is None:
        clear_failures(session, user)
    session.flush()
    action = "change_password" if old_password is not None else "reset_password"
    audit.record(
        session,
        actor,
        action,
        "user",
        user.username,
        after={"sessions_ended": ended},
        note=f"password changed; its sessions ended{where}",
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
