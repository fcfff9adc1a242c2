"""Personal data: one rule (DESIGN.md, Security), the same on every surface.

Staff work contacts are in full for administrators, dispatchers and members of
the same grid team; everyone else (planners, viewers, API keys, staff of other
grids) sees ``张*`` and ``138****1234``. Grid staff see nothing outside their
own area, on the map, in the layers, in routing answers, address searches and
counts. No name, phone or password ever reaches the log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.models import Community, Grid
from tests.support import factories as make
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, GRID_NAMES
from tests.support.web import (
    PASSWORD,
    STAFF_NAMES,
    STAFF_PHONES,
    Accounts,
    ClientFor,
    add_user,
    login,
)

BASE = f"/api/v1/communities/{COMMUNITY_CODE}"
#: Inside B01 (网格一, unit 1) and B02 (网格一, no unit) and B04 (网格三).
IN_B01 = {"lon": 114.3009, "lat": 30.5911}
IN_B02 = {"lon": 114.3010, "lat": 30.5921}


def ids(client: FlaskClient, layer: str, **query: str) -> list[str]:
    response = client.get(f"{BASE}/{layer}", query_string=query)
    assert response.status_code == 200, response.data
    return [f["id"] for f in response.json["features"]]


def team(body: dict) -> list[tuple[str, str, str]]:
    return [(m["role"], m["name"], m["phone"]) for m in body["team"]]


# --- grid staff see only their own area -----------------------------------------


def test_grid_staff_get_only_their_grid(client_for: ClientFor) -> None:
    staff = client_for("grid_staff")  # 张三, grid worker of 网格一
    assert ids(staff, "grids") == [GRID_CODES[0]]
    assert ids(staff, "buildings") == ["B01", "B02"]
    assert ids(staff, "units") == ["B01/1", "B01/2"]
    assert ids(staff, "compounds") == ["XQ01"]
    # Grid B's buildings, even asked for by their box: not there.
    around_b04 = "114.3044,30.5905,114.3050,30.5913"
    assert ids(staff, "buildings", bbox=around_b04) == []
    assert ids(staff, "grids", bbox=around_b04) == []
    # Everyone else sees every building.
    assert ids(client_for("viewer"), "buildings") == ["B01", "B02", "B03", "B04", "B05"]


def test_building_head_gets_only_their_building(client_for: ClientFor) -> None:
    head = client_for("qianqi")  # 钱七, head of B01
    assert ids(head, "buildings") == ["B01"]
    assert ids(head, "units") == ["B01/1", "B01/2"]
    assert ids(head, "grids") == []


def test_grid_staff_map_draws_only_their_grid(client_for: ClientFor) -> None:
    html = client_for("grid_staff").get("/").get_data(as_text=True)
    assert json.dumps(GRID_NAMES[0])[1:-1] in html
    for other in GRID_NAMES[1:]:
        assert json.dumps(other)[1:-1] not in html
    assert '"B01"' in html and '"B04"' not in html


# --- routing results ----------------------------------------------------------------


def test_routing_is_masked_for_planners(client_for: ClientFor) -> None:
    body = client_for("planner").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张*", "138****1234") in team(body)
    text = json.dumps(body, ensure_ascii=False)
    for secret in (*STAFF_NAMES, *STAFF_PHONES):
        assert secret not in text


def test_routing_is_in_full_for_dispatchers_who_call_the_team(client_for: ClientFor) -> None:
    body = client_for("dispatcher").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张三", "13812341234") in team(body)
    assert ("unit_head", "孙八", "13400004444") in team(body)


def test_routing_is_masked_for_api_keys(key_client: Callable[[str], FlaskClient]) -> None:
    text = key_client("router").post("/api/v1/route", json=IN_B01).get_data(as_text=True)
    assert "138****1234" in text and "张三" not in text and "13812341234" not in text


def test_routing_is_in_full_for_the_administrator(client_for: ClientFor) -> None:
    body = client_for("admin").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张三", "13812341234") in team(body)
    assert body["lead"]["name"] == "张三"


def test_grid_staff_see_their_own_grid_team_in_full(client_for: ClientFor) -> None:
    body = client_for("grid_staff").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张三", "13812341234") in team(body)
    assert ("part_time_worker", "李四光", "13900005678") in team(body)


def test_a_building_head_sees_the_grid_team_they_are_on(client_for: ClientFor) -> None:
    body = client_for("qianqi").post("/api/v1/route", json=IN_B01).json  # 钱七, head of B01
    assert ("building_head", "钱七", "13500003333") in team(body)
    assert ("grid_worker", "张三", "13812341234") in team(body)


def test_grid_staff_get_no_answer_outside_their_area(client_for: ClientFor) -> None:
    """A batch of points must not map what the layers hide (issue 8, item 6)."""
    head = client_for("qianqi")  # B01 only
    outside = head.post("/api/v1/route", json=IN_B02).json  # 网格一, but not B01
    assert outside["rule"] == "outside_your_area"
    for key in ("grid_code", "building_code", "unit_number", "community_code", "lead"):
        assert outside[key] is None
    assert outside["team"] == [] and outside["departments"] == []
    assert "B02" not in json.dumps(outside) and "420106001002001" not in json.dumps(outside)
    data = f"ref,lon,lat\nA,{IN_B02['lon']},{IN_B02['lat']}\n".encode()
    batch = head.post("/api/v1/route/batch", data=data, content_type="text/csv").get_data(True)
    assert "outside_your_area" in batch and "B02" not in batch and ":S1" not in batch


def test_address_search_finds_only_buildings_in_the_area(client_for: ClientFor) -> None:
    head = client_for("qianqi")
    mine = head.post("/api/v1/route", json={"address": "南湖路01号"}).json
    assert mine["building_code"] == "B01"
    theirs = head.post("/api/v1/route", json={"address": "南湖路04号"}).json
    # B04 is another grid's: not found, not listed (at most a near match in their own area).
    assert theirs["building_code"] != "B04"
    assert "B04" not in json.dumps(theirs) and "南湖路04号" not in json.dumps(theirs)


def test_community_counts_are_of_what_grid_staff_may_see(client_for: ClientFor) -> None:
    head = client_for("qianqi")
    (summary,) = head.get("/api/v1/communities").json["communities"]
    assert summary["counts"] == {"grids": 0, "compounds": 1, "buildings": 1, "units": 2}
    one = head.get(f"/api/v1/communities/{COMMUNITY_CODE}").json
    assert one["counts"] == summary["counts"]
    everyone = client_for("viewer").get(f"/api/v1/communities/{COMMUNITY_CODE}").json
    assert everyone["counts"] == {"grids": 3, "compounds": 1, "buildings": 5, "units": 4}


def test_batch_output_has_staff_codes_never_names(client_for: ClientFor) -> None:
    data = f"ref,lon,lat\nA,{IN_B01['lon']},{IN_B01['lat']}\n".encode()
    answer = client_for("admin").post("/api/v1/route/batch", data=data, content_type="text/csv")
    text = answer.get_data(as_text=True)
    assert "grid_worker:S1" in text
    for secret in (*STAFF_NAMES, *STAFF_PHONES):
        assert secret not in text


# --- map popups ---------------------------------------------------------------------


def popup_text(client: FlaskClient) -> str:
    """Every popup of the map page (they travel as JSON strings in its script)."""
    html = client.get("/").get_data(as_text=True)
    popups = [json.loads(s) for s in re.findall(r'"popup": ("(?:[^"\\]|\\.)*")', html)]
    assert popups
    return "\n".join(popups)


def test_viewer_map_is_masked(client_for: ClientFor) -> None:
    text = popup_text(client_for("viewer"))
    assert "张* 138****1234" in text and "姓名和电话已脱敏显示。" in text
    for secret in (*STAFF_NAMES, *STAFF_PHONES):
        assert secret not in text


def test_admin_map_is_in_full(client_for: ClientFor) -> None:
    text = popup_text(client_for("admin"))
    assert "专职网格员: 张三 13812341234" in text
    assert "楼栋长: 钱七 13500003333" in text
    assert "姓名和电话已脱敏显示。" not in text


def test_building_head_map_shows_their_own_people(client_for: ClientFor) -> None:
    text = popup_text(client_for("qianqi"))
    assert "楼栋长: 钱七 13500003333" in text
    assert "单元长: 孙八 13400004444" in text  # a unit of their building
    assert "张三" not in text


# --- one rule: every surface agrees ------------------------------------------------

#: The routed team of a point in unit B01/1: staff code → full name.
B01_TEAM = {"S1": "张三", "S2": "李四光", "S3": "王五", "S5": "钱七", "S6": "孙八"}
#: Whose work contacts each account sees in full (DESIGN.md, Security).
SEES_IN_FULL = {
    "admin": set(B01_TEAM),
    "dispatcher": set(B01_TEAM),  # they call the team
    "planner": set(),
    "viewer": set(),
    "grid_staff": set(B01_TEAM),  # 张三, grid worker of 网格一: their own team
    "qianqi": set(B01_TEAM),  # 钱七, head of B01 in 网格一: on 网格一's team
    "zhoujiu": set(),  # 周九, grid worker of 网格三: another grid's team
}
#: What routing a point in B01 answers each account: None (not allowed), or
#: whether the answer is stripped (grid staff outside their area).
ROUTING = {"viewer": None, "zhoujiu": "stripped"}
SURFACES = ("map popups", "layer API", "routing", "routing by address", "batch routing")


@pytest.fixture
def other_grid_staff(db: Session) -> int:
    """周九, grid worker of 网格三, with an account (rolled back after the test)."""
    community = db.scalar(sa.select(Community).where(Community.code == COMMUNITY_CODE))
    third = db.scalar(sa.select(Grid).where(Grid.code == GRID_CODES[2]))
    person = make.staff(db, community, "S9", "周九", "13300009999")  # type: ignore[arg-type]
    make.assign(db, person, "grid_worker", grid=third)
    user_id = add_user(db, "zhoujiu", "grid_staff", staff_code="S9")
    db.commit()
    return user_id


@pytest.mark.parametrize("who", sorted(SEES_IN_FULL))
def test_every_surface_follows_the_one_rule(
    app: Flask, client_for: ClientFor, other_grid_staff: int, who: str
) -> None:
    """Roles × surfaces: a person's name is in full exactly where the rule says, everywhere."""
    client = login(app.test_client(), other_grid_staff) if who == "zhoujiu" else client_for(who)
    routing = ROUTING.get(who, "answered")
    shown = {
        "map popups": popup_text(client),
        "layer API": "".join(
            client.get(f"{BASE}/{layer}").get_data(True)
            for layer in ("grids", "compounds", "buildings", "units")
        ),
        "routing": client.post("/api/v1/route", json=IN_B01).get_data(True),
        "routing by address": client.post("/api/v1/route", json={"address": "南湖路01号"}).get_data(
            True
        ),
        "batch routing": client.post(
            "/api/v1/route/batch",
            data=f"lon,lat\n{IN_B01['lon']},{IN_B01['lat']}\n".encode(),
            content_type="text/csv",
        ).get_data(True),
    }
    for code, name in B01_TEAM.items():
        full = code in SEES_IN_FULL[who]
        for surface in SURFACES:
            text = shown[surface]
            # An address names a building, not a stairwell: no unit head in that answer.
            named_there = not (surface == "routing by address" and code == "S6")
            if (
                surface in ("routing", "routing by address")
                and routing == "answered"
                and named_there
            ):
                # The answer names the whole team: in full or masked, never absent.
                assert (name in text) is full, f"{who}: {code} on {surface}"
                assert name[0] in text
            elif surface == "map popups" and who not in ("grid_staff", "qianqi", "zhoujiu"):
                # Everyone but grid staff gets the whole map: every person is on it.
                assert (name in text) is full, f"{who}: {code} on {surface}"
            else:
                # Layers and batches name nobody; stripped answers and the maps of
                # other areas leave people out: never in full where the rule says no.
                assert not (name in text and not full), f"{who}: {code} on {surface}"
                if surface in ("layer API", "batch routing"):
                    assert name not in text, f"{who}: {code} on {surface}"


