"""Open311 GeoReport v2 over HTTP: the spec's examples, its errors, and no personal data ever.

The resources are read as a GeoReport client reads them: XML (the spec's
required format, with its declaration, root elements and item names) and
JSON (the same structure). Every answer of every test here is searched for
the fixtures' names, phones and email: none may appear. The last test runs a
live server and talks to it with nothing but ``urllib.request``.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

# Only our own answers are parsed here (trusted), never a stranger's XML.
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from gridgis import clock
from gridgis.access.apikeys import create_key
from gridgis.incidents.lifecycle import move
from gridgis.models import Incident, IncidentReporter
from tests.support import factories as make
from tests.support.incidents import person
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, build_sample_community
from tests.support.web import ACTOR, STAFF_NAMES, STAFF_PHONES, TEST_SECRET_KEY, Accounts, login
from web import create_app

#: Monday 2026-11-30, 10:00 in Beijing.
AT = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
#: Inside building B01 (网格一) and B04 (网格三).
IN_B01 = (114.3011, 30.5911)
IN_B04 = (114.3047, 30.5911)
REPORTER = {
    "first_name": "居民",
    "last_name": "陈",
    "phone": "13911112222",
    "email": "chen.jumin@example.cn",
    "device_id": "device-7f3a",
    "account_id": "acct-20931",
}
#: What no Open311 answer may hold: reporters' and staff's names, phones, email, devices.
PERSONAL = (
    "陈居民",  # as stored: family name first
    *(v for k, v in REPORTER.items() if not k.endswith("_name")),
    *STAFF_NAMES,
    *STAFF_PHONES,
)
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


class Open311:
    """A GeoReport client on the test app: keeps every answer to search them all."""

    def __init__(self, client: FlaskClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys
        self.answers: list[TestResponse] = []

    def get(self, path: str, *, key: str | None = None, **args: str) -> TestResponse:
        if key is not None:
            args["api_key"] = self.keys[key]
        response = self.client.get(f"/open311/v2/{path}", query_string=args)
        self.answers.append(response)
        return response

    def post(self, fmt: str = "xml", *, key: str | None = "writer", **fields: str) -> TestResponse:
        if key is not None:
            fields["api_key"] = self.keys[key]
        response = self.client.post(f"/open311/v2/requests.{fmt}", data=fields)
        self.answers.append(response)
        return response

    def file(self, where: tuple[float, float] = IN_B01, **fields: str) -> dict[str, Any]:
        """File a request at ``where`` (JSON), as the resident app would; its answer."""
        values = {"service_code": "streetlight", "long": str(where[0]), "lat": str(where[1])}
        response = self.post("json", **{**values, **REPORTER, **fields})
        assert response.status_code == 200, response.get_data(as_text=True)
        (answer,) = response.json  # type: ignore[misc]
        return dict(answer)

    def leaked(self) -> list[str]:
        text = "\n".join(r.get_data(as_text=True) for r in self.answers)
        return [value for value in PERSONAL if value in text]


@pytest.fixture(autouse=True)
def monday() -> Iterator[clock.FixedClock]:
    with clock.frozen(AT) as fixed:
        yield fixed


def add_catalogue(session: Session) -> None:
    """Three services: one with a department, one for help, one for the property company."""
    urban = make.department(session, "CG-311", "urban_management", name="城管执法局")
    make.category(
        session,
        "streetlight",
        name_zh="路灯损坏",
        name_en="Broken street light",
        departments=(urban,),
        response_hours=2,
        resolution_hours=24,
    )
    make.category(
        session, "medical", name_zh="医疗救助", name_en="Medical help", volunteer_team="white"
    )
    make.category(session, "leak", name_zh="漏水", name_en="Leak", is_property=True)


def add_keys(session: Session) -> dict[str, str]:
    return {
        name: create_key(session, f"o311-{name}", scopes, actor=ACTOR)[1]
        for name, scopes in {
            "writer": ["open311:write"],
            "reader": ["incidents:read"],
            "both": ["open311:write", "incidents:read"],
            "router": ["route:read"],
        }.items()
    }


@pytest.fixture
def o311(app: Flask, db: Session) -> Iterator[Open311]:
    add_catalogue(db)
    keys = add_keys(db)
    db.commit()  # a savepoint of the test's transaction: the app's requests see it
    client = Open311(app.test_client(), keys)
    yield client
    assert not client.leaked(), client.leaked()


def xml(response: TestResponse, root: str) -> ET.Element:
    assert response.content_type == "text/xml; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.startswith(XML_DECLARATION), text[:80]
    element = ET.fromstring(response.data)
    assert element.tag == root
    return element


def errors(response: TestResponse, status: int) -> list[str]:
    """The descriptions of the spec's error list, in whichever format it came."""
    assert response.status_code == status, response.get_data(as_text=True)
    if response.content_type.startswith("application/json"):
        assert response.content_type == "application/json; charset=utf-8"
        body = response.json
        assert isinstance(body, list)  # never the app's {"error": ...}
        assert all(set(e) == {"code", "description"} and e["code"] == status for e in body)
        return [e["description"] for e in body]
    root = xml(response, "errors")
    assert all(e.findtext("code") == str(status) for e in root.findall("error"))
    return [e.findtext("description") or "" for e in root.findall("error")]


