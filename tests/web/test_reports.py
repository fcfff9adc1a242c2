"""The monthly report page (/reports/monthly): tables and charts in zh and en, files, who sees what.

The known month of tests/support/reports.py is added to the web tests' sample
community (rolled back after each test) and read on 5 December 2026.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.models import AuditEntry
from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.reports import NOW, Month, add_month, staff_account
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, build_sample_community
from tests.support.web import BUILDING_HEAD, ClientFor, add_user

PAGE = f"/reports/monthly?community={COMMUNITY_CODE}&month=2026-11"
#: Left for a person to look at.
SCREENSHOT = Path("/tmp/gridgis_report_monthly.png")
G1, G2, G3 = GRID_CODES


@pytest.fixture
def month(db: Session) -> Iterator[Month]:
    made = add_month(db)
    db.commit()  # a savepoint of the test's transaction: the app's requests see it
    with clock.frozen(NOW):
        yield made


def cells(html: str, table: str) -> list[list[str]]:
    """The rows of table ``table`` (its id) as text cells, header first."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in rows
    ]


def test_the_page_in_chinese_with_tables_and_charts(client_for: ClientFor, month: Month) -> None:
    response = client_for("dispatcher").get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>工作月汇报 · 南湖花园社区 · 2026-11" in html
    assert "统计至 2026-12-01 00:00" in html
    grids = cells(html, "gg-grids")
    header = grids[0]
    assert header[:5] == ["网格编码", "网格名称", "关爱户数", "应访次数", "已访次数"]
    g1 = dict(zip(header, grids[1]))
    assert (g1["网格编码"], g1["应访次数"], g1["已访次数"], g1["从未走访户"]) == (
        G1,
        "11",
        "6",
        "1",
    )
    assert (g1["上报事件"], g1["上报·走访"], g1["办结事件"], g1["超期事件"]) == ("4", "1", "2", "1")
    assert dict(zip(header, grids[-1]))["网格编码"] == "合计"
    staff = cells(html, "gg-staff")
    s1 = dict(zip(staff[0], staff[1]))
    assert (s1["人员编码"], s1["姓名"], s1["岗位"], s1["四进活动"]) == (
        "S1",
        "张三",
        "专职网格员",
        "4",
    )
    # Three charts drawn on the server: bars with their figures, no script at all.
    assert html.count('<svg id="gg-chart-') == 3
    assert "<title>第一网格 · 应访次数: 11</title>" in html
    assert "<title>第二网格 · 超期事件: 1</title>" in html
    assert "<title>进家门提供帮助 · 四进活动: 1</title>" in html
    assert "<script" not in html
    assert "style=" not in html  # nothing inline for the CSP to refuse
    assert "/static/reports.css" in html and "cdn" not in html.lower()
    assert "应访次数：当月天数" in html  # the definitions travel with the figures
    # The month's rounds, newest first: October's and December's are not listed.
    rounds = cells(html, "gg-rounds")
    assert [r[1] for r in rounds[1:]] == [
        "进家门提供帮助",
        "进楼院征集诉求",
        "进网格自查盘点",
        "进小区宣传政策",
        "进网格自查盘点",
    ]
    collection = dict(zip(rounds[0], rounds[2]))
    assert (collection["时间"], collection["地点"], collection["发现情况"]) == (
        "2026-11-18 19:00",
        "XQ01 / B02",
        "楼道灯坏了",
    )
    assert dict(zip(rounds[0], rounds[4]))["参加人员"] == "张三、李四光"


def test_the_page_in_english(client_for: ClientFor, month: Month) -> None:
    html = client_for("admin").get(PAGE + "&lang=en").get_data(as_text=True)
    assert "Monthly work report" in html and "As of 2026-12-01 00:00" in html
    header = cells(html, "gg-grids")[0]
    assert header[:5] == ["Grid", "Grid name", "Flagged households", "Visits due", "Visits done"]
    assert "<title>第一网格 · Visits due: 11</title>" in html
    assert "Rounds by kind" in html and "Help at home" in html
    assert "Full-time grid worker" in html
    assert (
        'href="/reports/monthly?community=420106001002&amp;month=2026-11&amp;format=csv&amp;lang=en"'
        in html
    )


def test_the_current_month_says_so(client_for: ClientFor, month: Month) -> None:
    html = (
        client_for("admin")
        .get(f"/reports/monthly?community={COMMUNITY_CODE}")
        .get_data(as_text=True)
    )
    assert "2026-12 · 统计至 2026-12-05 12:00 · 本月截至目前" in html


