"""Households as a viewer sees them: the due list, a building's, one with its visits.

The routing city's households (tests.support.households.routing_city_households)
at Monday 30 November 2026, 10:00 in Beijing: h3 (never visited) and h1 overdue,
h2 due, h4 (grid B) not due, h5 without a flag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden
from gridgis.errors import InvalidInput, NotFound
from gridgis.models import Household
from gridgis.staff.households import (
    building_counts,
    due_households,
    household_detail,
    households_of,
)
from tests.support import households as hh
from tests.support.incidents import person, staff_member


@pytest.fixture
def homes(db_session: Session, city: dict[str, object]) -> Iterator[dict[str, Household]]:
    with clock.frozen(hh.NOW):
        yield hh.routing_city_households(db_session, city)


def codes(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [r.code for r in rows]


def test_the_due_list_is_most_overdue_first(
    db_session: Session, homes: dict[str, Household]
) -> None:
    with hh.no_resident_in_logs():
        rows = due_households(db_session, person("admin"))
    assert codes(rows) == ["X-000", "X-1-101", "X-2-201"]
    never, overdue, due = rows
    assert (never.status, never.due_on, never.last_visit_at) == (
        "overdue",
        dt.date(2025, 1, 1),
        None,
    )
    assert never.overdue_days == (dt.date(2026, 11, 30) - dt.date(2025, 1, 1)).days
    assert (overdue.status, overdue.due_on, overdue.overdue_days) == (
        "overdue",
        dt.date(2026, 11, 27),
        3,
    )
    assert overdue.last_visit_at == hh.days_ago(10)
    assert (overdue.building_code, overdue.building_name, overdue.unit_number, overdue.room) == (
        "X",
        "丽景小区1栋",
        "1",
        None,
    )
    # The smallest interval of its flags (petitioner 14 days, not retiree 90).
    assert (due.status, due.due_on, due.overdue_days) == ("due", dt.date(2026, 12, 2), 0)
    assert due.flags == ("petitioner", "retiree")
    assert [f["zh"] for f in due.as_dict()["flags"]] == ["离退休人员", "信访户"]
    assert (overdue.head_name, overdue.phone, overdue.masked) == ("刘桂英", "13900001111", False)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("GW", ["X-000", "X-1-101", "X-2-201"]),  # grid A: all of building X
        ("BH", ["X-000", "X-1-101", "X-2-201"]),
        # A unit head: their unit's, and the building's own (no unit), not unit 2's.
        ("UH1", ["X-000", "X-1-101"]),
        ("UH2", ["X-000", "X-2-201"]),
    ],
)
def test_grid_staff_see_their_own_area(
    db_session: Session, homes: dict[str, Household], who: str, expected: list[str]
) -> None:
    viewer = staff_member(db_session, who)
    assert codes(due_households(db_session, viewer)) == expected
    rows = households_of(db_session, viewer)
    assert all(not r.masked for r in rows)
    assert "Y-001" not in codes(rows)


def test_another_areas_household_is_not_found(
    db_session: Session, homes: dict[str, Household]
) -> None:
    unit_head_1 = staff_member(db_session, "UH1")
    worker = staff_member(db_session, "GW")
    for viewer, home in ((unit_head_1, homes["h2"]), (worker, homes["h4"])):
        with pytest.raises(NotFound, match=f"No household {home.id}"):
            household_detail(db_session, viewer, home.id)
    with pytest.raises(NotFound, match="No household 999999"):
        household_detail(db_session, worker, 999999)
    assert household_detail(db_session, unit_head_1, homes["h1"].id).household.code == "X-1-101"


@pytest.mark.parametrize(
    ("who", "masked"),
    [("admin", False), ("dispatcher", True), ("grid_staff", False)],
)
def test_names_and_phones_in_full_or_masked(
    db_session: Session, homes: dict[str, Household], who: str, masked: bool
) -> None:
    viewer = staff_member(db_session, "GW") if who == "grid_staff" else person(who)
    detail = household_detail(db_session, viewer, homes["h1"].id)
    shown = detail.household
    if masked:
        assert (shown.head_name, shown.phone, shown.note) == ("刘**", "139****1111", None)
        assert [v.findings for v in detail.visits] == [None, None]
    else:
        assert (shown.head_name, shown.phone, shown.note) == (
            "刘桂英",
            "13900001111",
            "独居，行动不便",
        )
        assert [v.findings for v in detail.visits] == ["需要助老服务", "身体尚可"]
    # Which care flag is the residents' too: withheld with the name (still due, not why).
    assert shown.masked is masked
    assert shown.flags == (() if masked else ("elderly_alone",))
    assert [v.visited_at for v in detail.visits] == [hh.days_ago(10), hh.days_ago(17)]


@pytest.mark.parametrize("who", ["planner", "viewer"])
def test_planners_and_viewers_read_no_households(
    db_session: Session, homes: dict[str, Household], who: str
) -> None:
    viewer = person(who)
    for read in (due_households, households_of, building_counts):
        with pytest.raises(Forbidden, match="households:read"):
            read(db_session, viewer)
    with pytest.raises(Forbidden, match="households:read"):
        household_detail(db_session, viewer, homes["h1"].id)


def test_admins_and_dispatchers_filter_by_community_grid_building_and_unit(
    db_session: Session, city: dict[str, object], homes: dict[str, Household]
) -> None:
    dispatcher = person("dispatcher")
    grids = city["grids"]
    assert codes(households_of(db_session, dispatcher, grid_id=grids["B"].id)) == ["Y-001"]  # type: ignore[index]
    assert codes(households_of(db_session, dispatcher, community="C1")) == [
        "X-000",
        "X-1-101",
        "X-1-102",
        "X-2-201",
        "Y-001",
    ]
    u1 = city["u1"]
    assert codes(households_of(db_session, dispatcher, unit_id=u1.id)) == ["X-1-101", "X-1-102"]  # type: ignore[attr-defined]
    assert codes(due_households(db_session, dispatcher, grid_id=grids["A"].id)) == [  # type: ignore[index]
        "X-000",
        "X-1-101",
        "X-2-201",
    ]
    with pytest.raises(NotFound, match="No community with code 'C9'"):
        due_households(db_session, dispatcher, community="C9")
    with pytest.raises(InvalidInput, match="between 1 and 5000"):
        due_households(db_session, dispatcher, limit=0)
    assert codes(due_households(db_session, dispatcher, limit=1)) == ["X-000"]


def test_building_counts_colour_the_map(
    db_session: Session, city: dict[str, object], homes: dict[str, Household]
) -> None:
    admin = [
        (c.building_code, c.households, c.flagged, c.due, c.overdue)
        for c in building_counts(db_session, person("admin"))
    ]
    assert admin == [("X", 4, 3, 1, 2), ("Y", 1, 1, 0, 0)]
    mine = building_counts(db_session, staff_member(db_session, "UH1"))
    assert [(c.building_code, c.households, c.flagged, c.overdue) for c in mine] == [("X", 3, 2, 2)]


def test_a_later_day_moves_households_along_the_schedule(
    db_session: Session, homes: dict[str, Household]
) -> None:
    admin = person("admin")
    in_a_week = dt.date(2026, 12, 7)
    rows = {r.code: r for r in households_of(db_session, admin, today=in_a_week)}
    assert rows["X-2-201"].status == "overdue" and rows["X-2-201"].overdue_days == 5
    assert rows["Y-001"].status == "not_due" and rows["X-1-102"].status is None
    due_by_then = due_households(db_session, admin, today=dt.date(2027, 1, 27))
    assert "Y-001" in codes(due_by_then)  # retiree: due 30 January, within 3 days


def test_lists_by_building_and_care_flag(db_session: Session, homes: dict[str, Household]) -> None:
    admin = person("admin")
    building_x = homes["h1"].building_id
    assert codes(due_households(db_session, admin, building_id=building_x)) == [
        "X-000",
        "X-1-101",
        "X-2-201",
    ]
    assert codes(due_households(db_session, admin, flag="petitioner")) == ["X-2-201"]
    everyone = codes(households_of(db_session, admin))
    petitioners = codes(households_of(db_session, admin, flag="petitioner"))
    assert petitioners and set(petitioners) < set(everyone)
    assert all("petitioner" in r.flags for r in households_of(db_session, admin, flag="petitioner"))
    with pytest.raises(InvalidInput, match="care flag must be one of"):
        households_of(db_session, admin, flag="rich")


def test_a_care_flag_asked_for_lists_nothing_masked(
    db_session: Session, homes: dict[str, Household]
) -> None:
    """A dispatcher sees households masked, flags withheld: asking by flag must not tell them."""
    dispatcher = person("dispatcher")
    assert codes(due_households(db_session, dispatcher))  # the due list, masked
    assert due_households(db_session, dispatcher, flag="petitioner") == []
    assert households_of(db_session, dispatcher, flag="elderly_alone") == []
