"""Who may call what: every endpoint of the URL map, for every role, key and anonymous.

The matrix is generated from ``app.url_map``: a new endpoint fails these tests
until it declares its permission (``web.security.requires``) and has a sample
call below. The expected status follows from ``gridgis.access.permissions``: allowed
→ the endpoint's own answer; denied → 401 (API) or a redirect to the login
page (pages) for anonymous, 403 for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridgis.access.permissions import PERMISSIONS, PUBLIC, ROLE_PERMISSIONS
from tests.support.sample_community import COMMUNITY_CODE, LAYOUT_NOW
from tests.support.web import KEYS, USERS, Accounts, login
from web.security import permission_of, requires

#: Inside building B01 of 网格一.
B01 = {"lon": 114.301, "lat": 30.5911}


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    #: The status when allowed (a set where it depends on who asks).
    ok: frozenset[int]
    kwargs: dict[str, Any] = field(default_factory=dict)


def call(method: str, url: str, *ok: int, **kwargs: Any) -> Call:
    return Call(method, url, frozenset(ok), kwargs)


#: The workspace of the layout in force (published: it opens read-only).
_PLAN = f"/plan/{LAYOUT_NOW}"

#: One request per endpoint and method. GET /login and POST /logout redirect a logged-in user.
SAMPLES: dict[tuple[str, str], Call] = {
    ("static", "GET"): call("GET", "/static/gridgis.css", 200),
    ("assets.leaflet", "GET"): call("GET", "/static/vendor/leaflet/leaflet.js", 200),
    ("assets.vectorgrid", "GET"): call(
        "GET", "/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js", 200
    ),
    ("access.login", "GET"): call("GET", "/login", 200, 302),
    ("access.login", "POST"): call(
        "POST", "/login", 401, data={"username": "nobody", "password": "wrong-password"}
    ),
    ("access.logout", "POST"): call("POST", "/logout", 302),
    ("access.password", "GET"): call("GET", "/account/password", 200),
    ("access.password", "POST"): call(
        "POST",
        "/account/password",
        400,
        data={"old_password": "wrong-password", "new_password": "x", "confirm_password": "x"},
    ),
    ("maps.overview", "GET"): call("GET", "/", 200),
    ("maps.community", "GET"): call("GET", f"/communities/{COMMUNITY_CODE}", 200),
    ("maps.choose", "GET"): call("GET", f"/go?community={COMMUNITY_CODE}", 302),
    ("audit.audit_log", "GET"): call("GET", "/admin/audit", 200),
    ("audit.audit_csv", "GET"): call("GET", "/admin/audit.csv", 200),
    ("api.discovery", "GET"): call("GET", "/api/v1", 200),
    ("api.layers.communities", "GET"): call("GET", "/api/v1/communities", 200),
    ("api.layers.community", "GET"): call("GET", f"/api/v1/communities/{COMMUNITY_CODE}", 200),
    ("api.layers.layer", "GET"): call("GET", f"/api/v1/communities/{COMMUNITY_CODE}/grids", 200),
    ("api.routing.route", "POST"): call("POST", "/api/v1/route", 200, json=B01),
    ("api.routing.route_batch", "POST"): call(
        "POST",
        "/api/v1/route/batch",
        200,
        data=b"lon,lat\n114.301,30.5911\n",
        content_type="text/csv",
    ),
    # Incidents: taken in inside B01; no incident 999999, so readers get the domain's 404.
    ("api.incidents.create", "POST"): call(
        "POST", "/api/v1/incidents", 201, json={"channel": "walk_in", **B01}
    ),
    ("api.incidents.listing", "GET"): call("GET", "/api/v1/incidents", 200),
    ("api.incidents.detail", "GET"): call("GET", "/api/v1/incidents/999999", 404),
    ("api.incidents.duplicates", "GET"): call("GET", "/api/v1/incidents/999999/duplicates", 404),
    ("api.incidents.move", "POST"): call("POST", "/api/v1/incidents/999999/actions/register", 404),
    ("api.incidents.add_note", "POST"): call(
        "POST", "/api/v1/incidents/999999/notes", 404, json={"note": "x"}
    ),
    ("api.rates.rates", "GET"): call("GET", "/api/v1/rates?by=grid&period=month", 200),
    # Photos: no incident 999999, so whoever may call gets the domain's 404.
    ("api.photos.upload", "POST"): call(
        "POST", "/api/v1/incidents/999999/photos", 404, data=b"\xff\xd8", content_type="image/jpeg"
    ),
    ("api.photos.photos", "GET"): call("GET", "/api/v1/incidents/999999/photos", 404),
    ("api.photos.photo", "GET"): call("GET", "/api/v1/photos/999999", 404),
    # The dispatch console; no incident 999999 (the form without a file: 404 comes first).
    ("dispatch.console", "GET"): call("GET", "/dispatch", 200),
    ("dispatch.in_view", "GET"): call(
        "GET", "/dispatch/map?bbox=114.29,30.58,114.31,30.60&zoom=15", 200
    ),
    ("dispatch.preview_new", "POST"): call("POST", "/dispatch/preview", 200, json=B01),
    ("dispatch.incident", "GET"): call("GET", "/dispatch/incidents/999999", 404),
    ("dispatch.act", "POST"): call("POST", "/dispatch/incidents/999999/actions/register", 404),
    ("dispatch.add_photo_here", "POST"): call(
        "POST", "/dispatch/incidents/999999/photos", 404, data={"note": "no file"}
    ),
    ("dispatch.add_note_here", "POST"): call(
        "POST", "/dispatch/incidents/999999/notes", 404, data={"note": "x"}
    ),
    # Open311: the catalogue is public; no request 999999 nor token "nope" exists.
    ("open311.discovery", "GET"): call("GET", "/open311/v2/discovery.json", 200),
    ("open311.services", "GET"): call("GET", "/open311/v2/services.xml", 200),
    ("open311.service_definition", "GET"): call("GET", "/open311/v2/services/parking.json", 200),
    ("open311.create_request", "POST"): call(
        "POST", "/open311/v2/requests.json", 400, data={"service_code": "parking"}
    ),
    ("open311.list_requests", "GET"): call("GET", "/open311/v2/requests.json", 200),
    ("open311.get_request", "GET"): call("GET", "/open311/v2/requests/999999.json", 404),
    ("open311.token", "GET"): call("GET", "/open311/v2/tokens/nope.json", 404),
    # The monthly report (this month): grid staff get their own grid's.
    ("reports.monthly", "GET"): call("GET", f"/reports/monthly?community={COMMUNITY_CODE}", 200),
    # /my, grid staff's phone page: administrators may call it but have no area (403);
    # no household 999999; a round without kind or time is refused.
    ("my.page", "GET"): call("GET", "/my", 200, 403),
    ("my.service_worker", "GET"): call("GET", "/my/sw.js", 200),
    ("my.token", "GET"): call("GET", "/my/token.json", 200),
    ("my.where", "GET"): call("GET", "/my/where.json?lon=114.301&lat=30.5911", 200, 403),
    ("my.households", "GET"): call("GET", "/my/households.json", 200, 403),
    ("my.household", "GET"): call("GET", "/my/households/999999.json", 403, 404),
    ("my.visit", "POST"): call(
        "POST",
        "/my/visits",
        403,
        404,
        json={"household_id": 999999, "visited_at": "2026-01-05T09:00:00+08:00", "findings": "x"},
    ),
    ("my.round_", "POST"): call("POST", "/my/rounds", 400, 403, json={}),
    # The office's households pages; no household 999999.
    ("households.listing", "GET"): call("GET", f"/households?community={COMMUNITY_CODE}", 200),
    ("households.household", "GET"): call("GET", "/households/999999", 404),
    # The diff of the layout in force against itself: nothing moves.
    ("planning.diff", "GET"): call(
        "GET", f"/plan/{LAYOUT_NOW}/diff?community={COMMUNITY_CODE}", 200
    ),
    # The planning workspace on the layout in force: read-only, so every edit is a 409.
    ("plan_workspace.index", "GET"): call("GET", f"/plan?community={COMMUNITY_CODE}", 200),
    ("plan_workspace.new_draft", "POST"): call(
        "POST", "/plan/drafts", 302, data={"community": COMMUNITY_CODE, "name": "matrix"}
    ),
    # No file: the layouts page again, saying so.
    ("plan_workspace.import_grids", "POST"): call(
        "POST", f"/plan/import?community={COMMUNITY_CODE}", 302
    ),
    ("plan_workspace.workspace", "GET"): call("GET", f"{_PLAN}?community={COMMUNITY_CODE}", 200),
    ("plan_workspace.state", "GET"): call("GET", f"{_PLAN}/state?community={COMMUNITY_CODE}", 200),
    ("plan_workspace.export", "GET"): call(
        "GET", f"{_PLAN}/export.gpkg?community={COMMUNITY_CODE}", 200
    ),
    ("plan_edits.assign", "POST"): call(
        "POST",
        f"{_PLAN}/assign?community={COMMUNITY_CODE}",
        409,
        json={"buildings": ["B01"], "grid": "420106001002002"},
    ),
    ("plan_edits.undo_edit", "POST"): call(
        "POST", f"{_PLAN}/undo?community={COMMUNITY_CODE}", 409, json={}
    ),
    ("plan_edits.redo_edit", "POST"): call(
        "POST", f"{_PLAN}/redo?community={COMMUNITY_CODE}", 409, json={}
    ),
    ("plan_edits.lock", "POST"): call(
        "POST",
        f"{_PLAN}/lock?community={COMMUNITY_CODE}",
        409,
        json={"grid": "420106001002001", "locked": True},
    ),
    ("plan_edits.cutover", "GET"): call(
        "GET", f"{_PLAN}/cutover?community={COMMUNITY_CODE}&from=2030-01-01T00:00", 409
    ),
    ("plan_edits.publish", "POST"): call(
        "POST", f"{_PLAN}/publish?community={COMMUNITY_CODE}", 409, json={"from": "2030-01-01"}
    ),
    ("plan_edits.rebalance", "POST"): call(
        "POST", f"{_PLAN}/rebalance?community={COMMUNITY_CODE}", 400, json={"band": "many"}
    ),
    # Vector tiles: a grids tile over the sample community.
    ("tiles.tile", "GET"): call(
        "GET", f"/tiles/grids/13/6697/3364.mvt?community={COMMUNITY_CODE}", 200
    ),
    # The city view: every community the viewer may see, with figures and a map.
    ("city.overview", "GET"): call("GET", "/city", 200),
}

#: Who asks: anonymous, a person of each role, a key of each kind.
WHO = ["anonymous", *USERS, *(f"key:{name}" for name in KEYS)]


def endpoints(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def permissions_of(who: str) -> frozenset[str]:
    if who == "anonymous":
        return frozenset()
    if who.startswith("key:"):
        return frozenset(KEYS[who.removeprefix("key:")])
    return ROLE_PERMISSIONS[who]


def client_of(app: Flask, accounts: Accounts, who: str) -> FlaskClient:
    client = app.test_client()
    if who.startswith("key:"):
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.keys[who[4:]]}"
    elif who != "anonymous":
        login(client, accounts.ids[USERS[who]])
    # A browser's form carries the session's token: anonymous forms (login) too.
    with client.session_transaction() as session:
        session.setdefault("csrf_token", "matrix-token")
    client.environ_base.setdefault("HTTP_X_CSRF_TOKEN", session["csrf_token"])
    return client


def test_every_endpoint_declares_a_permission(app: Flask) -> None:
    undeclared = sorted(e for e, _ in endpoints(app) if permission_of(app, e) is None)
    assert not undeclared, f"declare a permission with @requires(...) on: {undeclared}"
    for endpoint, _ in endpoints(app):
        assert permission_of(app, endpoint) in PERMISSIONS


def test_every_endpoint_has_a_sample_call(app: Flask) -> None:
    assert endpoints(app) == set(SAMPLES), "add the new endpoint to SAMPLES in this file"


def test_only_login_assets_and_discovery_are_public(app: Flask) -> None:
    public = {e for e, _ in endpoints(app) if permission_of(app, e) == PUBLIC}
    assert public == {
        "static",
        "assets.leaflet",
        "access.login",
        "api.discovery",
        # The Open311 catalogue: categories hold nothing personal.
        "open311.discovery",
        "open311.services",
        "open311.service_definition",
    }


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("endpoint", sorted(SAMPLES), ids=lambda e: f"{e[1]} {e[0]}")
def test_permission_matrix(
    app: Flask, sample_accounts: Accounts, who: str, endpoint: tuple[str, str]
) -> None:
    sample = SAMPLES[endpoint]
    permission = permission_of(app, endpoint[0])
    assert permission is not None
    allowed = permission == PUBLIC or permission in permissions_of(who)
    client = client_of(app, sample_accounts, who)
    with client.open(sample.url, method=sample.method, **sample.kwargs) as response:
        response.get_data()
    status = response.status_code
    api = sample.url.startswith("/api/")
    # A script (a JSON body, a .json document) cannot follow a redirect to the login page.
    script = "json" in sample.kwargs or sample.url.split("?")[0].endswith(".json")
    # Open311 clients get the spec's error list with a 403, never the login page.
    open311 = sample.url.startswith("/open311/")
    if allowed:
        assert status in sample.ok, (who, endpoint, status, response.data[:300])
    elif who == "anonymous" and not (api or script or open311):
        assert status == 302, (endpoint, status)
        assert response.location.startswith("/login?next=")
    elif who == "anonymous" and (api or script) and not open311:
        assert status == 401, (endpoint, status)
        if api:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json["error"]["message"].startswith("Log in first")
    else:
        assert status == 403, (who, endpoint, status, response.data[:300])
        if api:
            assert permission in response.json["error"]["message"]
        if open311:
            assert permission in response.json[0]["description"]


def test_anonymous_gets_200_only_from_public_urls(anon_client: FlaskClient) -> None:
    # What `make run` is checked with: every URL of the map, without logging in.
    answered = {}
    for sample in SAMPLES.values():
        with anon_client.open(sample.url, method=sample.method, **sample.kwargs) as response:
            answered[sample.method, sample.url] = response.status_code
    ok = sorted(f"{method} {url}" for (method, url), status in answered.items() if status == 200)
    assert ok == [
        "GET /api/v1",
        "GET /login",
        "GET /open311/v2/discovery.json",
        "GET /open311/v2/services.xml",
        "GET /open311/v2/services/parking.json",
        "GET /static/gridgis.css",
        "GET /static/vendor/leaflet/leaflet.js",
    ]
    # Pages redirect to the login page, the API says 401, POST /login wants its form token.
    assert set(answered.values()) == {200, 302, 401, 403}


def test_login_redirect_keeps_the_page_asked_for(anon_client: FlaskClient) -> None:
    response = anon_client.get(f"/communities/{COMMUNITY_CODE}?layout=2024版")
    assert response.status_code == 302
    assert response.location == (
        f"/login?next=/communities/{COMMUNITY_CODE}?layout%3D2024%E7%89%88"
    )


def test_an_endpoint_without_a_permission_is_refused(app: Flask, client: FlaskClient) -> None:
    def forgotten() -> str:
        return "secret"

    app.add_url_rule("/forgotten", view_func=forgotten)
    app.add_url_rule("/api/v1/forgotten", view_func=forgotten, endpoint="api_forgotten")
    page = client.get("/forgotten")
    assert page.status_code == 403 and b"secret" not in page.data
    api = client.get("/api/v1/forgotten")
    assert api.status_code == 403
    assert "declares no permission" in api.json["error"]["message"]


def test_requires_knows_the_permissions() -> None:
    with pytest.raises(ValueError, match="Unknown permission 'map:edit'"):
        requires("map:edit")


def test_wrong_role_gets_a_page_saying_so(client_for: Any) -> None:
    response = client_for("viewer").get("/admin/audit")
    assert response.status_code == 403 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "您的账号无权访问此页面" in html and "audit:read" in html


def test_bad_api_key_is_401_whatever_the_endpoint(anon_client: FlaskClient) -> None:
    for headers in (
        {"Authorization": "Bearer ggk_nothere_" + "x" * 40},
        {"X-API-Key": "not-a-key"},
    ):
        response = anon_client.get("/api/v1/communities", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["message"] == "Invalid or revoked API key."


def test_api_key_in_either_header(app: Flask, sample_accounts: Accounts) -> None:
    client = app.test_client()
    key = sample_accounts.keys["reader"]
    assert client.get("/api/v1/communities", headers={"X-API-Key": key}).status_code == 200
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/communities", headers=bearer).status_code == 200
    # The reader key has layers:read only: no routing, no pages.
    assert client.post("/api/v1/route", json=B01, headers=bearer).status_code == 403
    assert client.get("/", headers=bearer).status_code == 403


def test_discovery_lists_endpoints_and_permissions(anon_client: FlaskClient) -> None:
    body = anon_client.get("/api/v1").json
    found = {(e["path"], tuple(e["methods"])): e["permission"] for e in body["endpoints"]}
    assert found == {
        ("/api/v1", ("GET",)): "public",
        ("/api/v1/communities", ("GET",)): "layers:read",
        ("/api/v1/communities/<code>", ("GET",)): "layers:read",
        ("/api/v1/communities/<code>/<layer>", ("GET",)): "layers:read",
        ("/api/v1/route", ("POST",)): "route:read",
        ("/api/v1/route/batch", ("POST",)): "route:read",
        ("/api/v1/incidents", ("POST",)): "incidents:report",
        ("/api/v1/incidents", ("GET",)): "incidents:read",
        ("/api/v1/incidents/<int:incident_id>", ("GET",)): "incidents:read",
        ("/api/v1/incidents/<int:incident_id>/duplicates", ("GET",)): "incidents:read",
        ("/api/v1/incidents/<int:incident_id>/actions/<action>", ("POST",)): "incidents:read",
        ("/api/v1/incidents/<int:incident_id>/notes", ("POST",)): "incidents:read",
        ("/api/v1/rates", ("GET",)): "incidents:read",
        ("/api/v1/incidents/<int:incident_id>/photos", ("POST",)): "incidents:report",
        ("/api/v1/incidents/<int:incident_id>/photos", ("GET",)): "incidents:read",
        ("/api/v1/photos/<int:photo_id>", ("GET",)): "incidents:read",
    }
    assert "X-API-Key" in body["authentication"]["api_key"]
