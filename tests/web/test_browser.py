"""The overview map in a real browser: drawn, offline, and looking right.

A live server (werkzeug, a background thread, a free 127.0.0.1 port) serves
the app on a scratch database holding the committed sample community; headless
Chromium opens ``/`` through Playwright. Every request the page makes is
recorded and must stay on 127.0.0.1. Screenshots are left at
``/tmp/gridgis_overview.png`` (and ``..._popup.png``) for a person to look at.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from web import create_app

from sample_community import (
    BUILDINGS,
    COMMUNITY_NAME,
    GRID_CODES,
    build_sample_community,
)

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/gridgis_overview.png")
POPUP_SCREENSHOT = Path("/tmp/gridgis_overview_popup.png")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (make system-test)"),
]


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    app = create_app({"DATABASE_URL": scratch_database_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["gridgis"].engine.dispose()


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

    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 900, "height": 640}, locale="zh-CN")
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live_url + "/", wait_until="networkidle")
            page.wait_for_function("window.L && window.gridgis && window.gridgis.map")
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

            # The layer-control icon comes from our Leaflet copy.
            page.locator(".leaflet-control-layers").hover()
            page.get_by_label("单元").check()
            assert page.evaluate(COUNT_DRAWN)["units"]["drawn"] == 4
            page.get_by_label("单元").uncheck()
            page.mouse.move(450, 600)

            # A click in grid 3's empty south-east corner opens its popup.
            point = page.evaluate(
                "() => { const p = window.gridgis.map.latLngToContainerPoint([30.5903, 114.3057]);"
                " const r = document.querySelector('.folium-map').getBoundingClientRect();"
                " return [p.x + r.left, p.y + r.top]; }"
            )
            page.mouse.click(*point)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for()
            text = popup.inner_text()
            assert "第三网格" in text and GRID_CODES[2] in text and "38" in text
            page.locator(".leaflet-popup-close-button").click()
            page.wait_for_function("!document.querySelector('.leaflet-popup')")

            # The first grid's popup names its team, masked.
            point = page.evaluate(
                "() => { const p = window.gridgis.map.latLngToContainerPoint([30.5935, 114.3002]);"
                " const r = document.querySelector('.folium-map').getBoundingClientRect();"
                " return [p.x + r.left, p.y + r.top]; }"
            )
            page.mouse.click(*point)
            popup.wait_for()
            text = popup.inner_text()
            assert "专职网格员: 张* 138****1234" in text and "张三" not in text
            page.wait_for_timeout(500)  # the popup's auto-pan animation
            page.screenshot(path=str(POPUP_SCREENSHOT))
        finally:
            browser.close()

    assert not errors, errors
    assert not failed, failed
    hosts = {urlsplit(url).hostname for url in requests if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, requests
    assert any(url.endswith("/static/vendor/leaflet/images/layers.png") for url in requests)
    assert any(url.endswith("/static/vendor/leaflet/leaflet.js") for url in requests)
