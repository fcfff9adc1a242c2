"""Logging in and out through the forms: sessions, lockout, CSRF, password changes."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.access import accounts
from gridgis.access.logins import MAX_FAILED_LOGINS
from gridgis.config import Settings
from gridgis.models import AuditEntry
from tests.support.actors import named
from tests.support.web import PASSWORD, USERS, Accounts, login
from web.security.gate import safe_next
from web.security.keys import secret_key, secure_cookies

FreshUser = Callable[..., tuple[str, int]]


def form_token(client: FlaskClient, url: str = "/login") -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(
    client: FlaskClient, username: str, password: str = PASSWORD, **extra: str
) -> tuple[int, str, str]:
    """POST the login form as a browser would; (status, location, page text)."""
    data = {"username": username, "password": password, "csrf_token": form_token(client), **extra}
    response = client.post("/login", data=data)
    return response.status_code, response.location or "", response.get_data(as_text=True)


def audit_rows(db: Session, entity_id: str) -> list[tuple[str, str, str | None]]:
    rows = db.execute(
        sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.note)
        .where(AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.id)
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def with_db(db: Session, work: Callable[[Session], object]) -> None:
    """Write as another process would, then commit (a savepoint of the test's transaction)."""
    work(db)
    db.commit()


def test_login_page_in_chinese_with_a_form_token(anon_client: FlaskClient) -> None:
    response = anon_client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>登录 · gridgis</title>" in html
    assert 'name="username"' in html and 'type="password"' in html
    assert re.search(r'name="csrf_token" value="[\w-]{40,}"', html)
    english = anon_client.get("/login?lang=en").get_data(as_text=True)
    assert ">Log in</button>" in english


def test_head_of_the_login_page(anon_client: FlaskClient) -> None:
    assert anon_client.head("/login").status_code == 200


def test_login_and_back_to_the_page_asked_for(
    anon_client: FlaskClient, fresh_user: FreshUser, db: Session
) -> None:
    username, _ = fresh_user("viewer")
    assert anon_client.get("/").location == "/login?next=/"
    status, location, _ = log_in(anon_client, username, next="/communities/420106001002")
    assert (status, location) == (302, "/communities/420106001002")
    page = anon_client.get("/communities/420106001002")
    assert page.status_code == 200
    assert f"{username} · 只读用户" in page.get_data(as_text=True)
    # Logged in, the login page sends one on.
    assert anon_client.get("/login").status_code == 302
    assert audit_rows(db, username)[-1][:2] == (f"user:{username}", "login")


def test_session_cookie_flags(anon_client: FlaskClient, fresh_user: FreshUser) -> None:
    username, _ = fresh_user()
    token = form_token(anon_client)
    response = anon_client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if "gridgis_session=" in c]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # served on 127.0.0.1 in the tests


def test_secure_cookies_unless_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDGIS_SECURE_COOKIES", raising=False)
    assert secure_cookies(Settings(host="0.0.0.0")) is True
    assert secure_cookies(Settings(host="127.0.0.1")) is False
    assert secure_cookies(Settings(host="localhost")) is False
    monkeypatch.setenv("GRIDGIS_SECURE_COOKIES", "0")
    assert secure_cookies(Settings.from_env()) is False
    assert secure_cookies(Settings(host="0.0.0.0", secure_cookies=False)) is False
    monkeypatch.setenv("GRIDGIS_SECURE_COOKIES", "1")
    assert secure_cookies(Settings.from_env()) is True
    assert secure_cookies(Settings(host="127.0.0.1", secure_cookies=True)) is True


