"""The planning workspace (/plan, /plan/<layout>): copy, paint, undo/redo, lock, publish, rebalance.

On the web tests' sample community (tests/support/sample_community.py): grids
G1 (B01 24 + B02 36 = 60 households), G2 (B03, 30), G3 (B04 18 + B05 20 = 38);
its layout in force is 2025版. Each test copies it into a draft through the
page's own form and works on that draft with the JSON the page's script sends.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.models import Grid, Layout, LayoutEdit
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, LAYOUT_NOW
from tests.support.web import ClientFor

G1, G2, G3 = GRID_CODES
DRAFT = "2027 redraw"
Q = f"?community={COMMUNITY_CODE}"


def token(client: FlaskClient, page: str) -> str:
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, page
    return found.group(1)


class Planner:
    """A planner's browser session on one draft: what the page's script sends."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = token(client, f"/plan{Q}")

    def copy(self, name: str = DRAFT) -> str:
        response = self.client.post(
            "/plan/drafts",
            data={"csrf_token": self.csrf, "community": COMMUNITY_CODE, "name": name},
        )
        assert response.status_code == 302, response.data[:400]
        return response.location

    def post(self, action: str, body: dict[str, Any], layout: str = DRAFT) -> Any:
        return self.client.post(
            f"/plan/{layout}/{action}{Q}",
            json=body,
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
        )

    def state(self, layout: str = DRAFT) -> dict[str, Any]:
        response = self.client.get(f"/plan/{layout}/state{Q}")
        assert response.status_code == 200, response.data[:400]
        return response.json


@pytest.fixture
def planner(client_for: ClientFor) -> Planner:
    return Planner(client_for("planner"))


def households(figures: dict[str, Any]) -> dict[str, int]:
    return {t["code"]: t["households"] for t in figures["tallies"]}


def grid_of(state: dict[str, Any]) -> dict[str, str | None]:
    return {f["id"]: f["properties"]["grid"] for f in state["buildings"]["features"]}


def test_the_index_lists_layouts_and_copies_the_one_in_force(planner: Planner) -> None:
    html = planner.client.get(f"/plan{Q}").get_data(as_text=True)
    assert LAYOUT_NOW in html and "draft" not in html.split("gg-layouts", 1)[1].split("</table>")[0]
    location = planner.copy()
    assert location.startswith("/plan/2027%20redraw?community=")
    page = planner.client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "划片工作台" in html or "Planning workspace" in html
    assert "/static/plan.js" in html and "cdn" not in html.lower()
    state = planner.state()
    assert state["status"] == "draft"
    assert sorted(f["id"] for f in state["grids"]["features"]) == sorted(GRID_CODES)
    assert grid_of(state) == {"B01": G1, "B02": G1, "B03": G2, "B04": G3, "B05": G3}
    assert households(state) == {G1: 60, G2: 30, G3: 38}
    assert state["can_undo"] is False and state["edits"] == []


def test_an_edit_answers_with_the_touched_grids_their_tallies_and_checks(
    planner: Planner, db: Session
) -> None:
    planner.copy()
    response = planner.post("assign", {"buildings": ["B02"], "grid": G2})
    assert response.status_code == 200, response.data[:400]
    change = response.json
    assert change["touched"] == [G1, G2] and change["removed"] == []
    assert households(change) == {G1: 24, G2: 66}  # only the grids the edit touched
    assert change["placed"] == {"B01": G1, "B02": G2, "B03": G2}
    assert [f["id"] for f in change["grids"]["features"]] == [G1, G2]
    # The sample's grids are all below the default band: warnings, said in Chinese.
    bands = [p for p in change["problems"] if p["kind"] == "outside_band"]
    assert [p["severity"] for p in bands] == ["warning"] * 3
    assert bands[0]["title"] == "户数超出标准区间" and bands[0]["message"] == f"网格：{G1}"
    assert change["can_undo"] is True and change["can_redo"] is False
    assert change["edits"][0]["buildings"] == ["B02"] and change["edits"][0]["grid"] == G2
    # What the page would read again agrees with what it was sent.
    assert households(planner.state()) == {G1: 24, G2: 66, G3: 38}
    assert grid_of(planner.state())["B02"] == G2


def test_undo_and_redo_from_the_page(planner: Planner) -> None:
    planner.copy()
    before = planner.state()["grids"]
    planner.post("assign", {"buildings": ["B02"], "grid": G2})
    planner.post("assign", {"buildings": ["B04"], "grid": "G9", "new_name": "新网格"})
    assert households(planner.state())["G9"] == 18
    undone = planner.post("undo", {}).json
    assert "G9" in undone["removed"] and undone["can_redo"] is True
    undone = planner.post("undo", {}).json
    assert undone["can_undo"] is False
    assert planner.state()["grids"] == before  # polygons exactly as they were
    assert planner.post("undo", {}).status_code == 409
    redone = planner.post("redo", {}).json
    assert households(redone)[G2] == 66
    planner.post("redo", {})
    assert households(planner.state()) == {G1: 24, G2: 66, G3: 20, "G9": 18}


