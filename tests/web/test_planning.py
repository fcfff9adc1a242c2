"""The diff page (/plan/<layout>/diff): tables and map, the files of the CLI, who may see it.

A draft of the sample community moves B01 (2 units, 24 households) from G1 to
G2 and B05 (20 households) from G3 to a new grid G4, as in
tests/gridgis/planning/test_diff.py; it is added to the web tests' sample
database (rolled back after each test).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.maps.layout_diff import NO_GRID_COLOUR, build_layout_diff_map
from gridgis.maps.popups import GRID_COLOURS, LOOSE_BUILDING_COLOUR
from gridgis.models import Community
from gridgis.planning.diff import diff_named
from gridgis.planning.drafts import find_layout
from tests.support import factories as make
from tests.support.browser import BROWSER_TESTS, Browser, serve
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    GRID_NAMES,
    LAYOUT_NOW,
    build_sample_community,
)
from tests.support.web import ClientFor, add_user

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
SOUTH, NORTH = 30.590, 30.594
NAMES = {**dict(zip(GRID_CODES, GRID_NAMES)), G4: "第四网格"}
MOVED = {
    G1: box(114.300, 30.5915, 114.302, NORTH).union(box(114.300, SOUTH, 114.3005, 30.5915)),
    G2: box(114.302, SOUTH, 114.304, NORTH).union(box(114.3005, SOUTH, 114.302, 30.5915)),
    G3: box(114.304, SOUTH, 114.306, 30.592),
    G4: box(114.304, 30.592, 114.306, NORTH),
}
#: Left for a person to look at.
SCREENSHOT = Path("/tmp/gridgis_plan_diff.png")
DRAFT = "moved"
PAGE = f"/plan/{DRAFT}/diff?community={COMMUNITY_CODE}"


def add_draft(session: Session) -> None:
    community = session.scalar(sa.select(Community).where(Community.code == COMMUNITY_CODE))
    assert community is not None
    make.layout(session, community, DRAFT, grids={c: (p, NAMES[c]) for c, p in MOVED.items()})


@pytest.fixture
def moved(db: Session) -> str:
    add_draft(db)
    db.commit()  # a savepoint of the test's transaction: the app's requests see it
    return DRAFT


def in_script(text: str) -> str:
    """``text`` as the map's script writes it (JSON escapes non-ASCII)."""
    return json.dumps(text)[1:-1]


def rows(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    ]


@pytest.mark.parametrize("who", ["planner", "admin"])
def test_planners_see_the_moves_totals_and_map(client_for: ClientFor, moved: str, who: str) -> None:
    response = client_for(who).get(PAGE)
    assert response.status_code == 200, response.data[:500]
    html = response.get_data(as_text=True)
    summary = html.split('id="gg-diff-summary">', 1)[1].split("<", 1)[0]
    assert summary == f"方案 moved 对比 {LAYOUT_NOW}：2 栋楼、2 个单元、44 户调整网格。"
    assert [r[:1] + r[2:] for r in rows(html, "gg-diff-moves")[1:]] == [
        ["B01", "2", "24", G1, G2],
        ["B05", "0", "20", G3, G4],
    ]
    grids = {r[0]: r for r in rows(html, "gg-diff-grids")[1:]}
    assert grids[G1][3:] == ["2 → 1", "2 → 0", "60 → 36"]
    assert grids[G2][5] == "30 → 54"
    assert grids[G4][2] == "新增" and grids[G4][5] == "– → 20"
    assert grids[G1][2] == "保留"
    # The map: Leaflet from the app, the layout's grids, B01 in G2's colour, the rest grey.
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "cdn" not in html.lower()
    assert in_script("第四网格") in html  # a grid of the draft, in the legend
    assert in_script("网格不变") in html  # the legend, in Chinese


def test_the_map_colours_moved_buildings_by_the_grid_they_join(db: Session, moved: str) -> None:
    diff = diff_named(db, COMMUNITY_CODE, DRAFT)
    layout = find_layout(db, COMMUNITY_CODE, DRAFT)
    m = build_layout_diff_map(db, diff, layout, assets_url=lambda n: f"/assets/{n}")
    grids = [f["id"] for f in m.layer_data["grids"]["features"]]
    assert grids == sorted(MOVED)
    colour = dict(zip(grids, GRID_COLOURS))
    shown = {
        f["id"]: (f["properties"]["change"], f["properties"]["colour"])
        for f in m.layer_data["buildings"]["features"]
    }
    assert shown["B01"] == ("moved", colour[G2])
    assert shown["B05"] == ("moved", colour[G4])
    assert shown["B02"] == ("unchanged", LOOSE_BUILDING_COLOUR)
    assert NO_GRID_COLOUR not in {c for _, c in shown.values()}


