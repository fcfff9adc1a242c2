"""``/my`` itself: the page, its service worker, a fresh CSRF token, and "am I in my area?".

The page is the community map drawn for the viewer
(:func:`gridgis.maps.community.build_community_map` draws only a grid staff
member's grids, buildings and units), the team card, and the forms; the
script (``static/my.js``) fills in the incidents (``/api/v1/incidents``), the
households due a visit, and the queue of actions waiting for the network.
What the script needs from the server at load (categories, the moves grid
staff may make, the area's buildings) is written into the page as JSON, so
that the page cached by the service worker still works offline.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify, render_template, request, url_for
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import N_, InvalidInput
from gridgis.incidents import lifecycle
from gridgis.incidents.views import event_name
from gridgis.maps import community as community_map
from gridgis.maps import offline
from gridgis.models import (
    ASSIGNED_STATUSES,
    CARE_FLAG_TERMS,
    INCIDENT_STATUS_TERMS,
    OPEN_STATUSES,
    ROUND_KIND_TERMS,
    Building,
    Category,
    Community,
    Grid,
    Staff,
    Unit,
)
from gridgis.routing.points import route_point
from web import db, i18n
from web.assets import LEAFLET_DIR
from web.maps import with_nonce
from web.my import team
from web.my.blueprint import bp
from web.security import csrf_token, current_principal, requires

NOT_STAFF = N_(
    "This page shows a grid staff member's own area, and your account is not linked to a "
    "staff record. Ask an administrator to link it, or use the map and the dispatch console."
)
#: Routing rules that place a point inside a unit, building or grid (not "nearest").
INSIDE_RULES = ("unit", "building", "grid")
STATIC = Path(__file__).resolve().parent.parent / "static"
#: The files the service worker keeps for offline use (our own; Leaflet's are added).
OFFLINE_FILES = ("my.js", "my.css", "gridgis.css")
LEAFLET_FILES = (
    "leaflet.js",
    "leaflet.css",
    "images/layers.png",
    "images/layers-2x.png",
    "images/marker-icon.png",
    "images/marker-icon-2x.png",
    "images/marker-shadow.png",
)


def staff_and_community(session: Session, principal: Principal) -> tuple[Staff, Community]:
    """The viewer's staff record and its community; Forbidden for accounts without one."""
    staff = session.get(Staff, principal.staff_id) if principal.staff_id is not None else None
    if staff is None or principal.scope is None:
        raise Forbidden(NOT_STAFF)
    community = session.get(Community, staff.community_id)
    if community is None:  # the foreign key forbids it; a type checker does not know
        raise Forbidden(NOT_STAFF)
    return staff, community


@bp.get("")
@requires("incidents:work")
def page() -> str:
    """The phone page of one grid staff member: map, incidents, report, visits, rounds, team."""
    session = db.get_session()
    principal = current_principal()
    staff, community = staff_and_community(session, principal)
    lang = i18n.current_language()
    m = community_map.build_community_map(
        session,
        community,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        gettext=i18n.gettext,
        tiles=db.state().tiles,
        viewer=principal,
        lang=lang,
    )
    parts = offline.render_parts(m)
    parts = offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )
    card = team.team_card(session, community, principal, staff.id, lang)
    return render_template(
        "my.html",
        map=parts,
        card=card,
        area_name="、".join(dict.fromkeys(p.place for p in card.posts)) or staff.code,
        data=page_data(session, principal, card, lang),
        zone=clock.zone_name(),
    )


