"""The city view in Chromium, on a small synthetic city: tiles load, pans and zooms, popups.

The benchmark's city (bench/_synthetic.py) at 3,000 buildings (~75 grids, 4
communities), served by the app on a scratch database. The tour of
bench/city_map.py runs on it: the page fitted to the city, then zooms with
units shown, drags at each zoom, and a zoom out; frame times and tile
latencies are printed, not asserted (a loaded machine is slow, not wrong).
What is asserted: every tile answered 200 or 204, each layer drew features
at its zooms, no request left 127.0.0.1, no script error or CSP violation,
and a click on a building opens its popup, on the city map and on a
community's map, which at ~3,400 features takes its buildings from the tiles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench import _synthetic as synth
from bench.city_map import measure, report
from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.web import PASSWORD, add_user

SHOTS = Path("/tmp/gridgis_city_browser")
BUILDINGS = 3000


@pytest.fixture
def live(scratch_database_url: str) -> Iterator[tuple[str, tuple[float, float]]]:
    """The app on a synthetic city; its URL and one building's centre (lon, lat)."""
    city = synth.build_city(BUILDINGS, seed=11, tag="CITYB")
    owner = sa.make_url(os.environ["DATABASE_OWNER_URL"]).set(drivername="postgresql")
    with psycopg.connect(owner.render_as_string(hide_password=False)) as conn:
        synth.load_city(conn, city, seed=11)
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        add_user(session, "dispatcher1", "dispatcher")
    engine.dispose()
    x0, y0, x1, y1 = city.building_rect[0]
    with serve(scratch_database_url) as url:
        yield url, ((x0 + x1) / 2, (y0 + y1) / 2)


@BROWSER_TESTS[0]  # a browser test, skipped (saying why) without Chromium
@BROWSER_TESTS[1]
def test_the_city_map_pans_zooms_and_answers_clicks(
    live: tuple[str, tuple[float, float]],
) -> None:
    from playwright.sync_api import sync_playwright

    url, (lon, lat) = live
    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1400, "height": 900})
        try:
            result = measure(
                b.page,
                url,
                user="dispatcher1",
                password=PASSWORD,
                shots=SHOTS,
                steps=((16, ("units",)), (17, ())),
            )
            print("\n" + report(result))
            page = b.page
            # The table lists the city's 4 communities with their figures.
            assert page.locator("#gg-city tbody tr").count() == 4
            assert page.locator("#gg-city-count").inner_text() == "共 4 个社区"

            # Every tile answered, with something or nothing; each layer drew at its zooms.
            statuses = {s for t in result["tiles"].values() for s in t["statuses"]}
            assert statuses <= {200, 204, 304}, result["tiles"]
            layers = {key.split()[0] for key in result["tiles"]}
            assert {"grids", "compounds", "buildings", "units"} <= layers
            drawn = result["features"]
            assert drawn["z16"]["buildings"] > 0 and drawn["z16"]["units"] > 0
            assert drawn["z17"]["grids"] > 0
            assert all(f["frames"] > 0 for f in result["frames"].values())
            assert result["hosts"] == ["127.0.0.1"] and not result["errors"]

            # A click on a building opens its popup (the tiles' public fields).
            page.evaluate(f"() => {{ window.gridgis.map.setView([{lat}, {lon}], 18); }}")
            page.wait_for_timeout(300)
            page.wait_for_function(
                "() => window.ggVector.layers.every(l => !window.gridgis.map.hasLayer(l)"
                " || (Object.keys(l._tiles).length > 0 && l._noTilesToLoad()))"
            )
            box = page.locator(".folium-map").bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for()
            text = popup.inner_text()
            assert "单元" in text and "户数" in text, text  # units are on top, then buildings
            page.screenshot(path=str(SHOTS / "city_popup.png"))

            # A community of the city is past the inline limit (~750 buildings with
            # ~2,600 units): its map takes buildings from the tiles, grids inline.
            page.goto(f"{url}/communities/CITYB-C0000")
            page.wait_for_function(
                "() => window.ggVector && window.ggVector.ready && window.ggVector.layers"
                ".every(l => !window.gridgis.map.hasLayer(l)"
                " || (Object.keys(l._tiles).length > 0 && l._noTilesToLoad()))"
            )
            assert page.locator(".gg-label").count() == 24  # the grids' names, inline
            page.evaluate(f"() => {{ window.gridgis.map.setView([{lat}, {lon}], 18); }}")
            page.wait_for_timeout(300)
            page.wait_for_function(
                "() => window.ggVector.layers.every(l => !window.gridgis.map.hasLayer(l)"
                " || (Object.keys(l._tiles).length > 0 && l._noTilesToLoad()))"
            )
            box = page.locator(".folium-map").bounding_box()  # this page's map: full width
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function(
                "() => (document.querySelector('.leaflet-popup-content') || {}).textContent"
                " && document.querySelector('.leaflet-popup-content').textContent"
                ".startsWith('楼栋')"
            )
            page.wait_for_timeout(400)  # the popup's fade-in
            page.screenshot(path=str(SHOTS / "community_tiled_popup.png"))
            b.check_clean()
        finally:
            b.browser.close()
