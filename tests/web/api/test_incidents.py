"""Incidents over HTTP: take in, list, read, duplicates, moves, against the sample community."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis.access import apikeys
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.models import Incident
from tests.support import factories as make
from tests.support.sample_community import GRID_CODES
from tests.support.web import ACTOR, ClientFor

#: Inside building B01 (unit B01/1) of 网格一; inside B04 of 网格三.
B01 = (114.3009, 30.5911)
NEAR_B01 = (114.30095, 30.5911)
B04 = (114.3047, 30.5911)
#: A resident (tests/support/leaks.py watches the logs for them).
RESIDENT = {"reporter_name": "陈居民", "reporter_phone": "13911112222"}


@pytest.fixture
def pothole(db: Session) -> str:
    """A category of the test's own (with deadlines), committed for the app's requests."""
    make.category(db, "pothole", name_zh="路面坑洼", name_en="Pothole", response_hours=2)
    db.commit()
    return "pothole"


def body(where: tuple[float, float] = B01, **fields: Any) -> dict[str, Any]:
    return {
        "channel": "walk_in",
        "description": "人行道塌陷",
        "lon": where[0],
        "lat": where[1],
        **RESIDENT,
        **fields,
    }


def count(db: Session) -> int:
    return int(db.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0)


def test_a_report_is_taken_in_with_its_team_and_duplicates(
    client: FlaskClient, pothole: str
) -> None:
    first = client.post("/api/v1/incidents", json=body(category=pothole))
    assert first.status_code == 201, first.get_json()
    incident = first.get_json()
    assert first.headers["Location"] == f"/api/v1/incidents/{incident['id']}"
    assert (incident["status"], incident["created"], incident["channel"]) == (
        "received",
        True,
        "walk_in",
    )
    assert incident["grid"] == GRID_CODES[0] and incident["building"] == "B01"
    assert incident["category"] == "pothole" and incident["response_due_at"]
    # The routed team and departments, as the dispatcher may see them (in full: they call).
    routing = incident["routing"]
    assert routing["lead"]["name"] == "张三" and routing["lead"]["masked"] is False
    assert routing["departments"] == []
    # The dispatcher who took it in handles it: the reporter in full.
    assert incident["reporters"] == [{"name": "陈居民", "phone": "13911112222", "masked": False}]
    assert incident["history"][0]["action"] == "take_in"
    assert incident["duplicates"] == []
    second = client.post("/api/v1/incidents", json=body(NEAR_B01, category=pothole)).get_json()
    assert [d["id"] for d in second["duplicates"]] == [incident["id"]]
    assert "reporters" not in second["duplicates"][0]


def test_the_same_external_id_answers_200_with_the_first(client: FlaskClient, db: Session) -> None:
    hotline = body(channel="hotline_12345", external_id="GD20261130001")
    first = client.post("/api/v1/incidents", json=hotline)
    again = client.post("/api/v1/incidents", json=hotline)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["created"] is False
    assert count(db) == 1


def test_gcj02_points_and_addresses_locate(client: FlaskClient) -> None:
    x, y = wgs84_to_gcj02(*B01)
    shifted = client.post("/api/v1/incidents", json=body((x, y), crs="gcj02")).get_json()
    assert shifted["building"] == "B01" and shifted["input"]["crs"] == "gcj02"
    assert shifted["lon"] == pytest.approx(B01[0], abs=1e-7)
    by_address = body(address="南湖路01号")
    del by_address["lon"], by_address["lat"]
    located = client.post("/api/v1/incidents", json=by_address)
    assert located.status_code == 201, located.get_json()
    assert located.get_json()["rule"] == "address" and located.get_json()["building"] == "B01"


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"colour": "red"}, 400, "Unknown field(s) colour; the fields are channel, category"),
        ({"channel": None}, 400, "'channel' is required"),
        ({"channel": "fax"}, 400, "Unknown channel 'fax'"),
        ({"category": "fireworks"}, 400, "Unknown category 'fireworks'"),
        ({"lon": "east"}, 400, "'lon' must be a number, got \"east\"."),
        ({"lat": None}, 400, "'lat' must be a number, got null."),
        ({"lon": 1143.4, "lat": 305.1}, 400, "is not a place on Earth"),
        ({"crs": True}, 400, "'crs' must be an EPSG code, gcj02 or bd09; got true."),
        ({"crs": "EPSG:999999"}, 400, "Unknown CRS 'EPSG:999999'"),
        ({"description": "长" * 10_001}, 400, "'description' must be a string of at most 10000"),
        ({"external_id": "x" * 65}, 400, "'external_id' must be a string of at most 64"),
        ({"reporter_phone": 13911112222}, 400, "'reporter_phone' must be a string"),
        ({"reported_at": "2026-11-30 09:00"}, 400, "needs a time zone"),
        ({"reported_at": "2099-01-01T00:00:00+08:00"}, 400, "is in the future"),
        ({"lon": None, "lat": None}, 400, "Give the incident's place: lon and lat, or an address."),
        ({"lon": None, "lat": None, "address": "不存在的地方"}, 400, "matches no building"),
        ({"description": "a\x00b"}, 400, "NUL"),
        ({"lon": 120.0, "lat": 31.0}, 422, "outside every community gridgis covers"),
    ],
)
def test_every_bad_field_is_a_clear_4xx_and_stores_nothing(
    client: FlaskClient, db: Session, fields: dict[str, Any], status: int, message: str
) -> None:
    answer = client.post("/api/v1/incidents", json=body(**fields))
    assert answer.status_code == status, answer.get_json()
    assert message in answer.get_json()["error"]["message"]
    assert count(db) == 0


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b""])
def test_a_body_that_is_not_an_object_is_refused(client: FlaskClient, data: bytes) -> None:
    answer = client.post("/api/v1/incidents", data=data, content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"].startswith("The body must be a JSON object")


def key_with(app: Flask, db: Session, scopes: list[str]) -> FlaskClient:
    _, secret = apikeys.create_key(db, f"k{len(scopes)}{scopes[0]}", scopes, actor=ACTOR)
    db.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_a_key_with_the_report_scope_may_post_and_gets_a_receipt(app: Flask, db: Session) -> None:
    machine = key_with(app, db, ["incidents:report"])
    answer = machine.post("/api/v1/incidents", json=body(channel="mini_program"))
    assert answer.status_code == 201
    receipt = answer.get_json()
    # It may not read incidents: no place, team or resident in the answer.
    assert set(receipt) == {"id", "status", "channel", "external_id", "reported_at", "created"}
    assert machine.get(f"/api/v1/incidents/{receipt['id']}").status_code == 403
    reader = key_with(app, db, ["incidents:report", "incidents:read"])
    full = reader.post("/api/v1/incidents", json=body(channel="mini_program")).get_json()
    assert full["grid"] == GRID_CODES[0]
    assert full["routing"]["lead"]["name"] == "张*" and full["reporters"][0]["masked"] is True


def test_grid_staff_report_in_their_area_and_get_receipts_elsewhere(
    client_for: ClientFor,
) -> None:
    zhangsan = client_for("grid_staff")  # 网格一
    mine = zhangsan.post("/api/v1/incidents", json=body()).get_json()
    assert mine["grid"] == GRID_CODES[0] and mine["reporters"][0]["masked"] is False
    elsewhere = zhangsan.post("/api/v1/incidents", json=body(B04))
    assert elsewhere.status_code == 201 and "grid" not in elsewhere.get_json()


def test_viewers_and_routing_keys_may_not_report(
    client_for: ClientFor, key_client: Callable[[str], FlaskClient]
) -> None:
    assert client_for("viewer").post("/api/v1/incidents", json=body()).status_code == 403
    assert client_for("planner").post("/api/v1/incidents", json=body()).status_code == 403
    assert key_client("router").post("/api/v1/incidents", json=body()).status_code == 403


def test_the_list_is_geojson_with_filters_and_paging(
    client: FlaskClient, client_for: ClientFor, pothole: str
) -> None:
    made = [
        client.post("/api/v1/incidents", json=body(where, category=pothole)).get_json()["id"]
        for where in (B01, B04, NEAR_B01)
    ]
    answer = client.get("/api/v1/incidents?limit=2&lang=en")
    assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
    page = answer.get_json()
    assert (page["type"], page["numberMatched"], page["numberReturned"]) == (
        "FeatureCollection",
        3,
        2,
    )
    assert page["features"][0]["properties"]["status_name"] == "Received"
    assert [link["rel"] for link in page["links"]] == ["self", "next"]
    assert "offset=2" in page["links"][1]["href"] and "lang" not in page["links"][1]["href"]
    boxed = client.get("/api/v1/incidents?bbox=114.3003,30.5909,114.3013,30.5913").get_json()
    assert sorted(f["id"] for f in boxed["features"]) == sorted([made[0], made[2]])
    grid = client.get(f"/api/v1/incidents?grid={GRID_CODES[2]}&status=received").get_json()
    assert [f["id"] for f in grid["features"]] == [made[1]]
    assert (
        client.get("/api/v1/incidents?status=received,closed&category=pothole").get_json()[
            "numberMatched"
        ]
        == 3
    )
    staff = client_for("grid_staff").get("/api/v1/incidents").get_json()
    assert sorted(f["id"] for f in staff["features"]) == sorted([made[0], made[2]])
    bad = client.get("/api/v1/incidents?overdue=yes")
    assert bad.status_code == 400 and "Unknown overdue 'yes'" in bad.get_json()["error"]["message"]
    assert client_for("viewer").get("/api/v1/incidents").status_code == 403


def test_one_incident_and_its_duplicates_for_those_who_may_see_it(
    client: FlaskClient, client_for: ClientFor, pothole: str
) -> None:
    first = client.post("/api/v1/incidents", json=body(B04, category=pothole)).get_json()["id"]
    second = client.post(
        "/api/v1/incidents", json=body((B04[0] + 0.0001, B04[1]), category=pothole)
    ).get_json()["id"]
    detail = client.get(f"/api/v1/incidents/{first}").get_json()
    assert detail["id"] == first and detail["actions"] == ["register", "reject", "merge"]
    near = client.get(f"/api/v1/incidents/{first}/duplicates")
    assert near.mimetype == "application/geo+json"
    assert [f["id"] for f in near.get_json()["features"]] == [second]
    zhangsan = client_for("grid_staff")  # 网格一: B04 is not theirs
    for url in (f"/api/v1/incidents/{first}", f"/api/v1/incidents/{first}/duplicates"):
        refused = zhangsan.get(url)
        assert refused.status_code == 404
        assert refused.get_json()["error"]["message"] == f"No incident {first}."
    assert client.get("/api/v1/incidents/999999").status_code == 404


def test_moves_as_the_domain_allows_them(client: FlaskClient, client_for: ClientFor) -> None:
    made = client.post("/api/v1/incidents", json=body()).get_json()["id"]
    url = f"/api/v1/incidents/{made}/actions"
    zhangsan = client_for("grid_staff")
    assert zhangsan.post(f"{url}/register").status_code == 403
    registered = client.post(f"{url}/register")
    assert registered.status_code == 200 and registered.get_json()["status"] == "registered"
    assert [h["action"] for h in registered.get_json()["history"]] == ["take_in", "register"]
    again = client.post(f"{url}/register")
    assert again.status_code == 409 and "applies only to" in again.get_json()["error"]["message"]
    no_reason = client.post(f"{url}/park", json={})
    assert (
        no_reason.status_code == 400
        and "a reason is required" in no_reason.get_json()["error"]["message"]
    )
    assert client.post(f"{url}/fly").status_code == 400
    assert client.post(f"{url}/merge", json={"into": "one"}).status_code == 400
    assert client.post(f"{url}/register", json={"colour": 1}).status_code == 400
    assert client.post(f"{url}/dispatch").get_json()["status"] == "dispatched"
    accepted = zhangsan.post(f"{url}/accept")  # the routed team takes it on
    assert accepted.status_code == 200 and accepted.get_json()["responded_at"]
    closed = client.post(f"{url}/report_done")
    assert closed.status_code == 403  # the team reports it done, not the dispatcher


def test_merging_names_the_incident_kept(client: FlaskClient) -> None:
    kept = client.post("/api/v1/incidents", json=body()).get_json()["id"]
    dup = client.post("/api/v1/incidents", json=body(NEAR_B01)).get_json()["id"]
    merged = client.post(
        f"/api/v1/incidents/{dup}/actions/merge", json={"into": kept, "reason": "同一处"}
    ).get_json()
    assert (merged["status"], merged["merged_into"]) == ("merged", kept)


def test_a_move_on_an_incident_out_of_sight_is_404(
    client: FlaskClient, client_for: ClientFor
) -> None:
    elsewhere = client.post("/api/v1/incidents", json=body(B04)).get_json()["id"]
    client.post(f"/api/v1/incidents/{elsewhere}/actions/register")
    client.post(f"/api/v1/incidents/{elsewhere}/actions/dispatch")
    answer = client_for("grid_staff").post(f"/api/v1/incidents/{elsewhere}/actions/accept")
    assert answer.status_code == 404


def test_times_in_the_answers_are_iso_with_their_zone(client: FlaskClient) -> None:
    at = "2026-11-30T09:00:00+08:00"
    made = client.post("/api/v1/incidents", json=body(reported_at=at)).get_json()
    assert dt.datetime.fromisoformat(made["reported_at"]) == dt.datetime.fromisoformat(at)
