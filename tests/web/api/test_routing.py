"""POST /api/v1/route and /api/v1/route/batch against the committed sample community."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridgis.geo.crs import wgs84_to_gcj02
from tests.support.sample_community import GRID_CODES
from tests.support.web import Accounts, login, make_app, rolled_back_app

# Inside building B01 (unit 1) of 网格一, see tests/sample_community.py.
B01 = (114.3005, 30.5905)


def first_point_in(client: FlaskClient, code: str) -> tuple[float, float]:
    doc = client.get("/api/v1/communities").get_json()["communities"][0]
    layer = client.get(f"/api/v1/communities/{doc['code']}/buildings").get_json()
    feature = next(f for f in layer["features"] if f["properties"]["code"] == code)
    ring = feature["geometry"]["coordinates"][0][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def test_route_a_point(client: FlaskClient) -> None:
    lon, lat = first_point_in(client, "B01")
    answer = client.post("/api/v1/route", json={"lon": lon, "lat": lat})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["building_code"] == "B01" and body["grid_code"]
    assert body["rule"] in ("unit", "building")
    assert body["explanation_zh"] and body["explanation_en"]


def test_team_names_and_phones_are_masked(client_for: Callable[[str], FlaskClient]) -> None:
    planner = client_for("planner")  # dispatchers see the team in full: they call it
    lon, lat = first_point_in(planner, "B01")
    text = planner.post("/api/v1/route", json={"lon": lon, "lat": lat}).get_data(as_text=True)
    assert "张三" not in text and "13812341234" not in text
    assert "138****1234" in text


def test_route_a_gcj02_point(client: FlaskClient) -> None:
    lon, lat = first_point_in(client, "B01")
    x, y = wgs84_to_gcj02(lon, lat)
    body = client.post("/api/v1/route", json={"lon": x, "lat": y, "crs": "gcj02"}).get_json()
    assert body["building_code"] == "B01" and body["crs"] == "gcj02"


def test_outside_coverage_is_an_answer_not_an_error(client: FlaskClient) -> None:
    body = client.post("/api/v1/route", json={"lon": 0.0, "lat": 0.0}).get_json()
    assert body["rule"] == "outside_coverage"


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not json", "must be a JSON object"),
        ([1, 2], "must be a JSON object"),
        ({"lon": "east", "lat": 30.5}, "'lon' must be a number"),
        ({"lon": True, "lat": 30.5}, "'lon' must be a number"),
        ({"lon": 114.3, "lat": 1e400}, "'lat' must be a finite number"),
        ({"lon": 114.3, "lat": 95}, "not a place on Earth"),
        ({"lon": 114.3, "lat": 30.5, "crs": "EPSG:123456789"}, "Unknown CRS"),
        ({"lon": 114.3, "lat": 30.5, "at": "yesterday"}, "ISO 8601"),
        ({"lon": 114.3, "lat": 30.5, "at": "2026-01-01T00:00:00"}, "needs a time zone"),
        ({"lon": 114.3, "lat": 30.5, "colour": "red"}, "Unknown field(s) colour"),
        ({}, "Give either 'lon' and 'lat' or an 'address'"),
        ({"lon": 114.3, "lat": 30.5, "category": "nope"}, "Unknown category 'nope'"),
    ],
)
def test_bad_requests_get_400_naming_the_field(
    client: FlaskClient, payload: object, message: str
) -> None:
    if isinstance(payload, str):
        answer = client.post("/api/v1/route", data=payload, content_type="application/json")
    elif isinstance(payload, dict) and payload.get("lat") == 1e400:
        raw = '{"lon": 114.3, "lat": 1e400}'
        answer = client.post("/api/v1/route", data=raw, content_type="application/json")
    else:
        answer = client.post("/api/v1/route", json=payload)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]["message"]


def test_batch_csv_keeps_rows_and_adds_columns(client: FlaskClient) -> None:
    lon, lat = first_point_in(client, "B01")
    data = f"ref,lon,lat\nA,{lon},{lat}\nB,,\nC,0,0\n".encode()
    answer = client.post("/api/v1/route/batch", data=data, content_type="text/csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["ref"] for r in rows] == ["A", "B", "C"]
    assert [r["rule"] for r in rows][1:] == ["invalid_location", "outside_coverage"]
    assert rows[0]["building_code"] == "B01"
    assert json.loads(answer.headers["X-Gridgis-Rules"])["invalid_location"] == 1


def test_batch_upload_of_geojson(client: FlaskClient) -> None:
    lon, lat = first_point_in(client, "B01")
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"n": 1},
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
    }
    upload = {"file": (io.BytesIO(json.dumps(doc).encode()), "incidents.geojson")}
    answer = client.post("/api/v1/route/batch", data=upload, content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.mimetype == "application/geo+json"
    props = answer.get_json()["features"][0]["properties"]
    assert props["n"] == 1 and props["building_code"] == "B01"


def test_batch_bad_uploads(client: FlaskClient) -> None:
    empty = client.post("/api/v1/route/batch", data=b"", content_type="text/csv")
    assert empty.status_code == 400 and "Send a GeoJSON" in empty.get_json()["error"]["message"]
    nocols = client.post("/api/v1/route/batch", data=b"a,b\n1,2\n", content_type="text/csv")
    assert nocols.status_code == 400 and "--lon-field" in nocols.get_json()["error"]["message"]


def test_batch_upload_size_is_limited(sample_database_url: str, sample_accounts: Accounts) -> None:
    for app in make_app(sample_database_url, MAX_CONTENT_LENGTH=2048):
        client = login(app.test_client(), sample_accounts.ids["dispatcher1"])
        answer = client.post(
            "/api/v1/route/batch", data=b"lon,lat\n" + b"1,2\n" * 1000, content_type="text/csv"
        )
    assert answer.status_code == 413
    assert "larger than 2 KB" in answer.get_json()["error"]["message"]


# --- batch limits and output safety (issue 8, item 8) --------------------------------

#: Inside B01 (网格一) and B04 (网格三) of the sample community.
IN_B01 = (114.3009, 30.5911)
IN_B04 = (114.3047, 30.5911)


@pytest.fixture
def small_batches(
    sample_database_url: str, sample_accounts: Accounts
) -> Iterator[tuple[Flask, FlaskClient]]:
    """An app whose batches hold at most 3 rows, and a dispatcher's client of it."""
    with rolled_back_app(sample_database_url, MAX_BATCH_ROWS=3) as app:
        yield app, login(app.test_client(), sample_accounts.ids["dispatcher1"])


