"""GET /api/v1/rates: the three rates as JSON and CSV with their definitions; grid staff's scope."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.incidents.intake import Report, take_in
from gridgis.models import Incident
from tests.support import factories as make
from tests.support.incidents import person
from tests.support.sample_community import GRID_CODES
from tests.support.web import ClientFor

BEIJING = dt.timezone(dt.timedelta(hours=8))
REPORTED = dt.datetime(2026, 10, 12, 10, 0, tzinfo=BEIJING)
#: Inside building B01 (网格一) and B04 (网格三) of the sample community.
IN_G1 = (114.301, 30.5911)
IN_G3 = (114.3047, 30.5911)
WINDOW = "period=month&from=2026-10-01&to=2026-10-31"


@pytest.fixture
def incidents(db: Session) -> list[Incident]:
    """Three October incidents: two in 网格一 (one accepted in time), one in 网格三."""
    make.category(
        db, "rates-test", response_hours=2, resolution_hours=24, deadline_basis="calendar"
    )
    made = []
    with clock.frozen(REPORTED + dt.timedelta(days=5)):
        for lon, lat in (IN_G1, IN_G1, IN_G3):
            report = Report(
                channel="walk_in", category="rates-test", lon=lon, lat=lat, reported_at=REPORTED
            )
            made.append(take_in(db, report, actor=person("admin")).incident)
    made[0].responded_at = REPORTED + dt.timedelta(hours=1)
    made[0].status = "in_progress"
    db.commit()  # a savepoint of the test's transaction: the app's requests see it
    return made


def test_json_by_grid_with_the_definitions(
    client_for: ClientFor, incidents: list[Incident]
) -> None:
    answer = client_for("dispatcher").get(f"/api/v1/rates?by=grid&{WINDOW}")
    assert answer.status_code == 200
    body = answer.get_json()
    rows = {r["grid"]: r for r in body["rows"]}
    assert set(rows) == {GRID_CODES[0], GRID_CODES[2]}
    first = rows[GRID_CODES[0]]
    assert (first["period"], first["received"], first["response_due"]) == ("2026-10-01", 2, 2)
    assert first["response_rate"] == 0.5 and first["resolution_rate"] == 0.0
    assert first["satisfaction_rate"] is None  # nothing rated: no rate, not 0
    assert body["total"]["received"] == 3
    assert body["definitions"]["response_rate"]["en"].startswith("Response rate =")
    assert (body["from"], body["to"]) == ("2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00")


def test_csv_carries_the_definitions_above_the_table(
    client_for: ClientFor, incidents: list[Incident]
) -> None:
    answer = client_for("dispatcher").get(f"/api/v1/rates?by=grid&{WINDOW}&format=csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert 'filename="rates-grid-month.csv"' in answer.headers["Content-Disposition"]
    text = answer.data.decode("utf-8")
    assert text.startswith("\ufeff#,as_of,")  # a BOM, for Excel
    lines = text.lstrip("\ufeff").splitlines()
    assert any(line.startswith("#,response_rate,响应率 = 按时响应 ÷ 应响应") for line in lines)
    table = list(csv.DictReader(io.StringIO("\n".join(x for x in lines if x[0] != "#"))))
    assert [(r["grid"], r["received"], r["response_rate"]) for r in table] == [
        (GRID_CODES[0], "2", "0.5"),
        (GRID_CODES[2], "1", "0.0"),
        ("", "3", "0.3333"),
    ]
    assert table[-1]["period"] == "total"


def test_grid_staff_see_their_own_grid_only(
    client_for: ClientFor, incidents: list[Incident]
) -> None:
    body = client_for("grid_staff").get(f"/api/v1/rates?by=grid&{WINDOW}").get_json()
    assert [r["grid"] for r in body["rows"]] == [GRID_CODES[0]]
    assert body["total"]["received"] == 2
    by_channel = client_for("grid_staff").get(f"/api/v1/rates?{WINDOW}&by=channel").get_json()
    assert [(r["channel"], r["received"]) for r in by_channel["rows"]] == [("walk_in", 2)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("format=xlsx", "format must be json or csv"),
        ("by=street", "by must be one of"),
        ("period=year", "period must be one of"),
        ("from=2026-11-01&to=2026-10-01", "must be before"),
        ("from=yesterday", "must be an ISO 8601 time"),
    ],
)
def test_a_bad_question_gets_a_400_that_says_why(
    client: FlaskClient, query: str, message: str
) -> None:
    answer = client.get(f"/api/v1/rates?{query}")
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]["message"]


def test_a_viewer_may_not_read_the_rates(client_for: ClientFor) -> None:
    assert client_for("viewer").get("/api/v1/rates").status_code == 403
