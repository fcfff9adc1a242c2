"""Rate limits: a burst of logins from one address, a burst of API calls from one client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.support.web import Accounts, make_app
from web.limits import API_RATE, LOGIN_RATE


@pytest.fixture
def limited_app(sample_database_url: str) -> Iterator[Flask]:
    yield from make_app(
        sample_database_url,
        RATELIMIT_ENABLED=True,
        GRIDGIS_LOGIN_RATE="3 per minute",
        GRIDGIS_API_RATE="5 per minute",
    )


def test_defaults() -> None:
    assert (LOGIN_RATE, API_RATE) == ("10 per minute", "600 per minute")


def test_burst_of_logins_is_refused(limited_app: Flask) -> None:
    client = limited_app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "t"
    form = {"username": "nobody", "password": "wrong-password", "csrf_token": "t"}
    assert [client.post("/login", data=form).status_code for _ in range(3)] == [401] * 3
    refused = client.post("/login", data=form)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert "此地址登录尝试过于频繁" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    # The form itself still shows; only attempts are limited.
    assert client.get("/login").status_code == 200


def test_burst_of_api_calls_is_refused(limited_app: Flask, sample_accounts: Accounts) -> None:
    client = limited_app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = sample_accounts.keys["reader"]
    statuses = [client.get("/api/v1/communities").status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = client.get("/api/v1/communities")
    assert refused.status_code == 429
    assert refused.json["error"]["message"].startswith("Too many requests from this client")
    assert "Retry-After" in refused.headers
    # Another client has a budget of its own.
    other = limited_app.test_client()
    other.environ_base["HTTP_X_API_KEY"] = sample_accounts.keys["router"]
    assert other.get("/api/v1").status_code == 200