def csv_of(rows: int) -> bytes:
    return (
        "ref,lon,lat\n" + "".join(f"R{i},{IN_B01[0]},{IN_B01[1]}\n" for i in range(rows))
    ).encode()


def geojson_of(features: int) -> bytes:
    point = {"type": "Point", "coordinates": list(IN_B01)}
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"n": i}, "geometry": point} for i in range(features)
        ],
    }
    return json.dumps(doc).encode()


def test_a_batch_past_the_row_limit_gets_413_saying_what_to_do(
    small_batches: tuple[Flask, FlaskClient],
) -> None:
    _, client = small_batches
    within = client.post("/api/v1/route/batch", data=csv_of(3), content_type="text/csv")
    assert within.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(within.get_data(as_text=True))))) == 3
    refused = client.post("/api/v1/route/batch", data=csv_of(4), content_type="text/csv")
    assert refused.status_code == 413
    assert refused.get_json() == {
        "error": {
            "status": 413,
            "message": (
                "body.csv has more than 3 rows; one batch routes at most 3. "
                "Split the file into parts of at most 3 rows and route each part."
            ),
        }
    }
    geojson = client.post(
        "/api/v1/route/batch", data=geojson_of(4), content_type="application/geo+json"
    )
    assert geojson.status_code == 413
    assert geojson.get_json()["error"]["message"].startswith("body.geojson has more than 3 rows")
    upload = {"file": (io.BytesIO(csv_of(4)), "工单.csv")}
    uploaded = client.post("/api/v1/route/batch", data=upload, content_type="multipart/form-data")
    assert uploaded.status_code == 413
    assert uploaded.get_json()["error"]["message"].startswith("工单.csv has more than 3 rows")


