"""The office's households pages (/households, /households/<id>): who sees what, lists, errors.

The known month of tests/support/reports.py is added to the web tests' sample
community (rolled back after each test) and read on 5 December 2026 (Beijing),
when its households stand in the schedule like this (every head is 刘桂英,
13900001111):

====  ==========  =============  =============================  ==================
code  place       flags          last visit (or registered)     on 5 December
====  ==========  =============  =============================  ==================
H1    B01/1  G1   elderly_alone  30 Nov                         due 7 Dec: due
H2    B01/2  G1   hardship       30 Nov 23:30                   due 30 Dec: not due
H3    B02    G1   petitioner     1 Dec 00:30                    due 15 Dec: not due
H4    B02    G1   retiree        registered 20 Nov, never       overdue 15 days
H5    B03/1  G2   elderly_alone  registered 1 Jan 2025, never   overdue 703 days
H6    B04    G3   (none)         -                              never due
H7    B05    G3   hardship       registered 1 Dec 00:30         overdue 4 days
H8    B01    G1   hardship       15 Oct                         overdue 21 days
====  ==========  =============  =============================  ==================

H1's visit of 30 November became incident I1 (linked here, for the page's link).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.models import Visit
from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.households import RESIDENTS, no_resident_in_logs
from tests.support.reports import NOW, Month, add_month, bj
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, build_sample_community
from tests.support.web import ClientFor, add_user

PAGE = f"/households?community={COMMUNITY_CODE}"
G1, G2, G3 = GRID_CODES
NAME, PHONE = RESIDENTS[0], RESIDENTS[6]
#: Left for a person to look at.
SCREENSHOT = Path("/tmp/gridgis_households.png")
SCREENSHOT_PHONE = Path("/tmp/gridgis_households_phone.png")
SCREENSHOT_DETAIL = Path("/tmp/gridgis_household.png")


def add_known_month(session: Session) -> Month:
    made = add_month(session)
    last = session.scalar(
        sa.select(Visit).where(
            Visit.household_id == made.households["H1"].id, Visit.visited_at == bj(11, 30)
        )
    )
    assert last is not None
    last.incident_id = made.incidents["I1"].id
    last.follow_up = "需要助老服务"
    session.flush()
    return made


@pytest.fixture
def month(db: Session) -> Iterator[Month]:
    made = add_known_month(db)
    db.commit()  # a savepoint of the test's transaction: the app's requests see it
    with clock.frozen(NOW):
        yield made


def cells(html: str, table: str) -> list[list[str]]:
    """The rows of table ``table`` (its id) as text cells, header first."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in rows
    ]


def listed(html: str) -> list[str]:
    """The households' codes as the table lists them (none: no table)."""
    if 'id="gg-households"' not in html:
        return []
    return [row[0] for row in cells(html, "gg-households")[1:]]


def counts(html: str) -> str:
    line = html.split('id="gg-counts">', 1)[1].split("</p>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", line).split())


