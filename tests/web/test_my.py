"""``/my``, the phone page of grid staff: their area, their team, their work, nobody else's.

Each grid role of the sample community (tests/support/sample_community.py)
opens the page: 张三 (grid worker) and 李四光 (part-time) and 王五 (volunteer)
of 网格一 get the grid's buildings B01 and B02; 钱七, head of B01, gets B01 and
its two units; 孙八, head of unit B01/1, gets that unit (and its building, to
find it on the map). The team card names the team in full, with tap-to-call
phones, volunteers under their team's name, and the area's partners; the page
of a staff member of another grid names none of them. Another grid's
incidents and households are "not found"; a visit or round sent twice is
logged once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.models import Building, Grid, Household, Incident, Round, RoundIncident, Unit, Visit
from tests.support import factories as make
from tests.support.households import household
from tests.support.incidents import person
from tests.support.sample_community import GRID_CODES, PROPERTY_COMPANY
from tests.support.web import (
    BUILDING_HEAD,
    GRID_STAFF_CODE,
    PASSWORD,
    STAFF_NAMES,
    STAFF_PHONES,
    USERS,
    ClientFor,
    login,
)

#: Inside unit B01/1 (网格一), inside unit B01/2, inside B04 (网格三).
IN_B01_1 = (114.3009, 30.5911)
IN_B01_2 = (114.3011, 30.5911)
IN_B04 = (114.3046, 30.5911)
#: About 10 m west of the community's edge, beside 网格一: no grid, the nearest is G1.
WEST_OF_G1 = (114.2999, 30.5920)
#: The sample's staff by code: role, and the buildings and units their page holds.
AREAS = {
    "S1": ("grid_worker", {"B01", "B02"}, {"B01/1", "B01/2"}),
    "S2": ("part_time_worker", {"B01", "B02"}, {"B01/1", "B01/2"}),
    "S3": ("volunteer", {"B01", "B02"}, {"B01/1", "B01/2"}),
    "S5": ("building_head", {"B01"}, {"B01/1", "B01/2"}),
    "S6": ("unit_head", {"B01"}, {"B01/1"}),
}

#: The sample accounts of staff members (tests/support/web.py).
ACCOUNTS = {GRID_STAFF_CODE: USERS["grid_staff"], BUILDING_HEAD[1]: BUILDING_HEAD[0]}

StaffClient = Callable[[str], FlaskClient]


@pytest.fixture
def staff_client(
    app: Any, client_for: ClientFor, fresh_user: Callable[..., tuple[str, int]]
) -> StaffClient:
    """``staff_client("S6")``: a client logged in as the grid staff account of that member."""

    def make_client(code: str) -> FlaskClient:
        # One person, one account: 张三 and 钱七 have theirs in the sample accounts.
        if code in ACCOUNTS:
            return client_for(ACCOUNTS[code])
        _, user_id = fresh_user("grid_staff", staff_code=code)
        return login(app.test_client(), user_id)

    return make_client


def page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="gg-my-data">(.*?)</script>', html, re.S)
    assert found, "the page's data"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def team_card(html: str) -> str:
    start = html.index('id="gg-p-team"')
    return html[start : html.index("</section>", start)]


def new_incident(client: FlaskClient, where: tuple[float, float], **fields: Any) -> int:
    response = client.post(
        "/api/v1/incidents",
        json={
            "channel": "walk_in",
            "category": "garbage",
            "lon": where[0],
            "lat": where[1],
            **fields,
        },
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def other_grid_staff(db: Session, fresh_user: Callable[..., tuple[str, int]]) -> int:
    """A grid worker of 网格二 (no staff there in the sample): their account's id."""
    grid = db.scalar(sa.select(Grid).where(Grid.code == GRID_CODES[1]))
    assert grid is not None
    community = grid.layout.community
    worker = make.staff(db, community, "G2W", "吴九", "13300009999")
    make.assign(db, worker, "grid_worker", grid=grid)
    db.commit()
    return fresh_user("grid_staff", staff_code="G2W")[1]