def test_the_row_limit_defaults_to_100000(client: FlaskClient) -> None:
    rows = 100_001
    data = b"lon,lat\n" + b"1,2\n" * rows  # 400 KB, within the upload size
    refused = client.post("/api/v1/route/batch", data=data, content_type="text/csv")
    assert refused.status_code == 413
    assert "at most 100,000" in refused.get_json()["error"]["message"]


def test_batch_csv_output_runs_no_formula(client: FlaskClient) -> None:
    """Cells a spreadsheet would run get a leading quote; numbers stay numbers."""
    data = (
        "ref,note,lon,lat\n"
        '=HYPERLINK("http://evil.example";"open"),@SUM(A1),-122.4194,37.7749\n'
        f"+1+1,-1+cmd|' /C calc'!A0,{IN_B01[0]},{IN_B01[1]}\n"
        f"\tx,-5,{IN_B01[0]},{IN_B01[1]}\n"
    ).encode()
    answer = client.post("/api/v1/route/batch", data=data, content_type="text/csv")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert [r[:4] for r in rows[1:]] == [
        ['\'=HYPERLINK("http://evil.example";"open")', "'@SUM(A1)", "-122.4194", "37.7749"],
        ["'+1+1", "'-1+cmd|' /C calc'!A0", str(IN_B01[0]), str(IN_B01[1])],
        ["'\tx", "-5", str(IN_B01[0]), str(IN_B01[1])],
    ]
    assert rows[1][4] == "outside_coverage"  # San Francisco, routed as a number


def test_grid_staff_get_no_batch_answer_outside_their_area(
    client_for: Callable[[str], FlaskClient],
) -> None:
    staff = client_for("grid_staff")  # 张三, grid worker of 网格一
    data = f"ref,lon,lat\nmine,{IN_B01[0]},{IN_B01[1]}\ntheirs,{IN_B04[0]},{IN_B04[1]}\n"
    answer = staff.post("/api/v1/route/batch", data=data.encode(), content_type="text/csv")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    mine, theirs = csv.DictReader(io.StringIO(text))
    assert (mine["rule"], mine["grid_code"], mine["building_code"]) == (
        "unit",
        GRID_CODES[0],
        "B01",
    )
    assert theirs["rule"] == "outside_your_area" and theirs["reason"] == "outside your area"
    for column in (
        "grid_code",
        "grid_name",
        "building_code",
        "lead_code",
        "team",
        "community_code",
    ):
        assert theirs[column] == "", column
    assert "B04" not in text and GRID_CODES[2] not in text
    assert json.loads(answer.headers["X-Gridgis-Rules"]) == {"unit": 1, "outside_your_area": 1}
    # The same batch as GeoJSON.
    features = [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": p}}
        for p in (list(IN_B01), list(IN_B04))
    ]
    doc = {"type": "FeatureCollection", "features": features}
    body = staff.post("/api/v1/route/batch", json=doc).get_json()
    assert [f["properties"]["rule"] for f in body["features"]] == ["unit", "outside_your_area"]
    # A dispatcher gets both answers.
    both = client_for("dispatcher").post(
        "/api/v1/route/batch", data=data.encode(), content_type="text/csv"
    )
    assert [r["building_code"] for r in csv.DictReader(io.StringIO(both.get_data(True)))] == [
        "B01",
        "B04",
    ]
