"""The demo community loads through the ordinary import path and is complete.

The demo is loaded once for the module, in a database of its own; each test
reads it in a transaction that is rolled back.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.scope import scope_for_staff
from gridgis.demo.generate import SHAPES_DIR
from gridgis.demo.loader import DEMO_VALID_FROM, demo_community_code, load_demo
from gridgis.demo.rounds import ROUND_FIELDS, load_rounds
from gridgis.errors import Conflict, InvalidFile
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.models import ROUND_KINDS, Staff
from gridgis.reports.monthly import monthly_report
from gridgis.routing.points import route_point
from gridgis.staff.households import building_counts, due_households
from tests.support.actors import TESTS
from tests.support.incidents import person


class Loaded(NamedTuple):
    engine: Engine
    counts: dict[str, int]
    #: When it was loaded: visits and rounds are dated back from this day.
    at: dt.datetime


@pytest.fixture(scope="module")
def loaded(database_from_template: Callable[[str], str]) -> Iterator[Loaded]:
    """A database with the demo loaded and committed once for this module: loading takes seconds."""
    engine = sa.create_engine(database_from_template("_demo"), poolclass=sa.pool.NullPool)
    at = clock.now()
    # One instant for the whole load, so that a load across midnight dates every row alike.
    with clock.frozen(at), Session(engine) as session, session.begin():
        counts = load_demo(session, actor=TESTS)
    yield Loaded(engine, counts, at)
    engine.dispose()


@pytest.fixture
def db_session(loaded: Loaded) -> Iterator[Session]:
    """A session on the demo's database whose work, commits included, is rolled back."""
    with loaded.engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def demo(loaded: Loaded) -> dict[str, int]:
    return loaded.counts


def scalar(session: Session, sql: str, **params: object) -> object:
    return session.execute(sa.text(sql), params).scalar_one()


def test_demo_is_big_enough(db_session: Session, demo: dict[str, int]) -> None:
    assert demo["buildings"] >= 60 and demo["units"] >= 200
    assert 6 <= demo["grids"] <= 10
    assert scalar(db_session, "SELECT sum(households) FROM unit") >= 3000
    assert scalar(db_session, "SELECT count(*) FROM category") >= 12
    names = set(db_session.scalars(sa.text("SELECT name FROM department")))
    assert {"城管执法局", "交警队", "环卫所", "烟草专卖局", "丽景万达物业", "国泰物业"} <= names
    committees = (
        db_session.execute(sa.text("SELECT name FROM compound WHERE has_owners_committee"))
        .scalars()
        .all()
    )
    assert committees == ["南湖中央花园"]


def test_grids_tile_the_community(db_session: Session, demo: dict[str, int]) -> None:
    community = get_community(db_session, demo_community_code())
    layout = choose_layout(db_session, community)
    assert layout is not None
    gap, overlap = db_session.execute(
        sa.text(
            """
        SELECT ST_Area(ST_SymDifference(c.boundary, u.geom)::geography),
               (SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
                FROM grid a JOIN grid b ON a.id < b.id AND a.layout_id = b.layout_id
                     AND ST_Intersects(a.geom, b.geom)
                WHERE a.layout_id = :layout)
        FROM community c,
             (SELECT ST_Union(geom) AS geom FROM grid WHERE layout_id = :layout) u
        WHERE c.id = :community
        """
        ),
        {"layout": layout.id, "community": community.id},
    ).one()
    assert gap < 1.0  # square metres
    assert overlap < 1.0


