"""Personal data: in full for administrators and for grid staff in their own area only.

Everyone else (planners, dispatchers, viewers, API keys) sees ``张*`` and
``138****1234``; grid staff see nothing of other grids; and no name, phone or
password ever reaches the log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, GRID_NAMES
from tests.support.web import PASSWORD, STAFF_NAMES, STAFF_PHONES, Accounts

ClientFor = Callable[[str], FlaskClient]
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


@pytest.mark.parametrize("role", ["planner", "dispatcher"])
def test_routing_is_masked_for_planners_and_dispatchers(client_for: ClientFor, role: str) -> None:
    body = client_for(role).post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张*", "138****1234") in team(body)
    text = json.dumps(body, ensure_ascii=False)
    for secret in (*STAFF_NAMES, *STAFF_PHONES):
        assert secret not in text


def test_routing_is_masked_for_api_keys(key_client: Callable[[str], FlaskClient]) -> None:
    text = key_client("router").post("/api/v1/route", json=IN_B01).get_data(as_text=True)
    assert "138****1234" in text and "张三" not in text and "13812341234" not in text


def test_routing_is_in_full_for_the_administrator(client_for: ClientFor) -> None:
    body = client_for("admin").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张三", "13812341234") in team(body)
    assert body["lead"]["name"] == "张三"


def test_grid_staff_see_their_own_area_in_full(client_for: ClientFor) -> None:
    body = client_for("grid_staff").post("/api/v1/route", json=IN_B01).json
    assert ("grid_worker", "张三", "13812341234") in team(body)
    assert ("part_time_worker", "李四光", "13900005678") in team(body)


def test_grid_staff_see_others_masked(client_for: ClientFor) -> None:
    head = client_for("qianqi")  # B01 only
    inside = head.post("/api/v1/route", json=IN_B01).json
    assert ("building_head", "钱七", "13500003333") in team(inside)
    outside = head.post("/api/v1/route", json=IN_B02).json  # 网格一, but not B01
    assert outside["building_code"] == "B02"
    assert ("grid_worker", "张*", "138****1234") in team(outside)
    assert "钱七" not in json.dumps(outside, ensure_ascii=False)


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
#: Whose name each account sees in full (DESIGN.md, Security; gridgis.access.privacy).
SEES_IN_FULL = {
    "admin": set(B01_TEAM),
    "planner": set(),
    "dispatcher": set(),
    "viewer": set(),
    "grid_staff": set(B01_TEAM),  # 张三, grid worker of 网格一: the whole team serves there
    "qianqi": {"S5", "S6"},  # 钱七, head of B01: B01's head and its unit heads only
}


@pytest.mark.parametrize("who", sorted(SEES_IN_FULL))
def test_routing_and_the_map_show_the_same_people_in_full(client_for: ClientFor, who: str) -> None:
    """A person's name is in full on one surface exactly when it is on the others."""
    client = client_for(who)
    on_map = popup_text(client)
    answer = client.post("/api/v1/route", json=IN_B01)
    may_route = who != "viewer"  # viewers have no route:read
    assert answer.status_code == (200 if may_route else 403)
    routed = json.dumps(answer.json, ensure_ascii=False)
    data = f"lon,lat\n{IN_B01['lon']},{IN_B01['lat']}\n".encode()
    batch = client.post("/api/v1/route/batch", data=data, content_type="text/csv").get_data(True)
    for code, name in B01_TEAM.items():
        full = code in SEES_IN_FULL[who]
        assert (name in routed) is (full and may_route), f"{who} / {code} in the routing answer"
        # The map draws only the viewer's area: a person may be absent, never in full wrongly.
        assert (name in on_map) <= full, f"{who} / {code} on the map"
        if full:
            assert name in on_map or who == "qianqi", f"{who} / {code} missing on the map"
        assert name not in batch  # batch output names staff by code only
        assert (f":{code}" in batch) is may_route


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
