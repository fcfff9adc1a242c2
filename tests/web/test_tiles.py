"""Vector tiles over HTTP: what a map client decodes, who gets what, caching, errors."""

from __future__ import annotations

from collections.abc import Callable

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient

from tests.support.sample_community import BUILDINGS, COMMUNITY_CODE, GRID_CODES, LAYOUT_DRAFT
from tests.support.web import STAFF_NAMES, STAFF_PHONES, ClientFor

#: The z13 tile over every building of the sample community (B01, B02 in its buffer),
#: and its western neighbour (grid 1, B01 and B02); tests/gridgis/maps/test_tiles.py.
EAST = "13/6697/3364"
WEST = "13/6696/3364"
MVT = "application/vnd.mapbox-vector-tile"
#: Errors are JSON for clients that ask for it (web.errors.wants_json), else a page.
JSON = {"Accept": "application/json"}


def url(layer: str, tile: str = EAST, *, city: bool = False, **query: str) -> str:
    """A tile of the sample community, or (``city``) of every community."""
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    whose = "" if city else f"community={COMMUNITY_CODE}"
    return f"/tiles/{layer}/{tile}.mvt?{whose}{extra}"


def codes(
    client: FlaskClient, layer: str, tile: str = EAST, *, city: bool = False, **query: str
) -> list[str]:
    response = client.get(url(layer, tile, city=city, **query))
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.data
    assert response.mimetype == MVT
    features = mapbox_vector_tile.decode(response.data)[layer]["features"]
    return [f["properties"]["code"] for f in features]


def test_a_tile_over_the_community(client: FlaskClient) -> None:
    response = client.get(url("buildings"))
    assert response.status_code == 200 and response.mimetype == MVT
    (layer,) = mapbox_vector_tile.decode(response.data).items()
    name, content = layer
    assert name == "buildings" and content["extent"] == 4096
    props = {f["properties"]["code"]: f["properties"] for f in content["features"]}
    assert list(props) == list(BUILDINGS)
    assert props["B04"]["households"] == 18 and "compound" not in props["B04"]  # NULL: left out
    assert codes(client, "grids") == list(GRID_CODES)
    assert codes(client, "compounds") == ["XQ01"]


def test_no_personal_data_in_any_tile(client_for: ClientFor) -> None:
    admin = client_for("admin")
    for layer in ("grids", "compounds", "buildings"):
        for tile in (EAST, WEST):
            data = admin.get(url(layer, tile)).data
            for secret in (*STAFF_NAMES, *STAFF_PHONES):
                assert secret.encode() not in data, (layer, secret)


