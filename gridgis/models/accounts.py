"""Accounts: people who log in, their sessions and failed logins, API keys, the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import Base, check_in
from gridgis.models.people import Staff
from gridgis.models.roles import USER_ROLES


class User(Base):
    """Someone who logs in. The password is stored only as a hash (argon2id; older: scrypt)."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(check_in("role", USER_ROLES), name="role"),
        CheckConstraint(
            "role <> 'grid_staff' OR staff_id IS NOT NULL", name="grid_staff_has_staff"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # RESTRICT: a staff record with an account is disabled, not deleted.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    staff: Mapped[Staff | None] = relationship()


class UserSession(Base):
    """One login of a browser: the server's record of a session (migration 0004).

    The cookie holds a random token; only its SHA-256 is stored, so the table
    (or a backup of it) gives no one a usable cookie. A session lasts while its
    row exists: logging out deletes it, and a password change, a disable or a
    role change deletes every row of the account.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    #: SHA-256 (hex) of the token in the cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The last request seen (to the minute): the idle timeout counts from here.
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The absolute end, however active the session is.
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Where the login came from and with what browser, to recognise one's sessions.
    source: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginThrottle(Base):
    """Failed logins of one account (or one unknown name) from one address (migration 0004).

    ``account_key`` is ``user:<id>`` for an account and ``name:<keyed hash>``
    for a name no account has: the typed text is never stored (people type
    their password into the username field). Rows are forgotten a day after
    their last failure, except that a success keeps the address known to the
    account for 30 days (see :mod:`gridgis.access.logins`).
    """

    __tablename__ = "login_throttle"
    __table_args__ = (
        CheckConstraint("failures >= 0", name="failures_nonnegative"),
        CheckConstraint("refused >= 0", name="refused_nonnegative"),
        Index("ix_login_throttle_updated_at", "updated_at"),
    )

    account_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: The client's address (an IPv6 address as its /64 network).
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Failed attempts in a row from this address (a success resets them).
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: Attempts refused unchecked because they came before the wait was over.
    refused: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The last attempt of any kind (old rows are deleted by it).
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A machine client's key. Only ``prefix`` (to find it) and a hash are stored."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: The first characters of the key, shown in listings and used for lookup.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One write: who, when, what, and key fields before and after.

    Append-only in the database itself: a trigger (migration 0003) refuses
    every UPDATE, DELETE and TRUNCATE, whoever the role.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    #: ``user:alice``, ``apikey:hotline``, ``cli:root`` ...
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