def test_secure_cookie_app_says_so(sample_database_url: str) -> None:
    from tests.support.web import make_app

    for app in make_app(sample_database_url, SESSION_COOKIE_SECURE=True):
        response = app.test_client().get("/login", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_wrong_password_is_401_and_audited(
    anon_client: FlaskClient, fresh_user: FreshUser, db: Session
) -> None:
    username, _ = fresh_user()
    status, _, html = log_in(anon_client, username, "not-the-password")
    assert status == 401 and "用户名或密码错误。" in html
    assert f'value="{username}"' in html  # the username stays in the form, the password not
    assert "not-the-password" not in html
    (row,) = audit_rows(db, username)[1:]
    assert row[:2] == ("anonymous:anonymous", "login_failed")
    assert row[2] == "AuthenticationFailed from 127.0.0.1"
    assert anon_client.get("/").status_code == 302  # still not logged in


def test_unknown_user_gets_the_same_answer(anon_client: FlaskClient) -> None:
    status, _, html = log_in(anon_client, "no-such-user", "whatever-password")
    assert status == 401 and "用户名或密码错误。" in html


def test_empty_form_is_400(anon_client: FlaskClient) -> None:
    status, _, html = log_in(anon_client, "", "")
    assert status == 400 and "请输入用户名和密码。" in html


def test_lockout_after_repeated_failures(
    anon_client: FlaskClient, fresh_user: FreshUser, db: Session
) -> None:
    username, _ = fresh_user()
    statuses = [log_in(anon_client, username, f"wrong-{i}")[0] for i in range(MAX_FAILED_LOGINS)]
    assert statuses == [401] * MAX_FAILED_LOGINS
    # Locked now: even the right password is refused, with when to come back.
    data = {"username": username, "password": PASSWORD, "csrf_token": form_token(anon_client)}
    response = anon_client.post("/login", data=data)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert "账号已锁定。请 15 分钟后再试" in response.get_data(as_text=True)
    assert anon_client.get("/").status_code == 302
    actions = [action for _, action, _ in audit_rows(db, username)]
    # The last failure locks the account (recorded as it happens), then its own entry.
    failures = ["login_failed"] * (MAX_FAILED_LOGINS - 1)
    assert actions == ["create", *failures, "lock", "login_failed", "login_failed"]


def test_login_needs_the_form_token(anon_client: FlaskClient, fresh_user: FreshUser) -> None:
    username, _ = fresh_user()
    form_token(anon_client)  # the session has a token, the POST does not carry it
    response = anon_client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.get_data(as_text=True)
    forged = {"username": username, "password": PASSWORD, "csrf_token": "forged"}
    assert anon_client.post("/login", data=forged).status_code == 403
    assert anon_client.get("/").status_code == 302


def test_cookie_writes_need_the_token_api_keys_do_not(
    app: Flask, sample_accounts: Accounts, key_client: Callable[[str], FlaskClient]
) -> None:
    point = {"lon": 114.301, "lat": 30.5911}
    browser = login(app.test_client(), sample_accounts.ids["dispatcher1"])
    token = browser.environ_base.pop("HTTP_X_CSRF_TOKEN")
    refused = browser.post("/api/v1/route", json=point)
    assert refused.status_code == 403
    assert refused.json["error"]["message"].startswith("This form has expired")
    wrong = browser.post("/api/v1/route", json=point, headers={"X-CSRF-Token": "x" + token})
    assert wrong.status_code == 403
    assert browser.post("/api/v1/route", json=point, headers={"X-CSRF-Token": token}).status_code
    assert key_client("router").post("/api/v1/route", json=point).status_code == 200
    # A logout forged from elsewhere (no token) leaves the user logged in.
    assert browser.post("/logout").status_code == 403
    assert browser.get("/").status_code == 200


def test_logout(app: Flask, db: Session, fresh_user: FreshUser) -> None:
    username, user_id = fresh_user()
    browser = login(app.test_client(), user_id)
    assert browser.get("/").status_code == 200
    html = browser.get("/").get_data(as_text=True)
    assert 'action="/logout"' in html and "退出" in html
    response = browser.post("/logout")
    assert (response.status_code, response.location) == (302, "/login")
    assert "您已退出登录。" in browser.get("/login").get_data(as_text=True)
    assert browser.get("/").status_code == 302
    assert audit_rows(db, username)[-1][:2] == (f"user:{username}", "logout")


def test_logout_is_a_post(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_idle_and_absolute_expiry(client_for: Callable[[str], FlaskClient]) -> None:
    browser = client_for("viewer")
    with browser.session_transaction() as session:
        session["seen"] = time.time() - 31 * 60
    response = browser.get("/")
    assert response.location == "/login?next=/"
    assert "登录已失效，请重新登录。" in browser.get("/login").get_data(as_text=True)

    browser = client_for("viewer")
    with browser.session_transaction() as session:
        session["iat"] = time.time() - 8 * 3600 - 1  # active all day, still ends
    assert browser.get("/").status_code == 302
    assert client_for("viewer").get("/api/v1/communities").status_code == 200


def test_idle_clock_moves_on_with_use(client_for: Callable[[str], FlaskClient]) -> None:
    browser = client_for("viewer")
    with browser.session_transaction() as session:
        session["seen"] = time.time() - 29 * 60
    assert browser.get("/api/v1/communities").status_code == 200
    with browser.session_transaction() as session:
        assert time.time() - session["seen"] < 5


def test_password_change_ends_other_sessions(
    app: Flask, fresh_user: FreshUser, db: Session
) -> None:
    username, _ = fresh_user()
    here, there = app.test_client(), app.test_client()
    for browser in (here, there):
        assert log_in(browser, username)[0] == 302
    new = "A-new-passw0rd-42"
    token = form_token(here, "/account/password")
    mismatch = {"old_password": PASSWORD, "new_password": new, "confirm_password": new + "x"}
    response = here.post("/account/password", data={**mismatch, "csrf_token": token})
    assert response.status_code == 400 and "两次输入的新密码不一致。" in response.get_data(True)
    short = {"old_password": PASSWORD, "new_password": "short", "confirm_password": "short"}
    response = here.post("/account/password", data={**short, "csrf_token": token})
    assert response.status_code == 400 and "too short" in response.get_data(True)
    wrong = {"old_password": "not-it-at-all", "new_password": new, "confirm_password": new}
    response = here.post("/account/password", data={**wrong, "csrf_token": token})
    assert response.status_code == 400 and "当前密码错误" in response.get_data(True)

    right = {"old_password": PASSWORD, "new_password": new, "confirm_password": new}
    response = here.post("/account/password", data={**right, "csrf_token": token})
    assert (response.status_code, response.location) == (302, "/")
    assert "密码已修改" in here.get("/").get_data(as_text=True)  # this browser stays in
    assert there.get("/").status_code == 302  # the other one is out
    fresh = app.test_client()
    assert log_in(fresh, username)[0] == 401
    assert log_in(fresh, username, new)[0] == 302
    actions = [a for _, a, _ in audit_rows(db, username)]
    assert "change_password" in actions


def test_disabled_account_loses_its_session(app: Flask, fresh_user: FreshUser, db: Session) -> None:
    username, user_id = fresh_user()
    browser = login(app.test_client(), user_id)
    assert browser.get("/").status_code == 200
    with_db(
        db,
        lambda s: accounts.disable_user(s, username, actor=named("cli:tests")),
    )
    assert browser.get("/").status_code == 302
    assert browser.get("/api/v1/communities").status_code == 401


def test_role_change_takes_effect_at_once(app: Flask, fresh_user: FreshUser, db: Session) -> None:
    username, user_id = fresh_user("admin")
    browser = login(app.test_client(), user_id)
    assert browser.get("/admin/audit").status_code == 200
    with_db(
        db,
        lambda s: accounts.set_role(s, username, "viewer", actor=named("cli:tests")),
    )
    assert browser.get("/admin/audit").status_code == 302  # the old session is void


def test_session_of_a_deleted_user_id_is_void(app: Flask) -> None:
    browser = login(app.test_client(), 10**9)
    assert browser.get("/").status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/communities/1?layout=a", "/communities/1?layout=a"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_login_does_not_redirect_elsewhere(anon_client: FlaskClient, fresh_user: FreshUser) -> None:
    username, _ = fresh_user()
    status, location, _ = log_in(anon_client, username, next="//evil.example/")
    assert (status, location) == (302, "/")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    first = secret_key(Settings(), path)
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(Settings(), path) == first  # a restart keeps the sessions
    assert secret_key(Settings(secret_key="from-the-environment"), path) == "from-the-environment"


def test_every_role_can_log_in_through_the_form(app: Flask) -> None:
    for username in USERS.values():
        assert log_in(app.test_client(), username)[0] == 302, username
