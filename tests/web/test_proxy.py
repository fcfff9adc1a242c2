"""Behind a reverse proxy, and at a public URL (issue 8, items 4 and 12).

With ``GRIDGIS_PUBLIC_URL=https://...`` session cookies are Secure and every
answer has HSTS; with ``GRIDGIS_TRUSTED_PROXIES=1`` rate limits and the audit
log see the client's address from ``X-Forwarded-For``, and nobody else's
``X-Forwarded-For`` is believed. Links never lead to another host, whatever
Host header or ``?_external=1`` a client sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask, request, url_for
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gridgis.access.permissions import PUBLIC
from gridgis.config import Settings
from gridgis.errors import GridgisError
from gridgis.models import AuditEntry
from tests.support.web import make_app, rolled_back_app
from web import create_app
from web.security import requires
from web.security.keys import secure_cookies

PUBLIC_URL = "https://grid.example.gov.cn"
HSTS = "max-age=31536000"
PROXY = "10.0.0.2"


def session_cookie(response: TestResponse) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if "gridgis_session=" in c]
    return cookie


def lang_links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)" hreflang=', html)


@pytest.fixture
def public_app(sample_database_url: str) -> Iterator[Flask]:
    """The app at https://grid.example.gov.cn, behind one trusted proxy."""
    with rolled_back_app(sample_database_url, PUBLIC_URL=PUBLIC_URL, TRUSTED_PROXIES=1) as app:
        yield app


# --- item 4: Secure cookies and HSTS ----------------------------------------------


def test_an_https_public_url_means_secure_cookies_and_hsts(public_app: Flask) -> None:
    client = public_app.test_client()
    page = client.get("/login")  # the login form puts a CSRF token in the session
    assert page.status_code == 200
    cookie = session_cookie(page)
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert page.headers["Strict-Transport-Security"] == HSTS
    # Every answer, even to a request the proxy forwarded as plain http.
    api = client.get("/api/v1", base_url="http://127.0.0.1:8000", headers={"Host": "x"})
    assert api.headers["Strict-Transport-Security"] == HSTS


def test_an_http_public_url_means_cookies_that_come_back_over_http(
    sample_database_url: str,
) -> None:
    for app in make_app(sample_database_url, PUBLIC_URL="http://10.1.2.3:8080", HOST="0.0.0.0"):
        page = app.test_client().get("/login")
        assert "; Secure" not in session_cookie(page)
        assert "Strict-Transport-Security" not in page.headers


@pytest.mark.parametrize(
    "settings, secure",
    [
        (Settings(), False),  # make run: http://127.0.0.1
        (Settings(host="0.0.0.0"), True),  # serving beyond localhost, no public URL
        (Settings(public_url=PUBLIC_URL), True),
        (Settings(public_url=PUBLIC_URL, secure_cookies=False), True),  # https wins
        (Settings(public_url="http://10.1.2.3:8080", host="0.0.0.0"), False),
        (Settings(public_url="http://10.1.2.3:8080", secure_cookies=True), True),
        (Settings(host="0.0.0.0", secure_cookies=False), False),
    ],
)
def test_secure_cookies(settings: Settings, secure: bool) -> None:
    assert secure_cookies(settings) is secure


def test_without_a_public_url_the_app_answers_on_127_0_0_1(anon_client: FlaskClient) -> None:
    for base_url in ("http://127.0.0.1:5000", "http://localhost:5000"):
        page = anon_client.get("/login", base_url=base_url)
        assert page.status_code == 200
        assert "; Secure" not in session_cookie(page)
        assert "Strict-Transport-Security" not in page.headers


@pytest.mark.parametrize(
    "url",
    [
        "grid.example.gov.cn",
        "ftp://grid.example.gov.cn",
        "https://",
        "https://grid.example.gov.cn/gridgis",
        "https://grid.example.gov.cn/?a=1",
        "https://admin@grid.example.gov.cn",
        "https://grid.example.gov.cn:port",
        "https://[::1",
    ],
)
def test_a_malformed_public_url_stops_the_start(sample_database_url: str, url: str) -> None:
    with pytest.raises(GridgisError, match="GRIDGIS_PUBLIC_URL must be the address users reach"):
        create_app({"DATABASE_URL": sample_database_url, "PUBLIC_URL": url})


