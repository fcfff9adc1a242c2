"""Logging in and out through the forms: sessions on the server, throttling, CSRF, passwords."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse as FlaskResponse

from gridgis import clock
from gridgis.access import accounts
from gridgis.access.logins import FREE_FAILURES
from gridgis.config import Settings
from gridgis.errors import GridgisError
from gridgis.models import AuditEntry
from tests.support.actors import named
from tests.support.web import PASSWORD, TEST_CONFIG, USERS, Accounts, login
from web import create_app
from web.security.gate import safe_next
from web.security.keys import check_secret_key, secret_key, secure_cookies

FreshUser = Callable[..., tuple[str, int]]


def form_token(client: FlaskClient, url: str = "/login") -> str:
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def post_login(
    client: FlaskClient, username: str, password: str = PASSWORD, **extra: str
) -> FlaskResponse:
    """POST the login form as a browser would."""
    data = {"username": username, "password": password, "csrf_token": form_token(client), **extra}
    return client.post("/login", data=data)


def log_in(
    client: FlaskClient, username: str, password: str = PASSWORD, **extra: str
) -> tuple[int, str, str]:
    """POST the login form as a browser would; (status, location, page text)."""
    response = post_login(client, username, password, **extra)
    return response.status_code, response.location or "", response.get_data(as_text=True)


def log_out(client: FlaskClient) -> int:
    """Press the logout button (a form carrying the page's CSRF token)."""
    token = form_token(client, "/account/password")
    return client.post("/logout", data={"csrf_token": token}).status_code


def browser_at(app: Flask, address: str) -> FlaskClient:
    """A browser whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def frozen_now() -> Iterator[clock.FixedClock]:
    """The app's clock stands still at the real time (tests move it)."""
    with clock.frozen(dt.datetime.now(dt.UTC)) as fixed:
        yield fixed


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
    assert row == ("anonymous:anonymous", "login_failed", "wrong password, from 127.0.0.1")
    assert anon_client.get("/").status_code == 302  # still not logged in


def test_empty_form_is_400(anon_client: FlaskClient) -> None:
    status, _, html = log_in(anon_client, "", "")
    assert status == 400 and "请输入用户名和密码。" in html


def normalised(response: FlaskResponse, username: str) -> tuple[int, list[tuple[str, str]], str]:
    """A response with what differs by design taken out: nonces, tokens, the name typed."""

    def clean(text: str) -> str:
        text = re.sub(r"nonce-[\w-]+|nonce=\"[^\"]+\"", "nonce", text)
        text = re.sub(r'name="csrf_token" value="[^"]+"', "csrf", text)
        return text.replace(f'value="{username}"', 'value="NAME"')

    headers = sorted((k, clean(v)) for k, v in response.headers.items() if k != "Content-Length")
    return response.status_code, headers, clean(response.get_data(as_text=True))


def test_unknown_wrong_and_throttled_get_the_same_response(
    app: Flask, fresh_user: FreshUser, db: Session
) -> None:
    """Today a real account answers 429 "locked" after five failures, an unknown name 401."""
    username, _ = fresh_user()
    here = browser_at(app, "192.0.2.10")
    for i in range(5):
        assert post_login(here, username, f"wrong-{i}").status_code == 401
    same_length = "u" + "x" * (len(username) - 1)  # no such account, as long as the real name
    responses = {
        "unknown name": post_login(browser_at(app, "192.0.2.11"), same_length, "some-password"),
        "wrong password": post_login(browser_at(app, "192.0.2.12"), username, "another-guess"),
        "right password, too soon": post_login(here, username, PASSWORD),
        "wrong password, too soon": post_login(here, username, "yet-another-guess"),
    }
    expected = normalised(responses["wrong password"], username)
    assert expected[0] == 401 and "Retry-After" not in dict(expected[1])
    assert "用户名或密码错误。" in expected[2]
    assert "多次登录失败后，每次再试都要多等一会儿" in expected[2]
    for kind, response in responses.items():
        name = same_length if kind == "unknown name" else username
        assert normalised(response, name) == expected, kind
    notes = [note for _, action, note in audit_rows(db, username) if action == "login_failed"]
    assert notes[-2].startswith("too soon") and notes[-1].startswith("too soon")
    assert here.get("/").status_code == 302  # the right password did not log in


def test_the_same_time_for_unknown_wrong_and_throttled(
    app: Flask, fresh_user: FreshUser, frozen_now: clock.FixedClock
) -> None:
    """Each failure costs one argon2id check and the same database work."""
    username, _ = fresh_user()
    throttled = browser_at(app, "192.0.2.20")
    for i in range(FREE_FAILURES):
        post_login(throttled, username, f"wrong-{i}")
    timings: dict[str, list[float]] = {"unknown": [], "wrong": [], "throttled": []}
    for i in range(15):  # interleaved, so that load on the machine hits all three alike
        attempts = {
            "unknown": (browser_at(app, f"198.51.100.{i}"), f"nobody{i:05d}", "a-guess"),
            "wrong": (browser_at(app, f"198.51.101.{i}"), username, "a-guess"),
            "throttled": (throttled, username, PASSWORD),
        }
        for kind, (client, name, password) in attempts.items():
            token = form_token(client)
            started = time.perf_counter()
            response = client.post(
                "/login", data={"username": name, "password": password, "csrf_token": token}
            )
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 401, kind
    medians = {kind: statistics.median(t) * 1000 for kind, t in timings.items()}
    print("median ms per failed login:", {k: round(v, 1) for k, v in medians.items()})
    assert max(medians.values()) / min(medians.values()) < 1.5, medians


def test_a_stranger_cannot_lock_the_administrator_out(
    app: Flask, fresh_user: FreshUser, db: Session
) -> None:
    """Today five wrong passwords from anywhere lock the administrator out for 15 minutes."""
    admin, _ = fresh_user("admin")
    desk = browser_at(app, "10.20.30.40")
    assert log_in(desk, admin)[0] == 302  # the administrator's own address, known from now on
    assert log_out(desk) == 302
    for source in ("203.0.113.5", "203.0.113.6"):
        stranger = browser_at(app, source)
        statuses = {post_login(stranger, admin, f"guess-{i}").status_code for i in range(30)}
        assert statuses == {401}
    assert log_in(desk, admin)[0] == 302
    assert desk.get("/admin/audit").status_code == 200
    failed = [a for _, a, _ in audit_rows(db, admin)].count("login_failed")
    assert failed == 60


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


def test_a_copied_cookie_dies_at_logout(app: Flask, fresh_user: FreshUser) -> None:
    """Today a copied cookie keeps working for up to eight hours after its owner logs out."""
    username, _ = fresh_user()
    owner = app.test_client()
    assert log_in(owner, username)[0] == 302
    cookie = owner.get_cookie("gridgis_session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("gridgis_session", cookie.value)
    assert thief.get("/api/v1/communities").status_code == 200  # the copy works while it lasts
    assert log_out(owner) == 302
    assert thief.get("/api/v1/communities").status_code == 401
    assert thief.get("/").location == "/login?next=/"
    # Nor does the copy come back by being used: the session is gone on the server.
    assert thief.get("/api/v1/communities").status_code == 401


def test_logout_is_a_post(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_idle_and_absolute_expiry(
    client_for: Callable[[str], FlaskClient], frozen_now: clock.FixedClock
) -> None:
    browser = client_for("viewer")
    frozen_now.advance(minutes=31)
    response = browser.get("/")
    assert response.location == "/login?next=/"
    assert "登录已失效，请重新登录。" in browser.get("/login").get_data(as_text=True)

    browser = client_for("viewer")
    for _ in range(16):  # active all day, every 29 minutes: still ends after 8 hours
        frozen_now.advance(minutes=29)
        assert browser.get("/api/v1/communities").status_code == 200
    frozen_now.advance(minutes=29)
    assert browser.get("/").status_code == 302
    assert client_for("viewer").get("/api/v1/communities").status_code == 200


def test_use_moves_the_idle_clock_on_the_server_not_the_cookie(
    client_for: Callable[[str], FlaskClient], frozen_now: clock.FixedClock
) -> None:
    browser = client_for("viewer")
    for _ in range(3):
        frozen_now.advance(minutes=29)
        response = browser.get("/api/v1/communities")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers  # the cookie is not re-sent as it is used


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
    assert response.status_code == 400 and "密码太短：至少 12 个字符。" in response.get_data(True)
    common = {"old_password": PASSWORD, "new_password": "Password123!"}
    response = here.post(
        "/account/password",
        data={**common, "confirm_password": "Password123!", "csrf_token": token},
    )
    assert response.status_code == 400 and "密码太容易被猜中" in response.get_data(True)
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
    assert "change_password_failed" in actions and "change_password" in actions


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
    umask = os.umask(0)  # even a careless umask gets a file only its owner can read
    try:
        first = secret_key(Settings(), path)
    finally:
        os.umask(umask)
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert check_secret_key(first) == first
    assert secret_key(Settings(), path) == first  # a restart keeps the sessions
    strong = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert secret_key(Settings(secret_key=strong), path) == strong


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("tests-only-secret", "is too short (17 characters; at least 32)"),
        ("changeme" * 4, "is not random enough"),
        ("0123456789abcdef" * 2, "is not random enough"),
        ("my-gridgis-secret-key-for-production-2026", "is not random enough"),
        ("a" * 64, "is not random enough"),
    ],
)
def test_a_weak_secret_key_is_refused_at_start(
    sample_database_url: str, monkeypatch: pytest.MonkeyPatch, key: str, problem: str
) -> None:
    """Today any GRIDGIS_SECRET_KEY is taken, "secret" included."""
    monkeypatch.setenv("GRIDGIS_SECRET_KEY", key)
    config = {k: v for k, v in TEST_CONFIG.items() if k != "SECRET_KEY"}
    with pytest.raises(GridgisError) as info:
        create_app({**config, "DATABASE_URL": sample_database_url})
    message = str(info.value)
    assert message.startswith(f"GRIDGIS_SECRET_KEY {problem}")
    assert "python -c 'import secrets; print(secrets.token_hex(32))'" in message
    assert "var/secret_key" in message and key not in message
    # A key given in the app's config is held to the same rule.
    with pytest.raises(GridgisError, match="GRIDGIS_SECRET_KEY"):
        create_app({**TEST_CONFIG, "DATABASE_URL": sample_database_url, "SECRET_KEY": key})


def test_an_unset_key_is_generated_and_a_weak_key_file_refused(
    sample_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GRIDGIS_SECRET_KEY", raising=False)
    path = tmp_path / "var" / "secret_key"
    config = {k: v for k, v in TEST_CONFIG.items() if k != "SECRET_KEY"}
    config.update(DATABASE_URL=sample_database_url, GRIDGIS_SECRET_KEY_FILE=str(path))
    app = create_app(config)
    app.extensions["gridgis"].engine.dispose()
    assert app.secret_key == path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("secret\n")
    with pytest.raises(GridgisError, match=f"^{re.escape(str(path))} is too short"):
        create_app(config)


def test_every_role_can_log_in_through_the_form(app: Flask) -> None:
    for username in USERS.values():
        assert log_in(app.test_client(), username)[0] == 302, username
