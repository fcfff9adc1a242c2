"""Sessions on the server: started at login, ended at logout, timed out, listed, ended."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access import logins, sessions
from gridgis.access.accounts import create_user
from gridgis.access.sessions import IDLE_TIMEOUT, SESSION_LIFETIME
from gridgis.models import AuditEntry, User, UserSession
from tests.support.actors import named

PASSWORD = "correct horse battery"
ACTOR = named("cli:tester")
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def alice(db_session: Session) -> User:
    return create_user(db_session, "alice", PASSWORD, "planner", actor=ACTOR)


def test_a_session_is_a_row_that_keeps_only_the_tokens_hash(
    db_session: Session, alice: User
) -> None:
    with clock.frozen(T0):
        token = sessions.start_session(
            db_session, alice, source="192.0.2.1", user_agent="Mozilla/5.0 " + "x" * 300
        )
        assert sessions.resume_session(db_session, token) is alice
    row = db_session.execute(sa.select(UserSession.__table__)).mappings().one()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(dict(row))
    assert (row["created_at"], row["expires_at"]) == (T0, T0 + SESSION_LIFETIME)
    assert row["source"] == "192.0.2.1" and len(row["user_agent"]) == 200
    assert len(token) >= 43  # 256 random bits


def test_logging_out_ends_the_session_for_every_copy_of_the_cookie(
    db_session: Session, alice: User
) -> None:
    token = sessions.start_session(db_session, alice)
    other = sessions.start_session(db_session, alice)
    principal = logins.principal_for_user(db_session, alice)
    logins.log_out(db_session, principal, token=token)
    assert sessions.resume_session(db_session, token) is None
    assert sessions.resume_session(db_session, other) is alice  # another browser stays in
    entry = db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None and (entry.actor, entry.action) == ("user:alice", "logout")


def test_idle_and_absolute_timeouts(db_session: Session, alice: User) -> None:
    with clock.frozen(T0) as now:
        token = sessions.start_session(db_session, alice)
        # Used every 29 minutes, it lives on (the idle clock moves at most once a minute) ...
        while now.now() + 29 * MINUTE < T0 + SESSION_LIFETIME:
            now.advance(29 * MINUTE)
            assert sessions.resume_session(db_session, token) is alice
        # ... but not past its lifetime.
        now.advance(29 * MINUTE)
        assert sessions.resume_session(db_session, token) is None
        idle = sessions.start_session(db_session, alice)
        now.advance(IDLE_TIMEOUT + dt.timedelta(seconds=1))
        assert sessions.resume_session(db_session, idle) is None
    assert db_session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0


def test_the_idle_clock_is_written_at_most_once_a_minute(db_session: Session, alice: User) -> None:
    with clock.frozen(T0) as now:
        token = sessions.start_session(db_session, alice)
        now.advance(dt.timedelta(seconds=59))
        sessions.resume_session(db_session, token)
        row = db_session.scalars(sa.select(UserSession)).one()
        assert row.last_seen_at == T0
        now.advance(dt.timedelta(seconds=1))
        sessions.resume_session(db_session, token)
        assert row.last_seen_at == T0 + MINUTE


def test_a_disabled_account_has_no_live_session(db_session: Session, alice: User) -> None:
    token = sessions.start_session(db_session, alice)
    alice.disabled = True  # as if written by hand, bypassing disable_user
    db_session.flush()
    assert sessions.resume_session(db_session, token) is None


def test_list_and_log_out_everywhere(db_session: Session, alice: User) -> None:
    with clock.frozen(T0) as now:
        sessions.start_session(db_session, alice, source="192.0.2.1")
        now.advance(MINUTE)
        sessions.start_session(db_session, alice, source="192.0.2.2")
        listed = sessions.list_sessions(db_session, alice)
        assert [s.source for s in listed] == ["192.0.2.2", "192.0.2.1"]
        assert sessions.log_out_everywhere(db_session, alice, actor=ACTOR) == 2
        assert sessions.list_sessions(db_session, alice) == []
    entry = db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None
    assert (entry.actor, entry.action, entry.entity_id, entry.after) == (
        "cli:tester",
        "end_sessions",
        "alice",
        {"sessions_ended": 2},
    )


def test_expired_sessions_are_cleared_at_the_next_login(db_session: Session, alice: User) -> None:
    with clock.frozen(T0) as now:
        sessions.start_session(db_session, alice)
        now.advance(SESSION_LIFETIME)
        sessions.start_session(db_session, alice)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 1