def page_data(
    session: Session, principal: Principal, card: team.TeamCard, lang: str
) -> dict[str, Any]:
    """What the script needs at load, written into the page (so it works offline too)."""
    scope = principal.scope
    building_ids = sorted(scope.building_ids) if scope is not None else []
    unit_ids = sorted(scope.unit_ids) if scope is not None else []
    buildings = session.execute(
        sa.select(Building.id, Building.code, Building.name)
        .where(Building.id.in_(building_ids))
        .order_by(Building.code)
    ).all()
    units = session.execute(
        sa.select(Unit.id, Unit.building_id, Unit.number)
        .where(Unit.id.in_(unit_ids))
        .order_by(Unit.building_id, Unit.number)
    ).all()
    grids = session.execute(
        sa.select(Grid.id, Grid.code, Grid.name)
        .where(Grid.id.in_(sorted(scope.grid_ids) if scope is not None else []))
        .order_by(Grid.code)
    ).all()
    categories = session.execute(
        sa.select(Category.code, Category.name_zh, Category.name_en).order_by(Category.code)
    ).all()
    work = [t for t in lifecycle.TRANSITIONS.values() if t.permission == lifecycle.WORK]
    return {
        "user": principal.user_id,
        # How the incidents' history names this account (a move it made shows as its own).
        "actor": principal.audit_name,
        "staff": principal.staff_id,
        "lang": lang,
        "renderedAt": clock.now().isoformat(),
        "openStatuses": list(OPEN_STATUSES),
        "assignedStatuses": list(ASSIGNED_STATUSES),
        "statuses": {code: term.name(lang) for code, term in INCIDENT_STATUS_TERMS.items()},
        # The moves of the life cycle grid staff make (accept, report done): the
        # buttons offered; the server decides again when a move arrives.
        "moves": [
            {
                "name": t.name,
                "from": list(t.sources),
                "to": t.target,
                "label": event_name(t.name, lang),
            }
            for t in work
        ],
        "categories": [[code, en if lang == "en" else zh] for code, zh, en in categories],
        "careFlags": {code: term.name(lang) for code, term in CARE_FLAG_TERMS.items()},
        "roundKinds": [[code, term.name(lang)] for code, term in ROUND_KIND_TERMS.items()],
        "grids": [{"id": i, "code": c, "name": n or c} for i, c, n in grids],
        "buildings": [{"id": i, "code": c, "name": n or c} for i, c, n in buildings],
        "units": [{"id": i, "building": b, "number": n} for i, b, n in units],
        "people": [
            {"id": m.staff_id, "name": m.name, "role": i18n.role_name(m.role)}
            for m in card.people()
        ],
    }


@bp.get("/sw.js")
@requires("incidents:work")
def service_worker() -> Response:
    """The service worker, its scope widened to ``/my`` (the page itself is not under ``/my/``).

    Its version is a digest of the files it keeps, so a new release of any of
    them installs a new worker, which replaces the old cache.
    """
    assets = [url_for("static", filename=name) for name in OFFLINE_FILES]
    assets += [url_for("assets.leaflet", filename=name) for name in LEAFLET_FILES]
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
    script = source.replace("__GRIDGIS_VERSION__", _version(source)).replace(
        '"__GRIDGIS_ASSETS__"', json.dumps(assets)
    )
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for(".page")
    return response


def _version(source: str) -> str:
    files = [STATIC / name for name in OFFLINE_FILES]
    files += [Path(LEAFLET_DIR) / name for name in LEAFLET_FILES]
    stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _digest(source, stamps)


@lru_cache(maxsize=8)
def _digest(source: str, stamps: tuple[tuple[str, int, int], ...]) -> str:
    # The files are read only when one has changed (its time or size): a
    # worker's update check comes with every visit to the page.
    digest = hashlib.sha256(source.encode())
    for path, _, _ in stamps:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/token.json")
@requires("incidents:work")
def token() -> Response:
    """The session's CSRF token, fresh, for actions queued offline and sent later.

    The page may have been opened from the cache hours ago; the token in it
    may belong to a session that has ended since. The account's id lets the
    script send only the actions its own user queued.
    """
    return jsonify(
        {
            "csrf_token": csrf_token(),
            "user": current_principal().user_id,
            # The server's clock: the phone's may run fast or slow.
            "now": clock.now().isoformat(),
        }
    )


@bp.get("/where.json")
@requires("incidents:work")
def where() -> Response:
    """Whether a point (WGS-84, from the phone) lies in the viewer's area, decided in PostGIS.

    The point is routed like an incident (:func:`gridgis.routing.points.route_point`)
    and the place it lands in is held against the area by the rule that decides
    which incidents grid staff see (``Scope.holds``): "inside" means an incident
    reported here would be theirs. ``near`` is a point within the community's
    tolerance of their grid (a road between grids), with its distance.
    """
    principal = current_principal()
    session = db.get_session()
    staff_and_community(session, principal)
    lon, lat = _number("lon"), _number("lat")
    result = route_point(session, lon, lat, crs="EPSG:4326")
    scope = principal.scope
    if scope is None:  # staff_and_community refused it already; for the type checker
        raise Forbidden(NOT_STAFF)
    mine = result.rule not in ("outside_coverage", "unrouted") and result.within(scope)
    inside = mine and result.rule in INSIDE_RULES
    near = mine and result.rule == "nearest_grid"
    place = None
    if inside or near:
        unit = i18n.gettext("Unit {number}").format(number=result.unit_number)
        place = " ".join(
            p
            for p in (result.grid_name, result.building_name, unit if result.unit_number else None)
            if p
        )
    return jsonify(
        {
            "inside": inside,
            "near": near,
            "distance_m": round(result.distance_m or 0) if near else None,
            "place": place,
        }
    )


def _number(name: str) -> float:
    text = request.args.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"Give {name} as a number (WGS-84 degrees); got {text!r}.") from None
    if value != value or abs(value) > (180 if name == "lon" else 90):
        raise InvalidInput(f"{name} is out of range: {text}.")
    return value
