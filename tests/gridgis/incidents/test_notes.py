"""Notes (处置进展/备注): who may add one, what text is taken, and that nothing else moves."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Forbidden, Principal
from gridgis.access.scope import Places
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import MAX_NOTE, move
from gridgis.incidents.notes import add_note
from gridgis.incidents.views import detail
from gridgis.models import Incident, IncidentEvent, OutboxMessage
from tests.support import factories as make
from tests.support.incidents import IN_GRID_B, person, report, staff_member
from tests.support.routing_city import build_routing_city

DISPATCHER = person("dispatcher")


def dispatched(session: Session, where: tuple[float, float] | None = None) -> Incident:
    """An incident of grid A (or ``where``), registered and dispatched to its team."""
    incident = take_in(session, report(where) if where else report(), actor=DISPATCHER).incident
    move(session, incident.id, "register", actor=DISPATCHER)
    move(session, incident.id, "dispatch", actor=DISPATCHER)
    return incident


def other_grids_worker(session: Session, city: dict[str, object]) -> Principal:
    grid_b = city["grids"]["B"]  # type: ignore[index]
    someone = make.staff(session, city["community"], "GB", "李乙", "13800000099")  # type: ignore[arg-type]
    make.assign(session, someone, "grid_worker", grid=grid_b)
    return staff_member(session, "GB")


def test_a_note_is_a_line_of_history_that_moves_nothing(
    db_session: Session, city: dict[str, object]
) -> None:
    incident = dispatched(db_session)
    worker = staff_member(db_session, "GW")
    move(db_session, incident.id, "accept", actor=worker)
    before = {
        name: getattr(incident, name)
        for name in (
            "status",
            "updated_at",
            "responded_at",
            "resolved_at",
            "response_due_at",
            "resolution_due_at",
        )
    }
    messages = db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    noted = add_note(db_session, incident.id, "  物业已到场，明早清运  ", actor=worker)
    assert noted.created
    event = noted.event
    assert (event.action, event.from_status, event.to_status) == (
        "note",
        "in_progress",
        "in_progress",
    )
    assert (event.note, event.actor, event.data) == ("物业已到场，明早清运", "user:gw", None)
    db_session.expire(incident)
    assert {name: getattr(incident, name) for name in before} == before
    # No notification: a note is news for nobody outside.
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == messages
    shown = detail(db_session, incident, DISPATCHER)
    assert shown["history"][-1] | {"at": None, "id": None} == {
        "id": None,
        "at": None,
        "actor": "user:gw",
        "action": "note",
        "action_name": "备注",
        "from": "in_progress",
        "to": "in_progress",
        "note": "物业已到场，明早清运",
    }
    assert detail(db_session, incident, DISPATCHER, "en")["history"][-1]["action_name"] == "Note"
    # The team reports it done afterwards as ever: the note changed no state a move needs.
    move(db_session, incident.id, "report_done", actor=worker)
    assert incident.status == "checked"


#: Who may add a note to an incident of grid A (open or closed).
MAY_NOTE = {"dispatcher": True, "admin": True, "team": True, "planner": False}


@pytest.mark.parametrize("status", ["received", "dispatched", "in_progress", "parked", "closed"])
@pytest.mark.parametrize("who", sorted(MAY_NOTE))
def test_who_may_add_a_note(
    db_session: Session, city: dict[str, object], who: str, status: str
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    incident.status = status
    db_session.flush()
    actor = staff_member(db_session, "GW") if who == "team" else person(who)
    assert detail(db_session, incident, actor)["may_note"] is MAY_NOTE[who]
    if MAY_NOTE[who]:
        assert add_note(db_session, incident.id, "已电话联系居民", actor=actor).event.to_status == (
            status
        )
    else:
        with pytest.raises(Forbidden, match="your role lacks 'incidents:dispatch' or"):
            add_note(db_session, incident.id, "已电话联系居民", actor=actor)


def test_grid_staff_note_only_their_own_teams_incidents(
    db_session: Session, city: dict[str, object]
) -> None:
    incident = dispatched(db_session)
    stranger = other_grids_worker(db_session, city)
    # Not in their area: as if it did not exist.
    with pytest.raises(NotFound, match=f"No incident {incident.id}"):
        add_note(db_session, incident.id, "路过看了一眼", actor=stranger)
    theirs = dispatched(db_session, IN_GRID_B)
    assert add_note(db_session, theirs.id, "已到场", actor=stranger).created
    # A viewer reads no incidents at all.
    with pytest.raises(Forbidden):
        add_note(db_session, incident.id, "x", actor=person("viewer"))


def test_the_team_rule_is_the_moves_rule(db_session: Session, city: dict[str, object]) -> None:
    """In the area but not the team's: a note is refused where a move would be."""
    incident = dispatched(db_session)
    worker = staff_member(db_session, "GW")
    # The same person, with an area that holds the incident and a team that does not.
    assert worker.scope is not None
    outsider = dataclasses.replace(worker, scope=dataclasses.replace(worker.scope, team=Places()))
    with pytest.raises(Forbidden, match="belongs to another grid team"):
        move(db_session, incident.id, "accept", actor=outsider)
    with pytest.raises(Forbidden, match="belongs to another grid team"):
        add_note(db_session, incident.id, "已到场", actor=outsider)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "it is empty"),
        ("", "it is empty"),
        ("   \n ", "it is empty"),
        ("长" * (MAX_NOTE + 1), f"at most {MAX_NOTE} characters; this one is {MAX_NOTE + 1}"),
    ],
)
def test_a_note_needs_text_within_the_limit(
    db_session: Session, city: dict[str, object], text: str | None, words: str
) -> None:
    incident = dispatched(db_session)
    with pytest.raises(InvalidInput, match=words):
        add_note(db_session, incident.id, text, actor=DISPATCHER)
    assert "note" not in [e.action for e in incident.events]
    # Exactly the limit, after trimming, is taken.
    long = add_note(db_session, incident.id, " " + "长" * MAX_NOTE + " ", actor=DISPATCHER)
    assert long.event.note == "长" * MAX_NOTE