def test_administrators_see_the_due_list_in_full(client_for: ClientFor, month: Month) -> None:
    with no_resident_in_logs():
        response = client_for("admin").get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>住户走访 · 南湖花园社区 · gridgis</title>" in html
    # Due and overdue only, most overdue first; the not-due and the unflagged are left out.
    assert listed(html) == ["H5", "H8", "H4", "H7", "H1"]
    rows = cells(html, "gg-households")
    assert rows[0] == [
        *("编码", "楼栋", "单元", "房号", "户主", "电话", "人口", "关爱类别"),
        *("上次走访", "应访日期", "状态"),
    ]
    h5, h8, h4, h7, h1 = (dict(zip(rows[0], r)) for r in rows[1:])
    assert (h5["楼栋"], h5["单元"], h5["户主"], h5["电话"]) == ("B03", "1", NAME, PHONE)
    assert (h5["关爱类别"], h5["上次走访"], h5["状态"]) == ("孤寡老人", "—", "逾期 703 天")
    assert (h8["上次走访"], h8["应访日期"], h8["状态"]) == (
        "2026-10-15 10:00",
        "2026-11-14",
        "逾期 21 天",
    )
    assert (h4["状态"], h7["状态"]) == ("逾期 15 天", "逾期 4 天")
    assert (h1["应访日期"], h1["状态"]) == ("2026-12-07", "待访")
    # The counts are the community's: 8 households, 7 flagged, 1 due, 4 overdue.
    assert counts(html).startswith("户数 8 关爱户 7 待访 1 逾期 4 统计至 2026-12-05")
    assert f'href="/households/{month.households["H5"].id}"' in html
    assert "已部分隐去" not in html
    # The office chooses the community and the grid (by code).
    assert 'id="gg-community"' in html
    assert f'<option value="{G2}">{G2} 第二网格</option>' in html
    assert "<script" not in html and "style=" not in html  # nothing for the CSP to refuse


def test_every_household_by_building_unit_and_room(client_for: ClientFor, month: Month) -> None:
    client = client_for("admin")
    html = client.get(PAGE + "&show=all").get_data(as_text=True)
    assert listed(html) == ["H8", "H1", "H2", "H3", "H4", "H5", "H6", "H7"]
    rows = {r[0]: r for r in cells(html, "gg-households")[1:]}
    assert (rows["H2"][-1], rows["H6"][-1], rows["H6"][7]) == ("未到期", "—", "")
    assert "列出 8 户" in html


@pytest.mark.parametrize(
    ("query", "codes", "counted"),
    [
        (f"&grid={G1}&show=all", ["H8", "H1", "H2", "H3", "H4"], "户数 5 关爱户 5 待访 1 逾期 2"),
        (f"&grid={G1}", ["H8", "H4", "H1"], "户数 5 关爱户 5 待访 1 逾期 2"),
        (f"&grid={G3}", ["H7"], "户数 2 关爱户 1 待访 0 逾期 1"),
        ("&building=B02", ["H4"], "户数 2 关爱户 2 待访 0 逾期 1"),
        (f"&grid={G1}&building=B01&show=all", ["H8", "H1", "H2"], "户数 3 关爱户 3 待访 1 逾期 1"),
        ("&flag=hardship&show=all", ["H8", "H2", "H7"], "户数 8 关爱户 7 待访 1 逾期 4"),
        ("&flag=elderly_alone", ["H5", "H1"], "户数 8 关爱户 7 待访 1 逾期 4"),
        ("&building=B04", [], "户数 1 关爱户 0 待访 0 逾期 0"),
    ],
)
def test_filters(
    client_for: ClientFor, month: Month, query: str, codes: list[str], counted: str
) -> None:
    html = client_for("admin").get(PAGE + query).get_data(as_text=True)
    if codes:
        assert listed(html) == codes
    else:
        assert 'id="gg-households"' not in html and "没有符合条件的住户。" in html
    assert counts(html).startswith(counted)


def test_dispatchers_see_households_masked(client_for: ClientFor, month: Month) -> None:
    # DESIGN.md: residents' data in full for administrators and the staff whose area
    # holds the household; a dispatcher holds households:read without personal:read.
    client = client_for("dispatcher")
    html = client.get(PAGE).get_data(as_text=True)
    assert listed(html) == ["H5", "H8", "H4", "H7", "H1"]
    h5 = dict(zip(*cells(html, "gg-households")[:2]))
    # The care flag (孤寡老人 here) is withheld with the name: due, but not why.
    assert (h5["户主"], h5["电话"], h5["关爱类别"]) == ("刘**", "139****1111", "")
    assert NAME not in html and PHONE not in html
    assert "姓名和电话已部分隐去" in html
    detail = client.get(f"/households/{month.households['H1'].id}").get_data(as_text=True)
    assert NAME not in detail and PHONE not in detail and 'href="tel:' not in detail
    visits = cells(detail, "gg-visits")
    # What was found is the residents' too: not shown; the incident is linked.
    assert visits[1][2:4] == ["—", "—"]
    assert "家中一切正常" not in detail and "需要助老服务" not in detail
    assert f'href="/dispatch/incidents/{month.incidents["I1"].id}"' in detail


