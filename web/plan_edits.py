"""The workspace's edits (JSON): paint, undo, redo, lock; the cut-over; rebalancing.

Each edit answers with what changed, so the page redraws without reloading:
the grids it touched (``grids``, their polygons) and those it removed, the
grid of every building in the touched grids (``placed``; a building changes
grid only if a grid it was in or is in now changed), the touched grids'
tallies (:func:`gridgis.planning.tallies.tally_grids`, not every grid), the
layout's checks and the edit log. A refused edit changes nothing (the
request's unit of work rolls back) and answers with the reason in the
page's language where the catalog has it.

``GET /plan/<layout>/cutover?from=…`` is the publish dialog's preview
(writes nothing); ``POST /plan/<layout>/publish`` publishes, one transaction.
``POST /plan/<layout>/rebalance`` makes a new draft
(:func:`gridgis.planning.rebalance.rebalance_layout`), bounded in time so it
answers within the server's request timeout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, url_for

from gridgis import clock
from gridgis.errors import N_, GridgisError, InvalidInput
from gridgis.maps.workspace import grid_features, placed_in
from gridgis.models import Layout
from gridgis.planning.checks import check_layout
from gridgis.planning.edits import Edit, history, paint, redo, set_locked, undo
from gridgis.planning.publish import CutOver, plan_cut_over, publish_draft
from gridgis.planning.rebalance import Rebalanced, parse_band, rebalance_layout
from gridgis.planning.tallies import tally_grids
from web import db, i18n
from web.plan_workspace import community_arg, edit_log, figures, problems, requested_layout
from web.security import current_principal, requires

bp = Blueprint("plan_edits", __name__, url_prefix="/plan")

#: The longest search a request may ask for: the server gives a request 60 s.
MAX_REBALANCE_SECONDS = 30.0
DEFAULT_REBALANCE_SECONDS = 15.0


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(N_("Send a JSON object."))
    return body


def _refused(exc: GridgisError) -> Response:
    """A refused edit: nothing of it is kept; the reason in the page's language."""
    db.end_with_error(exc)
    status = exc.http_status
    response = jsonify({"error": {"status": status, "message": i18n.gettext(exc.user_msg)}})
    response.status_code = status
    return response


def _edited(layout: Layout, act: Callable[[], Edit]) -> Response:
    """What ``act`` changed, or why the domain refused it."""
    try:
        edit = act()
    except GridgisError as exc:
        return _refused(exc)
    return _changed(layout, edit)


def _changed(layout: Layout, edit: Edit) -> Response:
    """What an edit changed, for the page to redraw."""
    session = db.get_session()
    touched = sorted(set(edit.touched) - set(edit.removed))
    # The check places every building anyway: its count of the buildings in no
    # grid saves the tallies counting them again.
    report = check_layout(session, layout)
    tallies = tally_grids(session, layout, touched, unplaced=report.unplaced)
    return jsonify(
        {
            "touched": touched,
            "removed": sorted(edit.removed),
            "grids": grid_features(session, layout, touched),
            "placed": placed_in(session, layout, set(touched) | set(edit.removed)),
            **figures(tallies, report),
            **edit_log(history(session, layout)),
        }
    )


@bp.post("/<layout>/assign")
@requires("shapes:write")
def assign(layout: str) -> Response:
    """Assign the buildings given to a grid (``new_name``: a new grid with that code)."""
    session = db.get_session()
    found = requested_layout(layout)
    body = _body()
    buildings = body.get("buildings")
    if not isinstance(buildings, list) or not all(isinstance(b, str) for b in buildings):
        raise InvalidInput(N_("Select at least one building."))
    grid = body.get("grid")
    if not isinstance(grid, str) or not grid.strip():
        raise InvalidInput(N_("Choose the grid to assign the buildings to."))
    new_name = body.get("new_name")
    if new_name is not None and not isinstance(new_name, str):
        raise InvalidInput(N_("A grid name is text."))
    return _edited(
        found,
        lambda: paint(
            session, found, buildings, grid, new_name=new_name or None, actor=current_principal()
        )[1],
    )


@bp.post("/<layout>/undo")
@requires("shapes:write")
def undo_edit(layout: str) -> Response:
    """Undo the newest edit: its grids exactly as they were."""
    session = db.get_session()
    found = requested_layout(layout)
    return _edited(found, lambda: undo(session, found, actor=current_principal()))


@bp.post("/<layout>/redo")
@requires("shapes:write")
def redo_edit(layout: str) -> Response:
    """Redo the edit undone last."""
    session = db.get_session()
    found = requested_layout(layout)
    return _edited(found, lambda: redo(session, found, actor=current_principal()))


