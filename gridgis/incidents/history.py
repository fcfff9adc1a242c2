"""An incident's history: appended events, never changed (the database refuses it too).

The events are the incidents' audit trail (like ``audit_log`` for the rest):
who did what, when, from which state to which, and why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.audit import Actor
from gridgis.models import Incident, IncidentEvent


def append_event(
    session: Session,
    incident: Incident,
    actor: Actor,
    action: str,
    from_status: str | None,
    to_status: str | None,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Add one event to ``incident``'s history (flushed with the caller's change)."""
    event = IncidentEvent(
        incident_id=incident.id,
        at=clock.now(),
        actor=actor.audit_name,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
    )
    session.add(event)
    session.flush()
    return event