def test_grid_staff_get_their_area_as_the_layer_api_does(client_for: ClientFor) -> None:
    for who in ("grid_staff", "qianqi"):  # a grid worker of grid 1; the head of B01
        staff = client_for(who)
        api = staff.get(f"/api/v1/communities/{COMMUNITY_CODE}/buildings").json
        expected = [f["id"] for f in api["features"]]
        tiled = sorted(set(codes(staff, "buildings", EAST) + codes(staff, "buildings", WEST)))
        assert tiled == expected, who
    zhang = client_for("grid_staff")
    assert codes(zhang, "buildings") == ["B01", "B02"]
    assert codes(zhang, "grids") == [GRID_CODES[0]]
    assert codes(client_for("qianqi"), "buildings") == ["B01"]
    response = zhang.get(url("buildings"))
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_etag_gives_304_and_differs_by_area(client_for: ClientFor) -> None:
    dispatcher = client_for("dispatcher")
    first = dispatcher.get(url("buildings"))
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    again = dispatcher.get(url("buildings"), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    other = dispatcher.get(url("buildings"), headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200
    # A grid staff member's tile is another version: the dispatcher's ETag is no match.
    staff = client_for("grid_staff").get(url("buildings"), headers={"If-None-Match": etag})
    assert staff.status_code == 200 and staff.headers["ETag"] != etag
    # The viewer sees what the dispatcher sees: the same version.
    assert client_for("viewer").get(url("buildings")).headers["ETag"] == etag


def test_empty_tile_is_204(client: FlaskClient) -> None:
    response = client.get(url("buildings", "13/0/0"))
    assert response.status_code == 204 and response.data == b""
    assert "ETag" in response.headers
    # Below the layer's zoom: empty too, without a query.
    assert client.get(url("units", "12/3348/1682")).status_code == 204


def test_incidents_need_incidents_read(client_for: ClientFor) -> None:
    assert client_for("viewer").get(url("incidents")).status_code == 403
    response = client_for("dispatcher").get(url("incidents"))
    assert response.status_code in (200, 204)
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_drafts_only_for_planners(client_for: ClientFor) -> None:
    assert codes(client_for("planner"), "grids", layout=LAYOUT_DRAFT) == ["DRAFT-1"]
    assert client_for("viewer").get(url("grids", layout=LAYOUT_DRAFT)).status_code == 404


def test_login_or_key_needed(
    anon_client: FlaskClient, key_client: Callable[[str], FlaskClient]
) -> None:
    # As everywhere outside /api: a browser is sent to log in, a script asking for JSON told.
    assert anon_client.get(url("buildings")).status_code == 302
    assert anon_client.get(url("buildings"), headers=JSON).status_code == 401
    assert key_client("router").get(url("buildings"), headers=JSON).status_code == 403
    assert codes(key_client("reader"), "buildings") == list(BUILDINGS)


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        (url("roads"), 404, "the layers are: communities, grids"),
        ("/tiles/grids/13/6697/3364.mvt?community=999", 404, "No community with code '999'"),
        ("/tiles/grids/13/6697/3364.mvt?layout=x", 400, "add community=CODE"),
        (url("grids", "23/0/0"), 400, "zooms go from 0 to 22"),
        (url("grids", "2/4/0"), 400, "x and y go from 0 to 3"),
        (url("grids", "2/0/1.5"), 400, "whole number"),
        (url("grids", "a/0/0"), 400, "whole number"),
        (url("buildings", layout="x"), 400, "only to the grids layer"),
        (url("grids", layout="nope"), 404, "nope"),
    ],
)
def test_errors_say_what_to_fix(client: FlaskClient, path: str, status: int, says: str) -> None:
    response = client.get(path, headers=JSON)
    assert response.status_code == status, response.data
    assert says in response.json["error"]["message"]
    assert client.get(path).status_code == status  # an HTML page for a browser, same status


def test_city_tiles_hold_every_community_in_force(client_for: ClientFor) -> None:
    """Without community=: the grids in force of every community, and the boundaries."""
    dispatcher = client_for("dispatcher")
    assert codes(dispatcher, "grids", city=True) == list(GRID_CODES)  # not the draft's
    tile = mapbox_vector_tile.decode(dispatcher.get(url("grids", city=True)).data)
    # Without their tallies (the city table has the figures): cheap at a thousand grids.
    assert set(tile["grids"]["features"][0]["properties"]) == {"code", "name", "layout"}
    assert codes(dispatcher, "buildings", city=True) == list(BUILDINGS)
    buildings = mapbox_vector_tile.decode(dispatcher.get(url("buildings", city=True)).data)
    b04 = [f["properties"] for f in buildings["buildings"]["features"]][3]
    assert b04["code"] == "B04" and b04["households"] == 18  # a building's own figure stays
    assert codes(dispatcher, "communities", city=True) == [COMMUNITY_CODE]
    assert codes(dispatcher, "communities", "8/209/105", city=True) == [COMMUNITY_CODE]
    assert codes(dispatcher, "grids", "7/104/52", city=True) == []  # below grids' zoom
    # The city's version differs from the community's: caches keep both.
    one = dispatcher.get(url("grids")).headers["ETag"]
    assert dispatcher.get(url("grids", city=True)).headers["ETag"] != one


def test_city_tiles_of_grid_staff_are_their_area(client_for: ClientFor) -> None:
    zhang = client_for("grid_staff")
    assert codes(zhang, "buildings", city=True) == ["B01", "B02"]
    assert codes(zhang, "grids", city=True) == [GRID_CODES[0]]
    assert codes(zhang, "communities", city=True) == [COMMUNITY_CODE]
    response = zhang.get(url("grids", city=True))
    assert response.headers["Cache-Control"] == "private, no-cache"
    for secret in (*STAFF_NAMES, *STAFF_PHONES):
        assert secret.encode() not in response.data
