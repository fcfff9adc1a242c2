"""Rerouting open incidents at a cut-over published with ``reroute_open``.

The sample community's layout in force has three columns G1, G2 (building
B03) and G3 (B04, B05). The draft here gives B03 to G1, so G2 leaves: an open
incident in B03 moves from G2 to G1 at the date, one in B04 stays in G3.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.db import unit_of_work
from gridgis.incidents import outbox
from gridgis.models import AuditEntry, Grid, Incident, IncidentEvent, Layout, OutboxMessage
from gridgis.planning.cutover import reroute_due, reroute_next
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.publish import plan_cut_over, publish_draft
from gridgis.routing.points import route_point
from tests.gridgis.planning.worlds import NOW, incident
from tests.support.actors import TESTS
from tests.support.sample_community import GRID_CODES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES
START = NOW + dt.timedelta(days=29)  # 2027-01-01 in Beijing
AFTER = START + dt.timedelta(minutes=1)
#: Inside building B03 (G2 today, G1 in the draft) and B04 (G3 in both).
IN_B03 = (114.3027, 30.5916)
IN_B04 = (114.3047, 30.5912)

_names = itertools.count()


@dataclass
class World:
    """The sample community, a draft moving B03 to G1, and incidents of every kind."""

    sample: Sample
    layout: Layout
    held: Incident  # dispatched in B03: a team holds it; rerouted, and the new team told
    waiting: Incident  # registered in B03: rerouted, no message (nobody holds it yet)
    closed: Incident  # closed in B03: never touched
    stays: Incident  # dispatched in B04: its grid keeps its code


@pytest.fixture
def receivers() -> Iterator[None]:
    outbox.configure([outbox.Receiver("wecom", "http://127.0.0.1:9/hook")])
    yield
    outbox.configure([])


def build_world(session: Session) -> World:
    sample = build_sample_community(session)
    name = f"cut-over {next(_names)}"
    layout = draft_layout(session, sample.community, name=name, actor=TESTS).layout
    assign_buildings(session, layout, ["B03"], G1, actor=TESTS)  # G2 leaves the draft
    grids = {g.code: g.id for g in sample.grids}

    def routed(status: str, building: str, point: tuple[float, float], grid: str) -> Incident:
        made = incident(session, sample, status=status, days_ago=1, building=building, point=point)
        made.grid_id = grids[grid]
        made.routing = {"grid_code": grid}
        return made

    world = World(
        sample,
        layout,
        held=routed("dispatched", "B03", IN_B03, G2),
        waiting=routed("registered", "B03", IN_B03, G2),
        closed=routed("closed", "B03", IN_B03, G2),
        stays=routed("dispatched", "B04", IN_B04, G3),
    )
    session.flush()
    return world


@pytest.fixture
def world(db_session: Session, receivers: None) -> Iterator[World]:
    with clock.frozen(NOW):
        yield build_world(db_session)


def snapshot(session: Session, made: Incident) -> tuple[int | None, str | None, str]:
    session.expire_all()
    found = session.get_one(Incident, made.id)
    grid = session.scalar(sa.select(Grid.code).where(Grid.id == found.grid_id))
    return found.layout_id, grid, found.status


def reroutes(session: Session) -> list[IncidentEvent]:
    return list(
        session.scalars(
            sa.select(IncidentEvent)
            .where(IncidentEvent.action == "reroute")
            .order_by(IncidentEvent.incident_id)
        )
    )


def messages(session: Session) -> list[tuple[str, object, object]]:
    rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
    return [(m.topic, m.payload["incident"], m.payload["grid"]) for m in rows]


def test_the_plan_says_which_incidents_are_rerouted_and_writes_nothing(
    db_session: Session, world: World
) -> None:
    entries = db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    plan = plan_cut_over(db_session, world.layout, START, reroute_open=True)

    assert plan.reroute_open
    assert [(i.incident, i.before, i.after) for i in plan.incidents] == [
        (world.held.id, G2, G1),
        (world.waiting.id, G2, G1),
    ]
    assert plan_cut_over(db_session, world.layout, START).reroute_open is False
    assert world.layout.status == "draft" and world.layout.reroute_open is not True
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == entries
    assert reroutes(db_session) == []


def test_open_incidents_are_rerouted_at_the_date_not_before_and_only_once(
    db_session: Session, world: World
) -> None:
    sample, layout = world.sample, world.layout

    publish_draft(db_session, layout, START, actor=TESTS, reroute_open=True)

    assert (layout.reroute_open, layout.rerouted_at) == (True, None)
    audited = db_session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.entity_id == f"420106001002/{layout.name}")
    ).all()
    assert {"publish", "reroute_open"} <= set(audited)
    # Before the date: the job finds nothing due, routing answers with the old grid.
    assert reroute_next(db_session) is None
    assert route_point(db_session, *IN_B03).grid_code == G2
    assert snapshot(db_session, world.held) == (sample.layout.id, G2, "dispatched")

    with clock.frozen(AFTER):
        done = reroute_next(db_session)
        assert done is not None
        assert [(r.incident, r.before, r.after) for r in done.incidents] == [
            (world.held.id, G2, G1),
            (world.waiting.id, G2, G1),
        ]
        # Twice: nothing more.
        assert reroute_next(db_session) is None

    assert snapshot(db_session, world.held) == (layout.id, G1, "dispatched")
    assert snapshot(db_session, world.waiting) == (layout.id, G1, "registered")
    assert snapshot(db_session, world.closed) == (sample.layout.id, G2, "closed")
    assert snapshot(db_session, world.stays) == (sample.layout.id, G3, "dispatched")
    held = db_session.get_one(Incident, world.held.id)
    assert (held.routing["layout_name"], held.routing["grid_code"]) == (layout.name, G1)
    assert held.routing["team"], "the new grid's team is in the snapshot"
    events = reroutes(db_session)
    assert [(e.incident_id, e.from_status, e.to_status) for e in events] == [
        (world.held.id, "dispatched", "dispatched"),
        (world.waiting.id, "registered", "registered"),
    ]
    assert f"{G2} → {G1}" in (events[0].note or "") and layout.name in (events[0].note or "")
    assert events[0].data is not None
    assert events[0].data["previous_routing"] == {"grid_code": G2}
    # Only the incident a team holds is announced, as a dispatch to its new grid.
    assert messages(db_session) == [("dispatched", world.held.id, G1)]
    assert layout.rerouted_at == AFTER


def test_without_reroute_open_nothing_is_ever_rerouted(db_session: Session, world: World) -> None:
    publish_draft(db_session, world.layout, START, actor=TESTS)

    with clock.frozen(AFTER + dt.timedelta(days=30)):
        assert reroute_next(db_session) is None
        # Routing new reports uses the new layout; the stored snapshots stay.
        assert route_point(db_session, *IN_B03).grid_code == G1

    assert snapshot(db_session, world.held) == (world.sample.layout.id, G2, "dispatched")
    assert reroutes(db_session) == [] and messages(db_session) == []
    assert world.layout.rerouted_at is None


def test_publishing_from_now_reroutes_in_the_same_transaction(
    db_session: Session, world: World
) -> None:
    done = publish_draft(db_session, world.layout, NOW, actor=TESTS, reroute_open=True)

    assert [(r.incident, r.after) for r in done.rerouted] == [
        (world.held.id, G1),
        (world.waiting.id, G1),
    ]
    assert world.layout.rerouted_at == NOW
    assert snapshot(db_session, world.held) == (world.layout.id, G1, "dispatched")
    assert reroute_next(db_session) is None
    assert len(reroutes(db_session)) == 2


def test_incidents_routed_under_the_new_layout_are_left_alone(
    db_session: Session, world: World
) -> None:
    publish_draft(db_session, world.layout, START, actor=TESTS, reroute_open=True)
    with clock.frozen(AFTER):
        # Taken in after the date: routed with the new layout already (here, wrongly
        # to G3, so that a second routing would be seen).
        later = incident(db_session, world.sample, status="dispatched", days_ago=0, point=IN_B03)
        later.layout_id = world.layout.id
        later.grid_id = db_session.scalar(
            sa.select(Grid.id).where(Grid.layout_id == world.layout.id, Grid.code == G3)
        )
        db_session.flush()
        done = reroute_next(db_session)

    assert done is not None and later.id not in [r.incident for r in done.incidents]
    assert snapshot(db_session, later) == (world.layout.id, G3, "dispatched")


def test_two_workers_reroute_a_cut_over_once(scratch_database_url: str, receivers: None) -> None:
    engine = sa.create_engine(scratch_database_url)
    try:
        with clock.frozen(NOW), unit_of_work(engine) as session:
            world = build_world(session)
            publish_draft(session, world.layout, START, actor=TESTS, reroute_open=True)
        with clock.frozen(AFTER):
            with unit_of_work(engine) as first:
                assert reroute_next(first) is not None
                # While the first has not committed, a second worker skips the
                # layout rather than wait for it.
                with unit_of_work(engine) as second:
                    assert reroute_next(second) is None
            assert reroute_due(engine) == 0
        with Session(engine) as session:
            assert len(reroutes(session)) == 2
            assert len(messages(session)) == 1
    finally:
        engine.dispose()
