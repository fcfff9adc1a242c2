"""Logging in: one answer for every failure, growing waits per account and address, no lockout."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access import accounts, logins
from gridgis.access.accounts import create_user
from gridgis.access.logins import (
    ACCOUNT_FREE_FAILURES,
    FREE_FAILURES,
    LOGIN_FAILED,
    AuthenticationFailed,
    address_key,
    wait_after,
)
from gridgis.access.passwords import verify_password
from gridgis.access.permissions import Principal
from gridgis.models import AuditEntry, LoginThrottle, User
from tests.support.actors import named

PASSWORD = "correct horse battery"
#: PASSWORD as gridgis stored it before argon2id (scrypt N=2**14, r=8, p=1).
SCRYPT_HASH = (
    "scrypt$16384$8$1$A4rsX6Z76dw+qDjXLf0qIw==$ZvCJxr3lpoJPluYFrNB9VZrX4CvlVS/b7Knfy3z97Kw="
)
ACTOR = named("cli:tester")
PEPPER = b"the tests' pepper"
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
HOME = "198.51.100.7"
STRANGER = "203.0.113.66"
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def alice(db_session: Session) -> User:
    return create_user(db_session, "alice", PASSWORD, "planner", actor=ACTOR)


def attempt(
    session: Session, username: str, password: str, *, at: dt.datetime, source: str = HOME
) -> Principal:
    """Log in at the time ``at`` from ``source``."""
    with clock.frozen(at):
        return logins.log_in(session, username, password, source=source, pepper=PEPPER)


def fails(
    session: Session, username: str, password: str, *, at: dt.datetime, source: str = HOME
) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as info:
        attempt(session, username, password, at=at, source=source)
    return info.value


def audit_rows(session: Session, action: str | None = None) -> list[AuditEntry]:
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def test_login_with_the_right_password(db_session: Session, alice: User) -> None:
    principal = attempt(db_session, "alice", PASSWORD, at=T0)
    assert (principal.name, principal.user_id) == ("alice", alice.id)
    assert alice.last_login_at == T0
    login = audit_rows(db_session, "login")[-1]
    assert (login.actor, login.entity_id, login.note) == ("user:alice", "alice", f"from {HOME}")


def test_every_failure_gets_the_same_answer_after_the_same_work(
    db_session: Session, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown name, wrong password, disabled account, too soon: one message, one argon2 check."""
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    create_user(db_session, "olduser", PASSWORD, "viewer", actor=ACTOR)
    accounts.disable_user(db_session, "olduser", actor=ACTOR)
    checked: list[str] = []
    real = logins.verify_password

    def spy(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(logins, "verify_password", spy)
    errors = [
        fails(db_session, "nobody", PASSWORD, at=T0),
        fails(db_session, "alice", "not the password", at=T0),
        fails(db_session, "olduser", PASSWORD, at=T0),
    ]
    for _ in range(FREE_FAILURES - 1):  # alice's failures from HOME: now she must wait ...
        fails(db_session, "alice", "not the password", at=T0)
    checked.clear()
    # ... and even her right password is refused, unchecked, with the same answer.
    errors.append(fails(db_session, "alice", PASSWORD, at=T0 + SECOND / 2))
    assert len(checked) == 1 and checked[0] != alice.password_hash
    assert {(e.http_status, e.user_msg, e.keeps_writes) for e in errors} == {
        (401, LOGIN_FAILED, True)
    }
    assert LOGIN_FAILED.startswith("Wrong username or password.")
    assert not hasattr(logins, "AccountLocked")


def test_each_path_costs_one_argon2id_check(
    db_session: Session, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = logins.verify_password
    monkeypatch.setattr(logins, "verify_password", lambda p, s: checked.append(s) or real(p, s))
    fails(db_session, "nobody", PASSWORD, at=T0)
    fails(db_session, "alice", "not the password", at=T0)
    for _ in range(FREE_FAILURES):
        fails(db_session, "alice", "wrong again", at=T0, source=STRANGER)
    fails(db_session, "alice", PASSWORD, at=T0, source=STRANGER)  # too soon
    assert len(checked) == 3 + FREE_FAILURES
    assert all(s.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for s in checked)


def test_waits_grow_from_the_third_failure_and_are_capped() -> None:
    waits = [wait_after(n).total_seconds() for n in range(16)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    assert wait_after(10**9) == dt.timedelta(minutes=15)


def test_the_wait_is_kept_then_the_right_password_works(db_session: Session, alice: User) -> None:
    for _ in range(FREE_FAILURES):
        fails(db_session, "alice", "not the password", at=T0)
    fails(db_session, "alice", PASSWORD, at=T0 + SECOND / 2)  # 1 s to wait: too soon
    assert attempt(db_session, "alice", PASSWORD, at=T0 + SECOND).name == "alice"
    # The success resets the count from this address: three free failures again ...
    for _ in range(FREE_FAILURES):
        fails(db_session, "alice", "not the password", at=T0 + 2 * SECOND)
    fails(db_session, "alice", "not the password", at=T0 + 3 * SECOND)  # after its 1 s
    fails(db_session, "alice", "not the password", at=T0 + 5 * SECOND)  # after its 2 s
    # Five in a row: 4 s to wait. Attempts meanwhile are refused and do not count.
    fails(db_session, "alice", PASSWORD, at=T0 + 8.9 * SECOND)
    fails(db_session, "alice", "not the password", at=T0 + 8.9 * SECOND)
    assert attempt(db_session, "alice", PASSWORD, at=T0 + 9 * SECOND).name == "alice"
    notes = [e.note or "" for e in audit_rows(db_session, "login_failed")]
    assert sum("too soon" in n for n in notes) == 3
    assert notes[-1] == f"too soon, 1 s to wait, from {HOME}"


def test_a_stranger_elsewhere_cannot_lock_the_owner_out(db_session: Session, alice: User) -> None:
    """Today's lockout let anyone lock the administrator out with five requests."""
    attempt(db_session, "alice", PASSWORD, at=T0)  # HOME is known to alice from now on
    later = T0 + dt.timedelta(hours=1)
    # Guessing from 20 addresses: each gets its free failures, until the account's
    # failures from everywhere reach ACCOUNT_FREE_FAILURES; the rest come too soon.
    for i in range(20):
        for _ in range(FREE_FAILURES + 1):
            fails(db_session, "alice", "guess", at=later, source=f"203.0.113.{i}")
    assert logins.recent_failures(db_session, alice) == ACCOUNT_FREE_FAILURES
    # The owner at her own desk is not held up, not even for a second.
    assert attempt(db_session, "alice", PASSWORD, at=later).name == "alice"
    # From an address she has never logged in from, the account-wide wait applies ...
    fails(db_session, "alice", PASSWORD, at=later, source="192.0.2.1")
    # ... and it is a wait (growing as failures do, at most 15 minutes), not a lock.
    assert attempt(db_session, "alice", PASSWORD, at=later + SECOND, source="192.0.2.1")
    # A stranger at one address, however long they keep on, is slowed down alone.
    moment = later
    for _ in range(30):
        moment += dt.timedelta(minutes=15)
        fails(db_session, "alice", "guess", at=moment, source=STRANGER)
        assert attempt(db_session, "alice", PASSWORD, at=moment).name == "alice"


def test_unknown_names_are_throttled_like_accounts_without_storing_them(
    db_session: Session,
) -> None:
    typed = "MySecretPassw0rd!"  # a password typed into the username field
    for _ in range(FREE_FAILURES + 1):
        fails(db_session, typed, "whatever it is", at=T0)
    rows = audit_rows(db_session, "login_failed")
    assert [r.note for r in rows] == [f"unknown username, from {HOME}"] * FREE_FAILURES + [
        f"too soon, 1 s to wait, from {HOME}"
    ]
    keys = {(r.after or {}).get("name_key") for r in rows}
    assert len(keys) == 1 and None not in keys  # one keyed hash tells the attempts together
    assert all(r.entity_id is None for r in rows)
    everything = " ".join(
        str(v) for e in audit_rows(db_session) for v in (e.entity_id, e.before, e.after, e.note)
    )
    throttle = " ".join(str(r) for r in db_session.execute(sa.select(LoginThrottle.__table__)))
    for text in (everything, throttle):
        assert typed not in text and typed.lower() not in text
    # The key is keyed: without the pepper it is not the plain hash of the name.
    assert keys != {logins.name_key(typed, b"")}


def test_ipv6_addresses_count_by_their_64(db_session: Session, alice: User) -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(" 192.0.2.7 ") == "192.0.2.7"
    assert address_key("") == "unknown"
    for host in range(FREE_FAILURES):
        fails(db_session, "alice", "guess", at=T0, source=f"2001:db8:1:2::{host + 1}")
    fails(db_session, "alice", PASSWORD, at=T0, source="2001:db8:1:2:ffff::9")  # too soon
    assert attempt(db_session, "alice", PASSWORD, at=T0, source="2001:db8:1:3::1").name == "alice"


def test_failures_are_forgotten_after_a_day(db_session: Session, alice: User) -> None:
    fails(db_session, "nobody", "guess", at=T0, source=STRANGER)
    for _ in range(FREE_FAILURES + 2):
        fails(db_session, "alice", "guess", at=T0)
    day_later = T0 + dt.timedelta(days=1, minutes=30)
    with clock.frozen(T0):
        assert logins.recent_failures(db_session, alice) == FREE_FAILURES  # 2 came too soon
    with clock.frozen(day_later):
        assert logins.recent_failures(db_session, alice) == 0
    assert attempt(db_session, "alice", PASSWORD, at=day_later).name == "alice"
    # The stranger's row is gone; HOME's stays, known to alice for 30 days.
    rows = db_session.execute(sa.select(LoginThrottle.account_key, LoginThrottle.address)).all()
    assert rows == [(f"user:{alice.id}", HOME)]


def test_failed_logins_survive_the_callers_commit(db_session: Session, alice: User) -> None:
    db_session.commit()
    fails(db_session, "alice", "wrong password", at=T0)
    db_session.commit()  # what the web layer does in its error path
    db_session.expire_all()
    with clock.frozen(T0):
        assert logins.recent_failures(db_session, alice) == 1
    assert audit_rows(db_session, "login_failed")[-1].entity_id == "alice"


def test_an_administrator_can_lift_the_waits(db_session: Session, alice: User) -> None:
    for _ in range(FREE_FAILURES + 5):
        fails(db_session, "alice", "guess", at=T0)
    accounts.enable_user(db_session, "alice", actor=ACTOR)
    entry = audit_rows(db_session, "enable")[-1]
    assert (entry.after or {})["failed_logins_forgotten"] == FREE_FAILURES
    assert attempt(db_session, "alice", PASSWORD, at=T0).name == "alice"


def test_an_old_scrypt_hash_becomes_argon2id_at_the_next_login(
    db_session: Session, alice: User
) -> None:
    alice.password_hash = SCRYPT_HASH
    db_session.flush()
    fails(db_session, "alice", "not the password", at=T0)
    assert alice.password_hash == SCRYPT_HASH  # a failure changes nothing
    attempt(db_session, "alice", PASSWORD, at=T0)
    assert alice.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(PASSWORD, alice.password_hash)
    (entry,) = audit_rows(db_session, "rehash_password")
    assert entry.entity_id == "alice" and "argon2id" in (entry.note or "")
    assert "scrypt" not in str(entry.after) and alice.password_hash not in str(entry.after)
    upgraded = alice.password_hash
    attempt(db_session, "alice", PASSWORD, at=T0)  # logs in with the new hash, no second rehash
    assert alice.password_hash == upgraded
    assert len(audit_rows(db_session, "rehash_password")) == 1