def test_csv_with_a_bom_both_tables_and_an_audit_entry(
    client_for: ClientFor, month: Month, db: Session
) -> None:
    response = client_for("dispatcher").get(PAGE + "&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="monthly-{COMMUNITY_CODE}-2026-11.csv"'
    )
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = [r for r in csv.reader(io.StringIO(response.data.decode("utf-8-sig"))) if r]
    tables = [r for r in rows if r[0] != "#"]
    assert tables[1][0] == G1 and tables[4][0] == "合计"
    assert tables[5][:2] == ["人员编码", "姓名"] and tables[6][:2] == ["S1", "张三"]
    entry = db.scalar(sa.select(AuditEntry).where(AuditEntry.entity == "monthly_report"))
    assert entry is not None and entry.actor == "user:dispatcher1"
    assert entry.after is not None and entry.after["grids"] == [G1, G2, G3]


def test_xlsx_workbook(client_for: ClientFor, month: Month) -> None:
    response = client_for("admin").get(PAGE + "&format=xlsx&lang=en")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames == ["Grids", "Staff", "Definitions"]
    grids = [list(r) for r in book["Grids"].iter_rows(values_only=True)]
    g2 = dict(zip(grids[0], grids[2]))
    assert (g2["Grid"], g2["Incidents overdue"], g2["Grid inventory round"]) == (G2, 1, 1)
    staff = [list(r) for r in book["Staff"].iter_rows(values_only=True)]
    assert staff[1][:3] == ["S1", "张三", "Full-time grid worker"]
    book.close()


def test_grid_staff_see_their_own_grid_only(client_for: ClientFor, month: Month) -> None:
    client = client_for("grid_staff")  # 张三, grid worker of G1
    html = client.get(PAGE).get_data(as_text=True)
    assert [row[0] for row in cells(html, "gg-grids")[1:]] == [G1, "合计"]
    assert [row[0] for row in cells(html, "gg-staff")[1:]] == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert 'id="gg-community"' not in html  # no choosing other communities
    assert len(cells(html, "gg-rounds")) == 1 + 4  # G1's, not the administrator's in G2
    other = client.get(PAGE + f"&grid={G2}")
    assert other.status_code == 403
    assert "not yours" in other.get_data(as_text=True)
    csv_rows = client.get(PAGE + "&format=csv").data.decode("utf-8-sig")
    assert G2 not in csv_rows and G3 not in csv_rows


def test_a_building_head_sees_their_own_row(
    client_for: ClientFor, month: Month, db: Session
) -> None:
    staff_account(db, BUILDING_HEAD[1], BUILDING_HEAD[0])
    html = client_for(BUILDING_HEAD[0]).get(PAGE).get_data(as_text=True)
    # No whole grid is theirs: no grid table or charts of zeros, a word on why, their row.
    assert 'id="gg-grids"' not in html and "<svg" not in html
    assert "您的岗位不负责整个网格" in html
    assert [row[0] for row in cells(html, "gg-staff")[1:]] == ["S5"]


@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_planners_and_viewers_are_refused(client_for: ClientFor, month: Month, role: str) -> None:
    client = client_for(role)
    response = client.get(PAGE)
    assert response.status_code == 403 and "reports:read" in response.get_data(as_text=True)
    assert "/reports/monthly" not in client.get("/").get_data(as_text=True)


def test_the_header_links_it_for_those_who_may_read_it(client_for: ClientFor) -> None:
    for role in ("admin", "dispatcher", "grid_staff"):
        assert 'href="/reports/monthly"' in client_for(role).get("/account/password").get_data(
            as_text=True
        )


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("&month=2026-13", 400, "month must be a year and a month"),
        ("&month=2027-01", 400, "2027-01 has not begun yet"),
        ("&grid=nope", 404, "No grid"),
        ("&format=pdf", 400, "format must be one of html, csv, xlsx"),
    ],
)
def test_bad_requests_say_what_to_fix(
    client_for: ClientFor, month: Month, query: str, status: int, message: str
) -> None:
    response = client_for("admin").get(f"/reports/monthly?community={COMMUNITY_CODE}{query}")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_month(session)
        add_user(session, "admin1", "admin")
    engine.dispose()
    with clock.frozen(NOW), serve(scratch_database_url) as url:
        yield url


@BROWSER_TESTS[0]  # a browser test, skipped (saying why) without Chromium
@BROWSER_TESTS[1]
def test_the_page_in_chromium_draws_its_charts_within_the_policy(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1280, "height": 900})
        try:
            b.log_in(live_url, "admin1")
            page = b.page
            page.get_by_role("link", name="工作月汇报").click()
            page.wait_for_load_state("networkidle")
            page.goto(live_url + PAGE, wait_until="networkidle")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            # Bars are drawn, coloured by the stylesheet, and as long as their figures say.
            due = page.locator("#gg-chart-visits rect.gg-bar-visits_required").first
            assert due.evaluate("e => getComputedStyle(e).fill") == "rgb(201, 196, 184)"
            widths = page.eval_on_selector_all(
                "#gg-chart-visits rect", "rs => rs.map(r => r.getBBox().width)"
            )
            assert widths[0] == 380 and widths[1] == round(380 * 6 / 11)  # G1: 11 due, 6 done
            assert page.locator("#gg-grids tbody tr").count() == 3
            b.check_clean()
        finally:
            b.browser.close()
