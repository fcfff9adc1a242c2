"""The dispatch console in a real browser: an incident from a click on the map to closed.

A dispatcher logs in through the form, opens the console from the header,
clicks the map inside building B01, sees the routed team with phones and the
deadlines before saving, takes the incident in, finds it in the list, and
registers and dispatches it from its page; the grid worker 张三 accepts it and
reports it done; the dispatcher closes it and finds it among the closed.
Every request stays on 127.0.0.1, with no script error and no CSP violation.
Screenshots are left in ``/tmp`` (``gridgis_dispatch_preview.png``,
``gridgis_dispatch_list.png``, ``gridgis_incident.png``,
``gridgis_incident_closed.png``) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.sample_community import build_sample_community
from tests.support.web import GRID_STAFF_CODE, add_user

PREVIEW_SCREENSHOT = Path("/tmp/gridgis_dispatch_preview.png")
LIST_SCREENSHOT = Path("/tmp/gridgis_dispatch_list.png")
INCIDENT_SCREENSHOT = Path("/tmp/gridgis_incident.png")
CLOSED_SCREENSHOT = Path("/tmp/gridgis_incident_closed.png")
#: Inside unit B01/1 of 网格一.
IN_B01 = (30.5911, 114.3009)

pytestmark = BROWSER_TESTS


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_user(session, "dispatcher1", "dispatcher")
        add_user(session, "zhangsan", "grid_staff", staff_code=GRID_STAFF_CODE)
    engine.dispose()
    with serve(scratch_database_url) as url:
        yield url


def click_at(b: Browser, lat: float, lon: float) -> None:
    point = b.page.evaluate(
        f"() => {{ const p = window.gridgis.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = document.querySelector('.folium-map').getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; }"
    )
    b.page.mouse.click(*point)


def act(b: Browser, button: str, expected_status: str) -> None:
    """Press one of the incident page's action buttons; the page comes back in the new state."""
    page = b.page
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state("networkidle")
    assert expected_status in page.locator(".gg-title").inner_text()


def test_an_incident_from_a_click_on_the_map_to_closed(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1280, "height": 800})
        try:
            page = b.page
            b.log_in(live_url, "dispatcher1")
            page.locator(".gg-account a", has_text="派遣台").click()
            page.wait_for_load_state("networkidle")
            page.wait_for_function("() => window.gridgis && window.gridgis.map")
            assert page.title().startswith("派遣台")

            # A click inside B01: the team and the deadlines before anything is saved.
            page.locator("#gg-category").select_option("garbage")
            click_at(b, *IN_B01)
            preview = page.locator("#gg-preview")
            preview.get_by_text("张三").wait_for()
            text = preview.inner_text()
            assert "专职网格员: 张三 13812341234" in text
            assert "1栋" in text and "时限" in text and "可能重复: 无" in text
            page.get_by_label("事件描述").fill("1栋楼道口堆放装修垃圾，已两天")
            page.get_by_label("反映人").fill("陈居民")
            page.locator("#gg-new-form [name=reporter_phone]").fill("13911112222")
            page.screenshot(path=str(PREVIEW_SCREENSHOT))
            page.get_by_role("button", name="受理", exact=True).click()
            saved = preview.locator("a", has_text="已受理")
            saved.wait_for()
            incident_id = int(re.findall(r"\d+", saved.inner_text())[-1])

            # In the list without reloading, with its countdown, and on the map.
            item = page.locator("#gg-list .gg-item", has_text=f"#{incident_id}")
            item.wait_for()
            assert "垃圾堆放" in item.inner_text() and "剩余" in item.inner_text()
            page.wait_for_function("() => window.gridgis.incidents.getLayers().length === 1")
            page.screenshot(path=str(LIST_SCREENSHOT))

            # Its page: team, reporter, history; register and dispatch it.
            item.locator("a").click()
            page.wait_for_load_state("networkidle")
            assert f"事件 {incident_id}" in page.locator(".gg-title").inner_text()
            body = page.locator("main").inner_text()
            assert "张三 13812341234" in body and "陈居民 13911112222" in body
            assert page.locator(".gg-incident-map canvas").count() == 1
            act(b, "立案", "立案")
            act(b, "派遣", "派遣")
            page.screenshot(path=str(INCIDENT_SCREENSHOT), full_page=True)
            b.check_clean()
            page.get_by_role("button", name="退出").click()
            page.wait_for_load_state("networkidle")

            # The grid worker takes it from there.
            b.log_in(live_url, "zhangsan")
            page.goto(f"{live_url}/dispatch/incidents/{incident_id}", wait_until="networkidle")
            assert page.get_by_role("button", name="立案").count() == 0
            act(b, "签收处置", "处置中")
            act(b, "办结上报", "核查")
            page.get_by_role("button", name="退出").click()
            page.wait_for_load_state("networkidle")

            # The dispatcher closes it, with the resident's satisfaction.
            b.log_in(live_url, "dispatcher1")
            page.goto(f"{live_url}/dispatch/incidents/{incident_id}", wait_until="networkidle")
            page.get_by_label("满意度").select_option("satisfied")
            act(b, "结案", "结案")
            history = page.locator(".gg-table").inner_text()
            for step in ("立案", "派遣", "签收处置", "办结上报", "结案"):
                assert step in history, step
            page.screenshot(path=str(CLOSED_SCREENSHOT), full_page=True)

            # Among the closed in the console's list.
            page.goto(f"{live_url}/dispatch", wait_until="networkidle")
            page.locator("#gg-filters select[name=status]").select_option("closed")
            page.locator("#gg-list .gg-item", has_text=f"#{incident_id}").wait_for()
            b.check_clean()
        finally:
            b.browser.close()