def test_discovery_names_this_endpoint(o311: Open311) -> None:
    root = xml(o311.get("discovery.xml"), "discovery")
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    (endpoint,) = root.findall("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url") == "http://localhost/open311/v2"
    assert endpoint.findtext("type") == "production"
    assert [f.text for f in endpoint.findall("formats/format")] == [
        "text/xml",
        "application/json",
    ]
    assert "gridgis apikey add" in (root.findtext("key_service") or "")
    body = o311.get("discovery.json").json
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]


def test_the_service_list_as_the_spec_shows_it(o311: Open311) -> None:
    root = xml(o311.get("services.xml"), "services")
    found = {s.findtext("service_code"): s for s in root.findall("service")}
    light = found["streetlight"]
    assert [c.tag for c in light] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert light.findtext("service_name") == "路灯损坏"
    assert light.findtext("metadata") == "false" and light.findtext("type") == "realtime"
    assert "城管执法局" in (light.findtext("description") or "")
    assert found["medical"].findtext("metadata") == "true"
    assert found["leak"].findtext("group") == "物业服务"
    as_json = {s["service_code"]: s for s in o311.get("services.json", lang="en").json}
    assert as_json["streetlight"]["service_name"] == "Broken street light"
    assert as_json["medical"]["metadata"] is True
    assert o311.get("services.json").headers["Content-Type"] == "application/json; charset=utf-8"
    # The jurisdiction is a community code; another is not found.
    assert o311.get("services.json", jurisdiction_id=COMMUNITY_CODE).status_code == 200
    assert errors(o311.get("services.xml", jurisdiction_id="sfgov.org"), 404) == [
        "jurisdiction_id 'sfgov.org' was not found; it is the code of a community (社区代码), "
        "or leave it out."
    ]


def test_a_service_definition_as_the_spec_shows_it(o311: Open311) -> None:
    root = xml(o311.get("services/medical.xml"), "service_definition")
    assert root.findtext("service_code") == "medical"
    (attribute,) = root.findall("attributes/attribute")
    assert [c.tag for c in attribute] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert attribute.findtext("variable") == "true" and attribute.findtext("code") == "urgent"
    assert attribute.findtext("datatype") == "singlevaluelist"
    assert attribute.findtext("datatype_description") == ""  # empty, as in the spec's example
    assert [(v.findtext("key"), v.findtext("name")) for v in attribute.findall("values/value")] == [
        ("yes", "紧急"),
        ("no", "不紧急"),
    ]
    body = o311.get("services/medical.json").json
    assert body["attributes"][0]["datatype_description"] is None
    assert o311.get("services/streetlight.json").json == {
        "service_code": "streetlight",
        "attributes": [],
    }
    assert errors(o311.get("services/potholes.json"), 404) == [
        "service_code 'potholes' was not found; GET services lists the codes."
    ]