def test_a_refused_edit_changes_nothing_and_says_why(planner: Planner, db: Session) -> None:
    planner.copy()
    locked = planner.post("lock", {"grid": G1, "locked": True})
    assert locked.status_code == 200
    assert locked.json["grids"]["features"][0]["properties"]["locked"] is True
    refused = planner.post("assign", {"buildings": ["B02"], "grid": G2})
    assert refused.status_code == 409
    assert G1 in refused.json["error"]["message"]
    assert grid_of(planner.state())["B02"] == G1
    unknown = planner.post("assign", {"buildings": ["B99"], "grid": G2})
    assert unknown.status_code == 404 and "B99" in unknown.json["error"]["message"]
    empty = planner.post("assign", {"buildings": [], "grid": G2})
    assert empty.status_code == 400
    assert db.scalar(sa.select(sa.func.count()).select_from(LayoutEdit)) == 0


def test_a_published_layout_opens_read_only(planner: Planner) -> None:
    html = planner.client.get(f"/plan/{LAYOUT_NOW}{Q}").get_data(as_text=True)
    assert 'data-editable="false"' in html and 'id="gg-assign"' not in html
    refused = planner.post("assign", {"buildings": ["B02"], "grid": G2}, layout=LAYOUT_NOW)
    assert refused.status_code == 409


def test_publish_preview_then_publish_from_a_future_date(planner: Planner, db: Session) -> None:
    planner.copy()
    planner.post("assign", {"buildings": ["B02"], "grid": G2})
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).strftime("%Y-%m-%dT00:00")
    preview = planner.client.get(f"/plan/{DRAFT}/cutover{Q}&from={start}")
    assert preview.status_code == 200, preview.data[:400]
    assert preview.json["replaces"] == LAYOUT_NOW
    assert preview.json["moved"]["buildings"] == 1 and preview.json["moved"]["households"] == 36
    assert preview.json["errors"] == []
    assert db.scalar(sa.select(Layout.status).where(Layout.name == DRAFT)) == "draft"
    published = planner.post("publish", {"from": start})
    assert published.status_code == 200, published.data[:400]
    db.expire_all()
    layout = db.scalar(sa.select(Layout).where(Layout.name == DRAFT))
    assert layout is not None and layout.status == "published"
    # The office's zone: 00:00 in Beijing.
    assert layout.valid_from is not None
    assert layout.valid_from.astimezone(dt.timezone(dt.timedelta(hours=8))).hour == 0
    past = planner.post("publish", {"from": "2020-01-01T00:00"})
    assert past.status_code == 409  # published already


def test_rebalance_makes_a_new_draft_and_leaves_this_one(planner: Planner, db: Session) -> None:
    planner.copy()
    before = planner.state()["grids"]
    response = planner.post("rebalance", {"band": "20-70", "seed": 1, "time_limit": 5})
    assert response.status_code == 200, response.data[:400]
    made = response.json
    assert made["layout"] != DRAFT and made["url"].startswith("/plan/")
    assert made["after"]["grids"] >= 1
    assert planner.state()["grids"] == before
    assert planner.client.get(made["url"]).status_code == 200


def test_export_is_a_geopackage(planner: Planner, tmp_path: Path) -> None:
    planner.copy()
    response = planner.client.get(f"/plan/{DRAFT}/export.gpkg{Q}")
    assert response.status_code == 200
    path = tmp_path / "out.gpkg"
    path.write_bytes(response.data)
    with sqlite3.connect(path) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    assert "grids" in tables


@pytest.mark.parametrize("who", ["dispatcher", "viewer", "grid_staff"])
def test_others_are_refused(client_for: ClientFor, who: str) -> None:
    client = client_for(who)
    for url in (f"/plan{Q}", f"/plan/{LAYOUT_NOW}{Q}", f"/plan/{LAYOUT_NOW}/state{Q}"):
        assert client.get(url).status_code == 403, url


def test_the_grid_count_is_unchanged_by_reading(planner: Planner, db: Session) -> None:
    planner.copy()
    planner.state()
    draft = db.scalar(sa.select(Layout.id).where(Layout.name == DRAFT))
    assert db.scalar(sa.select(sa.func.count()).where(Grid.layout_id == draft)) == 3


def test_a_geopackage_exported_comes_back_as_a_checked_draft(planner: Planner, db: Session) -> None:
    exported = planner.client.get(f"/plan/{LAYOUT_NOW}/export.gpkg{Q}")
    assert exported.status_code == 200
    response = planner.client.post(
        f"/plan/import{Q}",
        data={
            "csrf_token": planner.csrf,
            "name": "从QGIS回来",
            "file": (io.BytesIO(exported.data), "layout.gpkg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.data[:400]
    assert "/plan/%E4%BB%8EQGIS" in response.location
    state = planner.state("从QGIS回来")
    assert state["status"] == "draft"
    assert households(state) == {G1: 60, G2: 30, G3: 38}
    assert [p for p in state["problems"] if p["severity"] == "error"] == []


def test_a_file_that_is_no_grids_file_changes_nothing(planner: Planner, db: Session) -> None:
    layouts = db.scalar(sa.select(sa.func.count()).select_from(Layout))
    response = planner.client.post(
        f"/plan/import{Q}&lang=en",
        data={"csrf_token": planner.csrf, "file": (io.BytesIO(b"hello"), "notes.txt")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "notes.txt" in response.get_data(as_text=True)
    broken = planner.client.post(
        f"/plan/import{Q}&lang=en",
        data={"csrf_token": planner.csrf, "file": (io.BytesIO(b"{not json"), "grids.geojson")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    said = broken.get_data(as_text=True)
    assert broken.status_code == 200 and "gg-flash" in said
    assert "grids.geojson" in said and "/tmp" not in said  # the upload's name, not our copy
    assert db.scalar(sa.select(sa.func.count()).select_from(Layout)) == layouts
