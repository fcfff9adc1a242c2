"""Field work on ``/my``: households due a visit (四访), visits, and rounds (四进).

- ``GET /my/households.json``: the flagged households of the viewer's area
  that are due or overdue (:func:`gridgis.staff.households.due_households`),
  names and phones as the privacy rule allows, and per building the counts
  the map colours by (:func:`~gridgis.staff.households.building_counts`).
- ``GET /my/households/<id>.json``: one household with its visits.
- ``POST /my/visits``: log a visit; a follow-up becomes an incident
  (:func:`gridgis.incidents.followups.log_visit_with_follow_up`).
- ``POST /my/rounds``: log a round; each finding given as an incident is
  taken in and linked to the round (:mod:`gridgis.incidents.round_findings`).

The page queues these while offline and may send one twice (the answer to
the first was lost). A visit is identified by who visited, which household,
and when (``visited_at``, to the millisecond the phone recorded); a round by
who logged it, its kind and its start. A second delivery answers 200 with the
first, and nothing is logged twice. Answers are 201 for a new one.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Response, jsonify, request

from gridgis.clock import parse_time
from gridgis.errors import InvalidInput
from gridgis.incidents.followups import log_visit_with_follow_up
from gridgis.incidents.round_findings import incident_from_round
from gridgis.models import Round, RoundIncident, Visit
from gridgis.staff.households import building_counts, due_households, household_detail
from gridgis.staff.residents import household_for
from gridgis.staff.rounds import log_round
from web import db
from web.my.blueprint import bp
from web.my.page import staff_and_community
from web.security import current_principal, requires

VISIT_FIELDS = ("household_id", "visited_at", "findings", "follow_up", "category")
ROUND_FIELDS = (
    "kind",
    "started_at",
    "grid_id",
    "building_id",
    "household_id",
    "lon",
    "lat",
    "participants",
    "others",
    "findings",
    "incidents",
)
FINDING_FIELDS = ("description", "category", "building_id")
#: Most findings one round may turn into incidents in one request.
MAX_FINDINGS = 20
#: Most households the due list returns (a grid holds a few hundred).
DUE_LIMIT = 1000


@bp.get("/households.json")
@requires("households:read")
def households() -> Response:
    """The households due a visit in the viewer's area, and the counts per building."""
    session = db.get_session()
    principal = current_principal()
    staff_and_community(session, principal)
    due = due_households(session, principal, limit=DUE_LIMIT)
    counts = building_counts(session, principal)
    return jsonify(
        {
            "due": [row.as_dict() for row in due],
            "buildings": [
                {
                    "code": c.building_code,
                    "households": c.households,
                    "flagged": c.flagged,
                    "due": c.due,
                    "overdue": c.overdue,
                }
                for c in counts
            ],
        }
    )


@bp.get("/households/<int:household_id>.json")
@requires("households:read")
def household(household_id: int) -> Response:
    """One household of the viewer's area with its visits, newest first (404 elsewhere)."""
    session = db.get_session()
    principal = current_principal()
    staff_and_community(session, principal)
    found = household_detail(session, principal, household_id)
    return jsonify(
        {
            **found.household.as_dict(),
            "visits": [
                {
                    "id": v.id,
                    "visited_at": v.visited_at.isoformat(),
                    "staff_name": v.staff_name,
                    "findings": v.findings,
                    "follow_up": v.follow_up,
                    "incident_id": v.incident_id,
                }
                for v in found.visits
            ],
        }
    )


