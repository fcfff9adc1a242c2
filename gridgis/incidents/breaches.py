"""When an incident is overdue: a deadline passed with its step undone (one rule, two forms).

An incident still open (received, registered, dispatched, in progress or being
checked; not parked, rejected, merged or closed) breaches

- its **response** deadline (``response_due_at``) once that has passed while
  the team has not accepted it (``responded_at``, 签收), and
- its **resolution** deadline (``resolution_due_at``) once that has passed
  while it has not been reported done (``resolved_at``, 办结上报).

Unclassified incidents have no deadline and never breach. The rule is written
once here, for one incident in Python (:func:`breaches`) and as SQL
(:func:`breached`); the console's flags and filters, the lists, the map and the
escalation job (督办) all use it. :func:`breached_at` asks it of the incident
as it stood at a past moment (a month's end, for the monthly report), from
its history: what was done since does not rewrite a month already reported.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from gridgis.models import OPEN_STATUSES, Incident, IncidentEvent

#: Each deadline (models.incidents.DEADLINES) with when its step was done and when it falls due.
STEPS = {
    "response": (Incident.responded_at, Incident.response_due_at),
    "resolution": (Incident.resolved_at, Incident.resolution_due_at),
}


def breaches(incident: Incident, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """``(deadline, due_at)`` of each deadline ``incident`` has breached by ``now``."""
    if incident.status not in OPEN_STATUSES:
        return []
    found = []
    for deadline, (done, due) in STEPS.items():
        done_at, due_at = getattr(incident, done.key), getattr(incident, due.key)
        if done_at is None and due_at is not None and now > due_at:
            found.append((deadline, due_at))
    return found


def breach_of(deadline: str, now: dt.datetime) -> ColumnElement[bool]:
    """SQL: ``deadline`` (response or resolution) has passed undone, whatever the status."""
    done, due = STEPS[deadline]
    return sa.and_(done.is_(None), due < now)


def breached(which: str, now: dt.datetime) -> ColumnElement[bool]:
    """SQL: open, and its ``response`` or ``resolution`` deadline (or ``any``) breached."""
    deadlines = [which] if which in STEPS else list(STEPS)
    return sa.and_(
        Incident.status.in_(OPEN_STATUSES), sa.or_(*(breach_of(d, now) for d in deadlines))
    )


def status_at(at: dt.datetime) -> ColumnElement[str]:
    """SQL: the incident's status at ``at``, from its history (``received`` before any move).

    Every move appends an event naming the state it led to (and the other
    events name the state they left it in), so the last event by ``at`` says
    where it stood; an incident taken in after its reported time (a hotline
    export) was ``received`` from that time on.
    """
    last = (
        sa.select(IncidentEvent.to_status)
        .where(
            IncidentEvent.incident_id == Incident.id,
            IncidentEvent.at <= at,
            IncidentEvent.to_status.is_not(None),
        )
        .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc())
        .limit(1)
        .correlate(Incident)
        .scalar_subquery()
    )
    return sa.func.coalesce(last, "received")


def breached_at(which: str, at: dt.datetime) -> ColumnElement[bool]:
    """SQL: :func:`breached` of the incident as it stood at ``at``, from its history.

    Reported by ``at`` and open then; its response deadline passed by ``at``
    with no acceptance by then (``responded_at`` is set once, at the first),
    or its resolution deadline passed by ``at`` while it was not waiting to
    be checked (the one open state after 办结上报: ``resolved_at`` is set on
    reporting done and cleared on sending back or reopening). At ``now`` it
    answers as :func:`breached` does.
    """
    status = status_at(at)
    steps = {
        "response": sa.and_(
            sa.or_(Incident.responded_at.is_(None), Incident.responded_at > at),
            Incident.response_due_at < at,
        ),
        "resolution": sa.and_(status != "checked", Incident.resolution_due_at < at),
    }
    deadlines = [which] if which in STEPS else list(STEPS)
    return sa.and_(
        Incident.reported_at <= at,
        status.in_(OPEN_STATUSES),
        sa.or_(*(steps[d] for d in deadlines)),
    )
