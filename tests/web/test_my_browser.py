"""``/my`` on a phone (375×812, touch), in headless Chromium, with the network cut in the middle.

张三, grid worker of 网格一, logs in through the form and lands on his area:
the buildings drawn are those the database assigns him (B01 and B02), the
incident dispatched to his team is on the map and in the list, and "locate
me" finds him inside his area. The first screen, cold, stays under 300 KB on
the wire. He reports an incident with a photo from where he stands, logs a
visit to a household due one, accepts the dispatched incident and adds a note
to it (its answer lost, sent again, added once). Then the network goes (the
browser offline and the server's port closed): he queues a visit, reloads,
and still reads his area from what the service worker kept;
the visit shows as waiting. The network comes back and the visit is
delivered, once. Screenshots are left in /tmp for a person to look at.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.orm import Session

from gridgis.access.scope import scope_for_staff
from gridgis.incidents import lifecycle
from gridgis.incidents.intake import Report, take_in
from gridgis.models import Building, Incident, IncidentEvent, IncidentPhoto, Staff, Visit
from tests.support.browser import BROWSER_TESTS
from tests.support.households import household
from tests.support.incidents import person
from tests.support.phone import LiveServer, Phone, live_server
from tests.support.sample_community import build_sample_community
from tests.support.web import GRID_STAFF_CODE, add_user

pytestmark = BROWSER_TESTS

#: Where 张三 stands: inside unit B01/1 of 网格一 (lat, lon).
IN_B01 = (30.5911, 114.3009)
#: Inside B02, where a dispatched incident waits for his team.
IN_B02 = (114.3010, 30.5921)
FIRST_SCREEN_LIMIT = 300 * 1024
SHOTS = {
    name: Path(f"/tmp/gridgis_my_{name}.png")
    for name in ("area", "reported", "visits", "offline", "delivered", "team")
}


@pytest.fixture
def server(scratch_database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_user(session, "zhangsan", "grid_staff", staff_code=GRID_STAFF_CODE)
        b01, b02 = (
            session.scalars(sa.select(Building).where(Building.code == code)).one()
            for code in ("B01", "B02")
        )
        household(session, b02, "B02-301", flags=("elderly_alone",), room="301")
        household(session, b02, "B02-402", flags=("hardship",), room="402", head_name="陈建国")
        dispatcher = person("dispatcher")
        found = take_in(
            session,
            Report(
                channel="hotline_12345",
                category="garbage",
                description="2栋门口垃圾",
                lon=IN_B02[0],
                lat=IN_B02[1],
            ),
            actor=dispatcher,
        ).incident
        lifecycle.move(session, found.id, "register", actor=dispatcher)
        lifecycle.move(session, found.id, "dispatch", actor=dispatcher)
        del b01
    engine.dispose()
    with live_server(scratch_database_url, MEDIA_DIR=str(tmp_path / "media")) as live:
        yield live


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def assigned_buildings(database_url: str) -> set[str]:
    """The buildings 张三's assignments give him, read from the database."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session:
        staff_id = session.scalars(sa.select(Staff.id).where(Staff.code == GRID_STAFF_CODE)).one()
        scope = scope_for_staff(session, staff_id)
        codes = set(
            session.scalars(sa.select(Building.code).where(Building.id.in_(scope.building_ids)))
        )
    engine.dispose()
    return codes


