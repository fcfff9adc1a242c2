"""Incidents as one viewer may see them: who may see which, and the personal data in them.

Grid staff see the incidents of their own area; dispatchers, planners and
administrators see all (DESIGN.md, Security). Inside an incident, every person
is shown through the one privacy rule (:mod:`gridgis.access.privacy`): the
routed team's contacts per person (dispatchers call them), the reporters
(residents' data) in full only for administrators, the grid staff whose area
holds the place, and the dispatcher handling the incident.
"""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.access.privacy import (
    Post,
    mask_name,
    mask_phone,
    sees_resident_data,
    staff_contact,
)
from gridgis.errors import NotFound
from gridgis.incidents.breaches import breaches
from gridgis.incidents.lifecycle import TRANSITIONS, allowed, may_note
from gridgis.models import (
    CHANNEL_TERMS,
    INCIDENT_STATUS_TERMS,
    Category,
    Incident,
    IncidentEvent,
    IncidentReporter,
)


def visible_to(viewer: Principal) -> ColumnElement[bool]:
    """The incidents ``viewer`` may see, as a clause (grid staff: their own area's)."""
    scope = viewer.scope
    if not viewer.can("incidents:read"):
        return sa.false()
    if scope is None:
        return sa.true()
    # A unit head's area holds their building (to draw it) but only their unit:
    # of the building's incidents they see their unit's and the building's own
    # (no unit: stairs, roof), not the other units' (DESIGN.md: what is assigned to them).
    return sa.or_(
        Incident.grid_id.in_(sorted(scope.grid_ids)),
        sa.and_(
            Incident.building_id.in_(sorted(scope.building_ids)),
            sa.or_(Incident.unit_id.is_(None), Incident.unit_id.in_(sorted(scope.unit_ids))),
        ),
    )


def place_of(incident: Incident) -> Post:
    return Post(incident.grid_id, incident.building_id, incident.unit_id)


def get_visible(
    session: Session, incident_id: int, viewer: Principal, *, for_update: bool = False
) -> Incident:
    """The incident, if ``viewer`` may see it.

    Args:
        session: The unit of work.
        incident_id: Which incident.
        viewer: Who asks.
        for_update: Lock its row until the unit of work ends (``FOR UPDATE``), and
            read it afresh even if the session had it: for a write that depends on it.

    Raises:
        NotFound: No such incident, or one the viewer may not see (the same
            answer: an id says nothing about incidents elsewhere).
    """
    query = sa.select(Incident).where(Incident.id == incident_id, visible_to(viewer))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    incident = session.scalar(query)
    if incident is None:
        if not viewer.can("incidents:read"):
            raise Forbidden("Your role does not allow reading incidents.")
        raise NotFound(f"No incident {incident_id}.")
    return incident


def sees_reporters(viewer: Principal | None, incident: Incident) -> bool:
    """Whether ``viewer`` sees this incident's reporters in full."""
    handles = (
        viewer is not None
        and viewer.role == "dispatcher"
        and incident.handled_by_id in (None, viewer.user_id)
    )
    return sees_resident_data(viewer, place_of(incident), handles_incident=handles)


def reporters_of(session: Session, incident: Incident) -> list[IncidentReporter]:
    """The incident's reporters, with those of the incidents merged into it."""
    merged = sa.select(Incident.id).where(Incident.merged_into_id == incident.id)
    return list(
        session.scalars(
            sa.select(IncidentReporter)
            .where(
                sa.or_(
                    IncidentReporter.incident_id == incident.id,
                    IncidentReporter.incident_id.in_(merged),
                )
            )
            .order_by(IncidentReporter.id)
        )
    )


def routing_shown_to(snapshot: dict[str, Any], viewer: Principal | None) -> dict[str, Any]:
    """The stored routing snapshot with each person's contact in full or masked for ``viewer``."""
    shown = copy.deepcopy(snapshot)
    for member in [shown.get("lead"), *shown.get("team", [])]:
        if not member:
            continue
        post = Post(**member.pop("post", None) or {})
        contact = staff_contact(viewer, post, member.get("name"), member.get("phone"))
        member.update(name=contact.name, phone=contact.phone, masked=contact.masked)
        member.pop("on_duty", None)
    return shown


