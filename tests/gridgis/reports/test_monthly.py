"""The monthly report on a known month (tests.support.reports): by hand, and against naive counts.

Every figure of the grid and staff tables is checked twice: against the
numbers worked out by hand in tests/support/reports.py, and against a naive
Python count over the same rows (visits by their local month, incidents by
their history event by event, rounds one by one).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.areas import building_grid
from gridgis.incidents import rates
from gridgis.models import (
    CHANNELS,
    OPEN_STATUSES,
    ROUND_KINDS,
    Assignment,
    Building,
    Community,
    Household,
    Incident,
    IncidentEvent,
    Layout,
    Round,
    RoundParticipant,
    User,
    Visit,
)
from gridgis.reports.columns import COUNT_COLUMNS, DEFINITIONS, GRID_COLUMNS, LABELS, STAFF_COLUMNS
from gridgis.reports.figures import HANDLING
from gridgis.reports.monthly import MonthlyReport, month_window, monthly_report
from gridgis.staff import visits
from tests.support import factories as make
from tests.support.households import household
from tests.support.incidents import person
from tests.support.reports import ADMIN, MONTH, MONTH_END, NOW, Month, add_month, bj, staff_account
from tests.support.sample_community import build_sample_community

G1, G2, G3 = "420106001002001", "420106001002002", "420106001002003"


@pytest.fixture
def month(db_session: Session) -> Iterator[Month]:
    build_sample_community(db_session)
    made = add_month(db_session)
    with clock.frozen(NOW):
        yield made


def report(session: Session, viewer: Principal = ADMIN, **options: Any) -> MonthlyReport:
    return monthly_report(session, viewer, **{"month": MONTH, **options})


def by_grid(found: MonthlyReport) -> dict[str | None, dict[str, Any]]:
    return {row["grid"]: row for row in found.grids}


def by_staff(found: MonthlyReport) -> dict[str, dict[str, Any]]:
    return {row["staff"]: row for row in found.staff}


def test_the_grid_table_holds_the_figures_worked_out_by_hand(
    db_session: Session, month: Month
) -> None:
    found = report(db_session)
    assert (found.community, found.month, found.layout) == ("420106001002", MONTH, "2025版")
    assert found.as_of == MONTH_END and not found.current
    rows = by_grid(found)
    assert list(rows) == [G1, G2, G3]
    g1, g2, g3 = rows[G1], rows[G2], rows[G3]
    # Visits: H1 5 of 5 (6 logged), H2 1 of 1 (late, on the 30th), H3 0 of 3, H4 0 of 1
    # (registered on the 20th, never visited), H8 0 of 1.
    assert [g1[c] for c in ("households", "visits_required", "visits_done", "visits_logged")] == [
        5,
        11,
        6,
        7,
    ]
    assert g1["never_visited"] == 1
    assert [g2[c] for c in ("households", "visits_required", "visits_done", "never_visited")] == [
        1,
        5,
        0,
        1,
    ]
    assert g3["households"] == 0  # H6 has no flag; H7 came in December
    # Incidents: I1 I2 I5 I8 reported in G1 (I6 is December's), I1 and I3 handled, I2 overdue.
    assert [g1[c] for c in ("reported", "handled", "overdue")] == [4, 2, 1]
    assert [g1[f"reported_{c}"] for c in ("visit", "hotline_12345", "walk_in", "mini_program")] == [
        1,
        1,
        1,
        1,
    ]
    # I4 was overdue at November's end, though reported done since; I10 is parked.
    assert [g2[c] for c in ("reported", "handled", "overdue", "reported_phone")] == [2, 0, 1, 1]
    assert [g3[c] for c in ("reported", "handled", "overdue")] == [1, 0, 0]  # I7, rejected
    # Rounds: one of each kind in G1, an inventory in G2; October's and December's not.
    assert [g1[f"rounds_{k}"] for k in ROUND_KINDS] == [1, 1, 1, 1] and g1["rounds"] == 4
    assert (g2["rounds_inventory"], g2["rounds"], g3["rounds"]) == (1, 1, 0)
    assert found.total["visits_required"] == 16 and found.total["reported"] == 7
    assert found.total == {
        "grid": None,
        "grid_name": None,
        **{c: sum(r[c] for r in found.grids) for c in COUNT_COLUMNS},
    }


def test_the_staff_table_holds_the_figures_worked_out_by_hand(
    db_session: Session, month: Month
) -> None:
    staff = by_staff(report(db_session))
    assert list(staff) == ["S1", "S2", "S3", "S4", "S5", "S6"]
    s1 = staff["S1"]
    assert (s1["name"], s1["roles"], s1["grids"]) == ("张三", ["grid_worker"], [G1])
    assert [s1[c] for c in ("visits_logged", "households_visited")] == [6, 1]
    assert [s1[c] for c in ("households", "visits_required", "visits_done", "never_visited")] == [
        5,
        11,
        6,
        1,
    ]
    assert [s1[c] for c in ("reported", "reported_visit", "handled", "overdue", "rounds")] == [
        1,
        1,
        2,
        1,
        4,
    ]
    s5 = staff["S5"]  # 钱七, head of B01: H1, H2, H8
    assert [s5[c] for c in ("visits_logged", "households", "visits_required", "visits_done")] == [
        1,
        3,
        7,
        6,
    ]
    assert (s5["rounds_home_help"], s5["overdue"]) == (1, 0)
    s6 = staff["S6"]  # 孙八, head of unit B01/1: H1 only
    assert [s6[c] for c in ("households", "visits_required", "visits_done", "rounds")] == [
        1,
        5,
        5,
        0,
    ]
    assert staff["S2"]["rounds_publicity"] == 1 and staff["S2"]["overdue"] == 1


# -- the same figures, counted naively ------------------------------------------------


def in_month(moment: dt.datetime) -> bool:
    local = clock.local(moment)
    return (local.year, local.month) == (2026, 11)


def status_then(events: list[IncidentEvent], at: dt.datetime) -> str:
    status = "received"
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        if event.at <= at and event.to_status is not None:
            status = event.to_status
    return status


def overdue_then(incident: Incident, events: list[IncidentEvent], at: dt.datetime) -> bool:
    status = status_then(events, at)
    if incident.reported_at > at or status not in OPEN_STATUSES:
        return False
    response = (
        incident.response_due_at is not None
        and incident.response_due_at < at
        and (incident.responded_at is None or incident.responded_at > at)
    )
    resolution = (
        incident.resolution_due_at is not None
        and incident.resolution_due_at < at
        and status != "checked"
    )
    return response or resolution


def naive(
    session: Session, as_of: dt.datetime
) -> tuple[dict[Any, Counter[str]], dict[int, Counter[str]]]:
    """Every figure of November, by grid id and by staff id, one row at a time."""
    layout_grid = {
        b: g
        for b, g in session.execute(
            sa.select(Building.id, building_grid(Building.geom, month_layout(session)))
        )
    }
    grids: dict[Any, Counter[str]] = {}
    staff: dict[int, Counter[str]] = {}
    posts = session.execute(
        sa.select(
            Assignment.staff_id, Assignment.grid_id, Assignment.building_id, Assignment.unit_id
        )
    ).all()

    def answers(grid: Any, building: Any, unit: Any) -> set[int]:
        return {
            s
            for s, g, b, u in posts
            if (g is not None and g == grid)
            or (b is not None and b == building)
            or (u is not None and u == unit)
        }

    for home in session.scalars(sa.select(Household)):
        interval = visits.interval_for(home.care_flags)
        if interval is None or home.created_at >= MONTH_END:
            continue
        mine = [v for v in session.scalars(sa.select(Visit).where(Visit.household_id == home.id))]
        required = visits.required_in_month(
            interval, 2026, 11, registered_on=clock.local(home.created_at).date()
        )
        done = sum(in_month(v.visited_at) for v in mine)
        figures = Counter(
            households=1,
            visits_required=required,
            visits_done=min(done, required),
            never_visited=int(not any(v.visited_at < MONTH_END for v in mine)),
        )
        grid = layout_grid[home.building_id]
        grids.setdefault(grid, Counter()).update(figures + Counter(visits_logged=done))
        for s in answers(grid, home.building_id, home.unit_id):
            staff.setdefault(s, Counter()).update(figures)
    visited: dict[int, set[int]] = {}
    for v in session.scalars(sa.select(Visit)):
        if v.staff_id is not None and in_month(v.visited_at):
            staff.setdefault(v.staff_id, Counter())["visits_logged"] += 1
            visited.setdefault(v.staff_id, set()).add(v.household_id)
    for s, homes in visited.items():
        staff[s]["households_visited"] = len(homes)
    accounts = {f"user:{u.username}": u.staff_id for u in session.scalars(sa.select(User))}
    for incident in session.scalars(sa.select(Incident)):
        events = list(incident.events)
        row = grids.setdefault(incident.grid_id, Counter())
        if in_month(incident.reported_at):
            row["reported"] += 1
            row[f"reported_{incident.channel}"] += 1
            by = accounts.get(incident.created_by)
            if by is not None:
                staff.setdefault(by, Counter()).update(
                    reported=1, reported_visit=int(incident.channel == "visit")
                )
        handling = [e for e in events if e.action in HANDLING and in_month(e.at)]
        row["handled"] += int(bool(handling))
        for by in {accounts.get(e.actor) for e in handling} - {None}:
            staff.setdefault(by, Counter())["handled"] += 1  # type: ignore[index]
        if overdue_then(incident, events, as_of):
            row["overdue"] += 1
            for s in answers(incident.grid_id, incident.building_id, incident.unit_id):
                staff.setdefault(s, Counter())["overdue"] += 1
    for found in session.scalars(sa.select(Round)):
        if not in_month(found.started_at):
            continue
        grids.setdefault(found.grid_id, Counter()).update({f"rounds_{found.kind}": 1, "rounds": 1})
        for s in session.scalars(
            sa.select(RoundParticipant.staff_id).where(RoundParticipant.round_id == found.id)
        ):
            staff.setdefault(s, Counter()).update({f"rounds_{found.kind}": 1, "rounds": 1})
    return grids, staff


def month_layout(session: Session) -> int:
    layout_id = session.scalar(sa.select(Layout.id).where(Layout.name == "2025版"))
    assert layout_id is not None
    return layout_id


def test_every_figure_agrees_with_a_naive_count(db_session: Session, month: Month) -> None:
    found = report(db_session)
    grids, staff = naive(db_session, MONTH_END)
    for grid_id, grid in month.grids.items():
        row = by_grid(found)[grid.code]
        expected = grids.get(grid.id, Counter())
        assert {c: row[c] for c in COUNT_COLUMNS} == {c: expected[c] for c in COUNT_COLUMNS}, (
            grid_id
        )
    counts = [c for c in STAFF_COLUMNS if c not in ("staff", "name", "roles", "grids")]
    for code, row in by_staff(found).items():
        expected = staff.get(month.staff[code].id, Counter())
        assert {c: row[c] for c in counts} == {c: expected[c] for c in counts}, code


def test_reported_counts_as_the_three_rates_count_received(
    db_session: Session, month: Month
) -> None:
    found = report(db_session)
    window = month_window(MONTH)
    rated = rates.compute(db_session, viewer=ADMIN, by="grid", window=window, now=NOW)
    assert {r["grid"]: r["received"] for r in rated.rows} == {
        r["grid"]: r["reported"] for r in found.grids if r["reported"]
    }


def test_month_boundaries_are_beijing_midnights(db_session: Session, month: Month) -> None:
    window = month_window(MONTH)
    assert (window.start, window.end) == (bj(11, 1, 0), bj(12, 1, 0))
    assert window.end == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)
    # December, so far: as of now. I6 (00:30 on the 1st) and H3's visit of that hour are
    # December's; I2, I5 and I6 are overdue now; I4 was reported done on the 2nd.
    december = monthly_report(db_session, ADMIN, month="2026-12")
    assert december.current and december.as_of == NOW
    g1, g2 = by_grid(december)[G1], by_grid(december)[G2]
    assert (g1["reported"], g1["reported_walk_in"], g1["overdue"]) == (1, 1, 3)
    assert (g2["handled"], g2["overdue"]) == (1, 0)
    assert g1["rounds_inventory"] == 1  # 00:30 on 1 December
    assert g1["visits_logged"] == 1  # H3, 00:30 on 1 December


def test_grid_staff_read_their_own_grid_and_its_staff(db_session: Session, month: Month) -> None:
    s1 = month.accounts["S1"]
    found = report(db_session, s1)
    assert [r["grid"] for r in found.grids] == [G1]
    assert found.grids[0] == by_grid(report(db_session))[G1]
    assert list(by_staff(found)) == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert report(db_session, s1, grid=G1).grids == found.grids
    with pytest.raises(Forbidden, match="not yours"):
        report(db_session, s1, grid=G2)
    # A building head answers for a building, not a grid: their own row only.
    s5 = staff_account(db_session, "S5", "qianqi")
    head = report(db_session, s5)
    assert head.grids == [] and list(by_staff(head)) == ["S5"]
    assert by_staff(head)["S5"]["households"] == 3


def test_a_grid_chosen_shows_its_row_and_staff(db_session: Session, month: Month) -> None:
    community = db_session.get(Community, month.staff["S1"].community_id)
    assert community is not None
    worker = make.staff(db_session, community, "S7", "周九")
    make.assign(db_session, worker, "grid_worker", grid=month.grids["G2"])
    found = report(db_session, grid=G2)
    assert [r["grid"] for r in found.grids] == [G2]
    assert list(by_staff(found)) == ["S7"]
    assert by_staff(found)["S7"]["overdue"] == 1  # I4
    with pytest.raises(NotFound, match="No grid 'nope'"):
        report(db_session, grid="nope")


def test_names_follow_the_privacy_rule(db_session: Session, month: Month) -> None:
    assert by_staff(report(db_session, person("dispatcher")))["S1"]["name"] == "张三"
    reader = Principal(kind="apikey", name="reports", permissions=frozenset({"reports:read"}))
    masked = by_staff(report(db_session, reader))
    assert (masked["S1"]["name"], masked["S1"]["masked"]) == ("张*", True)
    assert masked["S2"]["name"] == "李**"


@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_planners_and_viewers_may_not_read_it(db_session: Session, month: Month, role: str) -> None:
    with pytest.raises(Forbidden, match="reports:read"):
        report(db_session, person(role))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-13", "month must be a year and a month, such as 2026-11"),
        ("2026/11", "month must be a year and a month"),
        ("11-2026", "month must be a year and a month"),
        ("2027-01", "2027-01 has not begun yet"),
    ],
)
def test_a_bad_month_is_refused(
    db_session: Session, month: Month, value: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        report(db_session, month=value)


def test_an_unknown_community_is_not_found(db_session: Session, month: Month) -> None:
    with pytest.raises(NotFound, match="No community with code 'nope'"):
        report(db_session, community="nope")


def test_the_statements_do_not_grow_with_the_data(db_session: Session, month: Month) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db_session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = report(db_session)
        few = len(statements)
        b02 = db_session.scalar(sa.select(Building).where(Building.code == "B02"))
        assert b02 is not None
        for n in range(30):
            home = household(db_session, b02, f"More{n}", flags=("hardship",))
            db_session.add(Visit(household_id=home.id, visited_at=bj(11, 5), logged_by="cli:tests"))
        db_session.flush()
        statements.clear()
        second = report(db_session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == few <= 15
    assert by_grid(second)[G1]["households"] == by_grid(first)[G1]["households"] + 30


def test_every_column_has_a_label_and_the_figures_a_definition() -> None:
    for column in {*GRID_COLUMNS, *STAFF_COLUMNS}:
        assert column in LABELS
    for figure in (
        "households",
        "visits_required",
        "visits_done",
        "never_visited",
        "reported",
        "handled",
        "overdue",
        "rounds",
        "month",
        "as_of",
    ):
        assert DEFINITIONS[figure]["zh"] and DEFINITIONS[figure]["en"]
        assert DEFINITIONS[figure]["zh"] != DEFINITIONS[figure]["en"]
    assert set(CHANNELS) == {
        c.removeprefix("reported_") for c in GRID_COLUMNS if c.startswith("reported_")
    }