def test_a_negative_proxy_count_stops_the_start(sample_database_url: str) -> None:
    with pytest.raises(GridgisError, match="GRIDGIS_TRUSTED_PROXIES must be the number"):
        create_app({"DATABASE_URL": sample_database_url, "TRUSTED_PROXIES": -1})


# --- item 4: the client's own address --------------------------------------------


def failed_login(client: FlaskClient, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    form = {"username": "nobody", "password": "wrong-password", "csrf_token": "t"}
    return client.post("/login", data=form, headers=headers).status_code


def browser_via_proxy(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    return client


def test_the_audit_log_names_the_client_not_the_proxy(public_app: Flask) -> None:
    client = browser_via_proxy(public_app)
    # nginx appends the address it saw to whatever the client sent: only that one counts.
    assert failed_login(client, "6.6.6.6, 198.51.100.23") == 401
    session = public_app.extensions["gridgis"].sessions()
    try:
        note = session.scalars(
            sa.select(AuditEntry.note).order_by(AuditEntry.id.desc()).limit(1)
        ).one()
    finally:
        session.close()
    assert "198.51.100.23" in note and PROXY not in note and "6.6.6.6" not in note


@pytest.mark.parametrize("trusted", [1, 0])
def test_login_limits_are_per_client_behind_a_trusted_proxy(
    sample_database_url: str, trusted: int
) -> None:
    """Two people behind one trusted proxy have a budget each; without trust,
    X-Forwarded-For is anybody's to write and is ignored."""
    with rolled_back_app(
        sample_database_url,
        TRUSTED_PROXIES=trusted,
        RATELIMIT_ENABLED=True,
        GRIDGIS_LOGIN_RATE="2 per minute",
    ) as app:
        client = browser_via_proxy(app)
        first = [failed_login(client, "198.51.100.1") for _ in range(3)]
        second = failed_login(client, "198.51.100.2")
    assert first == [401, 401, 429]
    assert second == (401 if trusted else 429)


# --- item 12: links never lead to another host ------------------------------------


def test_query_arguments_make_no_link_to_another_host(anon_client: FlaskClient) -> None:
    page = anon_client.get(
        "/login?next=/&_external=1&_scheme=https&_anchor=x&_method=GET",
        headers={"Host": "evil.example"},
    )
    assert page.status_code == 200
    links = lang_links(page.get_data(as_text=True))
    assert links == ["/login?next=/&amp;lang=zh", "/login?next=/&amp;lang=en"]


def test_a_query_argument_named_endpoint_is_no_error(anon_client: FlaskClient) -> None:
    page = anon_client.get("/login?endpoint=api.discovery")  # url_for's own parameter
    assert page.status_code == 200
    assert lang_links(page.get_data(as_text=True)) == ["/login?lang=zh", "/login?lang=en"]


def test_links_built_in_a_request_name_the_public_url(sample_database_url: str) -> None:
    for app in make_app(sample_database_url, PUBLIC_URL=PUBLIC_URL):

        @app.get("/test-link")
        @requires(PUBLIC)
        def link() -> dict[str, str]:
            return {"url": request.url, "map": url_for("maps.overview", _external=True)}

        forged = app.test_client().get(
            "/test-link", base_url="http://127.0.0.1:5000", headers={"Host": "evil.example"}
        )
        assert forged.json == {
            "url": f"{PUBLIC_URL}/test-link",
            "map": f"{PUBLIC_URL}/",
        }
        with app.app_context():  # and outside a request (a command, a mail)
            assert url_for("maps.overview") == f"{PUBLIC_URL}/"


def test_audit_paging_links_carry_only_their_filters(
    client_for: Callable[[str], FlaskClient],
) -> None:
    """The audit pages build their links from named filters, never from the raw query."""
    page = client_for("admin").get(
        "/admin/audit?offset=100&actor=user:admin1&_external=1&_scheme=https&_anchor=x"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a href="/admin/audit?actor=user:admin1&amp;offset=0">' in html
    assert "://" not in "".join(re.findall(r'href="([^"]*)"', html))
