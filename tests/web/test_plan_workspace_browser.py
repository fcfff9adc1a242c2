"""The planning workspace in Chromium: copy, paint, watch the tallies, undo, check, publish.

The web tests' sample community (G1: B01 24 + B02 36 households, G2: B03 30,
G3: B04 18 + B05 20), served by the app on a scratch database. A planner
copies the layout in force from /plan, clicks B02 on the map and assigns it
to G2 (G2's tally 30 → 66 without a reload), selects B04 and B05 with a box,
undoes and redoes, reads the checks and publishes the draft from next month
through the dialog. Screenshots are left for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.models import Layout
from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.sample_community import GRID_CODES, build_sample_community
from tests.support.web import add_user

G1, G2, G3 = GRID_CODES
SHOTS = Path("/tmp")
DRAFT = "浏览器草案"


@pytest.fixture
def live(scratch_database_url: str) -> Iterator[tuple[str, str]]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_user(session, "planner1", "planner")
    engine.dispose()
    with serve(scratch_database_url) as url:
        yield url, scratch_database_url


def tally(page: Any, grid: str) -> str:
    return str(page.locator(f'#gg-tallies tr[data-grid="{grid}"] td').first.inner_text())


def centre(page: Any, building: str) -> tuple[float, float]:
    """Where a building's point is on the screen."""
    x, y = page.evaluate(
        "(code) => { const p = window.gridgis.plan.buildings[code].props.point;"
        " const c = window.gridgis.map.latLngToContainerPoint([p[1], p[0]]);"
        " const r = document.querySelector('.folium-map').getBoundingClientRect();"
        " return [c.x + r.left, c.y + r.top]; }",
        building,
    )
    return float(x), float(y)


@BROWSER_TESTS[0]  # a browser test, skipped (saying why) without Chromium
@BROWSER_TESTS[1]
def test_a_planner_paints_undoes_checks_and_publishes(live: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, database_url = live
    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1400, "height": 900})
        try:
            b.log_in(url, "planner1")
            page = b.page
            page.get_by_role("link", name="网格方案").click()
            page.wait_for_load_state("networkidle")
            page.locator("#gg-draft-name").fill(DRAFT)
            page.get_by_role("button", name="复制现行方案").click()
            page.wait_for_selector("body[data-ready=true]")
            assert tally(page, G2) == "30" and tally(page, G1) == "60"

            # Click B02 and assign it to G2: the tallies change without a reload.
            page.mouse.click(*centre(page, "B02"))
            assert "1 栋楼" in page.locator("#gg-sel-count").inner_text()
            page.locator("#gg-target").select_option(G2)
            page.get_by_role("button", name="划入", exact=True).click()
            page.wait_for_function(
                f"() => document.querySelector('#gg-tallies tr[data-grid=\"{G2}\"] td')"
                ".textContent === '66'"
            )
            assert tally(page, G1) == "24"
            assert page.locator("#gg-log li").count() == 1
            page.screenshot(path=str(SHOTS / "gridgis_plan_painted.png"))

            # A box around B04 and B05 selects both.
            page.get_by_role("button", name="框选").click()
            (x0, y0), (x1, y1) = centre(page, "B04"), centre(page, "B05")
            page.mouse.move(min(x0, x1) - 15, min(y0, y1) - 15)
            page.mouse.down()
            page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
            page.mouse.move(max(x0, x1) + 15, max(y0, y1) + 15, steps=4)
            page.mouse.up()
            selection = page.evaluate("() => Object.keys(window.gridgis.plan.selected).sort()")
            assert selection == ["B04", "B05"]
            page.get_by_role("button", name="清除选择").click()

            # A lasso around B04 alone; then the compound 阳光小区 (B01, B02, B03).
            page.get_by_role("button", name="套索").click()
            x, y = centre(page, "B04")
            page.mouse.move(x - 20, y - 20)
            page.mouse.down()
            for dx, dy in ((20, -25), (25, 0), (20, 20), (0, 25), (-20, 20)):
                page.mouse.move(x + dx, y + dy, steps=2)
            page.mouse.up()
            assert page.evaluate("() => Object.keys(window.gridgis.plan.selected)") == ["B04"]
            page.get_by_role("button", name="清除选择").click()
            page.locator("#gg-compound").select_option(label="阳光小区")
            selection = page.evaluate("() => Object.keys(window.gridgis.plan.selected).sort()")
            assert selection == ["B01", "B02", "B03"]
            page.get_by_role("button", name="清除选择").click()
            page.get_by_role("button", name="点选").click()

            # A locked grid refuses to give a building away, and says so; nothing changes.
            page.get_by_label(f"已锁定 {G3}").check()
            page.wait_for_function(
                "(g) => window.gridgis.plan.grids[g].feature.properties.locked", arg=G3
            )
            page.mouse.click(*centre(page, "B05"))
            page.get_by_role("button", name="划入", exact=True).click()
            page.locator("#gg-message").get_by_text(G3).wait_for()
            assert tally(page, G3) == "38" and tally(page, G2) == "66"
            page.get_by_label(f"已锁定 {G3}").uncheck()
            page.get_by_role("button", name="清除选择").click()

            # Undo (button), redo (keyboard), undo again: back to the copy.
            page.get_by_role("button", name="撤销").click()
            page.wait_for_function(
                f"() => document.querySelector('#gg-tallies tr[data-grid=\"{G2}\"] td')"
                ".textContent === '30'"
            )
            page.locator("#gg-tallies").click()
            page.keyboard.press("Control+Shift+Z")
            page.wait_for_function(
                f"() => document.querySelector('#gg-tallies tr[data-grid=\"{G2}\"] td')"
                ".textContent === '66'"
            )
            # The checks: the sample's grids are below the default band (warnings only).
            problems = page.locator("#gg-problems li")
            assert problems.count() >= 1
            assert "0 个错误" in page.locator("#gg-check-count").inner_text()

            # Publish from next month: preview first, then publish.
            page.get_by_role("button", name="发布…").click()
            page.get_by_role("button", name="预览（试运行）").click()
            preview = page.locator("#gg-pub-preview")
            preview.get_by_text("1 栋楼").wait_for()
            page.screenshot(path=str(SHOTS / "gridgis_plan_publish.png"))
            page.locator("#gg-pub-go").click()
            preview.get_by_text("已发布").wait_for()
            # The one refusal asked for: painting out of the locked grid (409).
            refused = [f for f in b.failed if f.startswith("409 ") and "/assign" in f]
            assert len(refused) == 1
            b.failed = [f for f in b.failed if f not in refused]
            b.check_clean()
        finally:
            b.browser.close()
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session:
        layout = session.scalar(sa.select(Layout).where(Layout.name == DRAFT))
        assert layout is not None and layout.status == "published"
        assert layout.valid_from is not None
    engine.dispose()
