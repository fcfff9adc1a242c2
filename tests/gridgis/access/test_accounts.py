"""Accounts: creating, disabling, roles and staff links, password changes (audited).

Passwords are tested in test_passwords.py, logging in in test_logins.py, sessions in
test_sessions.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access import accounts, logins, sessions
from gridgis.access.accounts import WrongPassword, change_password, create_user
from gridgis.access.logins import AuthenticationFailed, principal_for_user
from gridgis.access.passwords import verify_password
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


def log_in(session: Session, username: str, password: str, *, now: dt.datetime) -> object:
    """Log in at the time ``now`` (the clock stands still meanwhile)."""
    with clock.frozen(now):
        return logins.log_in(session, username, password, source="192.0.2.1", pepper=b"p")


def audit_rows(session: Session, entity_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_id == entity_id).order_by(AuditEntry.id)
        )
    )


# -- changing things ---------------------------------------------------------


def test_change_password_ends_every_session(db_session: Session, alice: User) -> None:
    here = sessions.start_session(db_session, alice)
    sessions.start_session(db_session, alice)
    change_password(
        db_session,
        alice,
        PASSWORD,
        "a new long password",
        actor=named("user:alice"),
        source="192.0.2.9",
    )
    assert sessions.resume_session(db_session, here) is None
    assert sessions.list_sessions(db_session, alice) == []
    assert verify_password("a new long password", alice.password_hash)
    [entry] = [e for e in audit_rows(db_session, "alice") if e.action == "change_password"]
    assert entry.actor == "user:alice" and entry.after == {"sessions_ended": 2}
    assert entry.note == "password changed; its sessions ended, from 192.0.2.9"
    assert "argon2" not in str(entry.before) + str(entry.after)


def test_change_password_checks_the_old_one_and_audits_a_wrong_one(
    db_session: Session, alice: User
) -> None:
    old_hash = alice.password_hash
    with pytest.raises(WrongPassword, match="current password is wrong") as info:
        change_password(
            db_session,
            alice,
            "not it at all",
            "a new long password",
            actor=named("user:alice"),
            source="192.0.2.9",
        )
    # Kept although the change fails: guessing through a hijacked session shows.
    assert info.value.keeps_writes and info.value.http_status == 400
    [entry] = [e for e in audit_rows(db_session, "alice") if e.action == "change_password_failed"]
    assert entry.actor == "user:alice"
    assert entry.note == "the current password given was wrong, from 192.0.2.9"
    assert "not it at all" not in f"{entry.before} {entry.after} {entry.note}"
    with pytest.raises(InvalidInput, match="only digits"):
        change_password(db_session, alice, PASSWORD, "12345678901234", actor=ACTOR)
    assert alice.password_hash == old_hash


def test_admin_reset_needs_no_old_password_and_lifts_the_waits(
    db_session: Session, alice: User
) -> None:
    for _ in range(6):
        with pytest.raises(AuthenticationFailed):
            log_in(db_session, "alice", "wrong password", now=T0)
    change_password(db_session, alice, None, "reset by the admin", actor=named("user:root"))
    log_in(db_session, "alice", "reset by the admin", now=T0)
    actions = [e.action for e in audit_rows(db_session, "alice")]
    assert actions[-2:] == ["reset_password", "login"]


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
    assert "$argon2" not in dumped and bob.password_hash not in dumped


def test_role_or_disable_ends_sessions(db_session: Session, alice: User) -> None:
    first = sessions.start_session(db_session, alice)
    accounts.set_role(db_session, "alice", "viewer", actor=ACTOR)
    assert sessions.resume_session(db_session, first) is None
    second = sessions.start_session(db_session, alice)
    assert sessions.resume_session(db_session, second) is not None
    create_user(db_session, "root", PASSWORD, "admin", actor=ACTOR)
    accounts.disable_user(db_session, "alice", actor=ACTOR)
    assert sessions.resume_session(db_session, second) is None
    ended = [
        (e.action, (e.after or {})["sessions_ended"])
        for e in audit_rows(db_session, "alice")
        if e.action in ("set_role", "disable")
    ]
    assert ended == [("set_role", 1), ("disable", 1)]


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
