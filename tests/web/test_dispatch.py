"""The dispatch console and the incident page, as a dispatcher and the others use them.

The console is the dispatcher's desk: the community map with the incidents, a
list, and a form whose preview says who would act before anything is saved.
The incident page shows one incident and offers, as plain forms, only the
moves the user's role may make; a refused move changes nothing and says why.
"""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from gridgis.incidents import clusters
from gridgis.incidents.intake import Report, take_in
from gridgis.models import Incident, IncidentEvent
from tests.support.incidents import person
from tests.support.sample_community import GRID_CODES
from tests.support.web import STAFF_PHONES, ClientFor

#: Inside unit B01/1 of 网格一 (张三's grid) and inside B04 of 网格三.
IN_B01 = (114.3009, 30.5911)
IN_B04 = (114.3046, 30.5911)
DISPATCHER = person("dispatcher")


def new_incident(db: Session, where: tuple[float, float] = IN_B01, **fields: object) -> int:
    values: dict[str, object] = {
        "channel": "walk_in",
        "category": "garbage",
        "description": "楼道口堆放装修垃圾",
        "lon": where[0],
        "lat": where[1],
        "reporter_name": "陈居民",
        "reporter_phone": "13911112222",
        **fields,
    }
    made = take_in(db, Report(**values), actor=DISPATCHER)  # type: ignore[arg-type]
    db.commit()
    return made.incident.id


def csrf(client: FlaskClient, page: str) -> str:
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, page
    return found.group(1)


def act(client: FlaskClient, incident_id: int, action: str, **form: str) -> str:
    page = f"/dispatch/incidents/{incident_id}"
    response = client.post(
        f"{page}/actions/{action}",
        data={"csrf_token": csrf(client, page), **form},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True)


def status(db: Session, incident_id: int) -> str:
    db.expire_all()
    return db.get_one(Incident, incident_id).status


# --- the console ---------------------------------------------------------------------


def test_console_is_for_dispatchers_in_chinese(client_for: ClientFor) -> None:
    page = client_for("dispatcher").get("/dispatch")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ("派遣台", "新事件", "点击地图", "受理"):
        assert words in html, words
    # Its map and scripts come from the app, never from another host.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "/static/dispatch.js" in html
    # The header links to it for those who may use it.
    assert 'href="/dispatch"' in html
    assert 'href="/dispatch"' not in client_for("viewer").get("/").get_data(as_text=True)


def test_console_is_refused_to_who_does_not_dispatch(client_for: ClientFor) -> None:
    for who in ("viewer", "planner", "grid_staff"):
        assert client_for(who).get("/dispatch").status_code == 403, who


def test_console_speaks_english_when_asked(client: FlaskClient) -> None:
    html = client.get("/dispatch?lang=en").get_data(as_text=True)
    assert "Dispatch console" in html and "New incident" in html


# --- the preview before saving ---------------------------------------------------------