def flagged(db: Session, building: str, code: str, *, unit: str | None = None) -> Household:
    """An elderly person living alone, never visited: due since registered (long ago)."""
    b = db.scalar(sa.select(Building).where(Building.code == building))
    u = (
        db.scalar(sa.select(Unit).where(Unit.building_id == b.id, Unit.number == unit))
        if unit is not None and b is not None
        else None
    )
    assert b is not None
    made = household(db, b, code, unit=u, flags=("elderly_alone",), room="302")
    db.commit()
    return made


# --- landing and the page ---------------------------------------------------------------


def log_in(app: Any, username: str, url: str = "/login") -> str:
    """Log in through the form; where the browser is sent next."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "form-token"
    response = client.post(
        url, data={"username": username, "password": PASSWORD, "csrf_token": "form-token"}
    )
    assert response.status_code == 302, response.data[:300]
    return str(response.location)


def test_grid_staff_land_on_my_after_login_others_keep_their_page(app: Any) -> None:
    assert log_in(app, USERS["grid_staff"]) == "/my"
    assert log_in(app, BUILDING_HEAD[0], "/login?next=/") == "/my"
    assert log_in(app, USERS["dispatcher"]) == "/"
    # A page asked for still wins.
    assert log_in(app, USERS["grid_staff"], "/login?next=/dispatch") == "/dispatch"


@pytest.mark.parametrize("code", sorted(AREAS))
def test_each_grid_role_gets_exactly_its_area(staff_client: StaffClient, code: str) -> None:
    role, buildings, units = AREAS[code]
    response = staff_client(code).get("/my")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert {b["code"] for b in data["buildings"]} == buildings
    by_id = {b["id"]: b["code"] for b in data["buildings"]}
    assert {f"{by_id[u['building']]}/{u['number']}" for u in data["units"]} == units
    # The map draws those and nothing else: other buildings' codes are not in the page.
    for other in {"B01", "B02", "B03", "B04", "B05"} - buildings:
        assert f"{other}" not in html, other
    assert data["grids"] == (
        [{"id": data["grids"][0]["id"], "code": GRID_CODES[0], "name": "第一网格"}]
        if role in ("grid_worker", "part_time_worker", "volunteer")
        else []
    )
    assert "我的网格" in html and 'class="gg-header"' in html
    # Its own CSS and script, the service worker, nothing from another host.
    assert "/static/my.css" in html and "/static/my.js" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_the_title_names_the_post_and_place(staff_client: StaffClient) -> None:
    html = staff_client("S6").get("/my").get_data(as_text=True)
    assert "<title>我的网格 · 1栋 1 · gridgis</title>" in html
    assert "单元长 · 1栋 1" in team_card(html)


def test_english_on_request(staff_client: StaffClient) -> None:
    html = staff_client("S1").get("/my?lang=en").get_data(as_text=True)
    assert "My area" in html and "Most urgent" in html and "Report the incident" in html
    assert page_data(html)["moves"][0]["label"] == "Accept"


def test_team_card_of_the_grid_worker(staff_client: StaffClient) -> None:
    card = team_card(staff_client("S1").get("/my").get_data(as_text=True))
    # The 1+1+1+N team in full, phones to tap.
    for name, phone in zip(STAFF_NAMES, STAFF_PHONES):
        assert name in card, name
        assert f'href="tel:{phone}"' in card, phone
    assert "专职网格员" in card and "兼职网格员" in card and "楼栋长" in card and "单元长" in card
    # Volunteers under their team's name from the vocabulary; 赵六 is off duty.
    assert re.search(r"红色先锋队.*王五", card, re.S)
    assert re.search(r"白色医疗队.*赵六.*休息中", card, re.S)
    # The property company of the area's compound; no category has a department here.
    assert PROPERTY_COMPANY in card and "阳光小区" in card


def test_team_card_of_a_unit_head_is_the_grid_team(staff_client: StaffClient) -> None:
    card = team_card(staff_client("S6").get("/my").get_data(as_text=True))
    for name, phone in (("张三", "13812341234"), ("钱七", "13500003333"), ("孙八", "13400004444")):
        assert name in card and f"tel:{phone}" in card


def test_another_grids_staff_see_none_of_this_team(
    app: Any, db: Session, fresh_user: Callable[..., tuple[str, int]]
) -> None:
    client = login(app.test_client(), other_grid_staff(db, fresh_user))
    html = client.get("/my").get_data(as_text=True)
    for name, phone in zip(STAFF_NAMES, STAFF_PHONES):
        assert name not in html and phone not in html
    assert "吴九" in team_card(html)
    assert {b["code"] for b in page_data(html)["buildings"]} == {"B03"}


@pytest.mark.parametrize("who", ["admin", "dispatcher", "planner", "viewer"])
def test_the_page_is_for_grid_staff(client_for: ClientFor, who: str) -> None:
    response = client_for(who).get("/my")
    assert response.status_code == 403
    if who == "admin":  # allowed to work on incidents, but has no area
        assert "未关联网格人员" in response.get_data(as_text=True)


# --- the service worker, the token, "where am I" ----------------------------------------


def test_service_worker_covers_my_and_keeps_the_assets(staff_client: StaffClient) -> None:
    response = staff_client("S1").get("/my/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/my"
    script = response.get_data(as_text=True)
    assert "__GRIDGIS" not in script
    assets = json.loads(re.search(r"const ASSETS = (\[.*?\]);", script).group(1))  # type: ignore[union-attr]
    assert {"/static/my.js", "/static/my.css", "/static/vendor/leaflet/leaflet.js"} <= set(assets)
    version = re.search(r'const VERSION = "(\w+)";', script)
    assert version and len(version.group(1)) == 16


def test_token_is_the_sessions(staff_client: StaffClient) -> None:
    client = staff_client("S1")
    answer = client.get("/my/token.json").json
    with client.session_transaction() as session:
        assert answer["csrf_token"] == session["csrf_token"]
        assert answer["user"] == session["uid"]
    assert abs(dt.datetime.fromisoformat(answer["now"]) - clock.now()) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("code", "where", "inside", "near"),
    [
        ("S1", IN_B01_1, True, False),
        ("S1", IN_B04, False, False),
        ("S1", WEST_OF_G1, False, True),
        ("S6", IN_B01_1, True, False),
        ("S6", IN_B01_2, False, False),
        ("S5", IN_B01_2, True, False),
    ],
)
def test_where_says_whether_a_point_is_in_the_area(
    staff_client: StaffClient, code: str, where: tuple[float, float], inside: bool, near: bool
) -> None:
    answer = staff_client(code).get(f"/my/where.json?lon={where[0]}&lat={where[1]}").json
    assert (answer["inside"], answer["near"]) == (inside, near)
    if inside:
        assert answer["place"].startswith("第一网格 1栋")
    if near:
        assert 5 <= answer["distance_m"] <= 15 and answer["place"] == "第一网格"
    if not (inside or near):
        assert answer["place"] is None  # nothing about a place outside the area


def test_where_refuses_a_bad_point(staff_client: StaffClient) -> None:
    client = staff_client("S1")
    assert client.get("/my/where.json?lon=abc&lat=30").status_code == 400
    assert client.get("/my/where.json?lon=114.3&lat=95").status_code == 400


# --- incidents: the console's API, scoped to the area -----------------------------------


def test_another_grids_incident_is_not_found(
    app: Any, db: Session, client_for: ClientFor, fresh_user: Callable[..., tuple[str, int]]
) -> None:
    mine = new_incident(client_for("dispatcher"), IN_B01_1)
    other = login(app.test_client(), other_grid_staff(db, fresh_user))
    assert other.get(f"/api/v1/incidents/{mine}").status_code == 404
    assert other.post(f"/api/v1/incidents/{mine}/actions/accept").status_code == 404
    listed = other.get("/api/v1/incidents").json
    assert mine not in [f["id"] for f in listed["features"]]
    assert mine in [
        f["id"] for f in client_for("grid_staff").get("/api/v1/incidents").json["features"]
    ]


def test_a_report_from_the_phone_lands_in_the_console_with_channel_visit(
    client_for: ClientFor,
) -> None:
    staff = client_for("grid_staff")
    body = {
        "channel": "visit",
        "external_id": "6f1c0c1e-4b7e-4a55-9d6e-2b0c3c1f9a01",
        "lon": IN_B01_1[0],
        "lat": IN_B01_1[1],
        "crs": "EPSG:4326",
        "category": "garbage",
    }
    first = staff.post("/api/v1/incidents", json=body)
    again = staff.post("/api/v1/incidents", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"] and first.json["channel"] == "visit"
    console = client_for("dispatcher").get("/api/v1/incidents?channel=visit").json
    assert [f["id"] for f in console["features"]] == [first.json["id"]]


def test_a_note_from_the_phone_sent_twice_is_added_once(
    app: Any, db: Session, client_for: ClientFor, fresh_user: Callable[..., tuple[str, int]]
) -> None:
    dispatcher = client_for("dispatcher")
    incident = new_incident(dispatcher, IN_B01_1)
    for action in ("register", "dispatch"):
        dispatcher.post(f"/api/v1/incidents/{incident}/actions/{action}")
    staff = client_for("grid_staff")
    html = staff.get("/my").get_data(as_text=True)
    # The page names the notes URL for its queue (my.js fills in the incident's id).
    found = re.search(r'data-notes="([^"]+)"', html)
    assert found and found.group(1) == "/api/v1/incidents/0/notes"
    assert 'data-k="addNote">添加备注<' in html
    # As the queue sends it: the entry's id as client_id; the first answer is lost.
    body = {"note": "物业已到场，明早清运", "client_id": "0b6f1f64-1c7e-4c2a-9d55-5d3c2f0a9e11"}
    url = found.group(1).replace("/0/", f"/{incident}/")
    first, again = staff.post(url, json=body), staff.post(url, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    history = staff.get(f"/api/v1/incidents/{incident}").json["history"]
    assert [(h["action"], h["note"]) for h in history if h["action"] == "note"] == [
        ("note", "物业已到场，明早清运")
    ]
    assert db.scalar(sa.select(Incident.status).where(Incident.id == incident)) == "dispatched"
    # Another grid's staff do not see it, so cannot add to it.
    other = login(app.test_client(), other_grid_staff(db, fresh_user))
    assert other.post(url, json={"note": "x"}).status_code == 404


# --- households, visits and rounds ------------------------------------------------------


def test_unit_head_sees_only_the_units_households(db: Session, staff_client: StaffClient) -> None:
    in_unit = flagged(db, "B01", "H-1-302", unit="1")
    other_unit = flagged(db, "B01", "H-2-302", unit="2")
    other_grid = flagged(db, "B03", "H-3-302", unit="1")
    client = staff_client("S6")
    answer = client.get("/my/households.json").json
    assert [h["id"] for h in answer["due"]] == [in_unit.id]
    assert answer["due"][0]["head_name"] == "刘桂英" and not answer["due"][0]["masked"]
    assert answer["buildings"] == [
        {"code": "B01", "households": 1, "flagged": 1, "due": 0, "overdue": 1}
    ]
    for hidden in (other_unit, other_grid):
        assert client.get(f"/my/households/{hidden.id}.json").status_code == 404
    assert client.get(f"/my/households/{in_unit.id}.json").json["visits"] == []


def test_a_visit_sent_twice_is_logged_once(db: Session, staff_client: StaffClient) -> None:
    home = flagged(db, "B02", "H-B02-101")
    client = staff_client("S1")
    body = {
        "household_id": home.id,
        "visited_at": clock.now().isoformat(),
        "findings": "老人身体尚好",
    }
    first = client.post("/my/visits", json=body)
    again = client.post("/my/visits", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"] and again.json["created"] is False
    assert db.scalar(sa.select(sa.func.count()).where(Visit.household_id == home.id)) == 1
    # No longer due: the due list changed.
    assert home.id not in [h["id"] for h in client.get("/my/households.json").json["due"]]


def test_a_visits_follow_up_becomes_a_routed_incident(
    db: Session, staff_client: StaffClient
) -> None:
    home = flagged(db, "B01", "H-B01-1-501", unit="1")
    answer = (
        staff_client("S6")
        .post(
            "/my/visits",
            json={
                "household_id": home.id,
                "visited_at": clock.now().isoformat(),
                "findings": "楼道灯坏了",
                "follow_up": "请物业更换楼道灯",
                "category": "garbage",
            },
        )
        .json
    )
    incident = db.get(Incident, answer["incident_id"])
    assert incident is not None and incident.channel == "visit"
    assert (incident.routing or {}).get("unit_number") == "1"


def test_another_grids_household_cannot_be_visited(
    app: Any, db: Session, fresh_user: Callable[..., tuple[str, int]]
) -> None:
    home = flagged(db, "B01", "H-B01-9")
    other = login(app.test_client(), other_grid_staff(db, fresh_user))
    response = other.post(
        "/my/visits",
        json={"household_id": home.id, "visited_at": clock.now().isoformat(), "findings": "x"},
    )
    assert response.status_code == 404
    assert db.scalar(sa.select(sa.func.count()).where(Visit.household_id == home.id)) == 0


def test_a_round_with_findings_sent_twice_is_logged_once(
    db: Session, staff_client: StaffClient
) -> None:
    b01 = db.scalar(sa.select(Building.id).where(Building.code == "B01"))
    client = staff_client("S1")
    body = {
        "kind": "inventory",
        "started_at": clock.now().isoformat(),
        "building_id": b01,
        "findings": "消防通道被占",
        "incidents": [{"description": "1栋消防通道堆放杂物", "category": "garbage"}],
    }
    first = client.post("/my/rounds", json=body)
    again = client.post("/my/rounds", json=body)
    assert (first.status_code, again.status_code) == (201, 200), first.json
    assert first.json["id"] == again.json["id"] and len(first.json["incidents"]) == 1
    rounds = db.scalars(sa.select(Round).where(Round.logged_by.like("user:%"))).all()
    assert len(rounds) == 1
    linked = db.scalars(
        sa.select(RoundIncident.incident_id).where(RoundIncident.round_id == rounds[0].id)
    ).all()
    assert linked == first.json["incidents"]
    assert db.get_one(Incident, linked[0]).channel == "visit"


def test_bad_visit_bodies_are_refused_with_a_reason(staff_client: StaffClient) -> None:
    client = staff_client("S1")
    for body, words in (
        ([], "JSON object"),
        ({"household_id": "7"}, "whole number"),
        ({"household_id": 7, "visited_at": "yesterday", "findings": "x"}, "ISO 8601"),
        ({"household_id": 7, "nonsense": 1}, "Unknown field"),
    ):
        # As the page sends them: errors come back as JSON.
        response = client.post("/my/visits", json=body, headers={"Accept": "application/json"})
        assert response.status_code == 400 and words in response.json["error"]["message"]


def test_the_moves_offered_are_the_life_cycles(staff_client: StaffClient) -> None:
    data = page_data(staff_client("S1").get("/my").get_data(as_text=True))
    assert [(m["name"], m["from"], m["label"]) for m in data["moves"]] == [
        ("accept", ["dispatched"], "签收处置"),
        ("report_done", ["in_progress"], "办结上报"),
    ]
    assert data["actor"].startswith("user:") and data["user"] and data["staff"]


def test_pages_of_my_are_not_cached_by_the_browser(staff_client: StaffClient) -> None:
    for url in ("/my", "/my/token.json", "/my/households.json"):
        assert staff_client("S1").get(url).headers["Cache-Control"] == "no-store", url


def test_only_person_ids_reach_the_round_form(staff_client: StaffClient) -> None:
    data = page_data(staff_client("S1").get("/my").get_data(as_text=True))
    assert {p["name"] for p in data["people"]} == set(STAFF_NAMES)
    assert all(set(p) == {"id", "name", "role"} for p in data["people"])


_ = person  # the tests build principals through accounts, not by hand
