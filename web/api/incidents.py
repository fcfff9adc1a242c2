"""Incidents over HTTP: take in, list, read, move, note (``/api/v1/incidents``).

- ``POST /api/v1/incidents`` (``incidents:report``; API keys with that scope
  too): a JSON report — ``channel``, ``category``, ``description``,
  ``lon``/``lat``/``crs`` or ``address``, ``reported_at`` (ISO 8601 with a
  zone), ``reporter_name``, ``reporter_phone``, ``external_id``,
  ``source_category``. 201 with the incident as the caller may see it
  (:func:`gridgis.incidents.views.detail`: its routing snapshot names the
  team and the departments) and ``duplicates``, the nearby open incidents;
  200 with the earlier incident when the channel delivered that
  ``external_id`` before. A caller who may not see the incident afterwards
  (a key without ``incidents:read``, grid staff reporting elsewhere) gets a
  receipt: its id and state. Every bad field is a 4xx naming it, and nothing is stored.
- ``GET /api/v1/incidents``: the incidents the caller may see as GeoJSON
  (:mod:`gridgis.incidents.queries`: ``bbox``, ``status``, ``grid``,
  ``category``, ``channel``, ``overdue``, ``since``, ``until``, ``limit``,
  ``offset``; ``numberMatched`` and paging links).
- ``GET /api/v1/incidents/<id>`` and ``.../duplicates``: one incident, its
  nearby open incidents (404 for one the caller may not see).
- ``POST /api/v1/incidents/<id>/actions/<action>`` with ``reason``, ``into``,
  ``satisfaction``: one move of its life (:func:`gridgis.incidents.lifecycle.move`),
  200 with the new detail; 403, 409 or 400 as the move is refused.
- ``POST /api/v1/incidents/<id>/notes`` with ``note`` and an optional
  ``client_id``: a note in its history that moves nothing
  (:func:`gridgis.incidents.notes.add_note`), 201 with the event; 200 with the
  same event when this caller sent that ``client_id`` to this incident before
  (a phone sending again after a lost answer); 404 for an incident the caller
  may not see, 403 for one they see but may not act on, 400 for an empty or
  too long note.

The API speaks English; names in the answers follow ``?lang=`` (zh by default).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gridgis.access.permissions import Principal
from gridgis.clock import parse_time
from gridgis.errors import InvalidInput
from gridgis.geo.query import parse_limit, parse_offset
from gridgis.incidents import lifecycle, notes, queries, views
from gridgis.incidents.duplicates import nearby_open
from gridgis.incidents.intake import Report, take_in
from gridgis.incidents.reports import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_EXTERNAL_ID,
    MAX_SOURCE_CATEGORY,
)
from gridgis.models import Category, Incident
from web import db, i18n
from web.api.routing import TOO_DEEP, _coordinate
from web.security import current_principal, requires

bp = Blueprint("incidents", __name__)

GEOJSON = "application/geo+json"
#: The text fields of a report and the longest value each may be.
TEXT_FIELDS = {
    "channel": 32,
    "category": 64,
    "description": MAX_DESCRIPTION,
    "address": MAX_ADDRESS,
    "reporter_name": 100,
    "reporter_phone": 32,
    "external_id": MAX_EXTERNAL_ID,
    "source_category": MAX_SOURCE_CATEGORY,
}
REPORT_FIELDS = (*TEXT_FIELDS, "lon", "lat", "crs", "reported_at")
ACTION_FIELDS = ("reason", "into", "satisfaction")
NOTE_FIELDS = ("note", "client_id")


def _body(fields: tuple[str, ...], example: str, *, required: bool = True) -> dict[str, Any]:
    try:
        data = request.get_json(silent=True)
    except RecursionError as exc:
        raise InvalidInput(TOO_DEEP) from exc
    if data is None and not required and not request.get_data(cache=True):
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(
            f"The body must be a JSON object such as {example}, "
            "sent with Content-Type: application/json."
        )
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) {', '.join(unknown)}; the fields are {', '.join(fields)}."
        )
    return data


def _text(data: dict[str, Any], name: str, most: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > most:
        raise InvalidInput(f"'{name}' must be a string of at most {most} characters.")
    return value


def _report(data: dict[str, Any]) -> Report:
    text = {name: _text(data, name, most) for name, most in TEXT_FIELDS.items()}
    if not text["channel"]:
        raise InvalidInput("'channel' is required: where the report came in, e.g. walk_in.")
    crs = data.get("crs")
    if crs is not None and (isinstance(crs, bool) or not isinstance(crs, (str, int))):
        raise InvalidInput(f"'crs' must be an EPSG code, gcj02 or bd09; got {json.dumps(crs)}.")
    has_point = data.get("lon") is not None or data.get("lat") is not None
    return Report(
        channel=text["channel"],
        category=text["category"],
        description=text["description"] or "",
        lon=_coordinate(data, "lon") if has_point else None,
        lat=_coordinate(data, "lat") if has_point else None,
        crs=crs if crs not in (None, "") else "EPSG:4326",
        address=text["address"],
        reported_at=parse_time(_text(data, "reported_at", 64), "'reported_at'"),
        reporter_name=text["reporter_name"],
        reporter_phone=text["reporter_phone"],
        external_id=text["external_id"],
        source_category=text["source_category"],
    )


def _with_categories(
    session: Session, incidents: list[Incident]
) -> list[tuple[Incident, Category | None]]:
    ids = {i.category_id for i in incidents if i.category_id is not None}
    found = {c.id: c for c in session.scalars(sa.select(Category).where(Category.id.in_(ids)))}
    return [(i, found.get(i.category_id or 0)) for i in incidents]


def _visible(session: Session, incidents: list[Incident], viewer: Principal) -> list[Incident]:
    """Those of ``incidents`` that ``viewer`` may see (one statement)."""
    if not incidents:
        return []
    ids = set(
        session.scalars(
            sa.select(Incident.id).where(
                Incident.id.in_([i.id for i in incidents]), views.visible_to(viewer)
            )
        )
    )
    return [i for i in incidents if i.id in ids]


@bp.post("/incidents")
@requires("incidents:report")
def create() -> Response:
    """Take in an incident: located, routed, with its nearby open duplicates."""
    report = _report(_body(REPORT_FIELDS, '{"channel": "walk_in", "lon": 114.345, "lat": 30.505}'))
    session, viewer, lang = db.get_session(), current_principal(), i18n.current_language()
    intake = take_in(session, report, actor=viewer)
    incident = intake.incident
    status = 201 if intake.created else 200
    if not _visible(session, [incident], viewer):
        receipt = {
            "id": incident.id,
            "status": incident.status,
            "channel": incident.channel,
            "external_id": incident.external_id,
            "reported_at": incident.reported_at.isoformat(),
            "created": intake.created,
        }
        return _located(jsonify(receipt), status, incident)
    found = intake.duplicates if intake.created else nearby_open(session, incident)
    body = {
        **views.detail(session, incident, viewer, lang),
        "created": intake.created,
        "duplicates": [
            views.summary(i, c, lang)
            for i, c in _with_categories(session, _visible(session, found, viewer))
        ],
    }
    return _located(jsonify(body), status, incident)


def _located(response: Response, status: int, incident: Incident) -> Response:
    response.status_code = status
    response.headers["Location"] = url_for(".detail", incident_id=incident.id)
    return response


@bp.get("/incidents")
@requires("incidents:read")
def listing() -> Response:
    """The incidents you may see, newest first, as GeoJSON (filters, paging)."""
    filters = queries.parse_filters({k: request.args.getlist(k) for k in request.args})
    limit = parse_limit(request.args.get("limit"))
    offset = parse_offset(request.args.get("offset"))
    collection = queries.incident_collection(
        db.get_session(),
        current_principal(),
        filters,
        limit=limit,
        offset=offset,
        lang=i18n.current_language(),
    )
    collection["links"] = _page_links(collection, limit, offset)
    return _geojson(collection)


def _page_links(collection: dict[str, Any], limit: int, offset: int) -> list[dict[str, str]]:
    # Only the list's own parameters (url_for takes "_external" and friends as orders).
    kept = {k: request.args.getlist(k) for k in request.args if k in queries.PARAMETERS}

    def link(rel: str, page_offset: int) -> dict[str, str]:
        values: dict[str, Any] = {**kept, "limit": limit, "offset": page_offset}
        return {"rel": rel, "type": GEOJSON, "href": url_for(".listing", **values)}

    links = [link("self", offset)]
    if offset + collection["numberReturned"] < collection["numberMatched"]:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    return links


def _geojson(document: dict[str, Any]) -> Response:
    return current_app.response_class(current_app.json.dumps(document), mimetype=GEOJSON)


@bp.get("/incidents/<int:incident_id>")
@requires("incidents:read")
def detail(incident_id: int) -> Response:
    """One incident: place, team, reporters as you may see them, history, your moves."""
    session, viewer = db.get_session(), current_principal()
    incident = views.get_visible(session, incident_id, viewer)
    return jsonify(views.detail(session, incident, viewer, i18n.current_language()))


@bp.get("/incidents/<int:incident_id>/duplicates")
@requires("incidents:read")
def duplicates(incident_id: int) -> Response:
    """The open incidents of the same category near one incident, nearest first."""
    session, viewer, lang = db.get_session(), current_principal(), i18n.current_language()
    incident = views.get_visible(session, incident_id, viewer)
    found = _visible(session, nearby_open(session, incident), viewer)
    features = [queries.feature(i, c, lang) for i, c in _with_categories(session, found)]
    return _geojson(queries.collection(features))


@bp.post("/incidents/<int:incident_id>/actions/<action>")
@requires("incidents:read")
def move(incident_id: int, action: str) -> Response:
    """Move an incident on (register, dispatch, accept, close ...): its new detail."""
    data = _body(ACTION_FIELDS, '{"reason": "..."}', required=False)
    into = data.get("into")
    if into is not None and (isinstance(into, bool) or not isinstance(into, int)):
        raise InvalidInput(f"'into' must be an incident id (a number); got {json.dumps(into)}.")
    session, viewer = db.get_session(), current_principal()
    views.get_visible(session, incident_id, viewer)
    incident = lifecycle.move(
        session,
        incident_id,
        action,
        actor=viewer,
        reason=_text(data, "reason", lifecycle.MAX_NOTE),
        into=into,
        satisfaction=_text(data, "satisfaction", 16),
    )
    session.expire(incident, ["events"])  # the move's event, read again
    return jsonify(views.detail(session, incident, viewer, i18n.current_language()))


@bp.post("/incidents/<int:incident_id>/notes")
@requires("incidents:read")
def add_note(incident_id: int) -> Response:
    """Add a note (处置进展/备注) to an incident's history: its status stays as it is."""
    data = _body(NOTE_FIELDS, '{"note": "物业已到场，明早清运"}')
    note, client_id = data.get("note"), data.get("client_id")
    if note is not None and not isinstance(note, str):
        raise InvalidInput(f"'note' must be a string; got {json.dumps(note)}.")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidInput(f"'client_id' must be a string; got {json.dumps(client_id)}.")
    session, viewer = db.get_session(), current_principal()
    # Not seen is "not found" before anything else is said about it (the domain checks again).
    views.get_visible(session, incident_id, viewer)
    noted = notes.add_note(session, incident_id, note, actor=viewer, client_id=client_id)
    line = {
        **views.history_line(noted.event, i18n.current_language()),
        "incident_id": noted.incident.id,
        "client_id": client_id or None,
        "created": noted.created,
    }
    return _located(jsonify(line), 201 if noted.created else 200, noted.incident)
