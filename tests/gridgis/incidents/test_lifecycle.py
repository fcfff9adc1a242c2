"""An incident's life: the moves, who may make them, their history, and no double win."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import Conflict, InvalidInput
from gridgis.incidents import outbox
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import TRANSITIONS, allowed, move
from gridgis.incidents.views import reporters_of
from gridgis.models import Incident, IncidentEvent, OutboxMessage
from tests.support import factories as make
from tests.support.incidents import IN_GRID_B, person, report, staff_member
from tests.support.routing_city import build_routing_city

DISPATCHER = person("dispatcher")
ADMIN = person("admin")


@pytest.fixture
def receivers() -> Iterator[None]:
    outbox.configure([outbox.Receiver("wecom", "http://127.0.0.1:9/hook")])
    yield
    outbox.configure([])


def events(session: Session, incident: Incident) -> list[tuple[str, str | None, str | None]]:
    rows = session.scalars(
        sa.select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id)
    )
    return [(e.action, e.from_status, e.to_status) for e in rows]


def test_the_whole_life_as_a_dispatcher_and_the_team_live_it(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    worker = staff_member(db_session, "GW")  # 王网格, grid worker of A
    move(db_session, incident.id, "register", actor=DISPATCHER)
    move(db_session, incident.id, "dispatch", actor=DISPATCHER)
    move(db_session, incident.id, "accept", actor=worker)
    move(db_session, incident.id, "report_done", actor=worker)
    move(db_session, incident.id, "close", actor=DISPATCHER, satisfaction="satisfied")
    assert incident.status == "closed" and incident.satisfaction == "satisfied"
    assert incident.responded_at and incident.resolved_at and incident.closed_at
    assert events(db_session, incident) == [
        ("take_in", None, "received"),
        ("register", "received", "registered"),
        ("dispatch", "registered", "dispatched"),
        ("accept", "dispatched", "in_progress"),
        ("report_done", "in_progress", "checked"),
        ("close", "checked", "closed"),
    ]
    # Dispatching and closing each wrote a notification, in the same transaction.
    messages = db_session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.topic, m.destination) for m in messages] == [
        ("dispatched", "wecom"),
        ("closed", "wecom"),
    ]
    assert messages[0].payload["grid"] == "A" and "陈居民" not in str(messages[0].payload)


def test_a_rolled_back_move_sends_nothing(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    move(db_session, incident.id, "register", actor=DISPATCHER)
    with pytest.raises(RuntimeError), db_session.begin_nested():
        move(db_session, incident.id, "dispatch", actor=DISPATCHER)
        raise RuntimeError("the request failed after the move")
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert db_session.scalar(sa.select(Incident.status).where(Incident.id == incident.id)) == (
        "registered"
    )


#: Who may make each move (on an incident of grid A), besides administrators.
MAY = {
    "dispatcher": {
        "register",
        "reject",
        "merge",
        "dispatch",
        "send_back",
        "close",
        "park",
        "resume",
        "reopen",
    },
    "team": {"accept", "report_done"},  # grid staff of grid A's team
    "other grid": set(),  # grid staff of another grid
    "planner": set(),
    "viewer": set(),
}


@pytest.mark.parametrize("who", sorted(MAY))
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_who_may_make_each_move(
    db_session: Session, city: dict[str, object], who: str, action: str
) -> None:
    transition = TRANSITIONS[action]
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    incident.status = transition.sources[0]  # put it where the move applies
    db_session.flush()
    target = take_in(db_session, report(IN_GRID_B), actor=DISPATCHER).incident
    actor = principal_for(db_session, city, who)
    kwargs = {"reason": "测试", "into": target.id}
    if action in MAY[who]:
        move(db_session, incident.id, action, actor=actor, **kwargs)  # type: ignore[arg-type]
        assert incident.status == transition.target
        assert action in allowed(ADMIN, incident) or incident.status not in transition.sources
    else:
        assert action not in allowed(actor, incident)
        with pytest.raises(Forbidden):
            move(db_session, incident.id, action, actor=actor, **kwargs)  # type: ignore[arg-type]
    # Administrators may make every move.
    incident.status, incident.merged_into_id = transition.sources[0], None
    db_session.flush()
    assert action in allowed(ADMIN, incident)


def principal_for(session: Session, city: dict[str, object], who: str) -> Principal:
    if who == "team":
        return staff_member(session, "GW")
    if who == "other grid":
        grid_b = city["grids"]["B"]  # type: ignore[index]
        someone = make.staff(session, city["community"], "GB", "李乙", "13800000099")  # type: ignore[arg-type]
        make.assign(session, someone, "grid_worker", grid=grid_b)
        return staff_member(session, "GB")
    return person(who)


@pytest.mark.parametrize("action", [a for a, t in TRANSITIONS.items() if t.needs_reason])
def test_moves_that_need_a_reason(
    db_session: Session, city: dict[str, object], action: str
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    incident.status = TRANSITIONS[action].sources[0]
    db_session.flush()
    with pytest.raises(InvalidInput, match="a reason is required"):
        move(db_session, incident.id, action, actor=DISPATCHER, reason="  ")


def test_a_move_that_no_longer_applies_is_refused(
    db_session: Session, city: dict[str, object]
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    with pytest.raises(Conflict, match=r"is received \(受理\); 'close' applies only to .* checked"):
        move(db_session, incident.id, "close", actor=DISPATCHER)
    with pytest.raises(InvalidInput, match="Unknown action 'finish'"):
        move(db_session, incident.id, "finish", actor=DISPATCHER)


def test_reopen_from_closed_goes_back_to_the_team(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    incident.status = "closed"
    db_session.flush()
    move(db_session, incident.id, "reopen", actor=DISPATCHER, reason="居民反映问题仍在")
    assert incident.status == "dispatched" and incident.closed_at is None
    assert db_session.scalar(sa.select(OutboxMessage.topic)) == "reopened"


def test_merging_keeps_both_histories_and_both_reporters(
    db_session: Session, city: dict[str, object]
) -> None:
    first = take_in(db_session, report(), actor=DISPATCHER).incident
    second = take_in(
        db_session, report(reporter_name="林邻居", reporter_phone="13922223333"), actor=DISPATCHER
    ).incident
    move(db_session, second.id, "merge", actor=DISPATCHER, into=first.id, reason="同一辆车")
    assert second.status == "merged" and second.merged_into_id == first.id
    assert [r.name for r in reporters_of(db_session, first)] == ["陈居民", "林邻居"]
    assert events(db_session, first)[-1] == ("merged_in", "received", "received")
    assert events(db_session, second)[-1] == ("merge", "received", "merged")
    with pytest.raises(InvalidInput, match="merged into itself"):
        move(db_session, first.id, "merge", actor=DISPATCHER, into=first.id, reason="x")


def test_the_history_cannot_be_rewritten(db_session: Session, city: dict[str, object]) -> None:
    take_in(db_session, report(), actor=DISPATCHER)
    for statement in ("UPDATE incident_event SET actor = 'x'", "DELETE FROM incident_event"):
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"), db_session.begin_nested():
            db_session.execute(sa.text(statement))


def test_two_dispatchers_at_once_cannot_both_win(scratch_database_url: str) -> None:
    """Two sessions dispatch the same incident at the same moment: one wins, one is refused."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_routing_city(session)
        incident_id = take_in(session, report(), actor=DISPATCHER).incident.id
        move(session, incident_id, "register", actor=DISPATCHER)
    first_holds_the_lock = threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        with Session(engine) as session, session.begin():
            move(session, incident_id, "dispatch", actor=person("dispatcher", name="d1"))
            first_holds_the_lock.set()
            threading.Event().wait(0.5)  # the second is now waiting for the row
        outcomes["first"] = "dispatched"

    def second() -> None:
        first_holds_the_lock.wait(5)
        try:
            with Session(engine) as session, session.begin():
                move(session, incident_id, "dispatch", actor=person("dispatcher", name="d2"))
            outcomes["second"] = "dispatched"
        except Conflict as exc:
            outcomes["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert outcomes["first"] == "dispatched"
    assert isinstance(outcomes["second"], Conflict)
    with Session(engine) as session:
        dispatches = session.scalars(
            sa.select(IncidentEvent.actor).where(IncidentEvent.action == "dispatch")
        ).all()
    assert dispatches == ["user:d1"]
    engine.dispose()