def test_every_grid_has_its_full_team(db_session: Session, demo: dict[str, int]) -> None:
    rows = db_session.execute(
        sa.text(
            """
        SELECT g.code,
               count(*) FILTER (WHERE a.role = 'grid_worker'),
               count(*) FILTER (WHERE a.role = 'part_time_worker'),
               count(*) FILTER (WHERE a.role = 'volunteer')
        FROM grid g LEFT JOIN assignment a ON a.grid_id = g.id
        GROUP BY g.code
        """
        )
    ).all()
    assert len(rows) == demo["grids"]
    assert all(gw == 1 and pt == 1 and vol >= 3 for _, gw, pt, vol in rows), rows
    headless = scalar(
        db_session,
        """
        SELECT count(*) FROM building b
        WHERE NOT EXISTS (SELECT 1 FROM assignment a WHERE a.building_id = b.id)""",
    )
    unitless = scalar(
        db_session,
        """
        SELECT count(*) FROM unit u
        WHERE NOT EXISTS (SELECT 1 FROM assignment a WHERE a.unit_id = u.id)""",
    )
    assert headless == 0 and unitless == 0
    teams = set(
        db_session.scalars(
            sa.text("SELECT DISTINCT volunteer_team FROM assignment WHERE role = 'volunteer'")
        )
    )
    assert teams == {"red", "blue", "green", "orange", "white"}


def test_a_demo_building_routes_to_its_team(db_session: Session, demo: dict[str, int]) -> None:
    lon, lat, code = db_session.execute(
        sa.text(
            "SELECT ST_X(p), ST_Y(p), code"
            " FROM (SELECT ST_PointOnSurface(geom) p, code FROM building"
            " ORDER BY code LIMIT 1) s"
        )
    ).one()
    result = route_point(db_session, lon, lat, category="parking")
    assert result.building_code == code and result.grid_code
    assert result.lead is not None


def test_the_demo_layout_is_in_force_for_reports_made_before_loading(
    db_session: Session, demo: dict[str, int]
) -> None:
    """The sample hotline export is from November 2026: its reports route to the demo's grids."""
    lon, lat = db_session.execute(
        sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid LIMIT 1) s"
        )
    ).one()
    november = dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC)
    assert route_point(db_session, lon, lat, at=november).grid_code
    before = DEMO_VALID_FROM - dt.timedelta(days=1)
    assert route_point(db_session, lon, lat, at=before).grid_code is None


def test_households_and_visits_make_a_due_list(db_session: Session, demo: dict[str, int]) -> None:
    assert demo["households"] == scalar(db_session, "SELECT sum(households) FROM unit")
    assert demo["visits"] == scalar(db_session, "SELECT count(*) FROM visit") > 1000
    # Every household placed in its unit; visits by staff, logged by the loader.
    assert scalar(db_session, "SELECT count(*) FROM household WHERE unit_id IS NULL") == 0
    assert scalar(db_session, "SELECT count(*) FROM visit WHERE staff_id IS NULL") == 0
    assert scalar(db_session, "SELECT count(DISTINCT logged_by) FROM visit") == 1
    due = due_households(db_session, person("admin"), limit=5000)
    statuses = {r.status for r in due}
    assert statuses == {"overdue", "due"}
    assert any(r.last_visit_at is None for r in due)  # a few were never visited
    counts = building_counts(db_session, person("admin"))
    flagged = sum(c.flagged for c in counts)
    assert 0.08 <= flagged / demo["households"] <= 0.12
    assert len(due) < flagged  # most flagged households are not due yet
    # A grid worker of the demo sees only their own grid's due households.
    staff_id, grid = db_session.execute(
        sa.text(
            "SELECT a.staff_id, a.grid_id FROM assignment a "
            "WHERE a.role = 'grid_worker' ORDER BY a.staff_id LIMIT 1"
        )
    ).one()
    code = db_session.scalar(sa.select(Staff.code).where(Staff.id == staff_id))
    worker = replace(
        person("grid_staff", name=str(code)),
        staff_id=staff_id,
        scope=scope_for_staff(db_session, staff_id),
    )
    mine = due_households(db_session, worker, limit=5000)
    assert mine and {r.id for r in mine} <= {r.id for r in due}
    in_grid = {r.id for r in due_households(db_session, person("admin"), grid_id=grid, limit=5000)}
    assert {r.id for r in mine} == in_grid
    assert all(not r.masked for r in mine)


