"""The planning workspace (划片工作台): a community's layouts, and painting a draft in the browser.

``GET /plan?community=CODE`` lists the community's layouts with where each
stands (in force, draft, future, past) and copies the layout in force into a
new draft (``POST /plan/drafts``). ``GET /plan/<layout>?community=CODE`` is
the workspace: the draft's grids and buildings on a map, select buildings by
click, box (shift-drag), lasso or compound and assign them to a grid, undo and
redo, lock grids, with every grid's tallies, the checks and the edit log
beside the map, refreshed after each edit without reloading
(``static/plan.js``). The page reads ``GET /plan/<layout>/state`` once; the
edits (:mod:`web.plan_edits`) answer with what changed.

Viewing a draft needs ``layout:draft``; painting, copying and rebalancing
``shapes:write``; publishing ``layout:publish`` (planners and administrators
hold all three). The rules are the domain's (:mod:`gridgis.planning`): these
views only translate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as Redirect

from gridgis import clock
from gridgis.errors import N_, GridgisError, InvalidInput
from gridgis.maps import offline
from gridgis.maps.workspace import (
    build_workspace_map,
    building_features,
    compounds_of,
    grid_features,
)
from gridgis.models import Community, Layout
from gridgis.planning.checks import Problem, Report, check_layout
from gridgis.planning.drafts import draft_layout, find_community, find_layout, layouts_of
from gridgis.planning.edits import History, history
from gridgis.planning.export import export_layout
from gridgis.planning.tallies import GridTally, Tallies, band_of, tally_layout
from gridgis.shapes.importing import import_layer
from web import db, i18n
from web.maps import with_nonce
from web.security import current_principal, requires

bp = Blueprint("plan_workspace", __name__, url_prefix="/plan")

#: Problem kinds as planners read them (the domain's messages are English sentences).
KINDS = {
    "gap": N_("Land in no grid"),
    "overlap": N_("Grids overlap"),
    "outside_boundary": N_("Grid reaches outside the community"),
    "building_in_no_grid": N_("Building in no grid"),
    "building_cut": N_("Building cut by a grid edge"),
    "grid_in_parts": N_("Grid in several parts"),
    "outside_band": N_("Households outside the band"),
    "duplicate_code": N_("Duplicate grid codes"),
    "code_pattern": N_("Code does not follow the 15-digit pattern"),
}
STANDINGS = {
    "in force": N_("in force"),
    "draft": N_("draft"),
    "future": N_("future"),
    "past": N_("past"),
}


def community_arg() -> str:
    """The ``community`` of the query or form, or InvalidInput asking for it."""
    code = (request.values.get("community") or "").strip()
    if not code:
        raise InvalidInput(N_("Choose a community."))
    return code


def requested_layout(name: str) -> Layout:
    """The layout ``name`` of the ``community`` asked for, or the domain's 404 listing both."""
    return find_layout(db.get_session(), community_arg(), name)


@bp.get("")
@requires("layout:draft")
def index() -> str | Redirect:
    """The community's layouts, and a form to copy the one in force."""
    session = db.get_session()
    if not (request.args.get("community") or "").strip():
        codes = session.scalars(sa.select(Community.code).order_by(Community.code)).all()
        if len(codes) != 1:
            return render_template("plan_index.html", community=None, communities=codes)
        return redirect(url_for(".index", community=codes[0]))
    community = find_community(session, community_arg())
    rows = [
        {
            "name": s.name,
            "standing": i18n.gettext(STANDINGS.get(s.standing, s.standing)),
            "draft": s.standing == "draft",
            "from": clock.show(s.valid_from) if s.valid_from else "",
            "to": clock.show(s.valid_to) if s.valid_to else "",
            "grids": s.grids,
        }
        for s in layouts_of(session, community)
    ]
    return render_template(
        "plan_index.html",
        community=community,
        layouts=rows,
        can_edit=current_principal().can("shapes:write"),
    )


