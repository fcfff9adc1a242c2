"""The audit log: what administrators see, the export, and the failures it records."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.models import AuditEntry
from tests.support.web import USERS, Accounts, ClientFor


def test_audit_log_lists_writes_newest_first(app: Flask, client_for: ClientFor) -> None:
    # A logout is a write: it shows at the top.
    viewer = client_for("viewer")
    assert viewer.post("/logout").status_code == 302
    admin = client_for("admin")
    response = admin.get("/admin/audit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>审计日志 · gridgis</title>" in html
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert "user:viewer1" in first_row and "logout" in first_row
    assert "cli:tests" in html and "create" in html  # the accounts made for the tests
    assert 'href="/admin/audit.csv"' in html


def test_audit_log_filters(client_for: ClientFor) -> None:
    html = client_for("admin").get("/admin/audit?actor=cli:tests&entity=api_key").get_data(True)
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 2  # the two test keys
    assert "router" in body and "reader" in body and "admin1" not in body


def test_audit_log_paging_parameters_are_checked(client_for: ClientFor) -> None:
    response = client_for("admin").get("/admin/audit?offset=-1")
    assert response.status_code == 400


def test_audit_csv_export(client_for: ClientFor) -> None:
    response = client_for("admin").get("/admin/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit.csv"'
    text = response.data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    created = {r["entity_id"] for r in rows if r["action"] == "create" and r["entity"] == "user"}
    assert set(USERS.values()) <= created
    for row in rows:
        assert "password_hash" not in row["after"] or "[redacted]" in row["after"]


def test_menu_shows_the_audit_log_to_administrators_only(client_for: ClientFor) -> None:
    assert 'href="/admin/audit"' in client_for("admin").get("/").get_data(as_text=True)
    assert 'href="/admin/audit"' not in client_for("planner").get("/").get_data(as_text=True)


# --- failures that must leave a trace -------------------------------------------------


def failures(db: Session, action: str) -> list[AuditEntry]:
    return list(
        db.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    )


def all_text(db: Session) -> str:
    return " ".join(
        str(v)
        for e in db.scalars(sa.select(AuditEntry))
        for v in (e.actor, e.entity_id, e.before, e.after, e.note)
    )


def test_a_failed_login_records_an_unknown_name_without_its_text(
    anon_client: FlaskClient, db: Session
) -> None:
    """Today the typed name is the entry's entity_id: often a password typed in the wrong field."""
    typed = "MySecretPassw0rd!"
    with anon_client.session_transaction() as session:
        session["csrf_token"] = "t"
    form = {"username": typed, "password": "whatever it is", "csrf_token": "t"}
    assert anon_client.post("/login", data=form).status_code == 401
    (entry,) = failures(db, "login_failed")
    assert (entry.actor, entry.entity, entry.entity_id) == ("anonymous:anonymous", "user", None)
    assert entry.note == "unknown username, from 127.0.0.1"
    assert set(entry.after or {}) == {"name_key", "failures_in_a_row"}
    assert typed not in all_text(db) and typed.lower() not in all_text(db)


def test_a_refused_api_key_is_audited_by_its_prefix_only(
    app: Flask, sample_accounts: Accounts, db: Session
) -> None:
    """Today a refused key leaves no entry: a client probing keys goes unseen."""
    real = sample_accounts.keys["router"]
    guessed = real[:13] + "x" * 43  # the right prefix, a wrong secret
    made_up = "ggk_zzzzzzzz_" + "y" * 43
    for key in (guessed, made_up, "hunter2-not-even-a-key"):
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        response = client.get("/api/v1/communities")
        assert response.status_code == 401  # the error rolls the request back, but not this
    rows = [(e.entity_id, e.after, e.note) for e in failures(db, "api_key_refused")]
    assert rows == [
        ("router", {"prefix": real[4:12], "reason": "wrong secret"}, "from 127.0.0.1"),
        (None, {"prefix": "zzzzzzzz", "reason": "unknown prefix"}, "from 127.0.0.1"),
        (None, {"prefix": None, "reason": "malformed"}, "from 127.0.0.1"),
    ]
    text = all_text(db)
    assert real[13:] not in text and "x" * 43 not in text and "hunter2" not in text


def test_a_wrong_current_password_is_audited(
    client_for: ClientFor, sample_accounts: Accounts, db: Session
) -> None:
    """Today a wrong current password on /account/password leaves no entry."""
    browser = client_for("planner")
    new = "A-new-passw0rd-42"
    form = {"old_password": "not-it-at-all", "new_password": new, "confirm_password": new}
    assert browser.post("/account/password", data=form).status_code == 400
    (entry,) = failures(db, "change_password_failed")
    assert (entry.actor, entry.entity_id) == ("user:planner1", "planner1")
    assert entry.note == "the current password given was wrong, from 127.0.0.1"
    assert "not-it-at-all" not in all_text(db)