def preview(client: FlaskClient, **body: object) -> tuple[int, dict]:
    token = csrf(client, "/")
    response = client.post(
        "/dispatch/preview",
        json=body,
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    return response.status_code, response.json


def test_preview_shows_who_would_act_with_their_phones(client: FlaskClient, db: Session) -> None:
    before = db.scalar(sa.select(sa.func.count()).select_from(Incident))
    code, answer = preview(client, lon=IN_B01[0], lat=IN_B01[1], category="garbage")
    assert code == 200, answer
    routing = answer["routing"]
    assert routing["grid_code"] == GRID_CODES[0] and routing["building_code"] == "B01"
    # The dispatcher will call them: phones in full (DESIGN.md, Security).
    phones = {m["phone"] for m in routing["team"]}
    assert STAFF_PHONES[0] in phones  # 张三, the grid worker
    # Working-time deadlines of the category.
    assert answer["deadlines"]["response_due_at"] < answer["deadlines"]["resolution_due_at"]
    assert answer["duplicates"] == []
    # Nothing stored by a preview.
    assert db.scalar(sa.select(sa.func.count()).select_from(Incident)) == before


def test_preview_suggests_the_open_incident_next_door(client: FlaskClient, db: Session) -> None:
    earlier = new_incident(db)
    _, answer = preview(client, lon=IN_B01[0] + 0.0001, lat=IN_B01[1], category="garbage")
    assert [d["id"] for d in answer["duplicates"]] == [earlier]
    # Another category, or far away: not the same thing.
    _, answer = preview(client, lon=IN_B01[0], lat=IN_B01[1], category="parking")
    assert answer["duplicates"] == []
    _, answer = preview(client, lon=IN_B04[0], lat=IN_B04[1], category="garbage")
    assert answer["duplicates"] == []


def test_preview_says_what_to_fix(client: FlaskClient) -> None:
    code, answer = preview(client, category="garbage")
    assert code == 400 and "address" in answer["error"]["message"]
    code, answer = preview(client, lon="east", lat=30.59)
    assert code == 400 and "number" in answer["error"]["message"]
    code, answer = preview(client, lon=114.3009, lat=30.5911, category="fireworks")
    assert code == 400 and "fireworks" in answer["error"]["message"]


def test_preview_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    del client.environ_base["HTTP_X_CSRF_TOKEN"]  # as a page on another site would post
    response = client.post(
        "/dispatch/preview",
        json={"lon": IN_B01[0], "lat": IN_B01[1]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 403 and "CSRF" in response.json["error"]["message"]


# --- the incident page ----------------------------------------------------------------


def test_incident_page_shows_team_reporter_and_the_moves_allowed(
    client: FlaskClient, db: Session
) -> None:
    incident_id = new_incident(db)
    html = client.get(f"/dispatch/incidents/{incident_id}").get_data(as_text=True)
    assert "垃圾堆放" in html and "楼道口堆放装修垃圾" in html
    assert "张三" in html and STAFF_PHONES[0] in html
    assert "陈居民" in html and "13911112222" in html
    # A dispatcher registers or rejects a received incident; the team's moves are not offered.
    forms = set(re.findall(r"/actions/(\w+)", html))
    assert {"register", "reject"} <= forms
    assert "accept" not in forms and "report_done" not in forms


def test_moves_from_the_page_walk_the_incident_to_closed(
    client_for: ClientFor, db: Session
) -> None:
    incident_id = new_incident(db)
    dispatcher, worker = client_for("dispatcher"), client_for("grid_staff")
    for who, action in [
        (dispatcher, "register"),
        (dispatcher, "dispatch"),
        (worker, "accept"),
        (worker, "report_done"),
    ]:
        html = act(who, incident_id, action)
        assert "已" in html or "Done" in html, action
    html = act(dispatcher, incident_id, "close", satisfaction="satisfied")
    assert status(db, incident_id) == "closed"
    # The history lists every move, with who made it.
    actions = db.scalars(
        sa.select(IncidentEvent.action)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id)
    ).all()
    assert actions[1:] == ["register", "dispatch", "accept", "report_done", "close"]
    assert "zhangsan" in html or "张三" in html


def test_a_refused_move_changes_nothing_and_says_why(client: FlaskClient, db: Session) -> None:
    incident_id = new_incident(db)
    html = act(client, incident_id, "reject")  # no reason given
    assert "理由" in html or "reason" in html
    assert status(db, incident_id) == "received"
    html = act(client, incident_id, "close")  # not from received
    assert status(db, incident_id) == "received"
    html = act(client, incident_id, "reject", reason="重复来电，已并入其他工单")
    assert status(db, incident_id) == "rejected"
    assert "重复来电" in html


def test_other_grids_staff_cannot_see_the_incident(client_for: ClientFor, db: Session) -> None:
    theirs = new_incident(db, IN_B04)
    mine = new_incident(db)
    staff = client_for("grid_staff")  # 张三, 网格一
    assert staff.get(f"/dispatch/incidents/{theirs}").status_code == 404
    assert staff.get(f"/dispatch/incidents/{mine}").status_code == 200
    # Nor act on it by posting the form directly.
    page = f"/dispatch/incidents/{mine}"
    response = staff.post(
        f"/dispatch/incidents/{theirs}/actions/accept", data={"csrf_token": csrf(staff, page)}
    )
    assert response.status_code == 404
    assert status(db, theirs) == "received"


def test_viewer_cannot_open_incidents(client_for: ClientFor, db: Session) -> None:
    incident_id = new_incident(db)
    assert client_for("viewer").get(f"/dispatch/incidents/{incident_id}").status_code == 403


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return out.getvalue()


def test_a_photo_from_the_incident_page(client: FlaskClient, db: Session) -> None:
    incident_id = new_incident(db)
    page = f"/dispatch/incidents/{incident_id}"
    assert "还没有照片" in client.get(page).get_data(as_text=True)
    response = client.post(
        f"{page}/photos",
        data={"csrf_token": csrf(client, page), "file": (io.BytesIO(jpeg()), "p.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "已添加照片" in html
    src = re.findall(r'<img src="(/api/v1/photos/\d+)"', html)
    assert len(src) == 1
    with client.get(src[0]) as shown:  # a file response: closed when read
        assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    # Not a photo: said on the page, nothing kept.
    response = client.post(
        f"{page}/photos",
        data={"csrf_token": csrf(client, page), "file": (io.BytesIO(b"GIF89a..."), "x.gif")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "JPEG" in response.get_data(as_text=True)
    assert len(re.findall(r"<img src=", response.get_data(as_text=True))) == 1


def test_a_note_from_the_incident_page(client_for: ClientFor, db: Session) -> None:
    incident_id = new_incident(db)
    page = f"/dispatch/incidents/{incident_id}"
    dispatcher = client_for("dispatcher")
    html = dispatcher.get(page).get_data(as_text=True)
    assert f'action="{page}/notes"' in html and "添加备注" in html
    response = dispatcher.post(
        f"{page}/notes",
        data={"csrf_token": csrf(dispatcher, page), "note": " 已电话联系居民，约明早处理 "},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "已添加备注" in html
    # In the history, named, with its text; the status is where it was.
    assert re.search(r"<td>备注</td><td>[^<]*</td><td>已电话联系居民，约明早处理</td>", html)
    assert status(db, incident_id) == "received"
    # Empty: said on the page, nothing kept.
    response = dispatcher.post(
        f"{page}/notes",
        data={"csrf_token": csrf(dispatcher, page), "note": "  "},
        follow_redirects=True,
    )
    assert "备注内容不能为空" in response.get_data(as_text=True)
    notes = db.scalars(
        sa.select(IncidentEvent.note).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.action == "note"
        )
    ).all()
    assert notes == ["已电话联系居民，约明早处理"]


def test_the_note_form_is_only_for_those_who_may(client_for: ClientFor, db: Session) -> None:
    incident_id = new_incident(db)
    page = f"/dispatch/incidents/{incident_id}"
    planner = client_for("planner")  # reads incidents, acts on none
    html = planner.get(page).get_data(as_text=True)
    assert f"{page}/notes" not in html
    refused = planner.post(
        f"{page}/notes",
        data={"csrf_token": csrf(planner, page), "note": "x"},
        follow_redirects=True,
    )
    assert refused.status_code == 200 and "incidents:dispatch" in refused.get_data(as_text=True)
    assert f"{page}/notes" in client_for("grid_staff").get(page).get_data(as_text=True)


# --- the console's map ------------------------------------------------------------------

VIEW = {"bbox": "114.299,30.589,114.307,30.595", "zoom": "16"}


def in_view(client: FlaskClient, **query: str) -> dict:
    response = client.get("/dispatch/map", query_string={**VIEW, **query})
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/geo+json"
    return response.json


def test_map_shows_the_incidents_in_view_as_points(client_for: ClientFor, db: Session) -> None:
    mine, theirs = new_incident(db), new_incident(db, IN_B04, category="parking")
    found = in_view(client_for("dispatcher"))
    assert {f["properties"]["id"] for f in found["features"]} == {mine, theirs}
    assert all(f["properties"]["kind"] == "incident" for f in found["features"])
    # Filters as in the list; grid staff see only their grid's.
    assert [
        f["properties"]["id"]
        for f in in_view(client_for("dispatcher"), category="parking")["features"]
    ] == [theirs]
    assert [f["properties"]["id"] for f in in_view(client_for("grid_staff"))["features"]] == [mine]
    # Out of view: nothing.
    assert in_view(client_for("dispatcher"), bbox="114.0,30.0,114.1,30.1")["features"] == []


def test_map_clusters_when_dense(
    client: FlaskClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in range(3):
        new_incident(db, (IN_B01[0] + 0.00001 * k, IN_B01[1]))
    new_incident(db, IN_B04)
    monkeypatch.setattr(clusters, "MAX_POINTS", 2)
    found = in_view(client, zoom="15")
    assert found["numberMatched"] == 4
    counts = sorted(f["properties"]["count"] for f in found["features"])
    assert counts == [1, 3]  # three at B01 in one cell, B04's alone
    assert all(f["properties"]["kind"] == "cluster" for f in found["features"])


def test_map_needs_its_view(client: FlaskClient) -> None:
    response = client.get("/dispatch/map", query_string={"zoom": "16"})
    assert response.status_code == 400
    response = client.get(
        "/dispatch/map",
        query_string={**VIEW, "status": "lost"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and "lost" in response.json["error"]["message"]