@bp.post("/visits")
@requires("visits:write")
def visit() -> tuple[Response, int]:
    """Log a visit of the viewer's own; the same visit sent again answers with the first."""
    session = db.get_session()
    principal = current_principal()
    staff_and_community(session, principal)
    data = _body(VISIT_FIELDS)
    household_id = _id(data, "household_id")
    if household_id is None:
        raise InvalidInput("'household_id' is required (a number).")
    visited_at = _time(data, "visited_at")
    # The household first: one outside the area is "not found", whatever else is asked.
    household_for(session, household_id, principal)
    earlier = session.scalar(
        sa.select(Visit).where(
            Visit.household_id == household_id,
            Visit.staff_id == principal.staff_id,
            Visit.visited_at == visited_at,
        )
    )
    if earlier is not None:
        return jsonify(_visit(earlier, created=False)), 200
    logged = log_visit_with_follow_up(
        session,
        household_id,
        actor=principal,
        visited_at=visited_at,
        findings=_text(data, "findings") or "",
        follow_up=_text(data, "follow_up"),
        category=_text(data, "category"),
    )
    return jsonify(_visit(logged, created=True)), 201


def _visit(found: Visit, *, created: bool) -> dict[str, Any]:
    return {
        "id": found.id,
        "household_id": found.household_id,
        "visited_at": found.visited_at.isoformat(),
        "incident_id": found.incident_id,
        "created": created,
    }


@bp.post("/rounds")
@requires("rounds:write")
def round_() -> tuple[Response, int]:
    """Log a round with its findings as incidents; a round sent again gets the first answer."""
    session = db.get_session()
    principal = current_principal()
    staff_and_community(session, principal)
    data = _body(ROUND_FIELDS)
    started_at = _time(data, "started_at")
    kind = _text(data, "kind") or ""
    findings = _findings(data.get("incidents"))
    earlier = session.scalar(
        sa.select(Round).where(
            Round.logged_by == principal.audit_name,
            Round.kind == kind,
            Round.started_at == started_at,
        )
    )
    if earlier is not None:
        return jsonify(_round(session, earlier, created=False)), 200
    logged = log_round(
        session,
        actor=principal,
        kind=kind,
        started_at=started_at,
        grid_id=_id(data, "grid_id"),
        building_id=_id(data, "building_id"),
        household_id=_id(data, "household_id"),
        lon=_float(data, "lon"),
        lat=_float(data, "lat"),
        participants=_ids(data.get("participants")),
        others=_text(data, "others"),
        findings=_text(data, "findings") or "",
    )
    for finding in findings:
        incident_from_round(
            session,
            logged.id,
            actor=principal,
            description=_text(finding, "description") or "",
            category=_text(finding, "category"),
            building_id=_id(finding, "building_id"),
            reported_at=started_at,
        )
    return jsonify(_round(session, logged, created=True)), 201


def _round(session: Any, found: Round, *, created: bool) -> dict[str, Any]:
    incidents = session.scalars(
        sa.select(RoundIncident.incident_id)
        .where(RoundIncident.round_id == found.id)
        .order_by(RoundIncident.incident_id)
    ).all()
    return {
        "id": found.id,
        "kind": found.kind,
        "started_at": found.started_at.isoformat(),
        "incidents": list(incidents),
        "created": created,
    }


def _body(fields: tuple[str, ...]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object (Content-Type: application/json).")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) {', '.join(unknown)}; the fields are {', '.join(fields)}."
        )
    return data


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be text; got {json.dumps(value)}.")
    return value


def _time(data: dict[str, Any], name: str) -> Any:
    at = parse_time(_text(data, name), f"'{name}'")
    if at is None:
        raise InvalidInput(
            f"'{name}' is required: when it took place, e.g. 2026-05-06T09:30+08:00."
        )
    return at


def _id(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"'{name}' must be a whole number; got {json.dumps(value)}.")
    return value


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise InvalidInput("'participants' must be a list of staff ids (numbers).")
    return value


def _float(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"'{name}' must be a number; got {json.dumps(value)}.")
    return float(value)


def _findings(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_FINDINGS:
        raise InvalidInput(
            f"'incidents' must be a list of at most {MAX_FINDINGS} findings, "
            'each {"description": ..., "category": ...}.'
        )
    for finding in value:
        if not isinstance(finding, dict) or set(finding) - set(FINDING_FIELDS):
            raise InvalidInput(
                f"Each finding is an object with {', '.join(FINDING_FIELDS)}; "
                f"got {json.dumps(finding)}."
            )
    return value
