"""Hotline work-order files: the sample imports as its README says, in every format, once."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.demo.loader import load_demo
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridgis.incidents.hotline import HotlineImport, import_hotline, parse_local_time
from gridgis.models import AuditEntry, Incident, IncidentEvent, IncidentReporter
from tests.conftest import DATA_DIR
from tests.support.actors import TESTS
from tests.support.incidents import person

SAMPLE = DATA_DIR / "hotline" / "12345-sample.csv"
KEY = json.loads((DATA_DIR / "hotline" / "12345-sample.json").read_text(encoding="utf-8"))
#: The answer key's faults → what the import calls them.
REFUSED = {
    "no_location": "no_location",
    "out_of_range": "bad_coordinates",
    "duplicate_id": "duplicate_id",
    "bad_time": "bad_time",
}
DISPATCHER = person("dispatcher")
#: The demo's layout is published at load time; the sample is from 2026-11-01 to 06.
LOADED = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
IMPORTED = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
HEADER = (
    "工单编号,受理时间,来电人,联系电话,诉求类型,问题分类,诉求内容,事发地址,经度,纬度,坐标系,"
    "办理时限,工单状态"
)


@pytest.fixture
def demo(db_session: Session) -> Iterator[Session]:
    """The demo community, loaded before the sample's days; the clock stands after them."""
    with clock.frozen(LOADED):
        load_demo(db_session, actor=TESTS)
    with clock.frozen(IMPORTED):
        yield db_session


def run(session: Session, path: Path = SAMPLE, **options: Any) -> HotlineImport:
    return import_hotline(session, path, actor=DISPATCHER, **options)


def count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def sample_rows() -> list[dict[str, str]]:
    text = SAMPLE.read_bytes().decode("gb18030")
    return list(csv.DictReader(io.StringIO(text)))


def write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_sample_imports_as_its_readme_says(demo: Session) -> None:
    found = run(demo)
    special = KEY["special"]
    assert (found.rows, found.taken_in, found.already_there) == (KEY["rows"], 236, 0)
    assert sorted((r.external_id, r.reason) for r in found.refused) == sorted(
        (number, REFUSED[fault]) for fault in REFUSED for number in special[fault]
    )
    assert found.by_address == 2 and sum(found.unclassified.values()) == 1
    assert found.unclassified == Counter({"其他>其他": 1})
    assert (count(demo, Incident), count(demo, IncidentReporter)) == (236, 236)
    assert count(demo, IncidentEvent) == 236
    by_number = {i.external_id: i for i in demo.scalars(sa.select(Incident))}
    # The unmapped classification comes in unclassified, for a dispatcher, without deadlines.
    (unmapped,) = special["unmapped_class"]
    assert by_number[unmapped].category_id is None
    assert by_number[unmapped].source_category == "其他>其他"
    assert by_number[unmapped].response_due_at is None
    # The address-only rows are located by their address.
    for number in special["address_only"]:
        incident = by_number[number]
        assert incident.rule == "address" and incident.input_crs is None
        assert incident.routing["building_code"] and incident.grid_id is not None
    # Of the repeated number, the first row stands (受理时间 11:01:51, Beijing).
    (repeated,) = special["duplicate_id"]
    assert by_number[repeated].reported_at == dt.datetime(2026, 11, 1, 11, 1, 51, tzinfo=SHANGHAI)
    assert all(i.channel == "hotline_12345" and i.status == "received" for i in by_number.values())
    assert all(i.created_by == "user:dispatcher" for i in by_number.values())


def test_gcj02_points_land_within_a_metre_of_the_true_points(demo: Session) -> None:
    run(demo)
    truth = KEY["wgs84"]
    rows = demo.execute(
        sa.select(Incident.external_id, Incident.input_crs, sa.func.ST_AsText(Incident.geom))
    ).all()
    numbers = [n for n, crs, _ in rows if crs == "gcj02"]
    assert len(numbers) == 234
    distances = dict(
        demo.execute(
            sa.text(
                """SELECT t.n, ST_Distance(i.geom::geography,
                                           ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)::geography)
                   FROM unnest(CAST(:n AS text[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
                        AS t(n, lon, lat)
                   JOIN incident i ON i.external_id = t.n"""
            ),
            {
                "n": numbers,
                "lon": [truth[n][0] for n in numbers],
                "lat": [truth[n][1] for n in numbers],
            },
        ).all()
    )
    assert max(distances.values()) < 1.0, max(distances.items(), key=lambda kv: kv[1])