def test_post_with_lat_long_answers_the_request_id(o311: Open311, db: Session) -> None:
    response = o311.post(
        service_code="streetlight",
        lat=str(IN_B01[1]),
        long=str(IN_B01[0]),
        description="路灯不亮 & 有电线外露 <危险>",
        media_url="http://img.example.cn/p/1.jpg",
        **REPORTER,
    )
    assert response.status_code == 200
    (request,) = xml(response, "service_requests").findall("request")
    assert [c.tag for c in request] == [
        "service_request_id",
        "token",
        "service_notice",
        "account_id",
    ]
    assert request.find("account_id") is not None and request.findtext("account_id") == ""
    incident = db.get(Incident, int(request.findtext("service_request_id") or 0))
    assert incident is not None and incident.channel == "open311"
    assert incident.token == request.findtext("token")
    assert incident.routing["grid_code"] == GRID_CODES[0]
    assert incident.created_by == "apikey:o311-writer"
    assert "第一网格团队" in (request.findtext("service_notice") or "")
    reporter = db.scalar(
        sa.select(IncidentReporter).where(IncidentReporter.incident_id == incident.id)
    )
    assert reporter is not None and (reporter.name, reporter.phone) == ("陈居民", "13911112222")
    # Escaped in XML, and read back as written.
    (read,) = xml(o311.get(f"requests/{incident.id}.xml", key="reader"), "service_requests")
    assert read.findtext("description") == "路灯不亮 & 有电线外露 <危险>"
    assert read.findtext("media_url") == "http://img.example.cn/p/1.jpg"


def test_post_with_an_address_string(o311: Open311, db: Session) -> None:
    response = o311.post(
        "json",
        service_code="streetlight",
        address_string="南湖路04号",
        jurisdiction_id=COMMUNITY_CODE,
    )
    assert response.status_code == 200 and response.content_type.startswith("application/json")
    (answer,) = response.json  # type: ignore[misc]
    assert set(answer) == {"service_request_id", "token", "service_notice", "account_id"}
    assert answer["account_id"] is None
    incident = db.get(Incident, answer["service_request_id"])
    assert incident is not None and incident.rule == "address"
    assert incident.routing["building_code"] == "B04"


def test_post_errors_are_the_specs_list(o311: Open311, db: Session) -> None:
    missing = {"service_code": "streetlight", "lat": "30.5911", "long": "114.3011"}
    assert errors(o311.post(key=None, **missing), 403) == [
        "api_key is missing: send the api_key of a key with the scope 'open311:write' "
        "(file service requests (Open311 clients)), made with `gridgis apikey add`."
    ]
    assert errors(o311.post("json", key=None, **missing), 403)
    o311.keys["made-up"] = "ggk_madeupxx_" + "x" * 43
    assert errors(o311.post(key="made-up", **missing), 403) == ["Invalid or revoked API key."]
    assert errors(o311.post("json", key="reader", **missing), 403) == [
        "Your key does not allow this (it needs the permission 'open311:write': "
        "file service requests (Open311 clients))."
    ]
    assert errors(o311.post("json"), 400) == [
        "service_code was not provided; GET services lists the codes.",
        "A location was not provided: send lat and long (WGS-84), or address_string.",
    ]
    assert errors(o311.post(**{**missing, "service_code": "potholes"}), 404)
    assert errors(o311.post(**missing, jurisdiction_id="sfgov.org"), 404)
    assert errors(
        o311.post("json", service_code="medical", lat="30.5911", long="114.3011"), 400
    ) == ["attribute[urgent] is required by service 'medical'."]
    assert errors(o311.post(service_code="streetlight", lat="39.9", long="116.4"), 400) == [
        "The place is outside every community gridgis covers; it cannot be taken in here."
    ]
    assert errors(o311.post(service_code="streetlight", address_string="不存在的地方"), 400)
    # A request refused after the incident was stored leaves nothing behind.
    before = db.scalar(sa.select(sa.func.count()).where(Incident.channel == "open311"))
    make.community(db, "C-FAR", make.box(115.0, 31.0, 115.1, 31.1))
    db.commit()
    assert errors(o311.post(**missing, jurisdiction_id="C-FAR"), 400) == [
        "The place is not in jurisdiction 'C-FAR'; check the point or the address, "
        "or leave jurisdiction_id out."
    ]
    assert db.scalar(sa.select(sa.func.count()).where(Incident.channel == "open311")) == before


def test_reads_need_a_key_that_reads_incidents(o311: Open311) -> None:
    request_id = o311.file()["service_request_id"]
    for path in ("requests.xml", "requests.json", f"requests/{request_id}.json"):
        refused = errors(o311.get(path), 403)
        assert refused[0].startswith("api_key is missing: send the api_key of a key with the scope")
        assert "'incidents:read'" in refused[0]
        assert errors(o311.get(path, key="writer"), 403)
        assert o311.get(path, key="reader").status_code == 200
    # The key may come as a header too; a session with incidents:read reads as well.
    headers = {"X-API-Key": o311.keys["reader"]}
    assert o311.client.get("/open311/v2/requests.json", headers=headers).status_code == 200