# --- logs ----------------------------------------------------------------------------


def test_no_personal_data_or_password_in_the_log(
    app: Flask, sample_accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["csrf_token"] = "t"
    wrong = {"username": "admin1", "password": "Wrong-" + PASSWORD, "csrf_token": "t"}
    assert browser.post("/login", data=wrong).status_code == 401
    right = {"username": "admin1", "password": PASSWORD, "csrf_token": "t"}
    assert browser.post("/login", data=right).status_code == 302
    with browser.session_transaction() as session:  # a login gets a token of its own
        browser.environ_base["HTTP_X_CSRF_TOKEN"] = session["csrf_token"]
    routed = browser.post("/api/v1/route", json=IN_B01)
    assert "张三" in routed.get_data(as_text=True)  # the administrator sees it ...
    assert "13812341234" in browser.get("/").get_data(as_text=True)
    data = f"lon,lat\n{IN_B01['lon']},{IN_B01['lat']}\n".encode()
    browser.post("/api/v1/route/batch", data=data, content_type="text/csv")
    browser.post("/api/v1/route", json={"lon": "张三 13812341234", "lat": 1})

    assert "failed login" in caplog.text  # ... the capture works at DEBUG ...
    for secret in (*STAFF_NAMES, *STAFF_PHONES, PASSWORD):
        assert secret not in caplog.text  # ... and the log holds none of it