def test_rounds_are_logged_as_the_file_says_and_counted_by_the_report(
    db_session: Session, demo: dict[str, int], loaded: Loaded
) -> None:
    with (SHAPES_DIR / "rounds.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert demo["rounds"] == len(rows) == scalar(db_session, "SELECT count(*) FROM field_round")
    # Each as the file says: the grid (found by the domain at a building or a point), the
    # day and the start in Beijing time, the participants.
    found = db_session.execute(
        sa.text(
            """
        SELECT r.kind, g.code, coalesce(b.code, ''), r.geom IS NOT NULL,
               :today - (r.started_at AT TIME ZONE 'Asia/Shanghai')::date,
               to_char(r.started_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI'),
               (SELECT string_agg(s.code, ';' ORDER BY s.code) FROM round_participant p
                JOIN staff s ON s.id = p.staff_id WHERE p.round_id = r.id),
               r.findings, coalesce(r.others, '')
        FROM field_round r JOIN grid g ON g.id = r.grid_id
        LEFT JOIN building b ON b.id = r.building_id
        """
        ),
        {"today": clock.local(loaded.at).date()},
    ).all()
    expected = [
        (
            r["kind"],
            r["grid"],
            r["building"],
            bool(r["lon"]),
            int(r["days_ago"]),
            r["time"],
            ";".join(sorted(r["staff"].split(";"))),
            r["findings"],
            r["others"],
        )
        for r in rows
    ]
    assert Counter(tuple(row) for row in found) == Counter(expected)
    # Audited one by one, as any round logged; none became an incident.
    assert demo["rounds"] == scalar(
        db_session,
        "SELECT count(*) FROM audit_log WHERE entity = 'round' AND action = 'create'"
        " AND actor = 'cli:tests'",
    )
    assert scalar(db_session, "SELECT count(*) FROM round_incident") == 0
    # Last month's report (whole, whatever the day) counts rounds in every grid, of every
    # kind, and by every grid worker.
    first = clock.local(loaded.at).date().replace(day=1)
    month = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    report = monthly_report(db_session, person("admin"), month=month)
    assert len(report.grids) == demo["grids"]
    assert all(grid["rounds"] >= 5 for grid in report.grids), report.grids
    assert all(report.total[f"rounds_{k}"] >= 10 for k in ROUND_KINDS), report.total
    workers = [s for s in report.staff if "grid_worker" in s["roles"]]
    assert len(workers) == demo["grids"]
    assert all(s["rounds"] >= 2 for s in workers), workers


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"staff": "S0001;S9999"}, "row 1 (line 2): unknown grid, building or staff code"),
        ({"kind": "patrol"}, "row 1 (line 2): kind must be one of"),
        # A point of the first grid, said to be in the second.
        ({"grid": "420111003012002"}, "row 1 (line 2): the round's place is not in grid"),
    ],
)
def test_a_broken_rounds_file_is_refused_with_its_row(
    db_session: Session, demo: dict[str, int], tmp_path: Path, change: dict, error: str
) -> None:
    with (SHAPES_DIR / "rounds.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["grid"].endswith("001") and r["lon"])
    path = tmp_path / "rounds.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ROUND_FIELDS)
        writer.writeheader()
        writer.writerow({**row, **change})
    with pytest.raises(InvalidFile, match=re.escape(error)):
        load_rounds(db_session, path, demo_community_code(), actor=person("admin"))


def test_loading_twice_is_a_conflict(db_session: Session, demo: dict[str, int]) -> None:
    with pytest.raises(Conflict, match="already loaded"):
        load_demo(db_session, actor=TESTS)


def test_cli_loads_once_with_if_empty(scratch_database_url: str) -> None:
    from gridgis.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Demo community loaded" in first.output and "166 buildings" in first.output
    assert "4176 households" in first.output and "rounds" in first.output
    second = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert second.exit_code == 0
    assert "already holds a community" in second.output
    third = runner.invoke(main, ["demo", "load"])
    assert third.exit_code == 1 and "already loaded" in third.output
