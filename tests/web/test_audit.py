"""The audit log pages: what administrators see, and the export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.support.web import USERS

ClientFor = Callable[[str], FlaskClient]


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
