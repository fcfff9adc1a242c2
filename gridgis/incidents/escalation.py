"""督办: incidents whose deadline passed undone, escalated to the community office once.

A breach is the rule of :mod:`gridgis.incidents.breaches` (an open incident
whose response deadline passed before it was accepted, or whose resolution
deadline passed before it was reported done). Each breach is
escalated once: a row in ``incident_escalation`` (primary key: incident and
deadline), an ``escalate`` event in the incident's history (no change of
status) and an ``escalated`` message in the outbox for the community office's
webhooks — all in the batch's one transaction, so either all three happen or
none. An incident sent back or reopened past its resolution deadline is not
escalated again for it: the deadline is the same one, already escalated.

Two workers at once cannot escalate a breach twice: each batch locks its
incidents ``FOR UPDATE SKIP LOCKED`` (a second worker takes other incidents,
and a dispatcher's move on one waits for the batch), and the insert into
``incident_escalation`` is ``ON CONFLICT DO NOTHING``: only the rows it really
inserted get an event and a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal, cli_principal
from gridgis.incidents import outbox
from gridgis.incidents.breaches import STEPS, breach_of, breaches
from gridgis.incidents.history import append_event
from gridgis.incidents.lifecycle import message_about
from gridgis.models import OPEN_STATUSES, Incident, IncidentEscalation

#: Incidents looked at in one transaction.
BATCH = 200
#: Who escalates: the worker, as the incidents' history names it (``cli:worker``).
WORKER: Principal = cli_principal("worker")
#: The history's words for each breach.
NOTES = {
    "response": "超过响应时限未签收，已督办至社区",
    "resolution": "超过办结时限未办结，已督办至社区",
}


@dataclass(frozen=True)
class Escalated:
    """One breach escalated: which incident, which deadline, when it was due."""

    incident_id: int
    deadline: str
    due_at: dt.datetime


def _not_escalated(deadline: str) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        IncidentEscalation.incident_id == Incident.id, IncidentEscalation.deadline == deadline
    )


def escalate_overdue(
    session: Session,
    *,
    actor: Principal = WORKER,
    now: dt.datetime | None = None,
    limit: int = BATCH,
) -> list[Escalated]:
    """Escalate the breaches not yet escalated, of at most ``limit`` incidents (flushed).

    The caller's unit of work commits the batch; call again until it returns
    nothing (:func:`gridgis.incidents.worker.escalate_all` does).

    Args:
        session: The batch's unit of work.
        actor: Who escalates (the history names them).
        now: The time the deadlines are compared with (default: the clock's).
        limit: Most incidents taken in this batch.

    Returns:
        The breaches escalated by this call, by incident.
    """
    now = now or clock.now()
    candidates = session.scalars(
        sa.select(Incident)
        .where(
            Incident.status.in_(OPEN_STATUSES),
            sa.or_(*(sa.and_(breach_of(d, now), _not_escalated(d)) for d in STEPS)),
        )
        .order_by(Incident.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Incident)
    ).all()
    found = [(incident, d, due) for incident in candidates for d, due in breaches(incident, now)]
    if not found:
        return []
    # Breaches escalated before (the other deadline of an incident, or a worker
    # that committed since this batch looked) conflict and come back as nothing.
    inserted = {
        (row.incident_id, row.deadline)
        for row in session.execute(
            insert(IncidentEscalation)
            .values([{"incident_id": i.id, "deadline": d, "at": now} for i, d, _ in found])
            .on_conflict_do_nothing()
            .returning(IncidentEscalation.incident_id, IncidentEscalation.deadline)
        )
    }
    escalated = []
    for incident, deadline, due in found:
        if (incident.id, deadline) not in inserted:
            continue
        append_event(
            session,
            incident,
            actor,
            "escalate",
            incident.status,
            incident.status,
            note=f"{NOTES[deadline]}（时限 {clock.show(due)}）",
            data={"deadline": deadline, "due_at": due.isoformat()},
        )
        outbox.notify(
            session,
            "escalated",
            {
                **message_about(incident, "escalate"),
                "deadline": deadline,
                "due_at": due.isoformat(),
                "to": "community_office",
            },
        )
        escalated.append(Escalated(incident.id, deadline, due))
    return escalated
