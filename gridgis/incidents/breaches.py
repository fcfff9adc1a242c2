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
escalation job (督办) all use it.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from gridgis.models import OPEN_STATUSES, Incident

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