def summary(incident: Incident, category: Category | None, lang: str = "zh") -> dict[str, Any]:
    """What a list shows of an incident: no personal data, so any reader may see it."""
    routing = incident.routing or {}
    status = INCIDENT_STATUS_TERMS[incident.status]
    now = clock.now()
    return {
        "id": incident.id,
        "status": incident.status,
        "status_name": status.name(lang),
        "channel": incident.channel,
        "channel_name": CHANNEL_TERMS[incident.channel].name(lang),
        "category": category.code if category else None,
        "category_name": (category.name_en if lang == "en" else category.name_zh)
        if category
        else None,
        "address": incident.address,
        "lon": routing.get("lon"),
        "lat": routing.get("lat"),
        "community": routing.get("community_code"),
        "grid": routing.get("grid_code"),
        "grid_name": routing.get("grid_name"),
        "building": routing.get("building_code"),
        "rule": incident.rule,
        "reported_at": incident.reported_at.isoformat(),
        "response_due_at": _iso(incident.response_due_at),
        "resolution_due_at": _iso(incident.resolution_due_at),
        "overdue": overdue(incident, now),
    }


def overdue(incident: Incident, now: Any) -> str | None:
    """``response`` or ``resolution`` when that deadline has passed undone, else None."""
    found = breaches(incident, now)
    return found[0][0] if found else None


def detail(
    session: Session, incident: Incident, viewer: Principal, lang: str = "zh"
) -> dict[str, Any]:
    """Everything ``viewer`` may see of one incident: place, team, reporters, history, moves."""
    category = session.get(Category, incident.category_id) if incident.category_id else None
    full = sees_reporters(viewer, incident)
    reporters = [
        {
            "name": r.name if full else mask_name(r.name),
            "phone": r.phone if full else mask_phone(r.phone),
            "masked": not full,
        }
        for r in reporters_of(session, incident)
    ]
    return {
        **summary(incident, category, lang),
        "description": incident.description,
        "source_category": incident.source_category,
        "external_id": incident.external_id,
        "input": {"crs": incident.input_crs, "lon": incident.input_lon, "lat": incident.input_lat},
        "created_at": incident.created_at.isoformat() if incident.created_at else None,
        "responded_at": _iso(incident.responded_at),
        "resolved_at": _iso(incident.resolved_at),
        "closed_at": _iso(incident.closed_at),
        "satisfaction": incident.satisfaction,
        "merged_into": incident.merged_into_id,
        "routing": routing_shown_to(incident.routing or {}, viewer),
        "reporters": reporters,
        "history": [history_line(e, lang) for e in incident.events],
        "actions": allowed(viewer, incident),
        "may_note": may_note(viewer, incident),
    }


def history_line(event: IncidentEvent, lang: str = "zh") -> dict[str, Any]:
    """One line of an incident's history as the detail and the notes API show it."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "action_name": event_name(event.action, lang),
        "from": event.from_status,
        "to": event.to_status,
        "note": event.note,
    }


#: History lines that are not moves of the life cycle (those are named in lifecycle.TRANSITIONS).
OTHER_EVENTS = {
    "take_in": ("受理", "Taken in"),
    "merged_in": ("并入重复件", "Duplicate merged in"),
    "photo": ("上传照片", "Photo added"),
    "escalate": ("督办", "Escalated"),
    "note": ("备注", "Note"),
    # A cut-over moved it to the grid that holds its place under the new layout.
    "reroute": ("网格调整改派", "Rerouted at a cut-over"),
}


def event_name(action: str, lang: str = "zh") -> str:
    """What a history line's action is called, in ``lang`` (the code itself if unknown)."""
    if action in TRANSITIONS:
        return TRANSITIONS[action].zh if lang == "zh" else action.replace("_", " ").capitalize()
    zh, en = OTHER_EVENTS.get(action, (action, action))
    return zh if lang == "zh" else en


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
