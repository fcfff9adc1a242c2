"""The overview map in a real browser: logged in through the form, drawn, offline, no CSP trouble.

A live server (werkzeug, a background thread, a free 127.0.0.1 port) serves
the app on a scratch database holding the committed sample community and two
accounts; headless Chromium logs in through ``/login`` and opens the map.
Every request the page makes is recorded and must stay on 127.0.0.1, and the
page must trigger no Content-Security-Policy violation. Screenshots are left
in ``/tmp`` (``gridgis_login.png``, ``gridgis_overview.png``,
``gridgis_overview_popup.png``, ``gridgis_overview_viewer.png``) for a person
to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.sample_community import (
    BUILDINGS,
    COMMUNITY_NAME,
    GRID_CODES,
    build_sample_community,
)
from tests.support.web import add_user

LOGIN_SCREENSHOT = Path("/tmp/gridgis_login.png")
SCREENSHOT = Path("/tmp/gridgis_overview.png")
POPUP_SCREENSHOT = Path("/tmp/gridgis_overview_popup.png")
VIEWER_SCREENSHOT = Path("/tmp/gridgis_overview_viewer.png")

pytestmark = BROWSER_TESTS


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_user(session, "admin1", "admin")
        add_user(session, "viewer1", "viewer")
    engine.dispose()
    with serve(scratch_database_url) as url:
        yield url


#: Leaflet layers drawn per layer group: each group holds one L.GeoJSON whose
#: children are the polygons. A polygon counts as drawn when it is on the map
#: and the canvas renderer has projected it into pixel rings (``_parts``).
COUNT_DRAWN = """
() => {
    const out = {};
    for (const [key, group] of Object.entries(window.gridgis.layers)) {
        let total = 0, drawn = 0;
        group.eachLayer(geojson => geojson.eachLayer(shape => {
            total += 1;
            if (shape._map && shape._renderer instanceof L.Canvas && shape._parts.length) {
              drawn += 1;
            }
        }));
        out[key] = {total, drawn, shown: window.gridgis.map.hasLayer(group)};
    }
    return out;
}
"""


def test_overview_map_in_chromium(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p)
        try:
            b.log_in(live_url, "admin1", screenshot=LOGIN_SCREENSHOT)
            page = b.page
            # Before any click: popups pan the map, the screenshot shows the fitted view.
            page.screenshot(path=str(SCREENSHOT))

            counts = page.evaluate(COUNT_DRAWN)
            assert counts["grids"] == {
                "total": len(GRID_CODES),
                "drawn": len(GRID_CODES),
                "shown": True,
            }
            assert counts["buildings"] == {
                "total": len(BUILDINGS),
                "drawn": len(BUILDINGS),
                "shown": True,
            }
            assert counts["compounds"] == {"total": 1, "drawn": 1, "shown": True}
            # Units start hidden; the layer control switches them on.
            assert counts["units"] == {"total": 4, "drawn": 0, "shown": False}
            assert page.locator("canvas.leaflet-zoom-animated").count() == 1
            assert page.title().startswith(COMMUNITY_NAME)
            assert page.locator(".gg-legend").inner_text().startswith("图例")
            assert "admin1 · 管理员" in page.locator(".gg-account").inner_text()
            # The legend's swatches are coloured by classes (inline styles are refused).
            swatch = page.locator(".gg-legend .gg-grid-0").first
            assert swatch.evaluate("e => getComputedStyle(e).borderTopColor") == (
                "rgb(31, 119, 180)"
            )

            # The layer-control icon comes from our Leaflet copy.
            page.locator(".leaflet-control-layers").hover()
            page.get_by_label("单元").check()
            assert page.evaluate(COUNT_DRAWN)["units"]["drawn"] == 4
            page.get_by_label("单元").uncheck()
            page.mouse.move(450, 600)

            # A click in grid 3's empty south-east corner opens its popup.
            text = b.click_map(30.5903, 114.3057)
            assert "第三网格" in text and GRID_CODES[2] in text and "38" in text
            b.close_popup()

            # The administrator sees the first grid's team in full.
            text = b.click_map(30.5935, 114.3002)
            assert "专职网格员: 张三 13812341234" in text
            assert "脱敏" not in text
            dot = page.locator(".leaflet-popup-content .gg-team-red")
            assert dot.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(214, 39, 40)"
            page.wait_for_timeout(500)  # the popup's auto-pan animation
            page.screenshot(path=str(POPUP_SCREENSHOT))
            b.check_clean()

            # The detector works: an inline style attribute is refused and reported.
            page.evaluate(
                "document.body.insertAdjacentHTML('beforeend', '<b style=\"color:red\">x</b>')"
            )
            page.wait_for_function("() => window.__csp.length > 0")
            assert b.csp_violations()[0].startswith("style-src")

            # Logging out goes back to the login page.
            page.get_by_role("button", name="退出").click()
            page.wait_for_load_state("networkidle")
            assert urlsplit(page.url).path == "/login"
        finally:
            b.browser.close()
    assert any(url.endswith("/static/vendor/leaflet/images/layers.png") for url in b.requests)
    assert any(url.endswith("/static/vendor/leaflet/leaflet.js") for url in b.requests)


def test_viewer_sees_the_map_masked(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p)
        try:
            b.log_in(live_url, "viewer1")
            assert "viewer1 · 只读用户" in b.page.locator(".gg-account").inner_text()
            assert b.page.locator(".gg-account a", has_text="审计日志").count() == 0
            text = b.click_map(30.5935, 114.3002)
            assert "专职网格员: 张* 138****1234" in text and "张三" not in text
            assert "姓名和电话已脱敏显示。" in text
            b.page.wait_for_timeout(500)
            b.page.screenshot(path=str(VIEWER_SCREENSHOT))
            b.check_clean()
        finally:
            b.browser.close()
