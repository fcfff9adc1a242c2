"""Compression (web.compression): scripts, styles and JSON are compressed; pages never are."""

from __future__ import annotations

import gzip
import json

from flask.testing import FlaskClient

from tests.support.sample_community import COMMUNITY_CODE

GZIP = {"Accept-Encoding": "gzip"}


def test_a_script_is_compressed_whole_and_reads_the_same(client: FlaskClient) -> None:
    plain = client.get("/static/my.js")
    squeezed = client.get("/static/my.js", headers=GZIP)
    assert squeezed.status_code == plain.status_code == 200
    assert squeezed.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert len(squeezed.data) < len(plain.data) / 2
    assert gzip.decompress(squeezed.data) == plain.data
    plain.close()
    squeezed.close()


def test_json_is_compressed(client: FlaskClient) -> None:
    url = f"/api/v1/communities/{COMMUNITY_CODE}/buildings"
    plain = client.get(url)
    answer = client.get(url, headers=GZIP)
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(answer.data)) == plain.json


def test_pages_are_never_compressed(client: FlaskClient) -> None:
    """A page holds the CSRF token beside reflected input: compressed, BREACH could read it."""
    page = client.get("/?lang=zh", headers=GZIP)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "Content-Encoding" not in page.headers