@bp.post("/drafts")
@requires("shapes:write")
def new_draft() -> Redirect:
    """Copy the layout in force into a new draft and open it in the workspace."""
    session = db.get_session()
    community = find_community(session, community_arg())
    name = (request.form.get("name") or "").strip() or None
    made = draft_layout(session, community, name=name, actor=current_principal())
    return redirect(url_for(".workspace", layout=made.layout.name, community=community.code))


#: What a grids file may be, uploaded: one file (a Shapefile comes zipped with its sidecars).
GRID_FILES = (".gpkg", ".geojson", ".json", ".zip", ".csv")


@bp.post("/import")
@requires("shapes:write")
def import_grids() -> Redirect:
    """A grids file (e.g. edited in QGIS) as a new draft, opened in the workspace with its checks.

    As ``gridgis import grids FILE --community CODE [--layout NAME]``: all or
    nothing; a refused file changes nothing and the index says why.
    """
    session = db.get_session()
    code = community_arg()
    upload = request.files.get("file")
    suffix = Path(upload.filename or "").suffix.lower() if upload is not None else ""
    copy = ""  # where the upload is read from, once saved
    try:
        if upload is None or not upload.filename:
            raise InvalidInput(N_("Choose a grids file to import."))
        if suffix not in GRID_FILES:
            raise InvalidInput(
                f"A grids file is one of {', '.join(GRID_FILES)} (a Shapefile zipped with its "
                f".dbf, .shx and .prj); got {upload.filename!r}."
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"grids{suffix}"
            copy = str(path)
            upload.save(path)
            report = import_layer(
                session,
                "grids",
                path,
                community_code=code,
                layout_name=(request.form.get("name") or "").strip() or None,
                fix=bool(request.form.get("fix")),
                actor=current_principal(),
            )
    except GridgisError as exc:
        if exc.http_status >= 500:
            raise
        db.end_with_error(exc)  # nothing of the file is kept
        # The reader names the file it read: the upload's name, not our temporary copy.
        said = i18n.gettext(exc.user_msg)
        if copy and upload is not None and upload.filename:
            said = said.replace(copy, upload.filename)
        flash(said)
        return redirect(url_for(".index", community=code))
    return redirect(url_for(".workspace", layout=report.layout, community=code))


@bp.get("/<layout>")
@requires("layout:draft")
def workspace(layout: str) -> str:
    """The workspace page of ``layout`` (a published layout opens read-only)."""
    session = db.get_session()
    found = requested_layout(layout)
    community = session.get_one(Community, found.community_id)
    code = community.code
    m = build_workspace_map(
        session,
        found,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        tiles=db.state().tiles,
    )
    parts = offline.render_parts(m)
    # folium writes inline <script> and <style> elements: the CSP admits them by nonce.
    parts = offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )
    principal = current_principal()
    editable = found.status == "draft" and principal.can("shapes:write")
    query: dict[str, Any] = {"layout": found.name, "community": code}
    urls = {
        "state": url_for(".state", **query),
        "assign": url_for("plan_edits.assign", **query),
        "undo": url_for("plan_edits.undo_edit", **query),
        "redo": url_for("plan_edits.redo_edit", **query),
        "lock": url_for("plan_edits.lock", **query),
        "cutover": url_for("plan_edits.cutover", **query),
        "publish": url_for("plan_edits.publish", **query),
        "rebalance": url_for("plan_edits.rebalance", **query),
        "diff": url_for("planning.diff", **query),
        "export": url_for(".export", **query),
        "index": url_for(".index", community=code),
        "workspace": url_for(".workspace", layout="__LAYOUT__", community=code),
    }
    (low, high), _note = band_of(community)
    return render_template(
        "plan_workspace.html",
        community=community,
        layout=found,
        map=parts,
        urls=urls,
        editable=editable,
        can_publish=editable and principal.can("layout:publish"),
        compounds=compounds_of(session, community.id),
        band=f"{low}-{high}",
        zone=clock.zone_name(),
        kinds={k: i18n.gettext(v) for k, v in KINDS.items()},
    )


