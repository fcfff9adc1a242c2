"""The overview map page: what it shows, and that it loads nothing from elsewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.models import Community
from tests.support.sample_community import COMMUNITY_CODE, COMMUNITY_NAME, GRID_NAMES, LAYOUT_OLD
from tests.support.web import Accounts, add_user, login, make_app


class Resources(HTMLParser):
    """Every URL a page makes the browser fetch: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.urls.append(value)


def resources(html: str) -> list[str]:
    parser = Resources()
    parser.feed(html)
    return parser.urls


def test_overview_draws_the_first_community(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert f'<h1 class="gg-title">{COMMUNITY_NAME}</h1>' in html
    assert '"preferCanvas": true' in html
    assert "window.gridgis = {" in html
    # Layer names and popups in Chinese (JSON in the script escapes non-ASCII).
    for label in ("网格", "小区", "楼栋", "单元"):
        assert json.dumps(label) in html
    assert json.dumps(GRID_NAMES[0])[1:-1] in html


def test_page_loads_only_same_origin_files(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    urls = resources(html)
    assert sorted(urls) == [
        "/static/gridgis.css",
        "/static/gridgis.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/leaflet/leaflet.js",
        "data:,",
    ]
    assert not re.search(r"https?://", html), re.findall(r".{40}https?://.{40}", html)
    for url in urls:
        if url.startswith("/"):
            with client.get(url) as response:
                assert response.status_code == 200, url


def test_leaflet_images_are_served(client: FlaskClient) -> None:
    # leaflet.css draws the layer-control button with images/layers.png, relative to itself.
    with client.get("/static/vendor/leaflet/leaflet.css") as css:
        images = re.findall(r"url\((images/[^)]+)\)", css.get_data(as_text=True))
    assert "images/layers.png" in images
    for image in images:
        with client.get(f"/static/vendor/leaflet/{image}") as response:
            assert response.status_code == 200 and response.mimetype == "image/png"


def test_vendor_route_does_not_leave_its_folder(client: FlaskClient) -> None:
    with client.get("/static/vendor/leaflet/../__init__.py") as response:
        assert response.status_code == 404


def test_community_page_and_layout(client: FlaskClient) -> None:
    html = client.get(f"/communities/{COMMUNITY_CODE}").get_data(as_text=True)
    assert COMMUNITY_NAME in html
    old = client.get(f"/communities/{COMMUNITY_CODE}?layout={LAYOUT_OLD}").get_data(as_text=True)
    assert '"OLD-W"' in old and '"OLD-E"' in old


def test_unknown_community_page_is_404(client: FlaskClient) -> None:
    response = client.get("/communities/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "No community with code &#39;nowhere&#39;." in response.get_data(as_text=True)


def test_no_selector_for_one_community(client: FlaskClient) -> None:
    assert "gg-choose" not in client.get("/").get_data(as_text=True)


@pytest.fixture
def two_communities(scratch_database_url: str) -> Iterator[FlaskClient]:
    import sqlalchemy as sa
    from geoalchemy2.shape import from_shape
    from shapely.geometry import MultiPolygon, box

    from tests.support.sample_community import build_sample_community

    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        session.add(
            Community(
                code="420106001001",
                name="东亭社区",
                boundary=from_shape(MultiPolygon([box(114.31, 30.59, 114.32, 30.6)]), srid=4326),
            )
        )
        user_id = add_user(session, "viewer1", "viewer")
    engine.dispose()
    for app in make_app(scratch_database_url):
        yield login(app.test_client(), user_id)


def test_selector_lists_communities_and_first_by_code_is_shown(
    two_communities: FlaskClient,
) -> None:
    html = two_communities.get("/").get_data(as_text=True)
    # 420106001001 sorts first: the empty community, drawn without grids.
    assert '<h1 class="gg-title">东亭社区</h1>' in html
    assert '<option value="420106001001" selected>东亭社区</option>' in html
    assert f'<option value="{COMMUNITY_CODE}">{COMMUNITY_NAME}</option>' in html
    assert json.dumps("没有生效的网格方案")[1:-1] in html  # legend: no layout in force
    response = two_communities.get(f"/go?community={COMMUNITY_CODE}")
    assert response.status_code == 302
    assert response.location == f"/communities/{COMMUNITY_CODE}"


def test_empty_state_says_how_to_load_data(empty_client: FlaskClient) -> None:
    response = empty_client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "还没有社区" in html
    assert "<code>gridgis demo load</code>" in html
    english = empty_client.get("/?lang=en").get_data(as_text=True)
    assert "No community yet" in english and "gridgis demo load" in english


def test_app_factory_does_nothing_at_import() -> None:
    import importlib

    import web

    importlib.reload(web)
    assert not hasattr(web, "app")


def test_tile_settings_are_checked_at_start_up(sample_database_url: str) -> None:
    from gridgis.errors import GridgisError

    with pytest.raises(GridgisError, match="GRIDGIS_TIANDITU_KEY"):
        next(make_app(sample_database_url, TILES="tianditu"))


def test_tianditu_tiles_on_the_page(sample_database_url: str, sample_accounts: Accounts) -> None:
    for app in make_app(sample_database_url, TILES="tianditu", TIANDITU_KEY="K"):
        response = login(app.test_client(), sample_accounts.ids["viewer1"]).get("/")
    html = response.get_data(as_text=True)
    assert html.count("L.tileLayer(") == 2
    assert "tianditu.gov.cn/vec_w/wmts" in html and 'tk=K"' in html
    # The page may load tiles from Tianditu's hosts, and images from nowhere else.
    csp = response.headers["Content-Security-Policy"]
    img_src = next(d for d in csp.split("; ") if d.startswith("img-src "))
    hosts = " ".join(f"http://t{i}.tianditu.gov.cn" for i in range(8))
    assert img_src == f"img-src 'self' data: {hosts}"


def test_app_settings_follow_test_config(app: Flask, sample_database_url: str) -> None:
    settings = app.config["GRIDGIS_SETTINGS"]
    assert settings.tiles == "none"
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_a_large_community_takes_its_buildings_from_tiles(
    client_for: Callable[[str], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the inline limit: compounds, buildings and units as vector tiles, grids inline."""
    from gridgis.maps import vector

    planner = client_for("planner")
    small = planner.get("/").get_data(as_text=True)
    assert "vectorgrid" not in small and "ggVectorPending" not in small
    # The sample's 3 grids + 1 compound + 5 buildings + 4 units: 13 features.
    monkeypatch.setattr(vector, "INLINE_LIMIT", 12)
    html = planner.get("/").get_data(as_text=True)
    assert "/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js" in resources(html)
    for layer in ("compounds", "buildings", "units"):
        assert f'"url": "/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt?community={COMMUNITY_CODE}"' in html
    assert '"url": "/tiles/grids/' not in html  # grids stay inline, with their teams
    assert json.dumps(GRID_NAMES[0])[1:-1] in html
    assert json.dumps({"XQ01": "阳光小区"}) in html  # building popups name the compound
    # A grid staff member's area counts: 1 grid, 1 compound, 2 buildings, 2 units; inline.
    staff = client_for("grid_staff").get("/").get_data(as_text=True)
    assert "ggVectorPending" not in staff