def test_one_household_with_its_visits_newest_first(client_for: ClientFor, month: Month) -> None:
    with no_resident_in_logs():
        response = client_for("admin").get(f"/households/{month.households['H1'].id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>住户 H1 · gridgis</title>" in html
    facts = dict(cells(html, "gg-household"))
    assert (facts["户主"], facts["电话"], facts["关爱类别"]) == (NAME, PHONE, "孤寡老人")
    assert (facts["楼栋"], facts["单元"], facts["社区"]) == ("B01 1栋", "1", "南湖花园社区")
    assert (facts["上次走访"], facts["应访日期"], facts["状态"]) == (
        "2026-11-30 10:00",
        "2026-12-07",
        "待访",
    )
    assert f'href="tel:{PHONE}"' in html
    visits = cells(html, "gg-visits")
    assert visits[0] == ["时间", "走访人", "发现情况", "后续事项", "事件"]
    assert [v[0] for v in visits[1:]] == [
        f"2026-11-{day:02d} 10:00" for day in (30, 29, 22, 15, 8, 1)
    ]
    incident = month.incidents["I1"].id
    assert visits[1] == [
        "2026-11-30 10:00",
        "张三 (S1)",
        "家中一切正常",
        "需要助老服务",
        str(incident),
    ]
    assert visits[2][3:] == ["—", "—"]
    assert f'href="/dispatch/incidents/{incident}"' in html
    assert f"/households?community={COMMUNITY_CODE}&amp;building=B01&amp;show=all" in html


def test_grid_staff_see_their_area_only(client_for: ClientFor, month: Month) -> None:
    client = client_for("grid_staff")  # 张三, grid worker of 网格一 (B01, B02)
    html = client.get("/households?show=all").get_data(as_text=True)
    assert listed(html) == ["H8", "H1", "H2", "H3", "H4"]
    assert NAME in html  # their area's residents, in full
    assert 'id="gg-community"' not in html  # their own community, no choosing
    assert f'<option value="{G1}">' in html and f'<option value="{G2}">' not in html
    assert counts(html).startswith("户数 5 关爱户 5 待访 1 逾期 2")
    # Another grid's household is "not found", exactly like one that does not exist.
    elsewhere = client.get(f"/households/{month.households['H5'].id}")
    missing = client.get("/households/999999")
    assert elsewhere.status_code == missing.status_code == 404
    assert "No household" in elsewhere.get_data(as_text=True)
    assert client.get(f"/households/{month.households['H1'].id}").status_code == 200
    # Asking for another grid lists nothing of it.
    assert listed(client.get(f"/households?grid={G2}&show=all").get_data(as_text=True)) == []


@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_planners_and_viewers_are_refused(client_for: ClientFor, month: Month, role: str) -> None:
    client = client_for(role)
    response = client.get(PAGE)
    assert response.status_code == 403 and "households:read" in response.get_data(as_text=True)
    assert client.get(f"/households/{month.households['H1'].id}").status_code == 403
    assert 'href="/households"' not in client.get("/account/password").get_data(as_text=True)


def test_the_header_links_it_for_the_office(client_for: ClientFor) -> None:
    for role, linked in (("admin", True), ("dispatcher", True), ("grid_staff", False)):
        html = client_for(role).get("/account/password").get_data(as_text=True)
        assert ('href="/households">住户走访</a>' in html) is linked, role


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?community=nope", "There is no community &#39;nope&#39;: choose one from the list."),
        (
            "&grid=nope",
            f"Community {COMMUNITY_CODE} has no grid &#39;nope&#39; in force: choose one of its "
            f"grids ({G1}, {G2}, {G3}) or every grid.",
        ),
        ("&building=B99", f"Community {COMMUNITY_CODE} has no building &#39;B99&#39;"),
        (f"&grid={G1}&building=B04", f"Building B04 is not in grid {G1}: choose its grid"),
        ("&show=later", "show must be &#39;due&#39; (households due or overdue) or &#39;all&#39;"),
        ("&flag=rich", "Unknown care flag &#39;rich&#39;: give one of hardship, retiree,"),
    ],
)
def test_bad_filters_say_what_to_fix(
    client_for: ClientFor, month: Month, query: str, message: str
) -> None:
    url = ("/households" if query.startswith("?") else PAGE) + query
    response = client_for("admin").get(url + ("&" if "?" in url else "?") + "lang=en")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_bad_filter_in_chinese(client_for: ClientFor, month: Month) -> None:
    response = client_for("dispatcher").get(PAGE + "&building=B99")
    assert response.status_code == 400
    assert "没有楼栋 &#39;B99&#39;：请核对楼栋编码" in response.get_data(as_text=True)


