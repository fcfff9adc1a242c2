"""Chinese by default, English on request, from gettext catalogs; every label translated.

The catalog checks run the extraction `make messages` runs (``pybabel extract``
with ``babel.cfg`` over gridgis/ and web/) and compare what it finds with
``web/translations/zh/LC_MESSAGES/messages.po``. The page checks read what the
compiled catalog (made by the ``compiled_catalogs`` fixture, as `make
translations` would) puts in front of a user.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from gridgis.config import PROJECT_ROOT
from gridgis.models import roles
from tests.support.sample_community import GRID_NAMES
from tests.support.web import USERS
from web.i18n import (
    COOKIE,
    TRANSLATIONS,
    compile_catalogs,
    current_language,
    gettext,
    stale_catalogs,
)

CHINESE = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"

#: Ids the catalog keeps although extraction cannot see them (none: every
#: translated id is marked in the code, so `make messages` keeps them all).
NOT_EXTRACTED: dict[str, str] = {}
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\(\w+\)[sd]")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale="zh", abort_invalid=True)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every message id `make messages` extracts from gridgis/ and web/."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    # The Makefile's command (python -m babel.messages.frontend is pybabel).
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg"]
        + ["-k", "N_", "--sort-by-file", "--omit-header", "-o", str(pot), "gridgis", "web"],
        cwd=PROJECT_ROOT,
        check=True,
    )
    ids = {str(m.id) for m in read_catalog(pot) if m.id}
    # Python, templates, the domain and N_-marked constants: the scan sees all four.
    assert {
        "Grids",
        "Back to the map",
        "Wrong username or password.",
        "Your session has ended; please log in again.",
    } <= ids
    return ids


@pytest.fixture(scope="module")
def chinese() -> dict[str, str]:
    return {str(m.id): str(m.string) for m in read_catalog(CHINESE) if m.id}


# --- the catalog ---------------------------------------------------------------


def test_catalog_parses_without_fuzzy_or_obsolete_entries() -> None:
    catalog = read_catalog(CHINESE)
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"check these translations and remove their '#, fuzzy' line: {fuzzy}"
    # `make messages` keeps an id the code stopped using as "#~": it translates nothing.
    assert not catalog.obsolete, (
        f"obsolete (#~) entries in {CHINESE.name}: {list(catalog.obsolete)}"
    )


def test_every_extracted_id_has_a_chinese_translation(
    extracted: set[str], chinese: dict[str, str]
) -> None:
    missing = sorted(i for i in extracted if not chinese.get(i))
    assert not missing, f"run `make messages` and translate in {CHINESE}: {missing}"


def test_catalog_holds_only_what_extraction_finds(
    extracted: set[str], chinese: dict[str, str]
) -> None:
    unseen = set(chinese) - extracted
    assert unseen <= set(NOT_EXTRACTED), (
        f"`make messages` would drop these; mark them with N_() where they are defined: "
        f"{sorted(unseen - set(NOT_EXTRACTED))}"
    )
    assert set(NOT_EXTRACTED) <= set(chinese)


def test_format_placeholders_survive_translation(chinese: dict[str, str]) -> None:
    for msgid, msgstr in chinese.items():
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid
    assert chinese["Unit {number}"] == "{number}单元"


def test_messages_defined_far_from_their_call_are_extracted(
    extracted: set[str], chinese: dict[str, str]
) -> None:
    from gridgis.access.apikeys import INVALID_KEY
    from gridgis.access.logins import AuthenticationFailed
    from web import access, limits, security
    from web.errors import DATABASE_DOWN, TITLES

    messages = (
        DATABASE_DOWN,
        *TITLES.values(),
        access.PASSWORDS_DIFFER,
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
        assert msgid in extracted and chinese[msgid], msgid


def test_role_and_team_names_are_not_catalog_messages(chinese: dict[str, str]) -> None:
    # They live in one table (gridgis.models.roles), in both languages.
    terms = [
        *roles.STAFF_ROLE_TERMS.values(),
        *roles.USER_ROLE_TERMS.values(),
        *roles.VOLUNTEER_TEAM_TERMS.values(),
    ]
    assert not {t.en for t in terms} & set(chinese)


def test_a_catalog_older_than_its_source_is_stale(tmp_path: Path) -> None:
    po = tmp_path / "zh" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Go"\nmsgstr "前往"\n', encoding="utf-8")
    assert stale_catalogs(tmp_path) == [po]  # never compiled
    mo = po.with_suffix(".mo")
    mo.write_bytes(b"")
    assert stale_catalogs(tmp_path) == []
    stat = mo.stat()
    os.utime(mo, ns=(stat.st_atime_ns, po.stat().st_mtime_ns - 10**9))
    assert stale_catalogs(tmp_path) == [po]  # the .po was edited since


def test_compiling_makes_a_catalog_that_speaks_chinese(tmp_path: Path) -> None:
    """What `make translations` runs: our header-less catalog compiles, nothing skipped."""
    po = tmp_path / "zh" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    shutil.copy(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", po)
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    with po.with_suffix(".mo").open("rb") as compiled:
        catalog = read_mo(compiled)
    assert catalog["Log out"].string == "退出"
    assert len([m for m in catalog if m.id]) > 100
    assert compile_catalogs(tmp_path) == []  # up to date: nothing to do


def test_this_runs_on_compiled_catalogs() -> None:
    # The compiled_catalogs fixture did what `make translations` does.
    assert stale_catalogs() == []


# --- pages -----------------------------------------------------------------------


def page(client: FlaskClient, url: str = "/", **headers: str) -> str:
    return client.get(url, headers=headers).get_data(as_text=True)


def in_script(text: str) -> str:
    """``text`` as the map's script writes it (JSON escapes non-ASCII)."""
    return json.dumps(text)[1:-1]