def test_a_note_sent_again_is_added_once(db_session: Session, city: dict[str, object]) -> None:
    incident = dispatched(db_session)
    worker = staff_member(db_session, "GW")
    client_id = "6f1c0c1e-4b7e-4a55-9d6e-2b0c3c1f9a01"
    first = add_note(db_session, incident.id, "已联系物业", actor=worker, client_id=client_id)
    again = add_note(db_session, incident.id, "已联系物业", actor=worker, client_id=client_id)
    assert (first.created, again.created) == (True, False)
    assert again.event.id == first.event.id and first.event.data == {"client_id": client_id}
    # The same words again, as a new note (another id, or none): a second line.
    add_note(db_session, incident.id, "已联系物业", actor=worker, client_id="another-id")
    add_note(db_session, incident.id, "已联系物业", actor=worker)
    # Another person's id never matches this one's note.
    assert add_note(
        db_session, incident.id, "已联系物业", actor=DISPATCHER, client_id=client_id
    ).created
    notes = db_session.scalars(
        sa.select(IncidentEvent.actor).where(
            IncidentEvent.incident_id == incident.id, IncidentEvent.action == "note"
        )
    ).all()
    assert notes == ["user:gw", "user:gw", "user:gw", "user:dispatcher"]


@pytest.mark.parametrize("client_id", ["a" * 65, "with space", "-starts-with-dash", "路"])
def test_a_malformed_client_id_is_refused(
    db_session: Session, city: dict[str, object], client_id: str
) -> None:
    incident = dispatched(db_session)
    with pytest.raises(InvalidInput, match="client_id is at most 64"):
        add_note(db_session, incident.id, "x", actor=DISPATCHER, client_id=client_id)


def test_a_merged_incident_takes_no_note(db_session: Session, city: dict[str, object]) -> None:
    kept = take_in(db_session, report(), actor=DISPATCHER).incident
    merged = take_in(db_session, report(), actor=DISPATCHER).incident
    move(db_session, merged.id, "merge", actor=DISPATCHER, into=kept.id, reason="同一辆车")
    with pytest.raises(Conflict, match=f"merged into incident {kept.id}: add the note there"):
        add_note(db_session, merged.id, "x", actor=DISPATCHER)


def test_a_move_reads_the_incident_afresh_under_its_lock(
    db_session: Session, city: dict[str, object]
) -> None:
    """The caller may have loaded the incident before the lock: the move sees its latest state."""
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    # Another unit of work registered it meanwhile (written past this session's objects).
    db_session.execute(
        sa.update(Incident)
        .where(Incident.id == incident.id)
        .values(status="registered")
        .execution_options(synchronize_session=False)
    )
    assert incident.status == "received"  # the object loaded before: stale
    move(db_session, incident.id, "dispatch", actor=DISPATCHER)
    assert incident.status == "dispatched"


def test_two_deliveries_of_one_note_at_once_add_it_once(scratch_database_url: str) -> None:
    """The phone sends again while the first delivery is still being written: one note."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_routing_city(session)
        incident_id = dispatched(session).id
    first_holds_the_lock = threading.Event()
    created: dict[str, bool] = {}

    def deliver(name: str) -> None:
        if name == "second":
            first_holds_the_lock.wait(5)
        with Session(engine) as session, session.begin():
            worker = staff_member(session, "GW")
            noted = add_note(session, incident_id, "已到场", actor=worker, client_id="n-1")
            if name == "first":
                first_holds_the_lock.set()
                threading.Event().wait(0.5)  # the second is now waiting for the row
            created[name] = noted.created

    threads = [threading.Thread(target=deliver, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert created == {"first": True, "second": False}
    with Session(engine) as session:
        n = session.scalar(
            sa.select(sa.func.count())
            .select_from(IncidentEvent)
            .where(IncidentEvent.action == "note")
        )
    assert n == 1
    engine.dispose()
