"""Accounts: password hashing and policy, logging in, lockout, roles and staff links."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access import accounts, logins
from gridgis.access.accounts import change_password, create_user
from gridgis.access.logins import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    AccountLocked,
    AuthenticationFailed,
    principal_for_user,
)
from gridgis.access.passwords import hash_password, validate_password, verify_password
from gridgis.access.permissions import ROLE_PERMISSIONS
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import AuditEntry, Community, Staff, User
from tests.support.actors import named
from tests.support.sample_community import GRID_CODES, build_sample_community, multi

PASSWORD = "correct horse battery"
ACTOR = named("cli:tester")
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def alice(db_session: Session) -> User:
    return create_user(db_session, "alice", PASSWORD, "planner", actor=ACTOR)


def authenticate(session: Session, username: str, password: str, *, now: dt.datetime) -> User:
    """Log in at the time ``now`` (the clock stands still meanwhile)."""
    with clock.frozen(now):
        return logins.authenticate(session, username, password)


def audit_rows(session: Session, entity_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_id == entity_id).order_by(AuditEntry.id)
        )
    )


# -- hashing and policy ------------------------------------------------------


def test_hash_round_trip() -> None:
    stored = hash_password(PASSWORD)
    scheme, n, r, p, _salt, _digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)


def test_same_password_gets_a_fresh_salt() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


@pytest.mark.parametrize(
    "stored", ["", "plain", "bcrypt$1$2$3$AAAA$AAAA", "scrypt$16384$8$1$!!$??", "scrypt$x$8$1$a$b"]
)
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bob", "short", "too short: use at least 10 characters (it has 5)"),
        ("bob", "1234567890123", "cannot be only digits"),
        ("bob.smith1", "Bob.Smith1", "cannot be the same as the username"),
    ],
)
def test_password_policy(username: str, password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_password(username, password)


def test_password_policy_applies_on_create(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="too short"):
        create_user(db_session, "bob", "short", "viewer", actor=ACTOR)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


# -- logging in --------------------------------------------------------------


def test_login_with_the_right_password(db_session: Session, alice: User) -> None:
    user = authenticate(db_session, "alice", PASSWORD, now=T0)
    assert user.id == alice.id
    assert user.last_login_at == T0
    assert user.failed_logins == 0


def test_wrong_password_is_counted(db_session: Session, alice: User) -> None:
    with pytest.raises(AuthenticationFailed, match=r"^Wrong username or password\.$") as info:
        authenticate(db_session, "alice", "not the password", now=T0)
    assert info.value.http_status == 401
    assert alice.failed_logins == 1
    authenticate(db_session, "alice", PASSWORD, now=T0)
    assert alice.failed_logins == 0


def test_unknown_user_gets_the_same_answer(
    db_session: Session, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = logins.verify_password

    def spy(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(logins, "verify_password", spy)
    with pytest.raises(AuthenticationFailed) as unknown:
        authenticate(db_session, "nobody", PASSWORD, now=T0)
    with pytest.raises(AuthenticationFailed) as wrong:
        authenticate(db_session, "alice", "not the password", now=T0)
    assert str(unknown.value) == str(wrong.value) == "Wrong username or password."
    # The unknown user cost a scrypt check too (against a dummy hash), so timing does not tell.
    assert len(checked) == 2 and checked[0].startswith("scrypt$16384$8$1$")


def test_lockout_after_repeated_failures_and_unlock_after_the_lockout(
    db_session: Session, alice: User
) -> None:
    for i in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationFailed):
            authenticate(db_session, "alice", f"guess number {i}", now=T0)
    assert alice.failed_logins == MAX_FAILED_LOGINS
    assert alice.locked_until == T0 + LOCKOUT

    # Locked: even the right password is refused, with when to try again.
    with pytest.raises(AccountLocked, match="Try again in 10 minutes") as info:
        authenticate(db_session, "alice", PASSWORD, now=T0 + dt.timedelta(minutes=5))
    assert info.value.http_status == 429

    user = authenticate(db_session, "alice", PASSWORD, now=T0 + LOCKOUT + dt.timedelta(seconds=1))
    assert user.failed_logins == 0 and user.locked_until is None
    [lock] = [e for e in audit_rows(db_session, "alice") if e.action == "lock"]
    assert lock.after is not None and lock.after["failed_logins"] == MAX_FAILED_LOGINS


def test_a_success_resets_the_count(db_session: Session, alice: User) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(AuthenticationFailed):
            authenticate(db_session, "alice", "wrong password", now=T0)
    authenticate(db_session, "alice", PASSWORD, now=T0)
    with pytest.raises(AuthenticationFailed):
        authenticate(db_session, "alice", "wrong password", now=T0)
    assert alice.locked_until is None and alice.failed_logins == 1


def test_after_the_lockout_a_wrong_password_starts_a_new_count(
    db_session: Session, alice: User
) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationFailed):
            authenticate(db_session, "alice", "wrong password", now=T0)
    with pytest.raises(AuthenticationFailed):
        authenticate(db_session, "alice", "wrong password", now=T0 + LOCKOUT)
    assert alice.failed_logins == 1 and alice.locked_until is None


def test_failed_logins_survive_the_callers_commit(db_session: Session, alice: User) -> None:
    db_session.commit()
    with pytest.raises(AuthenticationFailed):
        authenticate(db_session, "alice", "wrong password", now=T0)
    db_session.commit()  # what the web layer does in its error path
    db_session.expire_all()
    assert db_session.scalar(sa.select(User.failed_logins).where(User.username == "alice")) == 1


def test_disabled_account_cannot_log_in(db_session: Session, alice: User) -> None:
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    accounts.disable_user(db_session, "alice", actor=ACTOR)
    with pytest.raises(AuthenticationFailed, match="Wrong username or password"):
        authenticate(db_session, "alice", PASSWORD, now=T0)
    accounts.enable_user(db_session, "alice", actor=ACTOR)
    assert authenticate(db_session, "alice", PASSWORD, now=T0).id == alice.id


# -- changing things ---------------------------------------------------------


def test_change_password_ends_older_sessions(db_session: Session, alice: User) -> None:
    db_session.refresh(alice)
    before = alice.sessions_valid_from
    change_password(db_session, alice, PASSWORD, "a new long password", actor=named("user:alice"))
    assert alice.sessions_valid_from > before
    assert verify_password("a new long password", alice.password_hash)
    [entry] = [e for e in audit_rows(db_session, "alice") if e.action == "change_password"]
    assert entry.actor == "user:alice"
    assert "scrypt" not in str(entry.before) + str(entry.after)


def test_change_password_checks_the_old_one(db_session: Session, alice: User) -> None:
    old_hash = alice.password_hash
    with pytest.raises(InvalidInput, match="current password is wrong"):
        change_password(db_session, alice, "not it at all", "a new long password", actor=ACTOR)
    with pytest.raises(InvalidInput, match="only digits"):
        change_password(db_session, alice, PASSWORD, "12345678901", actor=ACTOR)
    assert alice.password_hash == old_hash


def test_admin_reset_needs_no_old_password_and_unlocks(db_session: Session, alice: User) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationFailed):
            authenticate(db_session, "alice", "wrong password", now=T0)
    change_password(db_session, alice, None, "reset by the admin", actor=named("user:root"))
    authenticate(db_session, "alice", "reset by the admin", now=T0)
    assert [e.action for e in audit_rows(db_session, "alice")][-1] == "reset_password"


def test_duplicate_username_is_a_conflict(db_session: Session, alice: User) -> None:
    with pytest.raises(Conflict, match="'alice' is taken"):
        create_user(db_session, "alice", PASSWORD, "viewer", actor=ACTOR)


@pytest.mark.parametrize("username", ["", "=cmd()", "has space", "x" * 65])
def test_bad_usernames_are_refused(db_session: Session, username: str) -> None:
    with pytest.raises(InvalidInput, match="is not allowed"):
        create_user(db_session, username, PASSWORD, "viewer", actor=ACTOR)


def test_unknown_role_lists_the_roles(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="admin, planner, dispatcher, grid_staff, viewer"):
        create_user(db_session, "bob", PASSWORD, "superuser", actor=ACTOR)


def test_get_and_list(db_session: Session, alice: User) -> None:
    create_user(db_session, "aaron", PASSWORD, "viewer", actor=ACTOR)
    assert [u.username for u in accounts.list_users(db_session)] == ["aaron", "alice"]
    assert accounts.get_user(db_session, "alice").id == alice.id
    with pytest.raises(NotFound, match="No account named 'bob'"):
        accounts.get_user(db_session, "bob")


def test_every_write_is_audited_without_the_hash(db_session: Session) -> None:
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    create_user(db_session, "bob", PASSWORD, "viewer", actor=ACTOR)
    accounts.set_role(db_session, "bob", "dispatcher", actor=ACTOR)
    accounts.disable_user(db_session, "bob", actor=ACTOR)
    accounts.enable_user(db_session, "bob", actor=ACTOR)
    bob = accounts.get_user(db_session, "bob")
    change_password(db_session, bob, None, "another password", actor=ACTOR)
    rows = audit_rows(db_session, "bob")
    assert [e.action for e in rows] == [
        "create",
        "set_role",
        "disable",
        "enable",
        "reset_password",
    ]
    assert all(e.actor == ACTOR.audit_name and e.entity == "user" for e in rows)
    assert rows[0].after == {
        "username": "bob",
        "role": "viewer",
        "staff_code": None,
        "disabled": False,
    }
    assert (rows[1].before or {})["role"] == "viewer"
    assert (rows[1].after or {})["role"] == "dispatcher"
    dumped = " ".join(f"{e.before} {e.after} {e.note}" for e in rows)
    assert "scrypt$" not in dumped and bob.password_hash not in dumped


def test_role_or_disable_ends_sessions(db_session: Session, alice: User) -> None:
    db_session.refresh(alice)
    first = alice.sessions_valid_from
    accounts.set_role(db_session, "alice", "viewer", actor=ACTOR)
    second = alice.sessions_valid_from
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    accounts.disable_user(db_session, "alice", actor=ACTOR)
    assert first < second < alice.sessions_valid_from


def test_the_last_admin_cannot_be_disabled_or_demoted(db_session: Session) -> None:
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    with pytest.raises(Conflict, match="only enabled administrator"):
        accounts.disable_user(db_session, "root", actor=ACTOR)
    with pytest.raises(Conflict, match="only enabled administrator"):
        accounts.set_role(db_session, "root", "viewer", actor=ACTOR)
    create_user(db_session, "root2", PASSWORD, "admin", actor=ACTOR)
    accounts.disable_user(db_session, "root", actor=ACTOR)
    assert accounts.has_admin(db_session)


# -- roles and staff ---------------------------------------------------------


def test_grid_staff_needs_a_staff_record(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match=r"needs the staff record.*--staff CODE"):
        create_user(db_session, "zhang", PASSWORD, "grid_staff", actor=ACTOR)
    with pytest.raises(NotFound, match="No staff member with the code 'S1'"):
        create_user(db_session, "zhang", PASSWORD, "grid_staff", staff_code="S1", actor=ACTOR)


def test_grid_staff_principal_is_scoped_to_their_grid(db_session: Session) -> None:
    sample = build_sample_community(db_session)
    user = create_user(db_session, "zhang", PASSWORD, "grid_staff", staff_code="S1", actor=ACTOR)
    principal = principal_for_user(db_session, user)
    g1 = next(g for g in sample.grids if g.code == GRID_CODES[0])
    g2 = next(g for g in sample.grids if g.code == GRID_CODES[1])
    assert principal.kind == "user" and principal.name == "zhang"
    assert principal.audit_name == "user:zhang"
    assert principal.permissions == ROLE_PERMISSIONS["grid_staff"]
    assert principal.staff_id == user.staff_id and principal.user_id == user.id
    assert principal.scope is not None
    assert g1.id in principal.scope.grid_ids and g2.id not in principal.scope.grid_ids
    assert audit_rows(db_session, "zhang")[0].after == {
        "username": "zhang",
        "role": "grid_staff",
        "staff_code": "S1",
        "disabled": False,
    }


def test_other_roles_have_no_scope(db_session: Session, alice: User) -> None:
    principal = principal_for_user(db_session, alice)
    assert principal.scope is None
    assert principal.can("layout:publish") and not principal.can("users:manage")


def test_staff_code_in_two_communities_needs_the_community(db_session: Session) -> None:
    build_sample_community(db_session)
    other = Community(code="C2", name="另一社区", boundary=multi(114.40, 30.60, 114.41, 30.61))
    db_session.add(other)
    db_session.flush()
    db_session.add(Staff(community_id=other.id, code="S1", name="周九"))
    db_session.flush()
    with pytest.raises(InvalidInput, match=r"used in several communities \(420106001002, C2\)"):
        create_user(db_session, "zhou", PASSWORD, "grid_staff", staff_code="S1", actor=ACTOR)
    user = create_user(
        db_session,
        "zhou",
        PASSWORD,
        "grid_staff",
        staff_code="S1",
        community_code="C2",
        actor=ACTOR,
    )
    assert user.staff is not None and user.staff.community_id == other.id
    with pytest.raises(NotFound, match="No community with the code 'C9'"):
        create_user(
            db_session,
            "wu",
            PASSWORD,
            "grid_staff",
            staff_code="S1",
            community_code="C9",
            actor=ACTOR,
        )


def test_one_staff_member_one_account(db_session: Session) -> None:
    build_sample_community(db_session)
    create_user(db_session, "zhang", PASSWORD, "grid_staff", staff_code="S1", actor=ACTOR)
    with pytest.raises(Conflict, match="already has the account 'zhang'"):
        create_user(db_session, "zhang2", PASSWORD, "grid_staff", staff_code="S1", actor=ACTOR)


def test_set_role_to_grid_staff_needs_staff(db_session: Session, alice: User) -> None:
    build_sample_community(db_session)
    with pytest.raises(InvalidInput, match="needs the staff record"):
        accounts.set_role(db_session, "alice", "grid_staff", actor=ACTOR)
    accounts.set_role(db_session, "alice", "grid_staff", staff_code="S2", actor=ACTOR)
    assert alice.role == "grid_staff" and alice.staff is not None and alice.staff.code == "S2"
