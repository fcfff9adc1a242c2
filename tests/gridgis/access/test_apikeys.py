"""API keys: made once, stored only as a hash, verified, revoked, limited to their scopes."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.apikeys import (
    create_key,
    list_keys,
    principal_for_key,
    revoke_key,
    verify_key,
)
from gridgis.access.logins import AuthenticationFailed
from gridgis.access.permissions import Forbidden
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import ApiKey, AuditEntry
from tests.support.actors import named

ACTOR = named("user:root")


@pytest.fixture
def hotline(db_session: Session) -> tuple[ApiKey, str]:
    return create_key(db_session, "hotline", ["route:read", "open311:write"], actor=ACTOR)


def test_key_format(hotline: tuple[ApiKey, str]) -> None:
    row, key = hotline
    tag, rest = key[:4], key[4:]
    assert tag == "ggk_"
    assert rest[:8] == row.prefix and rest[8] == "_"
    assert len(rest[9:]) >= 32


def test_only_the_hash_is_stored(db_session: Session, hotline: tuple[ApiKey, str]) -> None:
    _, key = hotline
    secret = key[13:]
    stored = db_session.execute(sa.text("SELECT * FROM api_key")).mappings().one()
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    for value in stored.values():
        assert key not in str(value) and secret not in str(value)
    audit = db_session.execute(sa.text("SELECT * FROM audit_log")).mappings().all()
    assert audit and all(
        key not in str(dict(a)) and stored["key_hash"] not in str(dict(a)) for a in audit
    )


def test_verify_finds_the_key_and_notes_its_use(
    db_session: Session, hotline: tuple[ApiKey, str]
) -> None:
    row, key = hotline
    assert row.last_used_at is None
    assert verify_key(db_session, key).id == row.id
    assert row.last_used_at is not None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # wrong secret
        lambda k: "ggk_zzzzzzzz_" + k[13:],  # unknown prefix
        lambda k: k[4:],  # no tag
        lambda k: "",
        lambda k: "ggk_short",
        lambda k: k + "x" * 300,
    ],
)
def test_wrong_or_malformed_keys_are_refused(
    db_session: Session, hotline: tuple[ApiKey, str], tamper: object
) -> None:
    _, key = hotline
    with pytest.raises(AuthenticationFailed, match=r"^Invalid or revoked API key\.$") as info:
        verify_key(db_session, tamper(key))  # type: ignore[operator]
    assert info.value.http_status == 401


@pytest.mark.parametrize(
    ("tamper", "entity_id", "prefix", "reason"),
    [
        (lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), "hotline", "own", "wrong secret"),
        (lambda k: "ggk_zzzzzzzz_" + k[13:], None, "zzzzzzzz", "unknown prefix"),
        (lambda k: "not a key at all, maybe a password", None, None, "malformed"),
    ],
)
def test_a_refused_key_is_audited_by_its_prefix_only(
    db_session: Session,
    hotline: tuple[ApiKey, str],
    tamper: object,
    entity_id: str | None,
    prefix: str | None,
    reason: str,
) -> None:
    row, key = hotline
    presented = tamper(key)  # type: ignore[operator]
    with pytest.raises(AuthenticationFailed) as info:
        verify_key(db_session, presented, source="192.0.2.5")
    assert info.value.keeps_writes  # the entry is committed with the 401
    entry = db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry is not None
    assert (entry.actor, entry.action, entry.entity, entry.entity_id) == (
        "anonymous:anonymous",
        "api_key_refused",
        "api_key",
        entity_id,
    )
    assert entry.after == {"prefix": row.prefix if prefix == "own" else prefix, "reason": reason}
    assert entry.note == "from 192.0.2.5"
    dumped = f"{entry.before} {entry.after} {entry.note} {entry.entity_id}"
    assert presented[13:] not in dumped and key[13:] not in dumped


def test_revoked_key_is_refused(db_session: Session, hotline: tuple[ApiKey, str]) -> None:
    row, key = hotline
    revoke_key(db_session, "hotline", actor=ACTOR)
    assert row.revoked_at is not None
    with pytest.raises(AuthenticationFailed, match="Invalid or revoked API key"):
        verify_key(db_session, key)
    refused = db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert refused is not None and (refused.entity_id, refused.after) == (
        "hotline",
        {"prefix": row.prefix, "reason": "revoked"},
    )
    with pytest.raises(Conflict, match="revoked already"):
        revoke_key(db_session, "hotline", actor=ACTOR)
    with pytest.raises(NotFound, match="No API key named 'nope'"):
        revoke_key(db_session, "nope", actor=ACTOR)


def test_a_key_acts_only_within_its_scopes(hotline: tuple[ApiKey, str]) -> None:
    row, _ = hotline
    principal = principal_for_key(row)
    assert principal.kind == "apikey" and principal.audit_name == "apikey:hotline"
    assert principal.permissions == {"route:read", "open311:write"}
    principal.require("route:read")
    with pytest.raises(Forbidden, match="layers:read"):
        principal.require("layers:read")
    with pytest.raises(Forbidden):
        principal.require("users:manage")


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["admin"], "Unknown scope 'admin'; an API key may have route:read, layers:read, "),
        (["route:read", "users:manage", "x"], "Unknown scopes 'users:manage', 'x'"),
        ([], "at least one scope"),
        ([" "], "at least one scope"),
    ],
)
def test_scopes_are_checked(db_session: Session, scopes: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_key(db_session, "client", scopes, actor=ACTOR)
    assert list_keys(db_session) == []


def test_names_are_unique_even_after_revoking(
    db_session: Session, hotline: tuple[ApiKey, str]
) -> None:
    revoke_key(db_session, "hotline", actor=ACTOR)
    with pytest.raises(Conflict, match="'hotline' exists already"):
        create_key(db_session, "hotline", ["route:read"], actor=ACTOR)


def test_list_and_audit(db_session: Session, hotline: tuple[ApiKey, str]) -> None:
    create_key(db_session, "mini", ["layers:read", "layers:read"], actor=ACTOR)
    revoke_key(db_session, "mini", actor=named("cli:ops"))
    keys = list_keys(db_session)
    assert [(k.name, k.scopes) for k in keys] == [
        ("hotline", ["route:read", "open311:write"]),
        ("mini", ["layers:read"]),
    ]
    rows = db_session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity == "api_key").order_by(AuditEntry.id)
    ).all()
    assert [(e.actor, e.action, e.entity_id) for e in rows] == [
        (ACTOR.audit_name, "create", "hotline"),
        (ACTOR.audit_name, "create", "mini"),
        ("cli:ops", "revoke", "mini"),
    ]
    assert rows[0].after == {"prefix": hotline[0].prefix, "scopes": ["route:read", "open311:write"]}