def test_get_requests_with_filters(o311: Open311, db: Session, monday: clock.FixedClock) -> None:
    first = o311.file()["service_request_id"]
    monday.advance(hours=2)
    second = o311.file(IN_B04, service_code="leak", **{"attribute[area]": "common"})[
        "service_request_id"
    ]
    move(db, first, "reject", actor=person("admin"), reason="陈居民来电说灯已修好")
    db.commit()

    def ids(fmt: str = "json", **args: str) -> list[int]:
        response = o311.get(f"requests.{fmt}", key="reader", **args)
        assert response.status_code == 200, response.get_data(as_text=True)
        if fmt == "json":
            return [r["service_request_id"] for r in response.json]
        root = xml(response, "service_requests")
        return [int(r.findtext("service_request_id") or 0) for r in root.findall("request")]

    assert ids() == ids("xml") == [second, first]
    assert ids(status="open") == ids("xml", status="open") == [second]
    assert ids(status="closed") == [first]
    assert ids(status="open,closed") == [second, first]
    assert ids(service_code="leak") == [second]
    assert ids(start_date="2026-11-30T11:00:00+08:00") == [second]
    assert ids(start_date="2026-11-30T00:00:00Z", end_date="2026-11-30T02:30:00Z") == [first]
    assert ids(service_request_id=f"{first},{second}", status="open") == [second, first]
    assert ids(jurisdiction_id=COMMUNITY_CODE) == [second, first]
    assert errors(o311.get("requests.json", key="reader", status="pending"), 400) == [
        "status must be open, closed, or both (comma-delimited)."
    ]
    assert errors(o311.get("requests.xml", key="reader", start_date="2026-11-30"), 400)
    (rejected,) = o311.get("requests.json", key="reader", status="closed").json
    assert rejected["status_notes"] == "不予立案"
    assert rejected["extended_attributes"]["detailed_status"] == "rejected"


def test_get_one_request_as_the_spec_shows_it(o311: Open311) -> None:
    answer = o311.file(media_url="http://img.example.cn/p/2.jpg")
    request_id = answer["service_request_id"]
    (request,) = xml(o311.get(f"requests/{request_id}.xml", key="reader"), "service_requests")
    assert [c.tag for c in request] == [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
        "extended_attributes",
    ]
    assert (
        request.findtext("status") == "open" and request.findtext("service_code") == "streetlight"
    )
    assert request.findtext("requested_datetime") == "2026-11-30T10:00:00+08:00"
    assert request.findtext("agency_responsible") == "第一网格团队、城管执法局"
    assert request.findtext("address") == "南湖路01号" and request.findtext("address_id") == "B01"
    assert (request.findtext("lat"), request.findtext("long")) == ("30.5911", "114.3011")
    extended = request.find("extended_attributes")
    assert extended is not None
    assert {c.tag: c.text for c in extended} == {
        "detailed_status": "received",
        "detailed_status_name": "受理",
        "channel": "open311",
        "channel_name": "Open311",
        "community": COMMUNITY_CODE,
        "grid": GRID_CODES[0],
        "grid_name": "第一网格",
    }
    (as_json,) = o311.get(f"requests/{request_id}.json", key="reader", lang="en").json
    assert as_json["service_request_id"] == request_id and as_json["zipcode"] is None
    assert (
        as_json["service_name"] == "Broken street light" and as_json["status_notes"] == "Received"
    )
    assert errors(o311.get("requests/999999999.json", key="reader"), 404) == [
        "service_request_id '999999999' was not found."
    ]
    assert errors(o311.get("requests/abc.xml", key="reader"), 404)


def test_tokens_lead_to_their_request(o311: Open311) -> None:
    answer = o311.file()
    token = answer["token"]
    (found,) = xml(o311.get(f"tokens/{token}.xml", key="writer"), "service_requests")
    assert found.findtext("service_request_id") == str(answer["service_request_id"])
    assert found.findtext("token") == token
    assert o311.get(f"tokens/{token}.json", key="writer").json == [
        {"service_request_id": answer["service_request_id"], "token": token}
    ]
    assert errors(o311.get("tokens/nope.json", key="writer"), 404)
    assert errors(o311.get(f"tokens/{token}.json", key="reader"), 403)


