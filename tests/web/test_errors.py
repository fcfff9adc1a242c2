"""Errors come back as JSON or HTML, with a message and never a stack trace."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridgis.access.permissions import PUBLIC
from tests.support.web import login, make_app
from web.security import requires


def closed_port() -> int:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def down_client() -> Iterator[FlaskClient]:
    """A logged-in browser whose account cannot be looked up: the database is down."""
    url = f"postgresql+psycopg://gridgis:secret@127.0.0.1:{closed_port()}/gridgis"
    for app in make_app(url):
        yield login(app.test_client(), 1)


def test_database_down_is_503_json_for_the_api(down_client: FlaskClient) -> None:
    response = down_client.get("/api/v1/communities")
    assert response.status_code == 503
    message = response.json["error"]["message"]
    assert message.startswith("Database unavailable: please try again in a minute.")
    assert "127.0.0.1" not in message and "secret" not in message


def test_database_down_is_503_html_for_pages(down_client: FlaskClient) -> None:
    response = down_client.get("/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "服务暂不可用" in html and "数据库不可用" in html
    assert "Traceback" not in html and "secret" not in html and "psycopg" not in html


@pytest.fixture
def boom_app(app: Flask) -> Flask:
    @requires(PUBLIC)
    def boom() -> str:
        raise RuntimeError("internal detail: password=hunter2")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/v1/boom", view_func=boom, endpoint="api_boom")
    return app


def test_unexpected_error_is_500_without_details(
    boom_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = boom_app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "服务器出现问题" in html
    assert "hunter2" not in html and "Traceback" not in html and "RuntimeError" not in html
    api = client.get("/api/v1/boom")
    assert api.status_code == 500
    assert api.json == {
        "error": {
            "status": 500,
            "message": "Something went wrong on our side; it has been logged. Please try again.",
        }
    }
    assert "unexpected error on GET /boom" in caplog.text  # logged for the administrator


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        ("application/json", "application/json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
        ("*/*", "text/html"),
        ("application/json, text/html;q=0.5", "application/json"),
    ],
)
def test_accept_chooses_json_or_html(client: FlaskClient, accept: str, mimetype: str) -> None:
    response = client.get("/communities/nowhere", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.mimetype == mimetype
    if mimetype == "application/json":
        assert response.json["error"]["message"] == "No community with code 'nowhere'."


def test_api_errors_are_json_whatever_the_accept_header(client: FlaskClient) -> None:
    response = client.get("/api/v1/communities/nowhere", headers={"Accept": "text/html"})
    assert response.mimetype == "application/json"


def test_html_404_and_405(client: FlaskClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "此地址没有页面。" in missing.get_data(as_text=True)
    wrong = client.post("/")
    assert wrong.status_code == 405
    assert "此地址不接受这种请求。" in wrong.get_data(as_text=True)


def test_empty_community_choice_is_400(client: FlaskClient) -> None:
    response = client.get("/go?community=", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["message"] == "Choose a community."


def test_json_documents_and_bodies_get_json_errors(client: FlaskClient) -> None:
    """A script posting JSON, or asking for a .json path, reads its error as JSON."""
    document = client.get("/communities/nowhere.json", headers={"Accept": "text/html"})
    assert document.status_code == 404
    assert document.mimetype == "application/json"
    body = client.post("/no/such/page", json={"a": 1}, headers={"Accept": "text/html"})
    assert body.status_code == 404
    assert body.mimetype == "application/json"
