"""督办: overdue incidents escalated to the community office, once per breach; two workers too."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.db import unit_of_work
from gridgis.incidents import deadlines, outbox
from gridgis.incidents.escalation import escalate_overdue
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import move
from gridgis.incidents.worker import escalate_all
from gridgis.models import IncidentEscalation, IncidentEvent, OutboxMessage
from tests.support import factories as make
from tests.support.incidents import person, report, staff_member
from tests.support.routing_city import build_routing_city

DISPATCHER = person("dispatcher")
BEIJING = dt.timezone(dt.timedelta(hours=8))
#: Wednesday 30 September 2026, 17:00 in Beijing: the eve of the National Day holidays
#: (1–7 October off; Thursday 8 October back at work).
HOLIDAY_EVE = dt.datetime(2026, 9, 30, 17, 0, tzinfo=BEIJING)


def beijing(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


@pytest.fixture(autouse=True)
def office_hours() -> None:
    # The default office hours, whatever an earlier test in this process configured.
    deadlines.configure(deadlines.DEFAULT_WORKING_HOURS)  # 09:00–12:00, 13:30–17:30


@pytest.fixture
def receivers() -> Iterator[None]:
    outbox.configure([outbox.Receiver("office", "http://127.0.0.1:9/hook")])
    yield
    outbox.configure([])


def escalations(session: Session) -> list[tuple[int, str]]:
    return [
        tuple(r)  # type: ignore[misc]
        for r in session.execute(
            sa.select(IncidentEscalation.incident_id, IncidentEscalation.deadline).order_by(
                IncidentEscalation.incident_id, IncidentEscalation.deadline
            )
        )
    ]


def escalate_events(session: Session) -> list[IncidentEvent]:
    return list(
        session.scalars(
            sa.select(IncidentEvent)
            .where(IncidentEvent.action == "escalate")
            .order_by(IncidentEvent.id)
        )
    )


def escalated_messages(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.topic == "escalated")
            .order_by(OutboxMessage.id)
        )
    )


def test_a_deadline_breached_over_the_national_day_holidays_is_escalated_once(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    with clock.frozen(HOLIDAY_EVE) as frozen:
        # parking: respond within 1 working hour, resolve within 8.
        incident = take_in(db_session, report(reported_at=HOLIDAY_EVE), actor=DISPATCHER).incident
        move(db_session, incident.id, "register", actor=DISPATCHER)
        move(db_session, incident.id, "dispatch", actor=DISPATCHER)
        # Half an hour left on the eve; the rest after seven days off.
        assert incident.response_due_at == beijing(10, 8, 9, 30)
        assert incident.resolution_due_at == beijing(10, 9, 9, 30)

        frozen.at = beijing(10, 5, 12)  # five calendar days on, no working hour passed
        assert escalate_overdue(db_session) == []

        frozen.at = beijing(10, 8, 10)  # half an hour past the response deadline
        first = escalate_overdue(db_session)
        assert [(e.incident_id, e.deadline) for e in first] == [(incident.id, "response")]
        assert escalate_overdue(db_session) == []  # a second run: still once
        frozen.advance(minutes=5)
        assert escalate_overdue(db_session) == []

        frozen.at = beijing(10, 9, 10)  # now the resolution deadline too
        second = escalate_overdue(db_session)
        assert [(e.incident_id, e.deadline) for e in second] == [(incident.id, "resolution")]
        assert escalate_overdue(db_session) == []

    assert escalations(db_session) == [(incident.id, "resolution"), (incident.id, "response")]
    events = escalate_events(db_session)
    # In the incident's history, without a change of status, by the worker.
    assert [(e.incident_id, e.from_status, e.to_status, e.actor) for e in events] == [
        (incident.id, "dispatched", "dispatched", "cli:worker"),
        (incident.id, "dispatched", "dispatched", "cli:worker"),
    ]
    assert [e.data["deadline"] for e in events if e.data] == ["response", "resolution"]
    assert "2026-10-08 09:30" in (events[0].note or "")
    db_session.refresh(incident)
    assert incident.status == "dispatched"
    # One message per breach for the office, naming the place and never the reporter.
    messages = escalated_messages(db_session)
    assert [(m.destination, m.payload["deadline"]) for m in messages] == [
        ("office", "response"),
        ("office", "resolution"),
    ]
    payload = messages[0].payload
    assert payload["incident"] == incident.id and payload["grid"] == "A"
    assert payload["community"] == "C1" and payload["due_at"].startswith("2026-10-08T01:30")
    assert "陈居民" not in str(payload) and "13911112222" not in str(payload)


def test_a_calendar_deadline_runs_through_the_holiday(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    make.category(
        db_session, "noise", response_hours=2, resolution_hours=24, deadline_basis="calendar"
    )
    with clock.frozen(HOLIDAY_EVE) as frozen:
        incident = take_in(
            db_session, report(category="noise", reported_at=HOLIDAY_EVE), actor=DISPATCHER
        ).incident
        frozen.at = beijing(10, 1, 18)  # a holiday, 25 hours on: both deadlines passed
        done = escalate_overdue(db_session)
    assert sorted((e.incident_id, e.deadline) for e in done) == [
        (incident.id, "resolution"),
        (incident.id, "response"),
    ]
    assert len(escalated_messages(db_session)) == 2


def test_what_is_not_escalated(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    worker = staff_member(db_session, "GW")
    with clock.frozen(HOLIDAY_EVE) as frozen:

        def incident(category: str | None = "parking") -> int:
            taken = take_in(
                db_session, report(category=category, reported_at=HOLIDAY_EVE), actor=DISPATCHER
            )
            return taken.incident.id

        accepted = incident()
        for action in ("register", "dispatch", "accept"):
            move(db_session, accepted, action, actor=worker if action == "accept" else DISPATCHER)
        parked, rejected, merged, closed = incident(), incident(), incident(), incident()
        unclassified = incident(category=None)
        move(db_session, parked, "register", actor=DISPATCHER)
        move(db_session, parked, "park", actor=DISPATCHER, reason="长期问题")
        move(db_session, rejected, "reject", actor=DISPATCHER, reason="不属于本社区")
        move(db_session, merged, "merge", actor=DISPATCHER, reason="重复", into=accepted)
        for action in ("register", "dispatch", "accept", "report_done", "close"):
            move(db_session, closed, action, actor=worker if action in WORK else DISPATCHER)

        frozen.at = beijing(10, 8, 12)  # past every response deadline, before resolution
        done = escalate_overdue(db_session)
    # Accepted in time, parked, rejected, merged, closed, unclassified: nothing to escalate.
    assert done == []
    assert db_session.scalar(sa.select(sa.func.count()).select_from(IncidentEscalation)) == 0
    assert unclassified and escalated_messages(db_session) == []


WORK = ("accept", "report_done")


def test_batches_escalate_everything_overdue(
    db_session: Session, city: dict[str, object], receivers: None
) -> None:
    with clock.frozen(HOLIDAY_EVE) as frozen:
        ids = [
            take_in(db_session, report(reported_at=HOLIDAY_EVE), actor=DISPATCHER).incident.id
            for _ in range(5)
        ]
        frozen.at = beijing(10, 8, 10)
        batches = []
        while found := escalate_overdue(db_session, limit=2):
            batches.append(sorted(e.incident_id for e in found))
    assert batches == [ids[:2], ids[2:4], ids[4:]]


# --- Two workers at once, on a committed database of the test's own. -------------------


@pytest.fixture
def overdue_world(scratch_database_url: str, receivers: None) -> Iterator[sa.Engine]:
    """The routing city with 30 dispatched incidents, committed; the clock past their deadlines."""
    engine = sa.create_engine(scratch_database_url)
    with clock.frozen(HOLIDAY_EVE) as frozen:
        with unit_of_work(engine) as session:
            build_routing_city(session)
        with unit_of_work(engine) as session:
            for _ in range(30):
                take_in(session, report(reported_at=HOLIDAY_EVE), actor=DISPATCHER)
        frozen.at = beijing(10, 8, 10)
        yield engine
    engine.dispose()


def counts(engine: sa.Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            len(escalations(session)),
            len(escalate_events(session)),
            len(escalated_messages(session)),
        )


def test_a_second_worker_skips_what_the_first_holds(overdue_world: sa.Engine) -> None:
    engine = overdue_world
    with unit_of_work(engine) as first:
        held = escalate_overdue(first)
        assert len(held) == 30
        # While the first batch is not committed, a second worker finds nothing it may
        # take, and does not wait for the first.
        with unit_of_work(engine) as second:
            assert escalate_overdue(second) == []
    with unit_of_work(engine) as second:
        assert escalate_overdue(second) == []
    assert counts(engine) == (30, 30, 30)


def test_workers_racing_escalate_each_breach_once(overdue_world: sa.Engine) -> None:
    engine = overdue_world
    start = threading.Barrier(4)
    done: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            done.append(escalate_all_small(engine))
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(done) == 30
    assert counts(engine) == (30, 30, 30)
    assert escalate_all(engine) == 0


def escalate_all_small(engine: sa.Engine) -> int:
    """The worker's loop, in batches of three so that the workers interleave."""
    total = 0
    while True:
        with unit_of_work(engine) as session:
            found = escalate_overdue(session, limit=3)
        if not found:
            return total
        total += len(found)