@bp.get("/<layout>/state")
@requires("layout:draft")
def state(layout: str) -> Response:
    """Everything the workspace draws: grids, buildings, tallies, checks and the edit log."""
    session = db.get_session()
    found = requested_layout(layout)
    tallies = tally_layout(session, found)
    return jsonify(
        {
            "layout": found.name,
            "status": found.status,
            "grids": grid_features(session, found),
            "buildings": building_features(session, found),
            **figures(tallies, check_layout(session, found, tallies=tallies)),
            **edit_log(history(session, found)),
        }
    )


@bp.get("/<layout>/export.gpkg")
@requires("layout:draft")
def export(layout: str) -> Response:
    """The layout as a GeoPackage for QGIS, as ``gridgis layout export`` writes it."""
    session = db.get_session()
    found = requested_layout(layout)
    code = session.get_one(Community, found.community_id).code
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layout.gpkg"
        export_layout(session, found, path)
        body = path.read_bytes()
    response = Response(body, mimetype="application/geopackage+sqlite3")
    response.headers["Content-Disposition"] = f'attachment; filename="layout-{code}.gpkg"'
    return response


def figures(tallies: Tallies, report: Report | None) -> dict[str, Any]:
    """Tallies (and checks) as the page reads them."""
    out: dict[str, Any] = {
        "band": list(tallies.band),
        "tallies": [grid_tally(t) for t in tallies.grids],
        "unplaced": {
            "buildings": tallies.unplaced_buildings,
            "households": tallies.unplaced_households,
        },
    }
    if report is not None:
        out["problems"] = problems(report.problems)
    return out


def grid_tally(t: GridTally) -> dict[str, Any]:
    return {
        "code": t.code,
        "name": t.name,
        "households": t.households,
        "units": t.units,
        "buildings": t.buildings,
        "staff": t.staff,
        "open_incidents": t.open_incidents,
        "recent_incidents": t.recent_incidents,
        "deviation": t.deviation,
        "parts": t.parts,
        "area_m2": round(t.area_m2),
        "compactness": round(t.compactness, 3),
        "split_compounds": list(t.split_compounds),
    }


def problems(found: Iterable[Problem]) -> list[dict[str, Any]]:
    """Each problem with a heading in the page's language and where to zoom."""
    return [
        {
            "severity": p.severity,
            "kind": p.kind,
            "title": i18n.gettext(KINDS.get(p.kind, p.kind)),
            "message": _said(p),
            "grids": list(p.grids),
            "buildings": list(p.buildings),
            "area_m2": None if p.area_m2 is None else round(p.area_m2, 1),
            "bbox": list(p.bbox) if p.bbox else None,
        }
        for p in found
    ]


def _said(p: Problem) -> str:
    """The domain's sentence in English; elsewhere the grids and buildings it names.

    The checks speak English (the command line's language); the heading says
    what the problem is in the page's language, this line where.
    """
    if i18n.current_language() == "en":
        return p.message
    parts = []
    if p.grids:
        parts.append(i18n.gettext("Grids: {codes}").format(codes="、".join(p.grids)))
    if p.buildings:
        shown = "、".join(p.buildings[:20]) + ("…" if len(p.buildings) > 20 else "")
        parts.append(i18n.gettext("Buildings: {codes}").format(codes=shown))
    return "；".join(parts) or p.message


def edit_log(found: History) -> dict[str, Any]:
    """The edit history as the page lists it, newest first."""
    return {
        "can_undo": found.can_undo,
        "can_redo": found.can_redo,
        "edits": [
            {
                "seq": e.seq,
                "action": e.action,
                "actor": e.actor,
                "at": clock.show(e.at),
                "grid": e.summary.get("grid"),
                "buildings": e.summary.get("buildings", []),
                "households": e.summary.get("households", 0),
                "undone": e.undone,
            }
            for e in found.edits
        ],
    }
