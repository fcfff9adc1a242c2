"""The audit log: entries, secrets kept out, append-only in the database, export."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.errors import InvalidInput
from gridgis.models import AuditEntry
from tests.support.actors import named


def test_record_makes_values_json_safe(db_session: Session) -> None:
    entry = audit.record(
        db_session,
        named("user:alice"),
        "publish",
        "layout",
        42,
        before={"status": "draft", "valid_from": None},
        after={
            "status": "published",
            "valid_from": dt.date(2026, 1, 1),
            "grids": {"G2", "G1"},
            "area": float("nan"),
        },
        note="spring layout",
    )
    db_session.expire(entry)
    assert entry.entity_id == "42"
    assert entry.after == {
        "status": "published",
        "valid_from": "2026-01-01",
        "grids": ["G1", "G2"],
        "area": "nan",
    }
    assert entry.at is not None and entry.note == "spring layout"


def test_secrets_never_reach_the_log(db_session: Session) -> None:
    entry = audit.record(
        db_session,
        named("cli:root"),
        "create",
        "user",
        "bob",
        after={"username": "bob", "password_hash": "scrypt$16384$...", "nested": {"key": "ggk_x"}},
        before={"Password": "hunter2", "key_hash": "abc"},
    )
    db_session.expire(entry)
    assert entry.after == {
        "username": "bob",
        "password_hash": "[redacted]",
        "nested": {"key": "[redacted]"},
    }
    assert entry.before == {"Password": "[redacted]", "key_hash": "[redacted]"}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_the_log_is_append_only_even_for_its_owner(owner_database_url: str, statement: str) -> None:
    """The triggers refuse even the owner (the app's role has no such privilege at all:
    tests/gridgis/models/test_roles.py)."""
    engine = sa.create_engine(owner_database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        audit.record(session, named("cli:root"), "create", "user", "bob")
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), session.begin_nested():
            session.execute(sa.text(statement))
        assert session.scalar(sa.select(AuditEntry.actor).order_by(AuditEntry.id.desc()))
        session.close()
        outer.rollback()
    engine.dispose()


def _fill(session: Session) -> None:
    for i in range(5):
        audit.record(session, named(f"user:u{i % 2}"), "create", "user" if i < 3 else "api_key", i)


def test_entries_newest_first_and_filtered(db_session: Session) -> None:
    _fill(db_session)
    assert [e.entity_id for e in audit.entries(db_session)] == ["4", "3", "2", "1", "0"]
    assert [e.entity_id for e in audit.entries(db_session, limit=2, offset=1)] == ["3", "2"]
    assert [e.entity_id for e in audit.entries(db_session, actor="user:u0")] == ["4", "2", "0"]
    assert [e.entity_id for e in audit.entries(db_session, entity="api_key")] == ["4", "3"]
    with pytest.raises(InvalidInput, match="between 1 and 10000"):
        audit.entries(db_session, limit=0)


def test_export_csv(db_session: Session, tmp_path: Path) -> None:
    _fill(db_session)
    audit.record(db_session, named("user:=evil"), "create", "user", "x", after={"role": "admin"})
    out = tmp_path / "audit.csv"
    assert audit.export(db_session, out) == 6
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["entity_id"] for r in rows] == ["0", "1", "2", "3", "4", "x"]
    assert list(rows[0]) == list(audit.EXPORT_COLUMNS)
    assert json.loads(rows[-1]["after"]) == {"role": "admin"}
    assert rows[-1]["actor"] == "user:=evil"  # mid-cell "=" is harmless
    audit.record(db_session, named("=HYPERLINK()"), "create", "user", "y")
    audit.export(db_session, out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert list(csv.DictReader(fh))[-1]["actor"] == "'=HYPERLINK()"


def test_export_jsonl(db_session: Session, tmp_path: Path) -> None:
    _fill(db_session)
    out = tmp_path / "audit.jsonl"
    assert audit.export(db_session, out) == 5
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["entity_id"] for line in lines] == ["0", "1", "2", "3", "4"]
    assert set(lines[0]) == set(audit.EXPORT_COLUMNS)
    dt.datetime.fromisoformat(lines[0]["at"])


def test_export_refuses_other_formats(db_session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"use \.csv or \.jsonl"):
        audit.export(db_session, tmp_path / "audit.xlsx")
