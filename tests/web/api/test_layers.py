"""The JSON API answers, and its errors say what to fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.support.sample_community import (
    COMMUNITY_CODE,
    COMPOUND_CODE,
    GRID_CODES,
    GRID_HOUSEHOLDS,
    LAYOUT_DRAFT,
    LAYOUT_NOW,
    LAYOUT_OLD,
    PROPERTY_COMPANY,
)
from tests.support.web import ClientFor

BASE = f"/api/v1/communities/{COMMUNITY_CODE}"


def ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_communities(client: FlaskClient) -> None:
    response = client.get("/api/v1/communities")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    (community,) = response.json["communities"]
    assert community["code"] == COMMUNITY_CODE
    assert community["name"] == "南湖花园社区"
    assert community["bbox"] == [114.3, 30.59, 114.306, 30.594]
    assert community["layout"] == {"name": LAYOUT_NOW, "valid_from": "2025-01-01T00:00:00+00:00"}
    assert community["counts"] == {"grids": 3, "compounds": 1, "buildings": 5, "units": 4}
    links = {link["rel"]: link["href"] for link in community["links"]}
    assert links["grids"] == f"{BASE}/grids"
    assert links["alternate"] == f"/communities/{COMMUNITY_CODE}"


def test_chinese_is_readable_in_json(client: FlaskClient) -> None:
    assert "南湖花园社区".encode() in client.get("/api/v1/communities").data


def test_one_community(client: FlaskClient) -> None:
    body = client.get(BASE).json
    assert body["code"] == COMMUNITY_CODE and body["counts"]["grids"] == 3


def test_grids_are_geojson(client: FlaskClient) -> None:
    response = client.get(f"{BASE}/grids")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection"
    assert list(body)[:4] == ["type", "numberMatched", "numberReturned", "features"]
    assert ids(body) == list(GRID_CODES)
    assert [f["properties"]["households"] for f in body["features"]] == list(GRID_HOUSEHOLDS)
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_no_personal_data_in_layers(client: FlaskClient) -> None:
    for layer in ("grids", "compounds", "buildings", "units"):
        text = client.get(f"{BASE}/{layer}").get_data(as_text=True)
        for secret in ("张", "13812341234", "138****", "phone", "staff"):
            assert secret not in text, (layer, secret)


@pytest.mark.parametrize(
    ("layout", "expected"),
    [(LAYOUT_OLD, ["OLD-E", "OLD-W"]), (LAYOUT_DRAFT, ["DRAFT-1"]), (LAYOUT_NOW, list(GRID_CODES))],
)
def test_grids_of_a_layout(client_for: ClientFor, layout: str, expected: list[str]) -> None:
    planner = client_for("planner")  # drafts are for planners (tests/web/test_drafts.py)
    assert ids(planner.get(f"{BASE}/grids", query_string={"layout": layout}).json) == expected


def test_buildings_compounds_units(client: FlaskClient) -> None:
    buildings = client.get(f"{BASE}/buildings").json
    assert buildings["features"][0]["properties"]["compound"] == COMPOUND_CODE
    compounds = client.get(f"{BASE}/compounds").json
    assert compounds["features"][0]["properties"]["property_company"] == PROPERTY_COMPANY
    units = client.get(f"{BASE}/units").json
    assert ids(units) == ["B01/1", "B01/2", "B03/1", "B03/2"]
    assert units["features"][0]["properties"]["building"] == "B01"


def test_bbox_filters(client: FlaskClient) -> None:
    bbox = "114.3044,30.5905,114.3050,30.5913"  # around B04, in grid 3
    assert ids(client.get(f"{BASE}/buildings?bbox={bbox}").json) == ["B04"]
    assert ids(client.get(f"{BASE}/grids?bbox={bbox}").json) == [GRID_CODES[2]]


def test_paging_with_links(client: FlaskClient) -> None:
    body = client.get(f"{BASE}/buildings?limit=2&offset=2").json
    assert ids(body) == ["B03", "B04"]
    assert (body["numberMatched"], body["numberReturned"]) == (5, 2)
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert links["next"] == f"{BASE}/buildings?limit=2&offset=4"
    assert links["prev"] == f"{BASE}/buildings?limit=2&offset=0"
    last = client.get(links["next"]).json
    assert ids(last) == ["B05"]
    assert "next" not in {link["rel"] for link in last["links"]}


def test_paging_links_stay_on_this_site(key_client: Callable[[str], FlaskClient]) -> None:
    """url_for takes _external, _scheme and _anchor as instructions: a client's
    ?_external=1 with a forged Host must not make links to another host."""
    reader = key_client("reader")
    body = reader.get(
        f"{BASE}/buildings",
        query_string={
            "limit": "2",
            "bbox": "114.29,30.58,114.31,30.60",
            "_external": "1",
            "_scheme": "https",
            "_anchor": "x",
            "utm": "y",
        },
        headers={"Host": "evil.example"},
    ).json
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert links == {
        "self": f"{BASE}/buildings?limit=2&bbox=114.29,30.58,114.31,30.60&offset=0",
        "next": f"{BASE}/buildings?limit=2&bbox=114.29,30.58,114.31,30.60&offset=2",
    }


def error(client: FlaskClient, url: str, status: int) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.json
    assert body["error"]["status"] == status
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "bbox=abc",
            (
                "bbox must be four numbers minlon,minlat,maxlon,maxlat with minlon < maxlon "
                "and minlat < maxlat (e.g. bbox=114.30,30.58,114.32,30.60); got 'abc'."
            ),
        ),
        ("bbox=", "bbox must be four numbers"),
        ("bbox=1,2,3", "bbox must be four numbers"),
        ("bbox=114.4,30.5,114.3,30.6", "with minlon < maxlon"),
        ("bbox=30.5,114.3,30.6,114.4", "bbox latitudes must be between -90 and 90"),
        ("bbox=181,30,182,31", "bbox longitudes must be between -180 and 180"),
        ("limit=0", "limit must be a whole number from 1 to 5000; got '0'"),
        ("limit=100000", "limit must be a whole number from 1 to 5000; got '100000'"),
        ("limit=many", "limit must be a whole number"),
        ("offset=-5", "offset must be a whole number, 0 or more; got '-5'"),
    ],
)
def test_bad_parameters_get_400_saying_what_to_fix(
    client: FlaskClient, query: str, message: str
) -> None:
    assert message in error(client, f"{BASE}/buildings?{query}", 400)


def test_layout_for_another_layer_is_400(client: FlaskClient) -> None:
    assert "layout= applies only to the grids layer" in error(
        client, f"{BASE}/units?layout={LAYOUT_NOW}", 400
    )


def test_unknown_community_is_404_naming_it(client: FlaskClient) -> None:
    assert error(client, "/api/v1/communities/999", 404) == "No community with code '999'."
    assert error(client, "/api/v1/communities/999/grids", 404) == "No community with code '999'."


def test_unknown_layer_is_404_listing_the_layers(client: FlaskClient) -> None:
    message = error(client, f"{BASE}/roads?bbox=abc", 404)
    assert message == "No layer 'roads'; the layers are: grids, compounds, buildings, units."


def test_unknown_layout_is_404_listing_the_layouts(
    client: FlaskClient, client_for: ClientFor
) -> None:
    message = error(client_for("planner"), f"{BASE}/grids?layout=2099", 404)
    assert message == (
        f"Community {COMMUNITY_CODE} has no layout named '2099'; "
        f"its layouts are: '{LAYOUT_OLD}', '{LAYOUT_NOW}', '{LAYOUT_DRAFT}'."
    )
    # Everyone else is told the published ones only.
    assert error(client, f"{BASE}/grids?layout=2099", 404).endswith(
        f"its layouts are: '{LAYOUT_OLD}', '{LAYOUT_NOW}'."
    )


def test_unknown_endpoint_and_method(client: FlaskClient) -> None:
    assert "GET /api/v1 lists the endpoints" in error(client, "/api/v1/grids", 404)
    response = client.post("/api/v1/communities")
    assert response.status_code == 405
    assert response.json["error"]["details"] == ["Allowed: GET, HEAD, OPTIONS"]


def test_empty_database(empty_client: FlaskClient) -> None:
    assert empty_client.get("/api/v1/communities").json == {"communities": []}