def test_a_second_import_adds_nothing_and_says_so(demo: Session) -> None:
    run(demo)
    again = run(demo)
    assert (again.taken_in, again.already_there, len(again.refused)) == (0, 236, 4)
    assert count(demo, Incident) == 236 and count(demo, IncidentEvent) == 236
    summary = again.summary()
    assert "already there       236  (imported before: not added again)" in summary
    assert "taken in              0" in summary


def test_the_summary_counts_every_outcome_and_names_the_rows_kept_out(demo: Session) -> None:
    summary = run(demo).summary()
    assert summary.startswith(f"{SAMPLE} (GB18030): 240 work orders, channel hotline_12345.")
    assert "taken in            236  (2 located by address)" in summary
    assert "unclassified        1  (for a dispatcher to classify)" in summary
    assert "refused               4" in summary
    assert "其他>其他  ×1" in summary
    assert (
        "row 24 (line 25) 20261101010023: time not readable: 受理时间 '2026年13月45日' is not "
        "a date and time such as 2026-11-01 17:54:51" in summary
    )
    assert "row 20 (line 21) 20261101010018: work-order number repeated in the file" in summary
    assert "row 12 (line 13) 20261101010011: no location at all" in summary
    assert "row 16 (line 17) 20261101010015: coordinates not usable" in summary
    # No personal data in what is printed about refused rows.
    assert "罗磊伟" not in summary and "15359256341" not in summary


def test_what_the_hotline_said_is_kept(demo: Session) -> None:
    run(demo)
    incident = demo.scalar(sa.select(Incident).where(Incident.external_id == "20261101010000"))
    assert incident is not None
    assert incident.description == "商铺门前堆放杂物，门前六包没有落实"
    assert incident.address == "仁和南路附近" and incident.source_category == "市容环境>门前责任区"
    assert (incident.input_crs, incident.input_lon, incident.input_lat) == (
        "gcj02",
        114.348112,
        30.505045,
    )
    assert incident.reported_at == dt.datetime(2026, 11, 1, 17, 54, 51, tzinfo=SHANGHAI)
    assert incident.response_due_at is not None and incident.resolution_due_at is not None
    reporter = demo.scalar(
        sa.select(IncidentReporter).where(IncidentReporter.incident_id == incident.id)
    )
    assert reporter is not None and (reporter.name, reporter.phone) == ("张秀娟", "18763170669")
    (event,) = incident.events
    assert event.action == "take_in" and event.actor == "user:dispatcher"
    assert event.data["source"] == {
        "诉求类型": "举报",
        "办理时限": "1个工作日",
        "工单状态": "待签收",
    }
    (entry,) = demo.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "incidents")).all()
    assert entry.action == "import" and entry.after["taken_in"] == 236
    assert entry.after["refused"] == {
        "no_location": 1,
        "bad_coordinates": 1,
        "duplicate_id": 1,
        "bad_time": 1,
    }


def snapshot(session: Session, found: HotlineImport) -> dict[str, Any]:
    """What an import did, independent of how its rows are named."""
    incidents = {
        i.external_id: (
            i.category_id,
            i.source_category,
            i.rule,
            i.grid_id,
            i.building_id,
            round(i.routing["lon"], 9),
            round(i.routing["lat"], 9),
            i.reported_at,
            i.description,
            i.address,
            i.input_crs,
        )
        for i in session.scalars(sa.select(Incident))
    }
    reporters = sorted(
        tuple(r) for r in session.execute(sa.select(IncidentReporter.name, IncidentReporter.phone))
    )
    return {
        "counts": (found.taken_in, found.already_there, found.by_address, found.unclassified),
        "refused": sorted((r.external_id, r.reason) for r in found.refused),
        "incidents": incidents,
        "reporters": reporters,
    }


