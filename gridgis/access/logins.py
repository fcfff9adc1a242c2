"""Logging in and out: passwords checked, failures throttled, every attempt audited.

Failed logins are not met with a lock (which anyone who knows a username could
set off, again and again, against the administrator) but with growing waits,
counted per account *and* address (``login_throttle``):

- From one address, an account (or a name no account has) gets
  ``FREE_FAILURES`` failures in a row; after that each new attempt must wait,
  1 s after the third failure, doubling with each further one, at most
  ``LONGEST_WAIT``. A stranger elsewhere does not slow the owner down.
- Across all addresses, more than ``ACCOUNT_FREE_FAILURES`` failures in a day
  slow the account down the same way (against guessing from many addresses),
  except from the addresses it has logged in from in the last
  ``KNOWN_FOR``: the administrator at their own desk is never held up by
  someone else's guessing.

An attempt that comes before its wait is over is refused without looking at
the password, and everyone gets the same answer in the same time: an unknown
username, a wrong password, a disabled account and a refused attempt all say
:data:`LOGIN_FAILED` with status 401 after one argon2id check (against a dummy
hash where there is no real one to check) and the same database work. A
throttled unknown name is throttled exactly like an account, so the answers
never tell whether an account exists.

Every attempt is audited in the caller's unit of work (the failures say
``keeps_writes``, so counts and audit entries stick). No password is ever
logged or audited, and a name that is no account is stored only as a keyed
hash (people type their password into that field).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access import sessions
from gridgis.access.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from gridgis.access.permissions import ANONYMOUS, ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.errors import N_, GridgisError
from gridgis.models import LoginThrottle, User

log = logging.getLogger(__name__)

#: Failures in a row from one address before attempts from it must wait.
FREE_FAILURES = 3
#: Failures in a day from all addresses before unknown addresses must wait.
ACCOUNT_FREE_FAILURES = 20
#: The first wait; each further failure doubles it ...
FIRST_WAIT = dt.timedelta(seconds=1)
#: ... up to this.
LONGEST_WAIT = dt.timedelta(minutes=15)
#: Failures older than this are forgotten.
FORGET_AFTER = dt.timedelta(days=1)
#: An address an account logged in from stays known to it this long.
KNOWN_FOR = dt.timedelta(days=30)
#: Characters of the keyed hash that stand for a name no account has.
NAME_KEY_LENGTH = 16
#: Forgotten rows deleted per attempt, at most (the index on updated_at finds them).
_PURGE_BATCH = 100

#: The one answer to every failed login (the login page adds what to do about waits).
LOGIN_FAILED = N_("Wrong username or password.")


class AuthenticationFailed(GridgisError):
    """Wrong username or password, a disabled account, or too soon after failures.

    The message never says which.
    """

    http_status = 401
    #: The attempt's count and audit entry must be committed all the same.
    keeps_writes = True

    def __init__(self, user_msg: str = LOGIN_FAILED, **kwargs: Any) -> None:
        super().__init__(user_msg, **kwargs)


def wait_after(failures: int, free: int = FREE_FAILURES) -> dt.timedelta:
    """How long the next attempt waits after ``failures`` in a row (``free`` cost nothing)."""
    if failures < free:
        return dt.timedelta(0)
    # The exponent is capped so that a huge count cannot overflow the timedelta.
    return min(FIRST_WAIT * 2 ** min(failures - free, 20), LONGEST_WAIT)


def address_key(source: str) -> str:
    """The address attempts are counted by: IPv4 as is, IPv6 by its /64 network.

    One IPv6 host usually holds a whole /64, so counting single addresses
    would give it 2**64 fresh counters.
    """
    try:
        address = ipaddress.ip_address(source.strip())
    except ValueError:
        return source.strip()[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def name_key(username: str, pepper: bytes) -> str:
    """How a name that is no account is stored and audited: a keyed hash, never the text.

    Keyed with a secret of the server (``pepper``), so that the hash of a
    password typed into the username field cannot be guessed back from the
    table or an exported audit log.
    """
    digest = hmac.new(pepper, username.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:NAME_KEY_LENGTH]


# -- logging in --------------------------------------------------------------


def log_in(
    session: Session, username: str, password: str, *, source: str, pepper: bytes
) -> Principal:
    """Check a login (throttled by account and address), audit it; return who logged in.

    A success resets the failures from this address, makes it known to the
    account, replaces a hash of older parameters with argon2id and sets
    ``last_login_at``. The session is flushed, never committed.

    Args:
        session: The request's unit of work.
        username: As typed.
        password: As typed.
        source: The client's address.
        pepper: A secret of the server, for :func:`name_key`.

    Raises:
        AuthenticationFailed: Unknown username, wrong password, disabled
            account, or an attempt before its wait is over: the same message,
            after the same work. The attempt is counted and audited first.
    """
    now = clock.now()
    user = session.scalar(sa.select(User).where(User.username == username))
    key = f"user:{user.id}" if user is not None else f"name:{name_key(username, pepper)}"
    address = address_key(source)
    counts = _attempt(session, key, address, now)
    wait = _wait_left(session, counts, now)
    refused = wait > dt.timedelta(0)
    if refused:
        # Refused unchecked: the check is made against the dummy hash only to take
        # the same time, and the real password is never tried.
        verify_password(password, dummy_hash())
        counts.refused += 1
        why = f"too soon, {_seconds(wait)} s to wait"
    elif user is None or user.disabled:
        verify_password(password, dummy_hash())
        why = "unknown username" if user is None else "disabled account"
    elif verify_password(password, user.password_hash):
        counts.failures = 0
        counts.refused = 0
        counts.last_success_at = now
        return _logged_in(session, user, password, source=source, now=now)
    else:
        why = "wrong password"
    if not refused:
        counts.failures += 1
        counts.last_failure_at = now
    session.flush()
    _failed(session, user, key, why=why, source=source, failures=counts.failures)
    raise AuthenticationFailed()


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


def log_out(session: Session, principal: Principal, *, token: str | None) -> None:
    """End the session of ``token`` on the server and audit the logout."""
    if token is not None:
        sessions.end_session(session, token)
    audit.record(session, principal, "logout", "user", principal.name)


def clear_failures(session: Session, user: User) -> int:
    """Forget the failed logins of ``user`` from every address (an administrator's unlock).

    Returns:
        How many failures were forgotten.
    """
    counted = (
        LoginThrottle.account_key == f"user:{user.id}",
        sa.or_(LoginThrottle.failures > 0, LoginThrottle.refused > 0),
    )
    forgotten = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LoginThrottle.failures), 0)).where(*counted)
    )
    session.execute(
        sa.update(LoginThrottle)
        .where(*counted)
        .values(failures=0, refused=0, last_failure_at=None),
        execution_options={"synchronize_session": "fetch"},
    )
    session.flush()
    return int(forgotten or 0)


def recent_failures(session: Session, user: User) -> int:
    """Failed logins of ``user`` in the last day, from every address (for listings)."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LoginThrottle.failures), 0)).where(
                LoginThrottle.account_key == f"user:{user.id}",
                LoginThrottle.last_failure_at > clock.now() - FORGET_AFTER,
            )
        )
        or 0
    )