def test_chinese_by_default(client: FlaskClient) -> None:
    html = page(client)
    assert '<html lang="zh-CN">' in html
    assert '<a href="/?lang=zh" hreflang="zh" aria-current="true">中文</a>' in html
    assert ">退出</button>" in html and 'aria-label="语言"' in html


def test_map_labels_in_chinese_and_english(client: FlaskClient) -> None:
    html = page(client)
    for label in ("网格", "小区", "楼栋", "单元"):  # the layer control
        assert f"{json.dumps(label)} :" in html
    assert in_script("图例") in html  # the legend's title
    assert in_script("社区边界") in html  # legend: community boundary
    assert in_script(f"网格: {GRID_NAMES[0]}") in html  # a grid's popup
    english = page(client, "/?lang=en")
    for label in ("Grids", "Compounds", "Buildings", "Units"):
        assert f'"{label}" :' in english
    assert "Legend" in english
    assert in_script(f"Grid: {GRID_NAMES[0]}") in english
    assert "图例" not in english and "\\u56fe\\u4f8b" not in english


def test_login_page_in_chinese_and_english(anon_client: FlaskClient) -> None:
    html = page(anon_client, "/login")
    assert "<title>登录 · gridgis</title>" in html
    assert '<label for="gg-username">用户名</label>' in html
    assert '<label for="gg-password">密码</label>' in html
    assert "账号由管理员创建（gridgis user add）。" in html
    english = page(anon_client, "/login?lang=en")
    assert '<label for="gg-username">Username</label>' in english
    assert ">Log in</button>" in english


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


@pytest.mark.parametrize("header", ["en-US,en;q=0.9", "en", "zh-CN,zh;q=0.9", "fr-FR"])
def test_chinese_whatever_the_browser_says(client: FlaskClient, header: str) -> None:
    # Office browsers often default to English; staff get Chinese unless they choose.
    html = page(client, **{"Accept-Language": header})
    assert '<html lang="zh-CN">' in html and f"{json.dumps('网格')} :" in html


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


def test_error_page_in_chinese(client: FlaskClient) -> None:
    html = page(client, "/nowhere")
    assert "<title>未找到 · gridgis</title>" in html
    assert "此地址没有页面。" in html and "返回地图" in html


def test_error_page_in_english(client: FlaskClient) -> None:
    html = page(client, "/nowhere?lang=en")
    assert "Not found" in html and "There is no page at this address." in html
    assert "Back to the map" in html


def test_a_marked_constant_is_translated_on_its_error_page(
    client_for: Callable[[str], FlaskClient],
) -> None:
    viewer = client_for("viewer")  # no audit:read: web.security.gate.FORBIDDEN_PAGE
    html = page(viewer, "/admin/audit")
    assert "<title>无权访问 · gridgis</title>" in html
    assert "您的账号无权访问此页面。如有需要，请联系管理员。" in html
    english = page(viewer, "/admin/audit?lang=en")
    assert "Your account does not allow this page." in english


def test_the_api_speaks_english_in_any_language(client: FlaskClient) -> None:
    client.get("/?lang=zh")
    error = client.get("/api/v1/nowhere").json
    assert error is not None and error["error"]["message"].startswith("There is no API endpoint")


@pytest.mark.parametrize("role", sorted(USERS))
def test_role_names_in_the_header_come_from_the_vocabulary(
    client_for: Callable[[str], FlaskClient], role: str
) -> None:
    browser = client_for(role)
    user = f'<span class="gg-user">{USERS[role]} · '
    assert f"{user}{roles.role_name(role, 'zh')}</span>" in page(browser)
    assert f"{user}{roles.role_name(role, 'en')}</span>" in page(browser, "/?lang=en")


def test_templates_name_teams_from_the_vocabulary(app: Flask) -> None:
    for lang, name in (("zh", "红色先锋队"), ("en", "Red Pioneer team")):
        with app.test_request_context(f"/?lang={lang}"):
            assert render_template_string("{{ team_name('red') }}") == name


def test_outside_a_request_the_ids_come_back() -> None:
    assert gettext("Grids") == "Grids"
    assert current_language() == "zh"
