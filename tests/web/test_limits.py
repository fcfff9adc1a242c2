"""Rate limits: a burst of logins from one address, a burst of API calls from one client,
and made-up API keys that cannot open budgets of their own (issue 8, item 7)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from gridgis import clock
from tests.support.sample_community import COMMUNITY_CODE
from tests.support.web import Accounts, make_app
from web.limits import API_RATE, LOGIN_RATE
from web.security.ratelimit import VERIFIED_FOR, VerifiedKeys


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


def client_at(app: Flask, address: str, key: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if key is not None:
        client.environ_base["HTTP_X_API_KEY"] = key
    return client


def made_up_key() -> str:
    """A key of the right shape (so it is looked up), which no one was ever given."""
    return f"ggk_{secrets.token_urlsafe(6)[:8]}_{secrets.token_urlsafe(32)}"


@pytest.fixture
def key_lookups(limited_app: Flask) -> Iterator[list[str]]:
    """The statements on the api_key table that the app sends, as they happen."""
    engine = limited_app.extensions["gridgis"].engine
    lookups: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if "api_key" in statement:
            lookups.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    yield lookups
    sa.event.remove(engine, "before_cursor_execute", record)


def test_burst_of_api_calls_is_refused(limited_app: Flask, sample_accounts: Accounts) -> None:
    client = client_at(limited_app, "192.0.2.10", sample_accounts.keys["reader"])
    # The key's first request spends its address's budget (it is not verified
    # yet); from then on the key spends its own.
    statuses = [client.get("/api/v1/communities").status_code for _ in range(1 + 5)]
    assert statuses == [200] * 6
    refused = client.get("/api/v1/communities")
    assert refused.status_code == 429
    assert refused.json["error"]["message"].startswith("Too many requests from this client")
    assert "Retry-After" in refused.headers
    # Another client has a budget of its own.
    other = limited_app.test_client()
    other.environ_base["HTTP_X_API_KEY"] = sample_accounts.keys["router"]
    assert other.get("/api/v1").status_code == 200


def test_made_up_keys_spend_the_address_budget(
    limited_app: Flask, sample_accounts: Accounts, key_lookups: list[str]
) -> None:
    """A thousand made-up keys from one address, spread over the API's endpoints:
    5 lookups (the limit), not 1,000."""
    client = client_at(limited_app, "198.51.100.7")
    base = f"/api/v1/communities/{COMMUNITY_CODE}"
    urls = ["/api/v1", "/api/v1/communities", base, f"{base}/grids", f"{base}/buildings"]
    statuses = Counter(
        client.get(urls[i % len(urls)], headers={"X-API-Key": made_up_key()}).status_code
        for i in range(1000)
    )
    assert statuses == {401: 5, 429: 995}
    assert len(key_lookups) == 5
    refused = client.get("/api/v1/communities", headers={"X-API-Key": made_up_key()})
    assert refused.json["error"]["message"].startswith("Too many requests from this client")
    # Anonymous requests from that address are out of budget too; other addresses are not.
    assert client.get("/api/v1/communities").status_code == 429
    assert client_at(limited_app, "198.51.100.8").get("/api/v1").status_code == 200


def test_made_up_open311_keys_spend_the_same_budget(
    limited_app: Flask, key_lookups: list[str]
) -> None:
    """Open311 takes keys in a query or form field: guessing them there costs no more."""
    client = client_at(limited_app, "198.51.100.9")
    statuses = Counter(
        client.get("/open311/v2/requests.json", query_string={"api_key": made_up_key()}).status_code
        for _ in range(200)
    )
    assert statuses == {403: 5, 429: 195}
    assert len(key_lookups) == 5
    # The budget is the address's across both: the JSON API refuses it too.
    assert (
        client.get("/api/v1/communities", headers={"X-API-Key": made_up_key()}).status_code == 429
    )


def test_a_verified_key_keeps_its_budget_beside_an_abusive_neighbour(
    limited_app: Flask, sample_accounts: Accounts, key_lookups: list[str]
) -> None:
    """Behind one NAT address: the hotline bridge's key is verified, then a neighbour
    sends made-up keys until the address is out of budget; the bridge goes on."""
    bridge = client_at(limited_app, "203.0.113.5", sample_accounts.keys["reader"])
    assert bridge.get("/api/v1/communities").status_code == 200  # verified now
    neighbour = client_at(limited_app, "203.0.113.5")
    statuses = [
        neighbour.get("/api/v1", headers={"Authorization": f"Bearer {made_up_key()}"}).status_code
        for _ in range(10)
    ]
    assert statuses == [401] * 4 + [429] * 6
    assert [bridge.get("/api/v1/communities").status_code for _ in range(5)] == [200] * 5
    assert bridge.get("/api/v1/communities").status_code == 429  # its own budget, spent
    assert len(key_lookups) == 1 + 4 + 5


def test_a_key_stays_verified_for_ten_minutes_after_its_last_use() -> None:
    keys = VerifiedKeys()
    with clock.frozen(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)) as now:
        keys.add("abc")
        now.advance(seconds=VERIFIED_FOR)
        assert "abc" in keys
        keys.add("abc")  # used again: remembered from now
        now.advance(seconds=VERIFIED_FOR + 1)
        assert "abc" not in keys and "other" not in keys


def test_verified_keys_are_bounded() -> None:
    keys = VerifiedKeys(size=2)
    for digest in ("a", "b", "c"):
        keys.add(digest)
    assert "a" not in keys and "b" in keys and "c" in keys
