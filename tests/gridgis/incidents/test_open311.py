"""Open311 GeoReport v2 without the web: services, definitions, filing, finding, errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.logins import AuthenticationFailed
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import DatabaseUnavailable, InvalidInput, NotFound, OutsideCoverage
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import move
from gridgis.incidents.open311 import errors_of, service_definition, services
from gridgis.incidents.open311_requests import (
    find_request,
    find_requests,
    find_token,
    parse_filter,
    parse_submission,
    submit,
)
from gridgis.models import Incident, IncidentEvent, IncidentReporter
from tests.support import factories as make
from tests.support.incidents import IN_GRID_B, IN_UNIT_1, MONDAY, person, report, staff_member
from tests.support.leaks import REPORTERS, ROUTING_CITY

CLIENT = Principal(kind="apikey", name="resident-app", permissions=frozenset({"open311:write"}))
DISPATCHER = person("dispatcher")
#: A POST as the spec's example request sends it, in the routing city.
FORM = [
    ("jurisdiction_id", "C1"),
    ("service_code", "parking"),
    ("lat", str(IN_UNIT_1[1])),
    ("long", str(IN_UNIT_1[0])),
    ("email", "chen@example.cn"),
    ("device_id", "tt222111"),
    ("account_id", "123456"),
    ("first_name", "居民"),
    ("last_name", "陈"),
    ("phone", "13911112222"),
    ("description", "楼下长期违停，堵住消防通道"),
    ("media_url", "http://img.example.cn/p/1.jpg"),
]
PERSONAL = (*REPORTERS, *ROUTING_CITY, "chen@example.cn", "tt222111", "123456")


@pytest.fixture(autouse=True)
def monday() -> Iterator[clock.FixedClock]:
    with clock.frozen(MONDAY + dt.timedelta(hours=1)) as fixed:
        yield fixed


def no_personal_data(answer: object) -> None:
    text = json.dumps(answer, ensure_ascii=False)
    assert not [value for value in PERSONAL if value in text], text


def test_services_are_the_categories_with_nothing_internal(
    db_session: Session, city: dict[str, object]
) -> None:
    found = services(db_session)
    assert [s["service_code"] for s in found] == ["medical", "parking", "property"]
    medical, parking, prop = found
    assert list(parking) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert parking["service_name"] == "违停" and parking["type"] == "realtime"
    assert parking["metadata"] is False and parking["group"] == "联合执法"
    assert parking["description"] == (
        "由事发地所在网格的网格团队处理，并转交交警队、城管执法局。1小时内响应，8小时内办结（工作时间）。"
    )
    assert parking["keywords"] == "违停, Parking, parking"
    assert (medical["metadata"], medical["group"]) == (True, "帮扶服务")
    assert (prop["metadata"], prop["group"]) == (True, "物业服务")
    # The volunteer team and the property flag are the office's business.
    assert "white" not in json.dumps(found) and "is_property" not in json.dumps(found)
    english = services(db_session, "en")[1]
    assert english["service_name"] == "Parking" and english["group"] == "Joint enforcement"
    assert english["description"].startswith("Handled by the grid team of the place, with 交警队")


def test_a_definition_says_what_a_client_is_asked(
    db_session: Session, city: dict[str, object]
) -> None:
    assert service_definition(db_session, "medical", "en") == {
        "service_code": "medical",
        "attributes": [
            {
                "variable": True,
                "code": "urgent",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": "Is it urgent (a fall, a sudden illness)?",
                "values": [{"key": "yes", "name": "Urgent"}, {"key": "no", "name": "Not urgent"}],
            }
        ],
    }
    (area,) = service_definition(db_session, "property")["attributes"]
    assert area["code"] == "area" and area["required"] is False
    assert [v["key"] for v in area["values"]] == ["common", "home"]
    assert service_definition(db_session, "parking") == {
        "service_code": "parking",
        "attributes": [],
    }
    with pytest.raises(NotFound, match="service_code 'potholes' was not found"):
        service_definition(db_session, "potholes")


def test_a_post_becomes_an_incident_and_its_reporter(
    db_session: Session, city: dict[str, object]
) -> None:
    (answer,) = submit(db_session, FORM, actor=CLIENT)
    incident = db_session.get(Incident, answer["service_request_id"])
    assert incident is not None and incident.channel == "open311"
    assert answer == {
        "service_request_id": incident.id,
        "token": incident.token,
        "service_notice": "已受理，由网格A团队、城管执法局、交警队处理，"
        "预计2026-12-01 11:00前办结。",
        "account_id": None,
    }
    assert incident.routing["grid_code"] == "A" and incident.created_by == "apikey:resident-app"
    assert incident.description == "楼下长期违停，堵住消防通道"
    # Family name first for a Chinese name; email, device and account are not kept.
    reporter = db_session.scalar(sa.select(IncidentReporter))
    assert reporter is not None and (reporter.name, reporter.phone) == ("陈居民", "13911112222")
    event = db_session.scalar(sa.select(IncidentEvent).where(IncidentEvent.action == "take_in"))
    assert event is not None and event.data is not None
    assert event.data["source"] == {"media_url": "http://img.example.cn/p/1.jpg"}
    assert "chen@example.cn" not in json.dumps(event.data, ensure_ascii=False)
    no_personal_data(answer)


def test_attributes_are_checked_against_the_definition(
    db_session: Session, city: dict[str, object]
) -> None:
    medical = [("service_code", "medical"), ("lat", "30.50105"), ("long", "114.30105")]
    with pytest.raises(InvalidInput, match=r"attribute\[urgent\] is required"):
        submit(db_session, medical, actor=CLIENT)
    with pytest.raises(InvalidInput) as refused:
        submit(
            db_session,
            [*medical, ("attribute[urgent]", "maybe"), ("attribute[colour]", "red")],
            actor=CLIENT,
        )
    assert [refused.value.user_msg, *refused.value.details] == [
        "attribute[colour] is not asked by service 'medical'; "
        "GET services/medical lists its attributes.",
        "attribute[urgent] must be one of yes, no.",
    ]
    with pytest.raises(InvalidInput, match="takes one value"):
        submit(
            db_session,
            [*medical, ("attribute[urgent][]", "yes"), ("attribute[urgent][]", "no")],
            actor=CLIENT,
        )
    (answer,) = submit(db_session, [*medical, ("attribute[urgent]", "yes")], actor=CLIENT)
    event = db_session.scalar(
        sa.select(IncidentEvent).where(IncidentEvent.incident_id == answer["service_request_id"])
    )
    assert event is not None and event.data is not None
    assert event.data["source"] == {"attribute[urgent]": "yes"}


def test_an_address_string_locates_a_request(db_session: Session, city: dict[str, object]) -> None:
    fields = [("service_code", "parking"), ("address_string", "丽景小区1栋")]
    (answer,) = submit(db_session, fields, actor=CLIENT)
    incident = db_session.get(Incident, answer["service_request_id"])
    assert incident is not None and incident.rule == "address"
    assert incident.routing["building_code"] == "X"


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        (
            [],
            [
                "service_code was not provided; GET services lists the codes.",
                "A location was not provided: send lat and long (WGS-84), or address_string.",
            ],
        ),
        (
            [("service_code", "parking"), ("address_id", "545483")],
            [
                "A location was not provided: send lat and long (WGS-84), or address_string. "
                "address_id is not supported here."
            ],
        ),
        (
            [("service_code", "parking"), ("lat", "30.5")],
            ["long was not provided: lat and long go together."],
        ),
        (
            [("service_code", "parking"), ("lat", "95"), ("long", "east")],
            [
                "lat '95' is not a number between -90 and 90.",
                "long 'east' is not a number between -180 and 180.",
            ],
        ),
        (
            [("service_code", "parking"), ("address_string", "x"), ("description", "长" * 4001)],
            ["description is 4001 characters long; at most 4000."],
        ),
        (
            [("service_code", "parking"), ("address_string", "x"), ("media_url", "file:///etc")],
            ["media_url must be an http(s) URL of at most 500 characters."],
        ),
    ],
)
def test_bad_posts_say_every_problem(fields: list[tuple[str, str]], problems: list[str]) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_submission(fields)
    assert [refused.value.user_msg, *refused.value.details] == problems


def test_a_latin_name_and_the_crs_extension() -> None:
    submission = parse_submission(
        [
            ("service_code", "parking"),
            ("lat", "30.5"),
            ("long", "114.3"),
            ("crs", "gcj02"),
            ("first_name", "John"),
            ("last_name", "Smith"),
        ]
    )
    assert submission.report.reporter_name == "John Smith"
    assert submission.report.crs == "gcj02" and submission.report.channel == "open311"


def test_jurisdictions_are_community_codes(db_session: Session, city: dict[str, object]) -> None:
    with pytest.raises(NotFound, match=r"jurisdiction_id 'sfgov\.org' was not found"):
        submit(db_session, [*FORM[1:], ("jurisdiction_id", "sfgov.org")], actor=CLIENT)
    other = [("jurisdiction_id", "C2"), *FORM[1:]]
    make.community(db_session, "C2", make.box(115.0, 31.0, 115.1, 31.1))
    with pytest.raises(InvalidInput, match="not in jurisdiction 'C2'"):
        submit(db_session, other, actor=CLIENT)
    far = [("service_code", "parking"), ("lat", "39.9"), ("long", "116.4")]
    with pytest.raises(OutsideCoverage):
        submit(db_session, far, actor=CLIENT)


def test_filters_by_id_code_date_and_status(
    db_session: Session, city: dict[str, object], monday: clock.FixedClock
) -> None:
    early = take_in(db_session, report(reported_at=MONDAY), actor=DISPATCHER).incident
    monday.advance(hours=1)
    medical = take_in(
        db_session, report(IN_GRID_B, "medical", reported_at=None), actor=DISPATCHER
    ).incident
    move(db_session, early.id, "reject", actor=DISPATCHER, reason="陈居民说已自行处理")

    def ids(*args: tuple[str, str]) -> list[int]:
        found = find_requests(db_session, parse_filter(args), DISPATCHER)
        return [r["service_request_id"] for r in found]

    assert ids() == [medical.id, early.id]  # newest first
    assert ids(("service_code", "medical")) == [medical.id]
    assert ids(("service_code", "parking,medical")) == [medical.id, early.id]
    assert ids(("status", "closed")) == [early.id]
    assert ids(("status", "open")) == [medical.id]
    assert ids(("status", "open"), ("status", "closed")) == [medical.id, early.id]
    assert ids(("start_date", "2026-11-30T09:30:00+08:00")) == [medical.id]
    assert ids(("end_date", "2026-11-30T01:30:00Z")) == [early.id]
    assert ids(("start_date", "2026-12-01T00:00:00+08:00")) == []
    # service_request_id overrides every other argument.
    assert ids(("service_request_id", f"{early.id}"), ("status", "open")) == [early.id]
    rejected = find_requests(db_session, parse_filter([("status", "closed")]), DISPATCHER)[0]
    # The status notes come from the vocabulary, never from the dispatcher's note.
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "不予立案")
    no_personal_data(find_requests(db_session, parse_filter([]), DISPATCHER))


def test_a_request_as_the_spec_shows_it(db_session: Session, city: dict[str, object]) -> None:
    (answer,) = submit(db_session, FORM, actor=CLIENT)
    request_id = answer["service_request_id"]
    (found,) = find_request(db_session, str(request_id), DISPATCHER)
    assert found == {
        "service_request_id": request_id,
        "status": "open",
        "status_notes": "受理",
        "service_name": "违停",
        "service_code": "parking",
        "description": "楼下长期违停，堵住消防通道",
        "agency_responsible": "网格A团队、城管执法局、交警队",
        "service_notice": answer["service_notice"],
        "requested_datetime": "2026-11-30T10:00:00+08:00",
        "updated_datetime": "2026-11-30T10:00:00+08:00",
        "expected_datetime": "2026-12-01T11:00:00+08:00",
        "address": None,
        "address_id": "X",
        "zipcode": None,
        "lat": 30.50105,
        "long": 114.30105,
        "media_url": "http://img.example.cn/p/1.jpg",
        "extended_attributes": {
            "detailed_status": "received",
            "detailed_status_name": "受理",
            "channel": "open311",
            "channel_name": "Open311",
            "community": "C1",
            "grid": "A",
            "grid_name": "网格A",
        },
    }
    (english,) = find_request(db_session, str(request_id), DISPATCHER, lang="en")
    assert english["status_notes"] == "Received" and english["service_name"] == "Parking"
    assert english["agency_responsible"] == "the grid team of 网格A, 城管执法局, 交警队"
    no_personal_data([found, english])


def test_merged_requests_say_into_which(db_session: Session, city: dict[str, object]) -> None:
    first = take_in(db_session, report(), actor=DISPATCHER).incident
    second = take_in(db_session, report(), actor=DISPATCHER).incident
    move(db_session, second.id, "merge", actor=DISPATCHER, reason="同一辆车", into=first.id)
    (found,) = find_request(db_session, str(second.id), DISPATCHER)
    assert found["status"] == "closed" and found["service_notice"] is None
    assert found["status_notes"] == f"重复诉求，已合并至诉求 {first.id}。"


def test_grid_staff_read_their_own_area_only(db_session: Session, city: dict[str, object]) -> None:
    in_a = take_in(db_session, report(), actor=DISPATCHER).incident
    in_b = take_in(db_session, report(IN_GRID_B), actor=DISPATCHER).incident
    worker = staff_member(db_session, "GW")  # grid A's worker
    seen = find_requests(db_session, parse_filter([]), worker)
    assert [r["service_request_id"] for r in seen] == [in_a.id]
    with pytest.raises(NotFound, match=f"service_request_id '{in_b.id}' was not found"):
        find_request(db_session, str(in_b.id), worker)
    for text in ("abc", "9" * 30, "-1"):
        with pytest.raises(NotFound):
            find_request(db_session, text, DISPATCHER)


def test_the_jurisdiction_narrows_the_requests(
    db_session: Session, city: dict[str, object]
) -> None:
    take_in(db_session, report(), actor=DISPATCHER)
    community_id = city["community"].id  # type: ignore[attr-defined]
    assert len(find_requests(db_session, parse_filter([]), DISPATCHER, community_id=community_id))
    assert find_requests(db_session, parse_filter([]), DISPATCHER, community_id=-1) == []


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([("service_request_id", "12,x")], "service_request_id 'x' is not a request id"),
        ([("start_date", "2026-11-30")], "start_date '2026-11-30' needs a time zone"),
        ([("end_date", "monday")], "end_date must be an ISO 8601 time"),
        (
            [("start_date", "2026-01-01T00:00:00Z"), ("end_date", "2026-06-01T00:00:00Z")],
            "may not span more than 90 days",
        ),
        (
            [("start_date", "2026-06-01T00:00:00Z"), ("end_date", "2026-05-01T00:00:00Z")],
            "start_date is after end_date",
        ),
        ([("status", "pending")], "status must be open, closed, or both"),
    ],
)
def test_bad_filters_are_refused(args: list[tuple[str, str]], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_filter(args)


def test_the_default_window_is_the_last_90_days() -> None:
    wanted = parse_filter([])
    assert wanted.end == clock.now() and wanted.start == clock.now() - dt.timedelta(days=90)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_filter([("start_date", "2026-01-01T00:00:00Z")]).end == start + dt.timedelta(
        days=90
    )


def test_tokens_name_their_request(db_session: Session, city: dict[str, object]) -> None:
    (answer,) = submit(db_session, FORM, actor=CLIENT)
    assert find_token(db_session, answer["token"]) == [
        {"service_request_id": answer["service_request_id"], "token": answer["token"]}
    ]
    with pytest.raises(NotFound, match="token 'nope' was not found"):
        find_token(db_session, "nope")


def test_errors_are_the_specs_list() -> None:
    refused = InvalidInput("service_code was not provided.", details=["lat was not provided."])
    assert errors_of(refused) == (
        400,
        [
            {"code": 400, "description": "service_code was not provided."},
            {"code": 400, "description": "lat was not provided."},
        ],
    )
    assert errors_of(NotFound("No such."))[0] == 404
    assert errors_of(OutsideCoverage("Outside."))[0] == 400
    assert errors_of(AuthenticationFailed("Invalid or revoked API key."))[0] == 403
    assert errors_of(Forbidden("No."))[0] == 403
    assert errors_of(DatabaseUnavailable("Down."))[0] == 503
