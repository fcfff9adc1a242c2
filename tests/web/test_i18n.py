"""Chinese by default, English on request; every label has its translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gridgis.config import PROJECT_ROOT
from web.i18n import CATALOGS, COOKIE

#: Where user-visible message ids are written: templates, and code that calls
#: ``_("...")``, ``gettext("...")`` or marks ids with ``N_("...")``.
SOURCES = [
    *sorted((PROJECT_ROOT / "web" / "templates").glob("*.html")),
    PROJECT_ROOT / "web" / "errors.py",
    PROJECT_ROOT / "web" / "maps.py",
    PROJECT_ROOT / "web" / "access.py",
    PROJECT_ROOT / "web" / "audit.py",
    PROJECT_ROOT / "web" / "security.py",
    PROJECT_ROOT / "gridgis" / "maps" / "community.py",
    PROJECT_ROOT / "gridgis" / "maps" / "popups.py",
]
CALL = re.compile(r"""\b(?:_|N_|gettext)\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""")


def message_ids(path: Path) -> set[str]:
    return {a or b for a, b in CALL.findall(path.read_text(encoding="utf-8"))}


def test_every_message_id_has_a_chinese_translation() -> None:
    used = set().union(*(message_ids(p) for p in SOURCES))
    assert {"Grids", "Legend", "Grid worker", "Back to the map"} <= used  # the scan works
    missing = sorted(used - set(CATALOGS["zh"]))
    assert not missing, f"add to CATALOGS['zh'] in web/i18n.py: {missing}"


def test_error_messages_of_the_web_layer_are_translated() -> None:
    from gridgis.access.apikeys import INVALID_KEY
    from gridgis.access.logins import AuthenticationFailed
    from web import access as auth
    from web import limits, security
    from web.errors import DATABASE_DOWN, TITLES

    messages = (
        DATABASE_DOWN,
        *TITLES.values(),
        auth.ACCOUNT_LOCKED,
        auth.PASSWORDS_DIFFER,
        AuthenticationFailed().user_msg,
        INVALID_KEY,
        "The current password is wrong; nothing was changed.",  # gridgis.access.accounts
        "Log in first (or send an API key) to use this.",  # gridgis.access.permissions
        security.CSRF_FAILED,
        security.FORBIDDEN_PAGE,
        security.SESSION_ENDED,
        limits.LOGIN_TOO_FAST,
        limits.API_TOO_FAST,
    )
    for msgid in messages:
        assert msgid in CATALOGS["zh"], msgid


def page(client: FlaskClient, url: str = "/", **headers: str) -> str:
    return client.get(url, headers=headers).get_data(as_text=True)


def test_chinese_by_default(client: FlaskClient) -> None:
    html = page(client)
    assert '<html lang="zh-CN">' in html
    assert '<a href="/?lang=zh" hreflang="zh" aria-current="true">中文</a>' in html


def test_lang_parameter_switches_and_is_remembered(client: FlaskClient) -> None:
    response = client.get("/?lang=en")
    assert '<html lang="en">' in response.get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=en;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = page(client)  # the cookie now chooses English
    assert '<html lang="en">' in html
    assert '"Grids" :' in html  # the layer control, in English
    assert '<html lang="zh-CN">' in page(client, "/?lang=zh")
    assert '<html lang="zh-CN">' in page(client)


@pytest.mark.parametrize("header", ["en-US,en;q=0.9", "zh-CN,zh;q=0.9", "fr-FR"])
def test_chinese_whatever_the_browser_says(client: FlaskClient, header: str) -> None:
    # Office browsers often default to English; staff get Chinese unless they choose.
    assert '<html lang="zh-CN">' in page(client, **{"Accept-Language": header})


def test_lang_parameter_chooses_english(client: FlaskClient) -> None:
    html = page(client, "/?lang=en", **{"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in html


def test_unknown_lang_is_ignored(client: FlaskClient) -> None:
    response = client.get("/?lang=klingon")
    assert '<html lang="zh-CN">' in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers


def test_language_switch_keeps_the_page(client: FlaskClient) -> None:
    html = page(client, "/communities/420106001002?layout=2024版")
    assert 'href="/communities/420106001002?layout=2024%E7%89%88&amp;lang=en"' in html


def test_pages_vary_by_language(client: FlaskClient) -> None:
    vary = client.get("/").headers["Vary"]
    assert "Cookie" in vary
    with client.get("/static/vendor/leaflet/leaflet.js") as script:
        assert "Cookie" not in script.headers.get("Vary", "")


def test_error_page_in_english(client: FlaskClient) -> None:
    html = page(client, "/nowhere?lang=en")
    assert "Not found" in html and "There is no page at this address." in html
    assert "Back to the map" in html