def test_formats_and_unknown_resources(o311: Open311) -> None:
    assert errors(o311.get("services.html"), 404) == [
        "Unknown format 'html': end the resource's name with .xml or .json."
    ]
    assert errors(o311.get("requests/1.csv", key="reader"), 404)


def test_grid_staff_read_their_own_area(
    o311: Open311, client_for: Callable[[str], FlaskClient]
) -> None:
    mine = o311.file(IN_B01)["service_request_id"]
    other = o311.file(IN_B04)["service_request_id"]
    staff = Open311(client_for("grid_staff"), {})
    assert [r["service_request_id"] for r in staff.get("requests.json").json] == [mine]
    assert errors(staff.get(f"requests/{other}.json"), 404)
    dispatcher = Open311(client_for("dispatcher"), {})
    assert [r["service_request_id"] for r in dispatcher.get("requests.json").json] == [
        other,
        mine,
    ]
    o311.answers += staff.answers + dispatcher.answers


def test_a_logged_in_post_needs_its_csrf_token(
    o311: Open311, app: Flask, sample_accounts: Accounts
) -> None:
    admin = app.test_client()
    login(admin, sample_accounts.ids["admin1"])
    del admin.environ_base["HTTP_X_CSRF_TOKEN"]
    refused = admin.post("/open311/v2/requests.json", data={"service_code": "streetlight"})
    assert errors(refused, 403)[0].startswith("This form has expired")


def test_the_api_key_field_counts_only_under_open311(o311: Open311) -> None:
    # Elsewhere a key in a link would end up in logs and histories: headers only.
    response = o311.client.get("/api/v1/communities", query_string={"api_key": o311.keys["both"]})
    assert response.status_code == 401


def test_no_personal_data_in_any_answer(
    o311: Open311, db: Session, client_for: Callable[[str], FlaskClient]
) -> None:
    """Every resource, format and language, requests in several states, read by an admin too."""
    first = o311.file()["service_request_id"]
    second = o311.file(IN_B04, description="灯杆倾斜")["service_request_id"]
    admin = person("admin")
    for action in ("register", "dispatch"):
        move(db, first, action, actor=admin)
    move(db, second, "merge", actor=admin, reason="与陈居民反映的是同一处", into=first)
    db.commit()
    # An administrator sees reporters and staff in full everywhere else in the app.
    readers = [o311, Open311(client_for("admin"), {}), Open311(client_for("dispatcher"), {})]
    for fmt in ("xml", "json"):
        for lang in ("zh", "en"):
            o311.get(f"discovery.{fmt}", lang=lang)
            o311.get(f"services.{fmt}", lang=lang)
            for code in ("streetlight", "medical", "leak"):
                o311.get(f"services/{code}.{fmt}", lang=lang)
            for reader in readers:
                key = "reader" if reader is o311 else None
                reader.get(f"requests.{fmt}", key=key, lang=lang)
                for request_id in (first, second):
                    reader.get(f"requests/{request_id}.{fmt}", key=key, lang=lang)
    merged = o311.get(f"requests/{second}.json", key="reader").json[0]
    assert merged["status"] == "closed" and str(first) in merged["status_notes"]
    assert all(r.status_code == 200 for reader in readers for r in reader.answers[2:])
    assert not [leak for reader in readers for leak in reader.leaked()]
    # The search itself works: the reporter is in the database, and would be found.
    assert db.scalar(sa.select(IncidentReporter.name).limit(1)) == "陈居民"
    # An error echoes what the client itself sent: the search would find it.
    o311.get("services.json", jurisdiction_id="陈居民")
    assert o311.leaked() == ["陈居民"]
    o311.answers.pop()


@pytest.fixture
def live_server(scratch_database_url: str) -> Iterator[tuple[str, str]]:
    """A served app on a scratch database with the sample, the catalogue and a key."""
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_catalogue(session)
        _, key = create_key(
            session, "resident-app", ["open311:write", "incidents:read"], actor=ACTOR
        )
    engine.dispose()
    app = create_app({"DATABASE_URL": scratch_database_url, "SECRET_KEY": TEST_SECRET_KEY})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/open311/v2", key
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["gridgis"].engine.dispose()


