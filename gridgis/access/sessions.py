"""Sessions of people who logged in, kept on the server (``user_session``).

Why records on the server rather than a signed cookie checked against a
per-user version: with records, logging out ends *that* session on the
server, so a copied cookie stops working at once (a signed cookie stays valid
until it expires, whatever the browser forgets); an account can be logged out
everywhere, and its sessions listed, with where and when each began; and the
idle timeout is kept here, so the cookie need not be re-sent as the clock
moves. The price, one indexed lookup per request, is small beside the
permission checks that follow it.

The cookie carries a random token (256 bits); the table keeps only its
SHA-256, so reading the table (or a backup) gives no usable cookie. A session
ends when its row is deleted: at logout, at its idle or absolute timeout, and
for every session of the account at a password change, a disable or a role
change (:mod:`gridgis.access.accounts`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.models import User, UserSession

log = logging.getLogger(__name__)

#: How long a session lasts at most, however active.
SESSION_LIFETIME = dt.timedelta(hours=8)
#: How long a session lasts without a request.
IDLE_TIMEOUT = dt.timedelta(minutes=30)
#: ``last_seen_at`` is written at most this often (one write a minute, not one a request).
SEEN_GRAIN = dt.timedelta(minutes=1)
TOKEN_BYTES = 32
_MAX_SOURCE = 64
_MAX_USER_AGENT = 200


def start_session(
    session: Session,
    user: User,
    *,
    source: str | None = None,
    user_agent: str | None = None,
    lifetime: dt.timedelta = SESSION_LIFETIME,
) -> str:
    """Record a new session of ``user``; return its token (for the cookie, nowhere else).

    The login itself is audited by :func:`gridgis.access.logins.log_in`.
    """
    now = clock.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # The account's sessions that have run out go now (nothing else deletes them).
    session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            source=(source or "")[:_MAX_SOURCE] or None,
            user_agent=(user_agent or "")[:_MAX_USER_AGENT] or None,
        )
    )
    session.flush()
    return token


def resume_session(
    session: Session, token: str, *, idle: dt.timedelta = IDLE_TIMEOUT
) -> User | None:
    """The account of a live session, its idle clock moved on; None when it has ended.

    A session that has run out (idle or past its lifetime) is deleted here.
    A disabled account has no live session.
    """
    now = clock.now()
    found = session.execute(
        sa.select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token))
    ).first()
    if found is None:
        return None
    record, user = found
    if now >= record.expires_at or now - record.last_seen_at > idle or user.disabled:
        session.delete(record)
        session.flush()
        return None
    if now - record.last_seen_at >= SEEN_GRAIN:
        record.last_seen_at = now
        session.flush()
    return user  # type: ignore[no-any-return]


def end_session(session: Session, token: str) -> None:
    """End the session of ``token`` (logging out; nothing happens if it has ended already)."""
    session.execute(sa.delete(UserSession).where(UserSession.token_hash == _hash(token)))
    session.flush()


def end_sessions(session: Session, user: User) -> int:
    """End every session of ``user``; return how many there were.

    Called by the account changes that must log a person out everywhere
    (they audit themselves) and by :func:`log_out_everywhere`.
    """
    ended = session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id).returning(UserSession.id)
    ).all()
    session.flush()
    return len(ended)


def log_out_everywhere(session: Session, user: User, *, actor: Actor) -> int:
    """End every session of ``user`` (audited); return how many there were."""
    count = end_sessions(session, user)
    audit.record(
        session,
        actor,
        "end_sessions",
        "user",
        user.username,
        after={"sessions_ended": count},
        note="logged out everywhere",
    )
    log.info("account %s logged out everywhere (%d sessions)", user.username, count)
    return count


def list_sessions(
    session: Session, user: User, *, idle: dt.timedelta = IDLE_TIMEOUT
) -> list[UserSession]:
    """The live sessions of ``user``, newest first (those that ran out are left out)."""
    now = clock.now()
    return list(
        session.scalars(
            sa.select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.expires_at > now,
                UserSession.last_seen_at >= now - idle,
            )
            .order_by(UserSession.created_at.desc(), UserSession.id.desc())
        )
    )


def _hash(token: str) -> str:
    # A fast hash is right here, as for API keys: the token is 256 random bits.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