def count(database_url: str, rows: Any) -> int:
    """How many rows the SELECT ``rows`` finds, in a session of its own."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session:
        n = session.scalar(sa.select(sa.func.count()).select_from(rows.subquery()))
    engine.dispose()
    return int(n or 0)


def drawn_buildings(phone: Phone) -> set[str]:
    return set(
        phone.page.evaluate(
            """() => { const out = [];
            window.gridgis.layers.buildings.eachLayer(
                g => g.eachLayer(s => out.push(s.feature.id)));
            return out; }"""
        )
    )


def wait_delivered(phone: Phone, kind: str, n: int = 1) -> None:
    phone.page.wait_for_function(
        f"""() => window.gridgis.my.entries()
              .filter(e => e.kind === {kind!r} && e.status === "done").length >= {n}""",
        timeout=20000,
    )


def tab(phone: Phone, name: str) -> None:
    phone.page.get_by_role("tab", name=name).tap()


def lose_the_answer(route: Any) -> None:
    """The request reaches the server and is acted on; its answer never reaches the phone."""
    from playwright.sync_api import Error as PlaywrightError

    route.fetch()
    try:
        route.abort("connectionreset")
    except PlaywrightError as exc:
        # On a loaded machine the page's own time limit may cancel the request while
        # the server is still answering: the answer is lost that way too.
        if "already handled" not in str(exc):
            raise


def building_states(phone: Phone) -> dict[str, str]:
    return dict(
        phone.page.evaluate(
            """() => { const out = [];
            window.gridgis.layers.buildings.eachLayer(g => g.eachLayer(
                s => out.push([s.feature.id, s.ggState])));
            return out; }"""
        )
    )


def test_first_screen_is_under_300_kb_on_a_cold_load(server: LiveServer) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        first = Phone(p, IN_B01)
        try:
            first.log_in(server.url, "zhangsan")
            cookies = first.context.cookies()
        finally:
            first.close()
        phone = Phone(p, IN_B01, cookies=cookies)
        try:
            sent_before = len(server.counter.sent)
            phone.page.goto(server.url + "/my", wait_until="networkidle")
            phone.page.locator("#gg-incidents .gg-incident").first.wait_for()
            shown = phone.bytes_since(0)
            total = sum(size for _, size in shown)
            print(f"\nfirst screen, cold: {total} bytes on the wire in {len(shown)} responses")
            for url, size in shown:
                print(f"  {size:>8}  {url.removeprefix(server.url)}")
            assert total < FIRST_SCREEN_LIMIT
            # Then the service worker installs and keeps its copies: counted at the server.
            phone.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            phone.page.wait_for_load_state("networkidle")
            bodies = server.counter.sent[sent_before:]
            print(
                f"bodies sent by the server, worker's install included: "
                f"{sum(n for _, n in bodies)} bytes in {len(bodies)} responses"
            )
            # Every response the first screen took was compressed or small.
            assert max(size for _, size in shown) < 60 * 1024, shown
            phone.check_clean()
        finally:
            phone.close()


def test_a_day_on_the_phone_with_the_network_cut(
    server: LiveServer, scratch_database_url: str
) -> None:
    from playwright.sync_api import sync_playwright

    database = scratch_database_url
    with sync_playwright() as p:
        phone = Phone(p, IN_B01)
        page = phone.page
        try:
            phone.log_in(server.url, "zhangsan")
            # Landed on /my: the area the database assigns him, coloured by what is open.
            assert page.url.endswith("/my")
            page.wait_for_function("() => window.gridgis && window.gridgis.my")
            page.locator("#gg-incidents .gg-incident").first.wait_for()
            assert drawn_buildings(phone) == assigned_buildings(database) == {"B01", "B02"}
            page.wait_for_function("() => window.gridgis.my.households().due.length === 2")
            # B02: an incident and two households never visited (overdue); B01: nothing.
            assert building_states(phone) == {"B01": "clear", "B02": "late"}
            page.get_by_role("button", name="定位我").tap()
            page.get_by_text("您在自己的责任区内：第一网格 1栋 1单元").wait_for()
            page.screenshot(path=str(SHOTS["area"]))

            # Report an incident with a photo from where he stands; the first answer is lost.
            tab(phone, "上报")
            page.get_by_role("button", name="用我的位置").tap()
            page.get_by_text("位置：30.591100, 114.300900").wait_for()
            page.get_by_label("类别", exact=True).select_option("garbage")
            page.get_by_label("事件描述").fill("1栋楼道堆放杂物")
            # The photo button (a label in the page's language) opens the camera or gallery.
            with page.expect_file_chooser() as chooser:
                page.get_by_text("拍照或选择照片").tap()
            chooser.value.set_files(
                {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}
            )
            page.get_by_text("已选照片：photo.jpg").wait_for()
            page.route(
                "**/api/v1/incidents",
                lambda route: (
                    lose_the_answer(route) if route.request.method == "POST" else route.fallback()
                ),
            )
            page.get_by_role("button", name="上报事件").tap()
            page.locator("#gg-queue-list .gg-q-pending").wait_for()
            page.unroute("**/api/v1/incidents")
            page.evaluate("() => window.gridgis.my.flush()")
            wait_delivered(phone, "report")
            page.locator("#gg-queue-list .gg-q-done", has_text="已送达 · 事件 2").wait_for()
            page.screenshot(path=str(SHOTS["reported"]))
            assert count(database, sa.select(Incident).where(Incident.channel == "visit")) == 1
            assert count(database, sa.select(IncidentPhoto)) == 1

            # Accept the dispatched incident; again the answer is lost, and it is sent again.
            tab(phone, "事件")
            card = page.locator("#gg-incidents .gg-incident", has_text="#1 ")
            page.route("**/actions/accept", lose_the_answer)
            card.get_by_role("button", name="签收处置").tap()
            page.get_by_text("待发送：签收处置").wait_for()
            page.unroute("**/actions/accept")
            page.evaluate("() => window.gridgis.my.flush()")
            wait_delivered(phone, "move")
            card.get_by_text("处置中").wait_for()
            assert (
                count(database, sa.select(IncidentEvent).where(IncidentEvent.action == "accept"))
                == 1
            )
            # A note on its own (处置进展); its first answer is lost too: added once.
            card.get_by_role("button", name="详情").tap()
            card.locator("textarea[name=note]").fill("物业已到场，明早清运")
            page.route("**/notes", lose_the_answer)
            card.get_by_role("button", name="添加备注").tap()
            page.locator("#gg-queue-list .gg-q-pending", has_text="备注 · 事件 1").wait_for()
            page.unroute("**/notes")
            page.evaluate("() => window.gridgis.my.flush()")
            wait_delivered(phone, "note")
            card.get_by_text("备注: 物业已到场，明早清运").wait_for()
            card.get_by_text("处置中").wait_for()  # the status stays
            notes = sa.select(IncidentEvent).where(IncidentEvent.action == "note")
            assert count(database, notes) == 1
            # A photo of the work: one tap opens the camera, the photo chosen is sent.
            with page.expect_file_chooser() as chooser:
                card.get_by_role("button", name="添加照片").tap()
            chooser.value.set_files(
                {"name": "work.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}
            )
            wait_delivered(phone, "photo")
            assert count(database, sa.select(IncidentPhoto)) == 2
            # The list is the team's work: the new report (#2, not dispatched yet) shows
            # only when he asks for everything open in the area.
            reported = page.locator("#gg-incidents .gg-incident", has_text="#2 ")
            assert reported.count() == 0
            page.get_by_role("button", name="区域内全部").tap()
            reported.wait_for()
            page.get_by_role("button", name="派给我们的").tap()
            reported.wait_for(state="detached")

            # A visit to a household due one: the due list changes.
            tab(phone, "走访")
            page.locator("#gg-due .gg-household", has_text="301").get_by_role(
                "button", name="记录走访"
            ).tap()
            form = page.locator("#gg-visit-form")
            form.get_by_label("发现情况").fill("老人身体尚好，已提醒注意防滑")
            form.get_by_role("button", name="记录走访").tap()
            wait_delivered(phone, "visit")
            page.wait_for_function("() => window.gridgis.my.households().due.length === 1")
            assert form.is_hidden()
            page.screenshot(path=str(SHOTS["visits"]))

            # The network goes: the browser offline, the server's port closed.
            page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            page.wait_for_load_state("networkidle")
            phone.context.set_offline(True)
            server.stop()
            page.locator("#gg-due .gg-household", has_text="402").get_by_role(
                "button", name="记录走访"
            ).tap()
            form.get_by_label("发现情况").fill("家中困难，需要申请临时救助")
            form.get_by_role("button", name="记录走访").tap()
            page.locator("#gg-queue-list .gg-q-pending", has_text="402").wait_for()
            page.get_by_text("1 项待发送").wait_for()

            # Reloaded offline: the page, its data and the waiting visit are all there.
            page.reload(wait_until="load")
            page.wait_for_function("() => window.gridgis && window.gridgis.my")
            page.locator("#gg-incidents .gg-incident").first.wait_for()
            assert "离线" in page.locator("#gg-net").inner_text()
            page.locator("#gg-queue-list .gg-q-pending", has_text="402").wait_for()
            assert "等待网络" in page.locator("#gg-queue-list .gg-q-pending").inner_text()
            assert "张三" in page.locator("#gg-p-team").inner_html()
            page.screenshot(path=str(SHOTS["offline"]))
            assert count(database, sa.select(Visit)) == 1

            # The network is back: the visit is delivered, once.
            server.start()
            phone.context.set_offline(False)
            page.locator("#gg-queue-list .gg-q-done", has_text="402").wait_for(timeout=20000)
            page.wait_for_function("() => window.gridgis.my.households().due.length === 0")
            assert count(database, sa.select(Visit)) == 2
            page.screenshot(path=str(SHOTS["delivered"]))
            tab(phone, "处置力量")
            page.screenshot(path=str(SHOTS["team"]), full_page=True)
            # What failed, failed while the network was cut (or was the lost answers).
            phone.check_clean(
                allow_failed=("ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION", "ERR_FAILED")
            )
        finally:
            phone.close()