def test_the_pages_in_english(client_for: ClientFor, month: Month) -> None:
    client = client_for("admin")
    html = client.get(PAGE + "&lang=en").get_data(as_text=True)
    assert "<title>Households and visits · 南湖花园社区 · gridgis</title>" in html
    rows = cells(html, "gg-households")
    assert rows[0][4:8] == ["Head of household", "Phone", "Members", "Care flags"]
    assert [r[-1] for r in rows[1:]] == [
        *("Overdue 703 days", "Overdue 21 days", "Overdue 15 days", "Overdue 4 days", "Due"),
    ]
    assert rows[1][7] == "Elderly living alone"
    assert counts(html).startswith("Households 8 Flagged 7 Due 1 Overdue 4 As of 2026-12-05")
    assert ">Due and overdue</option>" in html and ">Every household</option>" in html
    detail = client.get(f"/households/{month.households['H1'].id}").get_data(as_text=True)
    assert "Visited by" in detail and "Follow-up" in detail and "Households and visits" in detail


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_known_month(session)
        add_user(session, "admin1", "admin")
    engine.dispose()
    with clock.frozen(NOW), serve(scratch_database_url) as url:
        yield url


@BROWSER_TESTS[0]  # a browser test, skipped (saying why) without Chromium
@BROWSER_TESTS[1]
def test_the_pages_in_chromium_within_the_policy(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1280, "height": 800})
        try:
            b.log_in(live_url, "admin1")
            page = b.page
            page.get_by_role("link", name="住户走访").click()
            page.wait_for_load_state("networkidle")
            assert page.locator("#gg-households tbody tr").count() == 5
            # Overdue rows are tinted by the stylesheet.
            first = page.locator("#gg-households tbody tr td").first
            assert (
                first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 236, 234)"
            )
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.get_by_role("link", name="H1").click()
            page.wait_for_load_state("networkidle")
            assert page.locator("#gg-visits tbody tr").count() == 6
            page.screenshot(path=str(SCREENSHOT_DETAIL), full_page=True)
            # A phone: the filters stack, the table scrolls sideways inside its box.
            page.set_viewport_size({"width": 375, "height": 812})
            page.goto(live_url + PAGE + "&show=all", wait_until="networkidle")
            page.screenshot(path=str(SCREENSHOT_PHONE), full_page=True)
            # Nothing runs off the screen: the header wraps, the table scrolls in its box.
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
            box = page.locator(".gg-hh-scroll").evaluate("e => [e.clientWidth, e.scrollWidth]")
            assert box[0] <= 375 < box[1]
            assert page.get_by_role("heading", name="住户走访 · 南湖花园社区").is_visible()
            b.check_clean()
        finally:
            b.browser.close()
