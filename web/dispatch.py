"""The dispatch console (派遣台): open incidents on the map and in a list, new ones, one at a time.

``/dispatch`` is a desktop page for dispatchers: the community map (folium,
with its grids) carrying the incidents, a list with filters and deadline
countdowns that refreshes itself, and a form for a new incident that shows
the routed team, the deadlines and nearby duplicates before saving.
``/dispatch/incidents/<id>`` shows one incident: its place, photos, history,
team and reporters as the privacy rule allows, and the moves the user's role
allows and a note (处置进展/备注) for those who may add one, as plain forms
(they work without JavaScript).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gridgis import clock
from gridgis.clock import parse_time
from gridgis.errors import N_, GridgisError, InvalidInput
from gridgis.geo.layouts import get_community
from gridgis.incidents import clusters, lifecycle, notes, photos, queries, views
from gridgis.incidents.preview import preview
from gridgis.maps import community as community_map
from gridgis.maps import offline
from gridgis.maps.incident import build_incident_map
from gridgis.models import CHANNEL_TERMS, INCIDENT_STATUS_TERMS, Category, Community
from web import db, i18n
from web.api import photos as photo_api
from web.maps import with_nonce
from web.security import current_principal, requires

bp = Blueprint("dispatch", __name__, url_prefix="/dispatch")

MOVED = N_("Done: {action}.")
PHOTO_ADDED = N_("Photo added.")
NOTE_ADDED = N_("Note added.")


def _categories(lang: str) -> list[tuple[str, str]]:
    rows = db.get_session().execute(
        sa.select(Category.code, Category.name_zh, Category.name_en).order_by(Category.code)
    )
    return [(code, en if lang == "en" else zh) for code, zh, en in rows]


def _map(code: str | None) -> tuple[Community, offline.MapParts, list[tuple[str, str]]]:
    session = db.get_session()
    communities = [
        (c, n)
        for c, n in session.execute(
            sa.select(Community.code, Community.name).order_by(Community.code)
        )
    ]
    if not communities:
        raise InvalidInput(N_("There is no community yet: load one first."))
    community = get_community(session, code or communities[0][0])
    m = community_map.build_community_map(
        session,
        community,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        gettext=i18n.gettext,
        tiles=db.state().tiles,
        viewer=current_principal(),
        lang=i18n.current_language(),
    )
    return community, _parts(m), communities


def _parts(m: offline.OfflineMap) -> offline.MapParts:
    parts = offline.render_parts(m)
    return offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )


@bp.get("")
@requires("incidents:dispatch")
def console() -> str:
    """The console: map, list and filters, and the new-incident form."""
    lang = i18n.current_language()
    community, parts, communities = _map(request.args.get("community"))
    return render_template(
        "dispatch.html",
        community=community,
        communities=communities,
        map=parts,
        zone=clock.zone_name(),
        categories=_categories(lang),
        channels=[(c, t.name(lang)) for c, t in CHANNEL_TERMS.items()],
        statuses=[(c, t.name(lang)) for c, t in INCIDENT_STATUS_TERMS.items()],
    )


@bp.get("/map")
@requires("incidents:read")
def in_view() -> Response:
    """The console map's incidents in view: points, or counted clusters when dense.

    The list's filters (``bbox``, ``status``, ``grid``, ``category``,
    ``channel``, ``overdue``...) and the map's ``zoom``; a bbox is required
    (the map always has one, and a city's year is not one answer).
    """
    filters = queries.parse_filters({k: request.args.getlist(k) for k in request.args})
    if filters.bbox is None:
        raise InvalidInput("Give the map's view as bbox=minlon,minlat,maxlon,maxlat.")
    zoom = _number(request.args.get("zoom"))
    if zoom is None:
        raise InvalidInput("Give the map's zoom, e.g. zoom=15.")
    session = db.get_session()
    where = queries.conditions(session, current_principal(), filters)
    found = clusters.in_view(session, where, zoom, queries.overdue_clause("any", clock.now()))
    response = jsonify(found)
    response.mimetype = "application/geo+json"
    return response


@bp.post("/preview")
@requires("incidents:report")
def preview_new() -> Response:
    """Where a click (or address) routes, the deadlines, nearby duplicates; nothing stored."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object with lon and lat, or an address.")
    answer = preview(
        db.get_session(),
        viewer=current_principal(),
        lon=_number(data.get("lon")),
        lat=_number(data.get("lat")),
        crs=str(data.get("crs") or "EPSG:4326"),
        address=str(data.get("address") or "") or None,
        category=str(data.get("category") or "") or None,
        at=parse_time(str(data.get("reported_at") or "") or None, "'reported_at'"),
        lang=i18n.current_language(),
    )
    return jsonify(answer)


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"A coordinate must be a number, got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"A coordinate must be a number, got {value!r}.") from None


