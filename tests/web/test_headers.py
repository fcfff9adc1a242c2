"""Security headers on every answer, and a map page that needs no inline style or script."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from gridgis.maps.offline import TileSpec
from web.security.headers import content_security_policy, tile_sources

FIXED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def nonce_of(csp: str) -> str:
    found = re.search(r"script-src 'self' 'nonce-([\w-]+)'", csp)
    assert found, csp
    return found.group(1)


@pytest.mark.parametrize(
    "url", ["/", "/login", "/api/v1", "/api/v1/communities", "/nowhere", "/static/gridgis.css"]
)
def test_headers_on_every_kind_of_answer(client: FlaskClient, url: str) -> None:
    with client.get(url) as response:
        headers = response.headers
    for name, value in FIXED.items():
        assert headers[name] == value, (url, name)
    nonce = nonce_of(headers["Content-Security-Policy"])
    assert headers["Content-Security-Policy"] == content_security_policy(nonce)
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in headers  # plain http on 127.0.0.1


@pytest.mark.parametrize("base_url", ["https://localhost", "https://grid.example.gov.cn:8443"])
def test_hsts_on_every_answer_over_https(client: FlaskClient, base_url: str) -> None:
    """TLS ended in the app's server (or a trusted proxy said https): browsers keep to https."""
    for url in ("/", "/api/v1", "/nowhere"):
        headers = client.get(url, base_url=base_url).headers
        assert headers["Strict-Transport-Security"] == "max-age=31536000", url


def test_the_policy_allows_only_our_origin() -> None:
    assert content_security_policy("N") == (
        "default-src 'self'; script-src 'self' 'nonce-N'; style-src 'self' 'nonce-N'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    )


def test_tile_hosts_join_img_src() -> None:
    spec = TileSpec(url="http://{s}.tiles.intranet:8080/{z}/{x}/{y}.png", attribution="", name="b")
    assert tile_sources([spec]) == [
        "http://a.tiles.intranet:8080",
        "http://b.tiles.intranet:8080",
        "http://c.tiles.intranet:8080",
    ]
    plain = TileSpec(url="https://tiles.example/{z}/{x}/{y}.png", attribution="", name="b")
    assert tile_sources([plain, plain]) == ["https://tiles.example"]


def test_pages_are_not_cached_static_files_may_be(client: FlaskClient) -> None:
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/communities").headers["Cache-Control"] == "no-store"
    with client.get("/static/vendor/leaflet/leaflet.js") as script:
        assert "no-store" not in script.headers.get("Cache-Control", "")


def test_a_fresh_nonce_per_answer(client: FlaskClient) -> None:
    first = nonce_of(client.get("/").headers["Content-Security-Policy"])
    second = nonce_of(client.get("/").headers["Content-Security-Policy"])
    assert first != second and len(first) >= 22


@pytest.mark.parametrize("role", ["admin", "viewer", "grid_staff"])
def test_map_page_runs_under_the_policy(
    client_for: Callable[[str], FlaskClient], role: str
) -> None:
    response = client_for(role).get("/")
    html = response.get_data(as_text=True)
    nonce = nonce_of(response.headers["Content-Security-Policy"])
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    styles = re.findall(r"<style([^>]*)>", html)
    assert inline_scripts and styles
    for attributes in inline_scripts + styles:
        assert f'nonce="{nonce}"' in attributes, attributes
    # Inline style attributes and event handlers would be blocked: there are none,
    # neither in the page nor in the popups and legend its script writes.
    assert not re.search(r"""\sstyle\s*=\s*["'\\]""", html)
    assert not re.search(r"""\son[a-z]+\s*=\s*["'\\]""", html)
    assert "javascript:" not in html