# -- helpers -----------------------------------------------------------------


def _attempt(session: Session, key: str, address: str, now: dt.datetime) -> LoginThrottle:
    """The counts of ``key`` from ``address``, created if new and locked until the commit.

    The lock makes parallel attempts on one account from one address wait
    for each other, so they cannot all slip in before the first failure counts.
    """
    upsert = (
        insert(LoginThrottle)
        .values(account_key=key, address=address, failures=0, refused=0, updated_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.account_key, LoginThrottle.address],
            set_={"updated_at": now},
        )
        .returning(LoginThrottle)
    )
    counts: LoginThrottle = session.scalars(
        upsert, execution_options={"populate_existing": True}
    ).one()
    # Then rows nobody has needed for a day (a month, for an address known to an
    # account) go, a batch at a time. SKIP LOCKED: this never waits for another
    # attempt, so the only wait of an attempt is the one above, and two attempts
    # cannot end up waiting for each other.
    stale = (
        sa.select(LoginThrottle.account_key, LoginThrottle.address)
        .where(
            LoginThrottle.updated_at < now - FORGET_AFTER,
            sa.or_(
                LoginThrottle.last_success_at.is_(None),
                LoginThrottle.last_success_at < now - KNOWN_FOR,
            ),
        )
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        sa.delete(LoginThrottle).where(
            sa.tuple_(LoginThrottle.account_key, LoginThrottle.address).in_(stale)
        ),
        execution_options={"synchronize_session": False},
    )
    if counts.last_failure_at is not None and now - counts.last_failure_at > FORGET_AFTER:
        counts.failures = 0
    return counts


def _wait_left(session: Session, counts: LoginThrottle, now: dt.datetime) -> dt.timedelta:
    """How long an attempt of ``counts`` must still wait (zero: it may be checked)."""
    ready = now
    if counts.last_failure_at is not None:
        ready = max(ready, counts.last_failure_at + wait_after(counts.failures))
    total, latest = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(LoginThrottle.failures), 0),
            sa.func.max(LoginThrottle.last_failure_at),
        ).where(
            LoginThrottle.account_key == counts.account_key,
            LoginThrottle.last_failure_at > now - FORGET_AFTER,
        )
    ).one()
    known = counts.last_success_at is not None and now - counts.last_success_at <= KNOWN_FOR
    if latest is not None and not known:
        ready = max(ready, latest + wait_after(int(total), ACCOUNT_FREE_FAILURES))
    return ready - now


def _logged_in(
    session: Session, user: User, password: str, *, source: str, now: dt.datetime
) -> Principal:
    principal = principal_for_user(session, user)
    if needs_rehash(user.password_hash):
        # The password is known only now: the old hash becomes argon2id at once.
        user.password_hash = hash_password(password)
        audit.record(
            session,
            principal,
            "rehash_password",
            "user",
            user.username,
            note="password hash upgraded to argon2id at login",
        )
    user.last_login_at = now
    session.flush()
    audit.record(session, principal, "login", "user", user.username, note=f"from {source}")
    return principal


def _failed(
    session: Session, user: User | None, key: str, *, why: str, source: str, failures: int
) -> None:
    after: dict[str, Any] = {"failures_in_a_row": failures}
    entity_id = None
    if user is None:
        # No username in the log or the audit log: people type their password into that
        # field. The keyed hash still tells repeated attempts at one name apart.
        log.info("failed login: %s from %s", why, source)
        after["name_key"] = key.removeprefix("name:")
    else:
        log.info("failed login: %s for %s from %s", why, user.username, source)
        entity_id = user.username
    audit.record(
        session,
        ANONYMOUS,
        "login_failed",
        "user",
        entity_id,
        after=after,
        note=f"{why}, from {source}",
    )


def _seconds(wait: dt.timedelta) -> int:
    return max(1, int(wait.total_seconds() + 0.999))