@bp.get("/incidents/<int:incident_id>")
@requires("incidents:read")
def incident(incident_id: int) -> str:
    """One incident: place, team, reporters, photos, history, and the moves allowed."""
    session = db.get_session()
    principal = current_principal()
    found = views.get_visible(session, incident_id, principal)
    lang = i18n.current_language()
    shown = [p.id for p in photos.photos_of(session, found.id, principal)]
    small = build_incident_map(
        session,
        found,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        tiles=db.state().tiles,
        gettext=i18n.gettext,
    )
    return render_template(
        "incident.html",
        map=_parts(small) if small is not None else None,
        incident=views.detail(session, found, principal, lang),
        photos=shown,
        transitions=lifecycle.TRANSITIONS,
        statuses=dict((c, t.name(lang)) for c, t in INCIDENT_STATUS_TERMS.items()),
    )


@bp.post("/incidents/<int:incident_id>/actions/<action>")
@requires("incidents:read")
def act(incident_id: int, action: str) -> Response:
    """Make one move from the incident page's forms, then show the page again."""
    session = db.get_session()
    principal = current_principal()
    views.get_visible(session, incident_id, principal)
    try:
        lifecycle.move(
            session,
            incident_id,
            action,
            actor=principal,
            reason=request.form.get("reason"),
            into=_int(request.form.get("into")),
            satisfaction=request.form.get("satisfaction") or None,
        )
    except GridgisError as exc:
        if exc.http_status >= 500:
            raise
        db.end_with_error(exc)  # nothing of the refused move is kept
        # Shown on the page, in the user's language where the catalog has it.
        flash(i18n.gettext(exc.user_msg))
        return redirect(url_for(".incident", incident_id=incident_id))
    flash(i18n.gettext(MOVED).format(action=views.event_name(action, i18n.current_language())))
    return redirect(url_for(".incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/photos")
@requires("incidents:report")
def add_photo_here(incident_id: int) -> Response:
    """A photo from the incident page's form; cleaned and stored as the API does."""
    session = db.get_session()
    principal = current_principal()
    views.get_visible(session, incident_id, principal)
    limit = photo_api.max_photo_bytes()
    try:
        photos.add_photo(
            session,
            incident_id,
            photo_api.uploaded_photo(limit),
            actor=principal,
            media_dir=photo_api.media_dir(),
            max_bytes=limit,
        )
    except GridgisError as exc:
        if exc.http_status >= 500:
            raise
        db.end_with_error(exc)
        flash(i18n.gettext(exc.user_msg))
        return redirect(url_for(".incident", incident_id=incident_id))
    flash(i18n.gettext(PHOTO_ADDED))
    return redirect(url_for(".incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/notes")
@requires("incidents:read")
def add_note_here(incident_id: int) -> Response:
    """A note from the incident page's form, into its history as the API adds it."""
    session = db.get_session()
    principal = current_principal()
    views.get_visible(session, incident_id, principal)
    try:
        notes.add_note(session, incident_id, request.form.get("note"), actor=principal)
    except GridgisError as exc:
        if exc.http_status >= 500:
            raise
        db.end_with_error(exc)
        flash(i18n.gettext(exc.user_msg))
        return redirect(url_for(".incident", incident_id=incident_id))
    flash(i18n.gettext(NOTE_ADDED))
    return redirect(url_for(".incident", incident_id=incident_id))


def _int(text: str | None) -> int | None:
    if not text:
        return None
    if not text.strip().isdigit():
        raise InvalidInput(f"An incident number is a whole number, got {text!r}.")
    return int(text)
