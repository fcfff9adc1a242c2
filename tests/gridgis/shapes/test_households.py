"""``import_layer(..., "households", ...)``: CSV/XLSX, a unit reference or a point, all or nothing.

The routing city (tests/support/routing_city.py) is the community C1: building
X (丽景小区1栋) with units 1 and 2 in grid A; each test adds building Y, without
units, in grid B.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import InvalidFile, InvalidInput, NotFound
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.models import AuditEntry, Household
from gridgis.shapes.exporting import export_layer
from gridgis.shapes.importing import import_layer
from tests.support import factories as make
from tests.support import households as hh
from tests.support.actors import TESTS
from tests.support.incidents import IN_UNIT_1

HEADER_ZH = "户编码,楼栋,单元,房号,户主,电话,人数,关爱标记,备注"
GOOD_ZH = [
    "X-1-101,X,1,101,刘桂英,13900001111,1,孤寡老人、信访,独居",
    "X-2-201,X,2,201,陈建国,13900002222,3,hardship;retiree,",
]
#: Inside building Y, which has no units.
IN_Y = (114.3062, 30.5012)


@pytest.fixture
def c1(db_session: Session, city: dict[str, object]) -> dict[str, object]:
    community = city["community"]
    y = make.building(db_session, community, "Y", hh.BUILDING_Y)  # type: ignore[arg-type]
    return {**city, "y": y}


def write(
    tmp_path: Path, lines: list[str], name: str = "households.csv", enc: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(enc))
    return path


def imported(session: Session, path: Path, **options: object):  # type: ignore[no-untyped-def]
    return import_layer(
        session,
        "households",
        path,
        community_code="C1",
        actor=TESTS,
        **options,  # type: ignore[arg-type]
    )


def stored(session: Session) -> dict[str, Household]:
    return {h.code: h for h in session.scalars(sa.select(Household))}


def test_a_csv_with_chinese_columns_places_households_in_their_units(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    with hh.no_resident_in_logs():
        report = imported(db_session, write(tmp_path, [HEADER_ZH, *GOOD_ZH]))
    assert report.summary().startswith(
        "Imported 2 households into community C1: 2 added, 0 updated."
    )
    rows = stored(db_session)
    alone, hardship = rows["X-1-101"], rows["X-2-201"]
    assert alone.unit_id == c1["u1"].id and hardship.unit_id == c1["u2"].id  # type: ignore[attr-defined]
    assert alone.building_id == c1["building"].id  # type: ignore[attr-defined]
    assert alone.care_flags == ["elderly_alone", "petitioner"]
    assert hardship.care_flags == ["hardship", "retiree"]
    assert (alone.head_name, alone.phone, alone.members, alone.note) == (
        "刘桂英",
        "13900001111",
        1,
        "独居",
    )
    assert hardship.note is None and alone.room == "101"
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "households")).one()
    assert (entry.action, entry.entity_id) == ("import", "C1")
    assert entry.after is not None
    assert (entry.after["count"], entry.after["added"], entry.after["updated"]) == (2, 2, 0)
    assert not any(r in repr(entry.after) for r in hh.RESIDENTS)


def test_gb18030_csv_and_an_xlsx_workbook_import_alike(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    report = imported(db_session, write(tmp_path, [HEADER_ZH, GOOD_ZH[0]], enc="gb18030"))
    assert report.added == 1
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        ["code", "building", "unit", "room", "head_name", "phone", "members", "care_flags"]
    )
    sheet.append(["X-2-202", "X", 2, 202, "杨秀兰", 13900003333, 2, "离退休|困难家庭"])
    path = tmp_path / "households.xlsx"
    book.save(path)
    report = imported(db_session, path)
    assert (report.added, report.updated) == (1, 0)
    row = stored(db_session)["X-2-202"]
    # Excel's numbers come back as the text that was typed: no "13900003333.0".
    assert (row.phone, row.room, row.unit_id) == ("13900003333", "202", c1["u2"].id)  # type: ignore[attr-defined]
    assert row.care_flags == ["hardship", "retiree"]


def test_gcj02_points_are_placed_in_their_unit_or_building(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    in_unit = wgs84_to_gcj02(*IN_UNIT_1)
    in_y = wgs84_to_gcj02(*IN_Y)
    lines = [
        "户编码,经度,纬度,房号,户主,关爱标记",
        f"P1,{in_unit[0]!r},{in_unit[1]!r},301,黄志明,孤寡老人",
        f"P2,{in_y[0]!r},{in_y[1]!r},1,周玉兰,",
    ]
    report = imported(db_session, write(tmp_path, lines), crs="gcj02")
    assert report.added == 2
    rows = stored(db_session)
    assert (rows["P1"].building_id, rows["P1"].unit_id) == (c1["building"].id, c1["u1"].id)  # type: ignore[attr-defined]
    assert (rows["P2"].building_id, rows["P2"].unit_id) == (c1["y"].id, None)  # type: ignore[attr-defined]
    point = to_shape(rows["P1"].geom)
    # The GCJ-02 offset (hundreds of metres) is undone to well under a metre.
    assert abs(point.x - IN_UNIT_1[0]) < 1e-5 and abs(point.y - IN_UNIT_1[1]) < 1e-5


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("Z-1,Q,1,101,刘桂英,,1,,", "building 'Q' is not a building of community C1"),
        ("Z-1,X,3,101,刘桂英,,1,,", "building 'X' has no unit '3'"),
        ("Z-1,,1,101,刘桂英,,1,,", "a unit (1) needs its building"),
        (",X,1,101,刘桂英,,1,,", "no household code"),
        ("Z-1,X,1,101,刘桂英,,1,低保户,", "care flag '低保户' is not one of hardship (困难家庭)"),
        ("Z-1,X,1,101,刘桂英,,-2,,", "members -2 is negative"),
        ("Z-1,X,1,101,刘桂英,,两人,,", "members '两人' is not a number"),
        ("Z-1,X,1,101," + "刘" * 101 + ",,1,,", "the head_name is longer than 100 characters"),
        ("Z-1,X,1,101,刘桂英,1390000111113900001111139000011111,1,,", "the phone is longer"),
    ],
)
def test_each_bad_row_is_named_with_its_reason_and_nothing_is_stored(
    db_session: Session, c1: dict[str, object], tmp_path: Path, line: str, problem: str
) -> None:
    path = write(tmp_path, [HEADER_ZH, GOOD_ZH[0], line])
    with pytest.raises(InvalidFile) as caught:
        imported(db_session, path)
    error = caught.value
    assert "1 problem(s) found, so no households were imported" in error.user_msg
    assert error.details[0].startswith("row 2 (line 3): ") and problem in error.details[0]
    assert not any(r in str(error) for r in hh.RESIDENTS)
    assert stored(db_session) == {}


def test_point_problems_and_every_problem_at_once(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    lines = [
        "code,building,unit,lon,lat,care_flags,registered",
        f"A1,,,{IN_UNIT_1[0]},{IN_UNIT_1[1]},,",  # good
        "A2,,,114.3030,30.5080,,",  # in grid C, in no building
        f"A3,Y,,{IN_UNIT_1[0]},{IN_UNIT_1[1]},,",  # the point is in X, the row says Y
        "A4,,,abc,30.5,,",
        "A4,X,,,,,2099-01-01",
        "A6,,,,,,",
        "A7,X,,,,,2026-13-01",
    ]
    with pytest.raises(InvalidFile) as caught:
        imported(db_session, write(tmp_path, lines))
    details = caught.value.details
    assert details == [
        "row 4 (line 5): lon/lat must both be numbers",
        "row 2 (line 3): its point lies in no building of community C1; "
        "check the coordinates and --crs",
        "row 3 (line 4): its point lies in building 'X', not in building 'Y'",
        "row 4 (line 5): no building, no point; give the building (楼栋) code or a point "
        "(经度, 纬度)",
        "row 5 (line 6): household 'A4' is also in row 4 (line 5); one code, one row",
        "row 5 (line 6): registered '2099-01-01' is in the future",
        "row 6 (line 7): no building, no point; give the building (楼栋) code or a point "
        "(经度, 纬度)",
        "row 7 (line 8): registered '2026-13-01' is not a date such as 2026-03-01",
    ]
    assert stored(db_session) == {}


def test_a_file_that_places_nothing_or_a_missing_community(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    with pytest.raises(InvalidFile, match="no code"):
        imported(db_session, write(tmp_path, ["户主,楼栋", "刘桂英,X"]))
    with pytest.raises(InvalidFile, match="places no household"):
        imported(db_session, write(tmp_path, ["code,room", "A,101"]))
    with pytest.raises(InvalidFile, match="CSV file or an Excel workbook"):
        imported(db_session, write(tmp_path, ["code"], name="households.geojson"))
    with pytest.raises(NotFound, match="No community with code 'NOPE'"):
        import_layer(
            db_session,
            "households",
            write(tmp_path, [HEADER_ZH, GOOD_ZH[0]]),
            community_code="NOPE",
            actor=TESTS,
        )


def test_importing_again_updates_by_code_and_leaves_the_others_alone(
    db_session: Session, c1: dict[str, object], tmp_path: Path
) -> None:
    first = imported(db_session, write(tmp_path, [HEADER_ZH, *GOOD_ZH]))
    assert (first.added, first.updated) == (2, 0)
    kept = hh.household(db_session, c1["building"], "X-1-999", unit=c1["u1"])  # type: ignore[arg-type]
    before = stored(db_session)["X-1-101"].created_at
    changed = [
        HEADER_ZH + ",登记日期",
        "X-1-101,X,1,101,刘桂英,13900005555,2,孤寡老人,",
        GOOD_ZH[1] + ",2026-03-01",
        "X-1-102,X,1,102,徐德胜,,1,,,",
    ]
    with clock.frozen(dt.datetime(2026, 11, 30, 2, tzinfo=dt.UTC)):
        again = imported(db_session, write(tmp_path, changed, name="again.csv"))
    assert again.summary().startswith(
        "Imported 3 households into community C1: 1 added, 2 updated."
    )
    db_session.expire_all()
    rows = stored(db_session)
    assert sorted(rows) == ["X-1-101", "X-1-102", "X-1-999", "X-2-201"]
    assert (rows["X-1-101"].phone, rows["X-1-101"].members) == ("13900005555", 2)
    assert rows["X-1-101"].care_flags == ["elderly_alone"] and rows["X-1-101"].note is None
    # The registration date changes only where the file gives one.
    assert rows["X-1-101"].created_at == before
    assert clock.local(rows["X-2-201"].created_at).date() == dt.date(2026, 3, 1)
    assert rows["X-1-999"].head_name == kept.head_name


def test_households_are_never_exported(db_session: Session) -> None:
    """They are personal data: imported, never written out."""
    with pytest.raises(InvalidInput, match="Unknown layer 'households'"):
        export_layer(db_session, "households", Path("x.csv"), community_code="C1", actor=TESTS)