def fetch(url: str, data: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """Status, content type and body, as a plain HTTP client sees them (errors included)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)  # POST with a form when data is given
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["Content-Type"], refused.read()


def test_conformance_with_a_plain_http_client(live_server: tuple[str, str]) -> None:
    base, key = live_server
    seen: list[bytes] = []

    def call(path: str, data: dict[str, str] | None = None, **args: str) -> tuple[int, Any]:
        query = f"?{urllib.parse.urlencode(args)}" if args else ""
        status, content_type, body = fetch(f"{base}/{path}{query}", data)
        seen.append(body)
        if path.endswith(".json"):
            assert content_type == "application/json; charset=utf-8"
            return status, json.loads(body)
        assert content_type == "text/xml; charset=utf-8"
        assert body.startswith(XML_DECLARATION.encode())
        return status, ET.fromstring(body)

    status, found = call("discovery.json")
    assert status == 200 and found["endpoints"][0]["url"] == base
    status, services = call("services.xml")
    codes = [s.findtext("service_code") for s in services.findall("service")]
    assert status == 200 and {"streetlight", "medical", "leak"} <= set(codes)
    status, definition = call("services/medical.json")
    assert definition["attributes"][0]["code"] == "urgent"

    form = {
        "api_key": key,
        "jurisdiction_id": COMMUNITY_CODE,
        "service_code": "medical",
        "lat": str(IN_B01[1]),
        "long": str(IN_B01[0]),
        "attribute[urgent]": "yes",
        "description": "老人摔倒，需要帮助",
        **REPORTER,
    }
    status, filed = call("requests.xml", form)
    assert status == 200, ET.tostring(filed)
    request_id = filed.findtext("request/service_request_id")
    token = filed.findtext("request/token")
    assert request_id and request_id.isdigit() and token

    status, by_token = call(f"tokens/{token}.json", api_key=key)
    assert status == 200 and by_token == [{"service_request_id": int(request_id), "token": token}]
    status, one = call(f"requests/{request_id}.json", api_key=key)
    assert status == 200 and one[0]["status"] == "open" and one[0]["service_code"] == "medical"
    assert one[0]["extended_attributes"]["grid"] == GRID_CODES[0]
    status, listed = call("requests.xml", api_key=key, status="open", service_code="medical")
    assert [r.findtext("service_request_id") for r in listed.findall("request")] == [request_id]

    status, refused = call("requests.xml", {k: v for k, v in form.items() if k != "api_key"})
    assert status == 403 and refused.tag == "errors"
    assert (refused.findtext("error/code") or "") == "403"
    status, refused = call("requests.json", api_key=key, start_date="yesterday")
    assert status == 400 and refused[0]["code"] == 400
    status, refused = call("requests.json")
    assert status == 403 and refused[0]["description"].startswith("api_key is missing")

    text = b"\n".join(seen).decode()
    assert not [value for value in PERSONAL if value in text]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_hostile_input_gets_a_4xx_and_writes_nothing(o311: Open311, db: Session, fmt: str) -> None:
    before = db.scalar(sa.select(sa.func.count()).select_from(Incident))
    nul, point = "a\x00b", {"lat": "30.5911", "long": "114.3011"}
    light = {"service_code": "streetlight", **point}
    answers = [
        o311.get(f"services/{nul}.{fmt}"),
        o311.get(f"services.{fmt}", jurisdiction_id=nul),
        o311.get(f"tokens/{nul}.{fmt}", key="writer"),
        o311.get(f"tokens/{'x' * 5000}.{fmt}", key="writer"),
        o311.get(f"requests.{fmt}", key="reader", service_code=nul),
        o311.get(f"requests.{fmt}", key="reader", end_date="\x01"),
        o311.get(f"requests/{'9' * 40}.{fmt}", key="reader"),
        o311.post(fmt, service_code=nul, **point),
        o311.post(fmt, **light, jurisdiction_id=nul),
        o311.post(fmt, **light, crs="EPSG:99999"),
        o311.post(fmt, **light, description=nul),
        o311.post(fmt, **light, media_url="http://x/\x00"),
        o311.post(fmt, **light, **{"attribute[a\x00]": "x"}),
        o311.post(fmt, service_code="streetlight", address_string=nul),
        o311.post(fmt, service_code="streetlight", lat="nan", long="inf"),
    ]
    assert [r.status_code for r in answers if not 400 <= r.status_code < 500] == []
    for response in answers:
        assert errors(response, response.status_code)
    assert db.scalar(sa.select(sa.func.count()).select_from(Incident)) == before