def xlsx_of_sample(path: Path) -> Path:
    """The sample as Excel would hold it: numbers as numbers, times as dates."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    sheet.append(HEADER.split(","))
    for row in sample_rows():
        values: list[Any] = list(row.values())
        values[0] = int(values[0])
        with contextlib.suppress(ValueError):  # the unreadable time stays the text it was
            values[1] = dt.datetime.strptime(values[1], "%Y-%m-%d %H:%M:%S")
        values[8:10] = [float(v) if v else None for v in values[8:10]]
        sheet.append(values)
    book.save(path)
    return path


def json_of_sample(path: Path) -> Path:
    """The sample as a JSON list of objects with the same keys, coordinates as numbers."""
    items = []
    for row in sample_rows():
        item: dict[str, Any] = dict(row)
        for key in ("经度", "纬度"):
            item[key] = float(row[key]) if row[key] else None
        items.append(item)
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


def test_xlsx_and_json_versions_of_the_sample_import_the_same(
    demo: Session, tmp_path: Path
) -> None:
    done = {}
    for name, path in (
        ("csv", SAMPLE),
        ("xlsx", xlsx_of_sample(tmp_path / "12345.xlsx")),
        ("json", json_of_sample(tmp_path / "12345.json")),
    ):
        savepoint = demo.begin_nested()
        done[name] = snapshot(demo, run(demo, path))
        savepoint.rollback()
    assert len(done["csv"]["incidents"]) == 236
    assert done["xlsx"] == done["csv"]
    assert done["json"] == done["csv"]


def test_a_file_of_only_bad_rows_changes_nothing_and_says_why(
    demo: Session, tmp_path: Path
) -> None:
    bad = write_csv(
        tmp_path / "bad.csv",
        "GD1,2026-11-01 10:00:00,,,,,没有地点,,,,GCJ-02,,",
        "GD2,昨天下午,,,,,时间不对,,114.348112,30.505045,GCJ-02,,",
        "GD3,2026-11-01 10:00:00,,,,,北京,,116.397,39.908,WGS-84,,",
        "GD4,2026-11-01 10:00:00,,,,,找不到,不存在路99号,,,,,",
        ",2026-11-01 10:00:00,,,,,没有编号,,114.348112,30.505045,GCJ-02,,",
    )
    with pytest.raises(InvalidFile) as refused:
        run(demo, bad)
    assert refused.value.user_msg == (
        f"{bad}: none of its 5 work orders can be taken in; nothing was imported."
    )
    assert refused.value.details == [
        "row 1 (line 2) GD1: no location at all: Give the incident's place: "
        "lon and lat, or an address.",
        "row 2 (line 3) GD2: time not readable: 受理时间 '昨天下午' is not a date and time "
        "such as 2026-11-01 17:54:51",
        "row 3 (line 4) GD3: outside coverage: The place is outside every community gridgis "
        "covers; it cannot be taken in here.",
        "row 4 (line 5) GD4: address matches no building: The address '不存在路99号' matches "
        "no building; give the point (click the map) or a fuller address.",
        "row 5 (line 6): no work-order number: the row has no work-order number (工单编号)",
    ]
    assert count(demo, Incident) == 0 and count(demo, IncidentEvent) == 0
    assert demo.scalar(sa.select(AuditEntry).where(AuditEntry.entity == "incidents")) is None


def test_good_rows_go_in_beside_bad_ones(demo: Session, tmp_path: Path) -> None:
    mixed = write_csv(
        tmp_path / "mixed.csv",
        "GD1,2026-11-01 10:00:00,,,,交通管理>违章停车,违停,,114.348112,30.505045,GCJ-02,,",
        "GD2,2026-11-01 10:00:00,,,,,北京,,116.397,39.908,WGS-84,,",
        "GD3,2026-11-01 10:00:00,,,,,只有一个坐标,,114.348112,,GCJ-02,,",
    )
    found = run(demo, mixed)
    assert found.taken_in == 1
    assert [(r.external_id, r.reason) for r in found.refused] == [
        ("GD2", "outside_coverage"),
        ("GD3", "bad_coordinates"),
    ]
    assert found.refused[1].message == "The latitude is missing: give both lon and lat."


def test_the_crs_column_decides_each_row_and_crs_the_blank_ones(
    demo: Session, tmp_path: Path
) -> None:
    true = KEY["wgs84"]["20261101010000"]
    gcj, bd = wgs84_to_gcj02(*true), wgs84_to_bd09(*true)
    rows = [
        (n, crs, point)
        for n, (crs, point) in enumerate(
            [
                ("GCJ-02", gcj),
                ("gcj02", gcj),
                ("火星坐标", gcj),
                ("WGS-84", true),
                ("wgs84", true),
                ("GPS", true),
                ("CGCS2000", true),
                ("BD-09", bd),
                ("百度", bd),
                ("bd09ll", bd),
                ("", true),  # blank: --crs
            ]
        )
    ]
    path = write_csv(
        tmp_path / "crs.csv",
        *(f"C{n},2026-11-01 10:00,,,,,,,{p[0]!r},{p[1]!r},{crs},," for n, crs, p in rows),
    )
    found = run(demo, path, crs="EPSG:4326")
    assert found.taken_in == len(rows), found.summary()
    far = demo.execute(
        sa.text(
            "SELECT max(ST_Distance(geom::geography, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)) FROM incident"
        ),
        {"lon": true[0], "lat": true[1]},
    ).scalar_one()
    assert far < 1.0


def test_the_mapping_is_a_table_given_with_mapping(demo: Session, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("问题分类,category\n市容环境,sanitation\n交通管理 ＞ 违章停车,\n", "utf-8")
    path = write_csv(
        tmp_path / "classes.csv",
        "M1,2026-11-01 10:00,,,,市容环境>垃圾清运,,,114.348112,30.505045,GCJ-02,,",
        "M2,2026-11-01 10:00,,,,市容环境/占道经营,,,114.348112,30.505045,GCJ-02,,",
        "M3,2026-11-01 10:00,,,,交通管理>违章停车,,,114.348112,30.505045,GCJ-02,,",
    )
    found = run(demo, path, mapping=mapping)
    assert found.taken_in == 3 and found.unclassified == Counter({"交通管理>违章停车": 1})
    codes = dict(
        demo.execute(
            sa.text(
                "SELECT i.external_id, c.code FROM incident i "
                "LEFT JOIN category c ON c.id = i.category_id"
            )
        ).all()
    )
    # A first level maps every second level the table does not name; an empty one maps none.
    assert codes == {"M1": "sanitation", "M2": "sanitation", "M3": None}


def test_a_mapping_to_unknown_categories_is_refused_before_reading(
    demo: Session, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"市容环境>垃圾清运": "rubbish", "x": "parking"}', "utf-8")
    with pytest.raises(InvalidInput, match="maps to categories that do not exist: rubbish;"):
        run(demo, mapping=mapping)
    mapping.write_text('["not", "a", "table"]', "utf-8")
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        run(demo, mapping=mapping)


def test_a_file_without_the_work_order_columns_is_refused(demo: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "other.csv", "1,2", header="编号,备注")
    with pytest.raises(InvalidFile, match="no column 工单编号, 受理时间, 事发地址 or 经度/纬度"):
        run(demo, path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01 17:54:51", dt.datetime(2026, 11, 1, 17, 54, 51, tzinfo=SHANGHAI)),
        ("2026/11/1 8:05", dt.datetime(2026, 11, 1, 8, 5, tzinfo=SHANGHAI)),
        ("2026年11月1日 17时54分", dt.datetime(2026, 11, 1, 17, 54, tzinfo=SHANGHAI)),
        ("2026-11-01T17:54:51.5", dt.datetime(2026, 11, 1, 17, 54, 51, 500000, tzinfo=SHANGHAI)),
        ("2026-11-01T17:54:51+08:00", dt.datetime(2026, 11, 1, 9, 54, 51, tzinfo=dt.UTC)),
        ("2026-11-01 09:54:51Z", dt.datetime(2026, 11, 1, 9, 54, 51, tzinfo=dt.UTC)),
        ("2026-11-01 17:54:51 +0900", dt.datetime(2026, 11, 1, 8, 54, 51, tzinfo=dt.UTC)),
    ],
)
def test_times_are_local_unless_they_carry_a_zone(text: str, expected: dt.datetime) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize("text", ["2026年13月45日", "2026-11-01", "昨天", "", "2026-02-30 10:00"])
def test_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_local_time(text)
    assert getattr(refused.value, "reason", None) == "bad_time"