def test_the_page_in_english(client_for: ClientFor, moved: str) -> None:
    html = client_for("planner").get(PAGE + "&lang=en").get_data(as_text=True)
    assert "Layout diff" in html
    assert (
        "Layout moved against 2025版: 2 building(s), 2 unit(s) and 44 household(s) change grid."
        in html
    )
    grids = {r[0]: r for r in rows(html, "gg-diff-grids")[1:]}
    assert grids[G4][2] == "appearing" and grids[G1][2] == "kept"
    assert "Keeps its grid" in html and "Buildings that move, by the grid they join" in html
    assert in_script("网格不变") not in html


def test_the_files_are_the_cli_formats(client_for: ClientFor, db: Session, moved: str) -> None:
    client = client_for("planner")
    expected = diff_named(db, COMMUNITY_CODE, DRAFT)
    as_json = client.get(PAGE + "&format=json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert as_json.json == expected.as_dict()
    as_csv = client.get(PAGE + "&format=csv")
    assert as_csv.data == expected.as_csv()
    table = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert table == [
        ["building", "units", "households", "from", "to"],
        ["B01", "2", "24", G1, G2],
        ["B05", "0", "20", G3, G4],
    ]
    as_geojson = client.get(PAGE + "&format=geojson")
    assert as_geojson.mimetype == "application/geo+json"
    collection = json.loads(as_geojson.data)
    assert collection == json.loads(expected.as_geojson())
    assert [f["properties"]["building"] for f in collection["features"]] == ["B01", "B05"]


def test_against_another_layout(client_for: ClientFor, moved: str) -> None:
    answer = client_for("planner").get(
        f"/plan/{LAYOUT_NOW}/diff?community={COMMUNITY_CODE}&against={DRAFT}&format=json"
    )
    assert answer.status_code == 200
    assert (answer.json["layout"], answer.json["against"]) == (LAYOUT_NOW, DRAFT)
    assert [(m["building"], m["from"], m["to"]) for m in answer.json["moves"]] == [
        ("B01", G2, G1),
        ("B05", G4, G3),
    ]


@pytest.mark.parametrize("who", ["dispatcher", "viewer", "grid_staff"])
def test_others_are_refused(client_for: ClientFor, moved: str, who: str) -> None:
    for url in (PAGE, PAGE + "&format=json"):
        assert client_for(who).get(url).status_code == 403


def test_anonymous_goes_to_the_login_page(anon_client: FlaskClient, moved: str) -> None:
    response = anon_client.get(PAGE)
    assert response.status_code == 302 and response.location.startswith("/login?next=")


def test_unknown_layout_and_community_are_404_listing_what_exists(
    client_for: ClientFor,
) -> None:
    client = client_for("planner")
    page = client.get(f"/plan/nope/diff?community={COMMUNITY_CODE}&lang=en")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "nope" in html and LAYOUT_NOW in html
    other = client.get("/plan/x/diff?community=999&lang=en")
    assert other.status_code == 404
    assert COMMUNITY_CODE in other.get_data(as_text=True)
    missing = client.get(f"/plan/{LAYOUT_NOW}/diff?community={COMMUNITY_CODE}&format=pdf")
    assert missing.status_code == 400


@pytest.fixture
def live_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_draft(session)
        add_user(session, "planner1", "planner")
    engine.dispose()
    with serve(scratch_database_url) as url:
        yield url


@BROWSER_TESTS[0]  # a browser test, skipped (saying why) without Chromium
@BROWSER_TESTS[1]
def test_the_page_in_chromium_draws_its_map_within_the_policy(live_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Browser(p, viewport={"width": 1280, "height": 900})
        try:
            b.log_in(live_url, "planner1")
            page = b.page
            page.goto(live_url + PAGE, wait_until="networkidle")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            # Four grid outlines and five buildings on the canvas; the legend in Chinese.
            assert page.locator(".gg-legend").inner_text().count("网格不变") == 1
            assert page.locator("#gg-diff-moves tbody tr").count() == 2
            b.check_clean()
        finally:
            b.browser.close()