@bp.post("/<layout>/lock")
@requires("shapes:write")
def lock(layout: str) -> Response:
    """Lock (``locked``: true) or unlock a grid of the draft."""
    session = db.get_session()
    found = requested_layout(layout)
    body = _body()
    grid = body.get("grid")
    if not isinstance(grid, str) or not grid:
        raise InvalidInput(N_("Choose the grid to lock."))
    try:
        set_locked(session, found, grid, bool(body.get("locked")), actor=current_principal())
    except GridgisError as exc:
        return _refused(exc)
    return jsonify({"grids": grid_features(session, found, [grid])})


def _start(text: object) -> dt.datetime:
    """The dialog's start: ISO 8601; without a zone, the office's (``datetime-local``)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(N_("Give the date and time the layout comes into force."))
    try:
        start = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"The start must be a date and time such as 2027-01-01T00:00, got {text!r}."
        ) from exc
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(clock.zone_name()))
    return start


def _cut_over(plan: CutOver) -> dict[str, Any]:
    moved = plan.diff.moved if plan.diff is not None else None
    return {
        "layout": plan.layout,
        "replaces": plan.replaces,
        "from": clock.show(plan.valid_from),
        "errors": problems(plan.errors),
        "recoded": [
            {"before": r.before, "after": r.after, "inherits": r.inherits} for r in plan.recoded
        ],
        "incidents": [
            {"id": i.incident, "status": i.status, "before": i.before, "after": i.after}
            for i in plan.incidents
        ],
        "staff": [
            {"staff": s.staff, "role": s.role, "before": list(s.before), "after": list(s.after)}
            for s in plan.staff
        ],
        "left_without_grid": [s.staff for s in plan.left_without_grid],
        "disappearing": {code: list(staff) for code, staff in plan.disappearing.items()},
        "moved": None
        if moved is None
        else {"buildings": moved.buildings, "units": moved.units, "households": moved.households},
        "grids_changing": []
        if plan.diff is None
        else [g.code for g in plan.diff.grids if g.before != g.after],
    }


@bp.get("/<layout>/cutover")
@requires("layout:publish")
def cutover(layout: str) -> Response:
    """What publishing from ``from`` would change; writes nothing."""
    session = db.get_session()
    found = requested_layout(layout)
    try:
        plan = plan_cut_over(
            session,
            found,
            _start(request.args.get("from")),
            reroute_open=bool(request.args.get("reroute_open")),
        )
    except GridgisError as exc:
        return _refused(exc)
    return jsonify(_cut_over(plan))


@bp.post("/<layout>/publish")
@requires("layout:publish")
def publish(layout: str) -> Response:
    """Publish the draft from the date given, in one transaction."""
    session = db.get_session()
    found = requested_layout(layout)
    body = _body()
    try:
        plan = publish_draft(
            session,
            found,
            _start(body.get("from")),
            actor=current_principal(),
            reroute_open=bool(body.get("reroute_open")),
        )
    except GridgisError as exc:
        return _refused(exc)
    return jsonify({"published": True, **_cut_over(plan)})


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{key} must be a number, got {value!r}.") from exc


@bp.post("/<layout>/rebalance")
@requires("shapes:write")
def rebalance(layout: str) -> Response:
    """Propose a new draft whose grids fall in the band; the layout given is only read."""
    session = db.get_session()
    found = requested_layout(layout)
    code = community_arg()
    body = _body()
    seconds = _number(body, "time_limit", DEFAULT_REBALANCE_SECONDS) or 0.0
    grids = _number(body, "grids", None)
    try:
        band = parse_band(str(body["band"])) if body.get("band") else None
        done = rebalance_layout(
            session,
            found,
            band=band,
            grids=int(grids) if grids is not None else None,
            seed=int(_number(body, "seed", 0) or 0),
            time_limit=min(max(seconds, 1.0), MAX_REBALANCE_SECONDS),
            name=(body.get("name") or None),
            actor=current_principal(),
        )
    except GridgisError as exc:
        return _refused(exc)
    return jsonify(_rebalanced(done, code))


def _rebalanced(done: Rebalanced, community: str) -> dict[str, Any]:
    low, high = done.band

    def in_band(grids: list[Any]) -> int:
        return sum(1 for g in grids if low <= g.households <= high)

    return {
        "layout": done.layout.name,
        "url": url_for("plan_workspace.workspace", layout=done.layout.name, community=community),
        "band": [low, high],
        "before": {"grids": len(done.before.grids), "in_band": in_band(done.before.grids)},
        "after": {"grids": len(done.after.grids), "in_band": in_band(done.after.grids)},
        "moved_buildings": done.moved_buildings,
        "moved_households": done.moved_households,
        "stopped": done.stopped,
        "reasons": done.reasons,
        "notes": done.notes,
        "errors": len(done.report.errors),
    }
